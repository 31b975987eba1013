/** Pure text helpers for the dashboard: glyphs, bars, sparklines, durations. */
import type { InstanceState, Progress } from "./state.ts"

export const GLYPHS: Readonly<Record<InstanceState, string>> = {
  pending: "·",
  running: "▶",
  cached: "≡",
  succeeded: "✓",
  failed: "✗",
  interrupted: "!",
  skipped: "⊘",
}

export const COLORS: Readonly<Record<InstanceState, string>> = {
  pending: "gray",
  running: "cyan",
  cached: "blue",
  succeeded: "green",
  failed: "red",
  interrupted: "yellow",
  skipped: "gray",
}

/** `[█████░░░░░]`-style bar without brackets, exactly `width` cells wide. */
export const bar = (fraction: number, width: number): string => {
  const w = Math.max(0, Math.floor(width))
  const filled = Math.round(clamp01(fraction) * w)
  return "█".repeat(filled) + "░".repeat(w - filled)
}

const SPARKS = "▁▂▃▄▅▆▇█"

/** The last `width` values scaled between their own min and max. */
export const sparkline = (values: ReadonlyArray<number>, width: number): string => {
  const shown = values.slice(-Math.max(0, Math.floor(width))).filter(Number.isFinite)
  if (shown.length === 0) return ""
  const lo = Math.min(...shown)
  const span = Math.max(...shown) - lo
  return shown
    .map((v) => SPARKS[span === 0 ? 0 : Math.round(((v - lo) / span) * (SPARKS.length - 1))] ?? " ")
    .join("")
}

/** `0:07`, `12:34`, `1:02:03`. */
export const clock = (ms: number): string => {
  const s = Math.max(0, Math.floor(ms / 1000))
  const hh = Math.floor(s / 3600)
  const mm = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, "0")
  return hh > 0 ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`
}

/** `850`, `5.2k`, `1.3M` — compact for tokens/s. */
export const compact = (n: number): string => {
  if (!Number.isFinite(n)) return "—"
  const abs = Math.abs(n)
  if (abs >= 1e6) return `${(n / 1e6).toFixed(1)}M`
  if (abs >= 1e3) return `${(n / 1e3).toFixed(1)}k`
  return abs >= 100 || Number.isInteger(n) ? n.toFixed(0) : n.toFixed(1)
}

/** Remaining time at the average rate since the first progress report, or undefined. */
export const etaMs = (p: Progress): number | undefined => {
  const steps = p.step - p.firstStep
  const elapsed = p.at - p.firstAt
  if (steps <= 0 || elapsed <= 0 || p.total <= p.step) return p.total > 0 && p.step >= p.total ? 0 : undefined
  return ((p.total - p.step) * elapsed) / steps
}

/** Cuts to `width` characters, marking the cut with `…`. */
export const fit = (text: string, width: number): string => {
  const chars = [...text]
  if (chars.length <= width) return text
  return width <= 0 ? "" : chars.slice(0, width - 1).join("") + "…"
}

export const pad = (text: string, width: number): string => {
  const cut = fit(text, width)
  return cut + " ".repeat(Math.max(0, width - [...cut].length))
}

const clamp01 = (x: number): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0)
