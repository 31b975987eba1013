import { createRequire } from "node:module"
import * as tf from "@tensorflow/tfjs"
import { describe, expect, it } from "vitest"
import { initBackend, unsortedSegmentSum } from "../../../src/model/kernels/backend.ts"
import { resolveBackend } from "../../../src/model/kernels/backend-probe.ts"
import { defaultConfig, disposeGPT, forward, initGPT, maskedCrossEntropy } from "../../../src/model/arch/model.ts"
import { needsHere } from "../../setup/facilities.ts"
import { batchMatmul, cachedTransposeCount, dense, gelu, invalidateTransposed, layerNorm, matmulFastPath, plainMatmul, setMatmulPath, transposeFreeMatmul } from "../../../src/model/kernels/ops.ts"

/** Values and gradients of sum(f(a, b) ⊙ r) w.r.t. a and b, as plain arrays. */
const valueAndGrads = (mm: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D, a: tf.Variable, b: tf.Variable, r: tf.Tensor2D) =>
  tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(mm(a as tf.Tensor2D, b as tf.Tensor2D), r)) as tf.Scalar, [a, b])
    return { y: mm(a as tf.Tensor2D, b as tf.Tensor2D).arraySync(), loss: value.arraySync(), ga: grads[a.name]?.arraySync(), gb: grads[b.name]?.arraySync() }
  })

