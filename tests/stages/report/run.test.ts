/**
 * The report stage's artifact: from collected eval / train / select artifacts (no SQLite), the
 * comparison in every format and the plot, with validation evals left out and the choices listed.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import reportStage from "../../../stages/report/index.ts"
import type { InputArtifact } from "../../../src/contracts/stage.ts"
import { runStage } from "../harness.ts"

const root = mkdtempSync(join(tmpdir(), "peftlab-report-"))
const art = (id: string, kind: string, factors: InputArtifact["factors"], summary: InputArtifact["summary"], files: Record<string, string> = {}): InputArtifact => {
  const dir = join(root, id.replace(/[^\w=,-]/g, "_"))
  mkdirSync(dir, { recursive: true })
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return { id, kind, dir, fingerprint: `fp-${id}`, factors, summary }
}

const ACC: Record<string, ReadonlyArray<number>> = { lora: [0.7, 0.8], full: [0.9, 1.0] }
const evals = [
  ...Object.entries(ACC).flatMap(([method, accs]) =>
    accs.map((accuracy, i) => art(`eval[method=${method},seed=${i + 1}]`, "eval", { method, seed: i + 1 }, { split: "test", accuracy, macro_f1: accuracy - 0.1, eval_loss: 1 - accuracy, base_accuracy: 0.5, majority_accuracy: 0.6 })),
  ),
  art("tune-eval[method=lora,lr_scale=3]", "eval", { method: "lora", lr_scale: 3 }, { split: "validation", accuracy: 0.01, base_accuracy: 0.5 }),
]
const trainsTimed = (time: number) => Object.keys(ACC).flatMap((method) =>
  [1, 2].map((seed) => art(`train[method=${method},seed=${seed}]`, "train", { method, seed }, { trainable_params: method === "full" ? 1000 : 10, train_time_s: time * seed, peak_rss_bytes: time * 1e6 }, { "loss.json": JSON.stringify([2, 1.5, 1 + seed / 10]) })),
)
const trains = trainsTimed(1)
const picks = [art("pick[method=lora]", "select", { method: "lora" }, { "chosen.lr_scale": 0.3, score: 0.8, reason: "accuracy (max): lr_scale=0.3 0.8000 ←, lr_scale=3 0.0100" })]

describe("report stage", () => {
  it("writes the comparison in every format and the plot, from its collected inputs", async () => {
    const { output, outDir } = await runStage(reportStage, { params: { title: "tiny", png: false }, collected: { evals, trains, selections: picks } })
    expect(readdirSync(outDir).sort()).toEqual(["claims.json", "comparison.csv", "comparison.json", "comparison.md", "comparison.tex", "comparison.txt", "curves.svg"])
    expect(readFileSync(join(outDir, "claims.json"), "utf8")).toBe("[]\n") // lora and full: no paper claim to judge
    expect(output.summary).toEqual({ groups: 2, evals: 5, best: "full", best_accuracy: 0.95 })
    const table = readFileSync(join(outDir, "comparison.txt"), "utf8")
    expect(table.split("\n")[0]).toBe("tiny · test split · mean ± 95% CI over seeds (Student t) · n = seeds · share of full FT gain = (acc − zero-shot)/(acc_full − zero-shot), paired by seed")
    // shares (0.7 − 0.5)/(0.9 − 0.5) = 0.5 and (0.8 − 0.5)/(1 − 0.5) = 0.6: 0.55 ± t(1)·0.0707/√2 = 0.635
    expect(table).toMatch(/^lora +2 +0\.750 ± 0\.635 .* 0\.550 ± 0\.635$/m)
    expect(table).toContain("pick[method=lora]: lr_scale=0.3 — accuracy (max): lr_scale=0.3 0.8000 ←, lr_scale=3 0.0100")
    expect(table).not.toContain("lora lr_scale=3") // the validation eval forms no group
    const json = JSON.parse(readFileSync(join(outDir, "comparison.json"), "utf8")) as { groups: Array<{ label: string; metrics: { trainable_params: { mean: number } } }> }
    expect(json.groups.map((g) => [g.label, g.metrics.trainable_params.mean])).toEqual([["lora", 10], ["full", 1000]])
    const svg = readFileSync(join(outDir, "curves.svg"), "utf8")
    expect(svg.startsWith("<svg")).toBe(true)
    expect(svg).toContain("lora")
  }, 60_000)

  it("is a function of what its inputs determine: other train times and memory give the same bytes, and no such columns", async () => {
    const a = await runStage(reportStage, { params: { png: false }, collected: { evals, trains, selections: picks } })
    const b = await runStage(reportStage, { params: { png: false }, collected: { evals, trains: trainsTimed(7), selections: picks } })
    for (const f of readdirSync(a.outDir)) expect(readFileSync(join(b.outDir, f)), f).toEqual(readFileSync(join(a.outDir, f)))
    const table = readFileSync(join(a.outDir, "comparison.txt"), "utf8")
    expect(table).toContain("trainable params")
    expect(table).not.toContain("train time")
    expect(table).not.toContain("peak RSS")
  }, 60_000)

  it("ends the Markdown and the text with the claims section, judged from the collected evals and trains", async () => {
    // LoRA+ at λ = 16: mean training loss (2 + 1 + 1)/3 vs LoRA's (2 + 1.5 + 1)/3 on both seeds → Δ = −1/6 ± 0: holds.
    const plusEvals = [0.75, 0.85].map((accuracy, i) => art(`eval[method=lora-plus,seed=${i + 1}]`, "eval", { method: "lora-plus", seed: i + 1 }, { split: "test", accuracy }))
    const plusTrains = [1, 2].map((seed) => art(`train[method=lora-plus,seed=${seed}]`, "train", { method: "lora-plus", seed }, { trainable_params: 10, rank: 8, loraplus_ratio: 16 }, { "loss.json": "[2,1,1]" }))
    const loraTrains = [1, 2].map((seed) => art(`train[method=lora,seed=${seed}]`, "train", { method: "lora", seed }, { trainable_params: 10, rank: 8 }, { "loss.json": "[2,1.5,1]" }))
    const { outDir } = await runStage(reportStage, { params: { png: false }, collected: { evals: [...evals.slice(0, 2), ...plusEvals], trains: [...loraTrains, ...plusTrains] } })
    const md = readFileSync(join(outDir, "comparison.md"), "utf8")
    expect(md.indexOf("### Claims")).toBeGreaterThan(md.indexOf("| lora-plus | 2 |"))
    expect(md).toContain("| lora-plus | converges faster than LoRA with B's learning rate 16× A's | Hayou et al., ICML 2024, arXiv 2402.12354 | Δ mean training loss over the run (lora-plus − lora) = −0.1667 ± 0.0000 nats over 2 seeds (claim < 0 nats) | **holds** |\n")
    expect(readFileSync(join(outDir, "comparison.txt"), "utf8")).toContain("  lora-plus: converges faster than LoRA with B's learning rate 16× A's — HOLDS\n")
    const claims = JSON.parse(readFileSync(join(outDir, "claims.json"), "utf8")) as Array<{ group: string; verdict: string }>
    expect(claims.map((c) => [c.group, c.verdict])).toEqual([["lora-plus", "holds"]])
  }, 60_000)

  it("fails clearly when no collected eval is on the test split", async () => {
    await expect(runStage(reportStage, { params: {}, collected: { evals: [evals[4]!] } })).rejects.toThrow(/nothing to compare: none of the 1 collected evals is on the test split/)
  })
})
