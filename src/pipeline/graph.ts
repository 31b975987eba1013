/**
 * Topological order of a small named graph, or one cycle when there is none.
 * `deps(n)` lists the nodes `n` needs; the order puts every dependency first and otherwise
 * keeps the input order (so plans read in file order).
 */
export type TopoResult = { readonly ok: true; readonly order: ReadonlyArray<string> } | { readonly ok: false; readonly cycle: ReadonlyArray<string> }

export const topoSort = (nodes: ReadonlyArray<string>, deps: (n: string) => ReadonlyArray<string>): TopoResult => {
  const state = new Map<string, "visiting" | "done">()
  const order: Array<string> = []
  const stack: Array<string> = []
  const visit = (n: string): ReadonlyArray<string> | undefined => {
    const s = state.get(n)
    if (s === "done") return undefined
    if (s === "visiting") return [...stack.slice(stack.indexOf(n)), n]
    state.set(n, "visiting")
    stack.push(n)
    for (const d of deps(n)) {
      const cycle = visit(d)
      if (cycle !== undefined) return cycle
    }
    stack.pop()
    state.set(n, "done")
    order.push(n)
    return undefined
  }
  for (const n of nodes) {
    const cycle = visit(n)
    if (cycle !== undefined) return { ok: false, cycle }
  }
  return { ok: true, order }
}
