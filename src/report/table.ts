/** Plain-text and LaTeX/Markdown table writers over rows of cell strings. */

export type Align = "left" | "right"

export interface TextTable {
  readonly headers: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
  /** Per column; columns default to right-aligned except the first. */
  readonly align?: ReadonlyArray<Align>
}

const width = (s: string): number => [...s].length

const alignOf = (t: TextTable, n: number): Align => t.align?.[n] ?? (n === 0 ? "left" : "right")

/** Columns separated by two spaces, a rule under the header; no trailing spaces. */
export const textTable = (t: TextTable): string => {
  const widths = t.headers.map((h, n) => Math.max(width(h), ...t.rows.map((r) => width(r[n] ?? ""))))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, n) => {
        const fill = " ".repeat(Math.max(0, (widths[n] ?? 0) - width(c)))
        return alignOf(t, n) === "left" ? c + fill : fill + c
      })
      .join("  ")
      .trimEnd()
  const rule = widths.map((w) => "─".repeat(w)).join("  ")
  return [line(t.headers), rule, ...t.rows.map(line)].join("\n")
}

const mdEscape = (s: string): string => s.replaceAll("|", "\\|")

export const markdownTable = (t: TextTable): string => {
  const rule = t.headers.map((_, n) => (alignOf(t, n) === "left" ? ":---" : "---:"))
  const line = (cells: ReadonlyArray<string>) => `| ${cells.map(mdEscape).join(" | ")} |`
  return [line(t.headers), `|${rule.join("|")}|`, ...t.rows.map(line)].join("\n")
}

const LATEX_SPECIAL: Readonly<Record<string, string>> = {
  "\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", $: "\\$", "#": "\\#", _: "\\_",
  "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}",
  "±": "$\\pm$", "—": "---", "−": "$-$", "<": "$<$", "Δ": "$\\Delta$", "·": "$\\cdot$",
}

export const latexEscape = (s: string): string => [...s].map((c) => LATEX_SPECIAL[c] ?? c).join("")

/** A booktabs tabular (needs `\usepackage{booktabs}`). */
export const latexTable = (t: TextTable): string => {
  const spec = t.headers.map((_, n) => (alignOf(t, n) === "left" ? "l" : "r")).join("")
  const line = (cells: ReadonlyArray<string>) => `${cells.map(latexEscape).join(" & ")} \\\\`
  return [
    `\\begin{tabular}{${spec}}`,
    "\\toprule",
    line(t.headers),
    "\\midrule",
    ...t.rows.map(line),
    "\\bottomrule",
    "\\end{tabular}",
  ].join("\n")
}

const csvCell = (s: string): string => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s)

export const csvTable = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [headers, ...rows].map((r) => r.map(csvCell).join(",")).join("\n") + "\n"
