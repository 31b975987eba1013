/**
 * report: the comparison of a run as a cached artifact — every test-split eval it collects
 * (fan-in over the matrix), with the trains (cost, loss curves) and select choices when given.
 * Writes comparison.txt / .md / .csv / .json / .tex (the formats of `peftlab compare`; .md and
 * .txt end with the claims section — each method's published headline judged on these results,
 * src/report/claims.ts — whose judgements claims.json holds) and curves.svg + curves.png (those
 * of `peftlab plot`). It reads only its input artifacts, so it is cached like any stage and
 * reruns exactly when one of them changes; it leaves out what differs between two runs of the
 * same inputs (train time, throughput, the worker's peak RSS: `peftlab compare` shows those; a
 * step's peak tensor bytes is a function of the inputs and stays), so the same inputs give the
 * same bytes — also after a crash and a resume.
 */
import { Effect } from "effect"
import { defineStage } from "../../src/contracts/stage.ts"
import { ReportParams } from "./params.ts"

export default defineStage<ReportParams>({
  kind: "report",
  version: 1,
  description: "The comparison table (text, Markdown, CSV, JSON, LaTeX) and the plots of the collected results, as an artifact",
  module: import.meta.url,
  params: ReportParams,
  inputs: {
    evals: { description: "the evals to compare (fan-in; validation-split evals are left out)", kinds: ["eval"], many: true },
    trains: { description: "their trains: cost columns and loss curves (fan-in)", kinds: ["train"], many: true, optional: true },
    selections: { description: "select choices to list with their reasons (fan-in)", kinds: ["select"], many: true, optional: true },
  },
  run: (ctx) => Effect.flatMap(Effect.promise(() => import("./run.ts")), (job) => job.report(ctx)),
})
