/**
 * Generates the engine benchmark pipeline: one shared source and a × b × c trivial fake-step
 * instances that each need it (n = a·b·c + 1 instances), as peftlab YAML and as a Snakemake
 * workflow with the same DAG. Usage: tsx bench/engine-gen.ts <outDir> <a> <b> <c>
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"

const [outDir = "bench/out/engine", a = "10", b = "10", c = "10"] = process.argv.slice(2)
const range = (n: string) => Array.from({ length: Number(n) }, (_, i) => i + 1)
mkdirSync(outDir, { recursive: true })

writeFileSync(
  path.join(outDir, "pipeline.yaml"),
  `name: engine-bench
matrix:
  a: [${range(a).join(", ")}]
  b: [${range(b).join(", ")}]
  c: [${range(c).join(", ")}]
stages:
  src: { kind: fake-source, params: { value: 1 } }
  cell:
    kind: fake-step
    foreach: [a, b, c]
    needs: { source: src }
    params: { value: "\${a}-\${b}-\${c}" }
`,
)

// The same DAG for Snakemake: one rule per stage, wildcards for the axes.
writeFileSync(
  path.join(outDir, "Snakefile"),
  `A = ${JSON.stringify(range(a))}
B = ${JSON.stringify(range(b))}
C = ${JSON.stringify(range(c))}

rule all:
    input: expand("out/cell_{a}_{b}_{c}.txt", a=A, b=B, c=C)

rule src:
    output: "out/src.txt"
    shell: "echo src=1 > {output}"

rule cell:
    input: "out/src.txt"
    output: "out/cell_{a}_{b}_{c}.txt"
    shell: "(echo cell={wildcards.a}-{wildcards.b}-{wildcards.c}; cat {input}) > {output}"
`,
)
console.log(`wrote ${outDir}/pipeline.yaml and ${outDir}/Snakefile (${Number(a) * Number(b) * Number(c) + 1} instances)`)
