/** The select stage on collected eval artifacts: `within: 1se` reads each candidate's examples; a non-proportion is refused. */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import selectStage from "../../../stages/select/index.ts"
import type { InputArtifact } from "../../../src/contracts/stage.ts"
import { runStage } from "../harness.ts"

const ev = (lr: number, summary: InputArtifact["summary"]): InputArtifact => ({
  id: `tune-eval[method=full,lr_scale=${lr}]`,
  kind: "eval",
  dir: mkdtempSync(join(tmpdir(), "select-in-")),
  fingerprint: `fp-${lr}`,
  factors: { method: "full", lr_scale: lr },
  summary: { split: "validation", ...summary },
})
const runs = [ev(1, { accuracy: 0.8347, examples: 605 }), ev(3, { accuracy: 0.8959, examples: 605 }), ev(10, { accuracy: 0.8975, examples: 605 })]

describe("select stage", () => {
  it("by default the best; with within: 1se the smaller rate the validation set cannot tell from it", async () => {
    const best = await runStage(selectStage, { params: { metric: "accuracy" }, collected: { runs } })
    expect(best.output.summary["chosen.lr_scale"]).toBe(10)
    const se = await runStage(selectStage, { params: { metric: "accuracy", within: "1se" }, collected: { runs } })
    expect(se.output.summary["chosen.lr_scale"]).toBe(3)
    expect(se.output.summary.tied).toBe(2)
    expect(se.output.summary.tolerance).toBeCloseTo(0.01233, 5)
    const file = JSON.parse(readFileSync(join(se.outDir, "select.json"), "utf8")) as { chosen_values: unknown; reason: string }
    expect(file.chosen_values).toMatchObject({ lr_scale: 3 })
    expect(file.reason).toMatch(/lr_scale=3 0\.8959 ←, .*lr_scale=10 0\.8975; 2 within 0\.0123 \(1 SE\) of the best/)
  })

  it("within: 1se on a metric that is not a proportion is an InvalidData error naming the candidate", async () => {
    const losses = runs.map((r) => ({ ...r, summary: { ...r.summary, eval_loss: 3 + Number(r.factors.lr_scale) } }))
    await expect(runStage(selectStage, { params: { metric: "eval_loss", goal: "min", within: "1se" }, collected: { runs: losses } })).rejects.toThrow(
      /within: 1se needs a proportion: tune-eval\[method=full,lr_scale=1\] reports eval_loss = 4/,
    )
  })
})