describe("backends", () => {
  let gpuInstalled = true
  try {
    createRequire(import.meta.url).resolve("@tensorflow/tfjs-node-gpu")
  } catch {
    gpuInstalled = false
  }

  it("auto falls through to native where tfjs-node-gpu is not installed", async (ctx) => {
    // Needs the addon built (tests/model/kernels/native-fallback.test.ts covers its absence).
    needsHere(ctx, "native")
    expect(await resolveBackend("auto")).toBe(gpuInstalled ? "tensorflow" : "native")
    expect(await resolveBackend("native")).toBe("native")
  })

  it("explicit names are taken as given", async () => {
    expect(await resolveBackend("cpu")).toBe("cpu")
    expect(await resolveBackend("wasm")).toBe("wasm")
    if (!gpuInstalled) await expect(resolveBackend("tensorflow")).rejects.toThrow(/tfjs-node-gpu does not load/)
  })

  it("the segment-sum kernel computes Σ over equal ids and drops out-of-range ids", () => {
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8])
    expect([...unsortedSegmentSum(x, [2, 0, 2, 5], 3)]).toEqual([3, 4, 0, 0, 1 + 5, 2 + 6])
  })

  it("wasm: gather's gradient (UnsortedSegmentSum) equals the cpu backend's", async () => {
    const run = () =>
      tf.tidy(() => {
        const emb = tf.variable(tf.tensor2d([[0.5, -1], [2, 3], [-4, 0.25], [1, 1]]), true)
        const ids = tf.tensor1d([3, 0, 3, 1, 3], "int32")
        const w = tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]])
        const { grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.gather(emb, ids), w)) as tf.Scalar, [emb])
        const g = grads[emb.name]?.arraySync()
        emb.dispose()
        return g
      })
    await initBackend("cpu")
    const cpu = run()
    await initBackend("wasm")
    const wasm = run()
    expect(cpu).toEqual([[3, 4], [7, 8], [0, 0], [1 + 5 + 9, 2 + 6 + 10]])
    expect(wasm).toEqual(cpu)
  })

  it("wasm: the transpose-free matmul gives the plain matmul's values and gradients", async () => {
    await initBackend("wasm")
    expect(matmulFastPath()).toBe(true)
    const a = tf.variable(tf.randomNormal([5, 3], 0, 1, "float32", 1), true)
    const b = tf.variable(tf.randomNormal([3, 4], 0, 1, "float32", 2), true)
    const r = tf.randomNormal([5, 4], 0, 1, "float32", 3) as tf.Tensor2D
    const plain = valueAndGrads(plainMatmul, a, b, r)
    const fast = valueAndGrads(transposeFreeMatmul, a, b, r)
    expect(fast.y).toEqual(plain.y)
    for (const k of ["ga", "gb"] as const) {
      const [p, f] = [plain[k] as number[][], fast[k] as number[][]]
      f.flat().forEach((v, i) => expect(v).toBeCloseTo(p.flat()[i] ?? NaN, 5))
    }
    tf.dispose([a, b, r])
  })

  it("wasm: a frozen weight's cached Wᵀ gives the same gradient, follows assign, and is freed", async () => {
    await initBackend("wasm")
    const x = tf.variable(tf.randomNormal([4, 3], 0, 1, "float32", 4), true)
    const w = tf.variable(tf.randomNormal([3, 2], 0, 1, "float32", 5), false)
    const r = tf.randomNormal([4, 2], 0, 1, "float32", 6) as tf.Tensor2D
    const gx = (mm: typeof plainMatmul) =>
      tf.tidy(() => tf.variableGrads(() => tf.sum(tf.mul(mm(x as tf.Tensor2D, w as tf.Tensor2D), r)) as tf.Scalar, [x]).grads[x.name]?.arraySync() as number[][])
    const close = (p: number[][], f: number[][]) => f.flat().forEach((v, i) => expect(v).toBeCloseTo(p.flat()[i] ?? NaN, 5))
    const before = tf.memory().numTensors
    close(gx(plainMatmul), gx(transposeFreeMatmul))
    expect(cachedTransposeCount()).toBe(1)
    expect(tf.memory().numTensors).toBe(before + 1) // the cached Wᵀ and nothing else
    gx(transposeFreeMatmul)
    expect(tf.memory().numTensors).toBe(before + 1)
    const scaled = tf.mul(w, -3)
    w.assign(scaled)
    scaled.dispose()
    close(gx(plainMatmul), gx(transposeFreeMatmul))
    invalidateTransposed(w)
    expect(tf.memory().numTensors).toBe(before)
    tf.dispose([x, w, r])
  })

  it("wasm: our Slice kernel gives the cpu backend's slices (contiguous, strided, rank 1–3, int32)", async () => {
    const cases = () =>
      tf.tidy(() => {
        const x3 = tf.range(0, 2 * 3 * 4).reshape([2, 3, 4])
        const x2 = tf.range(0, 30, 1, "int32").reshape([5, 6])
        return [
          tf.slice(x3, [1, 0, 0], [1, 3, 4]),
          tf.slice(x3, [0, 1, 1], [2, 2, 2]),
          tf.slice(x2, [1, 2], [3, -1]),
          tf.slice(tf.range(0, 10), [3], [4]),
        ].map((t) => ({ dtype: t.dtype, shape: t.shape, values: t.arraySync() }))
      })
    await initBackend("cpu")
    const cpu = cases()
    await initBackend("wasm")
    expect(cases()).toEqual(cpu)
  })

  it("wasm: dense and the sliced batched matmul give the plain ops' values and gradients", async () => {
    await initBackend("wasm")
    const close = (p: number[], f: number[]) => f.forEach((v, i) => expect(v).toBeCloseTo(p[i] ?? NaN, 4))
    const x = tf.variable(tf.randomNormal([6, 4], 0, 1, "float32", 7), true)
    const w = tf.variable(tf.randomNormal([4, 3], 0, 1, "float32", 8), true)
    const b = tf.variable(tf.randomNormal([3], 0, 1, "float32", 9), true)
    const run = (f: () => tf.Tensor) =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.sin(f())) as tf.Scalar, [x, w, b])
        return [value, ...[x, w, b].map((v) => grads[v.name] as tf.Tensor)].map((t) => [...t.dataSync()])
      })
    const plain = run(() => tf.add(tf.matMul(x, w), b))
    run(() => dense(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D)).forEach((f, i) => close(plain[i] as number[], f))
    const p = tf.variable(tf.randomNormal([5, 3, 4], 0, 1, "float32", 10), true)
    const q = tf.variable(tf.randomNormal([5, 4, 2], 0, 1, "float32", 11), true)
    const run3 = (f: () => tf.Tensor) =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.sin(f())) as tf.Scalar, [p, q])
        return [value, grads[p.name] as tf.Tensor, grads[q.name] as tf.Tensor].map((t) => [...t.dataSync()])
      })
    const plain3 = run3(() => tf.matMul(p, q))
    const fast3 = run3(() => batchMatmul(p as tf.Tensor3D, q as tf.Tensor3D))
    fast3.forEach((f, i) => close(plain3[i] as number[], f))
    tf.dispose([x, w, b, p, q])
  })

  it("wasm: the hand-written cross-entropy gradient equals autodiff's (with and without a mask)", async () => {
    await initBackend("wasm")
    const logits = tf.variable(tf.randomNormal([2, 3, 5], 0, 2, "float32", 12), true)
    const targets = tf.tensor2d([[1, 4, 0], [2, 2, 3]], [2, 3], "int32")
    const mask = tf.tensor2d([[0, 1, 1], [0, 0, 1]])
    const run = (fast: boolean, m?: tf.Tensor2D) =>
      tf.tidy(() => {
        setMatmulPath(fast ? "xnnpack" : "tfjs")
        const { value, grads } = tf.variableGrads(() => maskedCrossEntropy(logits as tf.Tensor3D, targets, m), [logits])
        return [value.dataSync()[0] as number, [...(grads[logits.name] as tf.Tensor).dataSync()]] as const
      })
    for (const m of [undefined, mask]) {
      const [pv, pg] = run(false, m)
      const [fv, fg] = run(true, m)
      expect(fv).toBeCloseTo(pv, 5)
      fg.forEach((g, i) => expect(g).toBeCloseTo(pg[i] ?? NaN, 6))
    }
    tf.dispose([logits, targets, mask])
  })

  it("wasm: Identity (tf.clone) shares data and frees it with the last reference", async () => {
    await initBackend("wasm")
    const ids = () => tf.engine().backend.numDataIds() // buffers the backend holds
    const before = ids()
    const a = tf.tensor1d([1, 2, 3])
    const b = tf.clone(a)
    expect(ids()).toBe(before + 1)
    a.dispose()
    expect([...b.dataSync()]).toEqual([1, 2, 3])
    b.dispose()
    expect(ids()).toBe(before)
  })

  it("wasm: LayerNorm and GELU with hand-written gradients equal autodiff's", async () => {
    await initBackend("wasm")
    const x = tf.variable(tf.randomNormal([5, 6], 0.5, 2, "float32", 13), true)
    const g = tf.variable(tf.randomNormal([6], 1, 0.3, "float32", 14), true)
    const b = tf.variable(tf.randomNormal([6], 0, 0.3, "float32", 15), true)
    const r = tf.randomNormal([5, 6], 0, 1, "float32", 16)
    const run = (fast: boolean) =>
      tf.tidy(() => {
        setMatmulPath(fast ? "xnnpack" : "tfjs")
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(gelu(layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5)), r)) as tf.Scalar, [x, g, b])
        return [value, ...[x, g, b].map((v) => grads[v.name] as tf.Tensor)].map((t) => [...t.dataSync()])
      })
    const plain = run(false)
    run(true).forEach((f, i) => f.forEach((v, j) => expect(v).toBeCloseTo(plain[i]?.[j] ?? NaN, 4)))
    tf.dispose([x, g, b, r])
  })

  it("wasm: the whole model's gradients with every fast path equal plain tfjs autodiff's", async () => {
    await initBackend("wasm")
    const model = initGPT({ ...defaultConfig, vocabSize: 40, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16 }, 4)
    const vars = [...model.params.values()]
    const idx = tf.randomUniform([3, 8], 0, 40, "int32", 1) as tf.Tensor2D
    const tgt = tf.randomUniform([3, 8], 0, 40, "int32", 2) as tf.Tensor2D
    const grads = (fast: boolean) =>
      tf.tidy(() => {
        setMatmulPath(fast ? "xnnpack" : "tfjs")
        const { value, grads: g } = tf.variableGrads(() => maskedCrossEntropy(forward(model, idx), tgt), vars)
        return { loss: value.dataSync()[0], g: vars.map((v) => [...(g[v.name] as tf.Tensor).dataSync()]) }
      })
    const plain = grads(false)
    const fast = grads(true)
    expect(fast.loss).toBeCloseTo(plain.loss ?? NaN, 5)
    ;[...model.params.keys()].forEach((name, i) => {
      // ∂loss/∂(key bias) is exactly 0 (softmax ignores a per-row constant): both are rounding noise.
      if (name.endsWith("attn.k.bias")) return
      const [a, b] = [plain.g[i] as number[], fast.g[i] as number[]]
      const err = Math.hypot(...a.map((x, j) => x - (b[j] ?? NaN))) / Math.hypot(...a)
      expect(err, name).toBeLessThan(1e-4)
    })
    tf.dispose([idx, tgt])
    disposeGPT(model)
  })

  it("cpu: the fast path is off", async () => {
    await initBackend("cpu")
    expect(matmulFastPath()).toBe(false)
  })
})
