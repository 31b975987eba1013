/** The matrix grid: a row per cell (method × seed …), a column per stage kind, a glyph per instance. */
import { Box, Text } from "ink"
import { COLORS, GLYPHS, pad } from "../format.ts"
import type { GridLayout, GridRow } from "../grid.ts"
import type { InstanceView } from "../state.ts"

export interface GridProps {
  readonly grid: GridLayout
  readonly instances: Readonly<Record<string, InstanceView>>
  readonly columns: number
  /** Most lines the rows may take (the terminal's height); unlimited when absent. */
  readonly maxRows?: number
}

export interface GridWidths {
  readonly label: number
  readonly kinds: ReadonlyArray<number>
}

const GAP = 1
const SHARED = "shared"

/**
 * Columns get room for their header, then shrink towards their content (a glyph, or
 * "▶ 42%" for a lone instance) until the grid fits; the label column gives way last.
 */
export const gridWidths = (grid: GridLayout, columns: number): GridWidths => {
  const natural = axisWidths(grid)
  const label = Math.max(SHARED.length, natural.reduce((a, b) => a + b + 1, -1))
  const most = grid.kinds.map((k) => Math.max(1, ...grid.rows.map((r) => r.cells[k]?.length ?? 0)))
  const content = most.map((n) => (n === 1 ? 5 : 2 * n - 1))
  const ideal = grid.kinds.map((k, n) => Math.max(k.length, content[n] ?? 1))
  const room = columns - label - GAP * grid.kinds.length
  const kinds = shrink(ideal, content.map((c, n) => Math.min(c, most[n] === 1 ? 1 : c)), room)
  const used = kinds.reduce((a, b) => a + b + GAP, 0)
  return { label: Math.max(6, Math.min(label, columns - used)), kinds }
}

/** Takes one cell at a time from the widest column still above its floor. */
const shrink = (ideal: ReadonlyArray<number>, floor: ReadonlyArray<number>, room: number): Array<number> => {
  const w = [...ideal]
  let total = w.reduce((a, b) => a + b, 0)
  while (total > room) {
    let widest = -1
    w.forEach((x, n) => {
      if (x > (floor[n] ?? 1) && (widest < 0 || x > (w[widest] ?? 0))) widest = n
    })
    if (widest < 0) break
    w[widest] = (w[widest] ?? 1) - 1
    total -= 1
  }
  return w
}

/** One cell as colored spans padded to `width`; spans inside one <Text> cost no layout. */
const Cell = ({ ids, instances, width }: { ids: ReadonlyArray<string>; instances: GridProps["instances"]; width: number }) => {
  const views = ids.map((id) => instances[id]).filter((v): v is InstanceView => v !== undefined)
  const lone = views.length === 1 ? views[0] : undefined
  const pct = lone?.state === "running" && lone.progress !== undefined && lone.progress.total > 0
    ? ` ${Math.floor((100 * lone.progress.step) / lone.progress.total)}%`
    : ""
  const shownPct = pct.length <= width - 1 ? pct : ""
  const used = Math.max(0, views.length * 2 - 1) + shownPct.length
  return (
    <>
      {views.map((v, n) => (
        <Text key={v.info.id} color={COLORS[v.state]}>{`${n === 0 ? "" : " "}${GLYPHS[v.state]}`}</Text>
      ))}
      <Text color={COLORS.running}>{shownPct}</Text>
      {" ".repeat(Math.max(0, width - used))}
    </>
  )
}

export const Grid = ({ grid, instances, columns, maxRows }: GridProps) => {
  const widths = gridWidths(grid, columns)
  const { rows, hidden } = visibleRows(grid.rows, instances, maxRows)
  const labelWidths = columnWidths(grid, widths.label)
  const label = (row: GridRow) =>
    pad(row.shared ? SHARED : grid.axes.map((a, n) => pad(String(row.factors[a] ?? ""), labelWidths[n] ?? 0)).join(" "), widths.label)
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate">
        {pad(grid.axes.map((a, n) => pad(a, labelWidths[n] ?? 0)).join(" "), widths.label)}
        {grid.kinds.map((k, n) => " " + pad(k, widths.kinds[n] ?? 1)).join("").trimEnd()}
      </Text>
      {rows.map((row) => (
        <Text key={row.key} wrap="truncate">
          <Text color={row.shared ? "gray" : undefined}>{label(row)}</Text>
          {grid.kinds.map((k, n) => (
            <Text key={k}>
              {" ".repeat(GAP)}
              <Cell ids={row.cells[k] ?? []} instances={instances} width={widths.kinds[n] ?? 1} />
            </Text>
          ))}
        </Text>
      ))}
      {hidden.complete + hidden.pending === 0 ? null : (
        <Text color="gray" wrap="truncate">{`… ${hidden.complete} complete and ${hidden.pending} waiting cells not shown`}</Text>
      )}
    </Box>
  )
}

type RowKind = "active" | "pending" | "complete"

const rowKind = (row: GridRow, instances: GridProps["instances"]): RowKind => {
  const states = Object.values(row.cells).flat().map((id) => instances[id]?.state ?? "pending")
  if (states.every((s) => s === "succeeded" || s === "cached")) return "complete"
  return states.every((s) => s === "pending" || s === "succeeded" || s === "cached") ? "pending" : "active"
}

const KEEP_FIRST: Readonly<Record<RowKind, number>> = { active: 0, pending: 1, complete: 2 }

/**
 * When the rows do not fit, the shared row and rows with something happening (running,
 * failed, skipped) stay, then waiting rows, then finished ones; the kept rows keep their
 * order and one line says what was left out.
 */
export const visibleRows = (
  rows: ReadonlyArray<GridRow>,
  instances: GridProps["instances"],
  maxRows: number | undefined,
): { readonly rows: ReadonlyArray<GridRow>; readonly hidden: Readonly<Record<"complete" | "pending", number>> } => {
  if (maxRows === undefined || rows.length <= maxRows) return { rows, hidden: { complete: 0, pending: 0 } }
  const ranked = rows
    .map((row, index) => ({ row, index, kind: row.shared ? ("active" as const) : rowKind(row, instances) }))
    .sort((a, b) => KEEP_FIRST[a.kind] - KEEP_FIRST[b.kind] || a.index - b.index)
  const budget = Math.max(1, maxRows - 1)
  const kept = ranked.slice(0, budget).sort((a, b) => a.index - b.index)
  const dropped = ranked.slice(budget)
  return {
    rows: kept.map((k) => k.row),
    hidden: {
      complete: dropped.filter((d) => d.kind === "complete").length,
      pending: dropped.filter((d) => d.kind !== "complete").length,
    },
  }
}

/** Per-axis label widths: the longest of the axis name and its values, cut to fit `total`. */
const columnWidths = (grid: GridLayout, total: number): Array<number> => {
  const natural = axisWidths(grid)
  const excess = natural.reduce((a, b) => a + b, 0) + Math.max(0, natural.length - 1) - total
  return excess <= 0 ? natural : natural.map((w) => Math.max(1, w - Math.ceil(excess / natural.length)))
}

const axisWidths = (grid: GridLayout): Array<number> =>
  grid.axes.map((a) =>
    Math.max(a.length, ...grid.rows.filter((r) => !r.shared).map((r) => String(r.factors[a] ?? "").length)),
  )
