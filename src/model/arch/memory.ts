/**
 * A training step's peak memory from the config alone — no tfjs, so `peftlab status` can refuse a
 * train that cannot fit before anything runs (docs/DESIGN.md "Memory at plan time").
 *
 * What tfjs keeps during a step (tfjs-core engine.gradients / tape.backpropagateGradients):
 * - every op output of the forward pass stays alive until the backward pass ends (the tape
 *   holds them, whether the gradient reads them or not), and
 * - every gradient the backward pass computes for those outputs stays alive too, in the
 *   accumulated-gradient map, until the whole backward tidy ends.
 * So the step's transient memory is ≈ 2 × Σ (forward op outputs): `activationFloats` counts
 * them per layer, op by op, on tfjs's own (autodiff) path — the fused wasm/native kernels
 * (LayerNorm, GELU, attention) keep fewer, so the count bounds them from above.
 *
 * Per layer, N = B·T rows, C wide, q = nh·hd and kv = nkv·hd projection widths, I the MLP's
 * hidden width, S = B·nh·T² attention scores (floats):
 *   Llama: 2 RMSNorms (x², mean, +ε, rsqrt, ·r, ·γ: 3NC + 3N each), q/k/v/o/gate/up/down
 *          outputs, RoPE on q and k (two half slices, four products, a sum and a difference,
 *          the concat: 5× the width), GQA's repeated k and v (2Nq when nkv < nh), attention
 *          (3 head transposes, scores, ×scale, +mask, softmax = 4S, the product and its
 *          transpose back), SiLU (σ, ·) and gate·up (3NI), two residual sums.
 *   GPT-2: 2 LayerNorms (moments, centred, +ε, √, ÷, ·γ, +β: 6NC + 4N each), q/k/v/o/up/down
 *          with their bias sums, attention as above, GELU's tanh form (9 products and sums of
 *          the hidden width), two residual sums.
 * Adapters add their own outputs per adapted projection: the LoRA family x·A (N·r), x·A·B,
 * its scaling and the sum (3N·d_out), dropout's mask and product (2N·d_in); VeRA without
 * dropout folds ΔW = A·diag(d)·B·diag(b) into the kernel (4 d_in·d_out per target).
 * The output head runs on K rows (the completion tokens; K ≤ B·T): the gathered hidden rows
 * (K·C) and 7 K·V tensors (logits, log-softmax's max-shift, exp, log-sum and difference, the
 * one-hot targets and their product).
 *
 * Peak tensor bytes = 4 × (frozen floats + trainables × 3 (value, AdamW m and v)
 *                          + max(backward: 2·activations + gradients of the trainables
 *                                           + full fine-tuning's dense embedding gradients,
 *                                optimizer step: gradients + 10 × the largest trainable tensor)).
 * The wasm heap (wasm and native: tensors live in one 32-bit heap) holds that peak plus what
 * its allocator cannot reuse: heap = HEAP_FACTOR × tensors + HEAP_BASE (native: its transient
 * part × NATIVE_TRANSIENT first). The process's RSS adds node and tfjs themselves (PROCESS_BASE),
 * and the larger of the JS copies of a checkpoint (a dataSync copy, Float32Array.from's copy and
 * the encoded file: 3 × what it holds) and of the weights while they load (file + tensor: 2 × 4P).
 * On cpu tensors are JS typed arrays outside any heap: RSS = CPU_FACTOR × tensors + the same.
 * The factors are calibrated in bench/memory-estimate.ts (bench/README.md, "Memory estimates"):
 * every binding estimate there is at or above its measurement.
 *
 * Not modelled: a Mistral sliding-window mask (B·T² floats when T exceeds the window), packed
 * label rows a few tokens longer than blockSize, and stages running side by side (`--jobs N`:
 * each is held to the machine's limit alone).
 */
import { isLlama, parameterCount, parameterSpecs, projDims, type ModelConfig, type ProjName } from "./config.ts"

const F32 = 4

/** How an adapter computes its delta on one projection (what it keeps per step). */
export type AdapterForm =
  /** ΔY = s·x·A·B (LoRA, LoRA-FA, LoRA+, Delta-LoRA): (N, r) and three (N, d_out) per target. */
  | "low-rank"
  /** ΔW = A·diag(d)·B·diag(b) folded into W without dropout (VeRA): four (d_in, d_out) per target. */
  | "weight"
  /** No adapter: every base parameter trains (full fine-tuning). */
  | "full"

export interface TrainMemoryInput {
  readonly config: ModelConfig
  /** Sequences per step (B). */
  readonly batch: number
  /** Tokens per sequence (T ≤ blockSize): batches are padded to their longest sequence. */
  readonly seq: number
  /** Rows the output head runs on (K ≤ B·T): every position when pretraining, the completion tokens when fine-tuning. */
  readonly headRows: number
  readonly adapter: {
    readonly form: AdapterForm
    readonly targets: ReadonlyArray<ProjName>
    readonly rank: number
    readonly dropout: number
    /** Floats that get gradients and AdamW moments (full fine-tuning: every parameter). */
    readonly trainable: number
    /** Adapter floats without them (LoRA-FA's A, VeRA's shared pair). */
    readonly frozen: number
    /** Base floats the method writes between steps (Delta-LoRA's W, full fine-tuning's all): saved in every checkpoint. */
    readonly modifiedBase: number
  }
}

export interface MemoryEstimate {
  /** Peak bytes held in tensors during a step (what tf.profile's peakBytes measures). */
  readonly tensorBytes: number
  /** The wasm heap's size at that peak (wasm backend). */
  readonly heapBytes: number
  /** The same on native, whose fused kernels keep fewer activations (NATIVE_TRANSIENT). */
  readonly nativeHeapBytes: number
  /** The process's peak resident memory on native. */
  readonly nativeRssBytes: number
  /** The process's peak resident memory on a wasm-heap backend (heap + node + JS copies). */
  readonly rssBytes: number
  /** The process's peak resident memory on the cpu backend (tensors as JS typed arrays). */
  readonly cpuRssBytes: number
  /** The largest single tensor (cpu: one typed array). */
  readonly largestTensorBytes: number
  /** Parts of tensorBytes, for the message. */
  readonly parts: { readonly weights: number; readonly optimizer: number; readonly activations: number; readonly head: number }
}

/** Forward op outputs of one block (floats), on tfjs's autodiff path; see the header. */
export const layerFloats = (cfg: ModelConfig, B: number, T: number): number => {
  const N = B * T
  const C = cfg.nEmbd
  const S = B * cfg.nHead * T * T
  if (isLlama(cfg)) {
    const q = cfg.nHead * cfg.headDim
    const kv = cfg.nKvHead * cfg.headDim
    const I = cfg.intermediateSize
    const norms = 2 * (3 * N * C + 3 * N)
    const proj = N * (q + 2 * kv + C + 2 * I + C)
    const bias = N * ((cfg.qkvBias ? q + 2 * kv : 0) + (cfg.oBias ? C : 0) + (cfg.mlpBias ? 2 * I + C : 0))
    const rope = 5 * N * (q + kv)
    const repeat = cfg.nKvHead < cfg.nHead ? 2 * N * q : 0
    const attention = 3 * N * q + 4 * S + 2 * N * q
    const mlp = 3 * N * I
    return norms + proj + bias + rope + repeat + attention + mlp + 2 * N * C
  }
  const H = cfg.mlpRatio * C
  const norms = 2 * (6 * N * C + 4 * N)
  const proj = 2 * N * (4 * C + H + C) // q, k, v, o, up, down, each with its bias sum
  const attention = 3 * N * C + 4 * S + 2 * N * C
  return norms + proj + attention + 9 * N * H + 2 * N * C
}

/** The adapter's own forward outputs (floats), over every layer. */
export const adapterFloats = (cfg: ModelConfig, a: TrainMemoryInput["adapter"], N: number): number => {
  if (a.form === "full") return 0
  let perLayer = 0
  for (const p of a.targets) {
    const [dIn, dOut] = projDims(cfg, p)
    const dropout = a.dropout > 0 ? 2 * N * dIn : 0
    perLayer += a.form === "weight" && a.dropout === 0 ? 4 * dIn * dOut : N * (2 * a.rank + 3 * dOut) + dropout
  }
  return cfg.nLayer * perLayer
}

/** Heap growth the wasm allocator adds to the tensor peak (measured: see bench/README.md). */
export const HEAP_FACTOR = 1.25
/**
 * Native's fused kernels (attention keeps its probabilities only, RMSNorm / LayerNorm / GELU /
 * SiLU·gate keep their inputs) hold 0.54–0.62 of wasm's heap on the Llama shapes measured: its
 * transient memory is taken as 0.6 of the count above.
 */
export const NATIVE_TRANSIENT = 0.6
/** The heap before any tensor (tfjs-backend-wasm's initial 16 MiB) and kernel scratch. */
export const HEAP_BASE = 64 * 2 ** 20
/**
 * The cpu backend's tensors are JS typed arrays, freed only when V8 collects them, and its
 * autodiff path clones what gradients save: a worker's RSS above its idle 222 MiB measured 2.2×
 * (LoRA) and 3.0× (full) this file's tensor count on the 2×128 GPT-2.
 */
export const CPU_FACTOR = 3.25
/** node + tfjs + the worker's own JS (measured RSS of a worker before its first tensor, rounded up). */
export const PROCESS_BASE = 256 * 2 ** 20

export const estimateTrainMemory = (x: TrainMemoryInput): MemoryEstimate => {
  const cfg = x.config
  const { batch: B, seq: T, headRows: K, adapter: a } = x
  const N = B * T
  const P = parameterCount(cfg)
  const V = cfg.vocabSize
  const C = cfg.nEmbd
  const full = a.form === "full"
  // Forward outputs: embedding (+ positions), every block, the adapter, the final norm.
  const embed = isLlama(cfg) ? N * C : 3 * N * C
  const blocks = cfg.nLayer * layerFloats(cfg, B, T) + adapterFloats(cfg, a, N) + 6 * N * C
  const head = K * C + 7 * K * V
  const activations = embed + blocks
  // Full fine-tuning: gather's gradient is a dense (V, C) (unsortedSegmentSum), and a tied head adds another before they are summed.
  const embedGrads = full ? (cfg.tieWeights ? 2 : 1) * V * C : 0
  // The largest trainable tensor (the optimizer's per-tensor temporaries): a weight, or an adapter's (r, d) factor.
  const largest = full
    ? Math.max(...parameterSpecs(cfg).map((s) => s.shape.reduce((m, d) => m * d, 1)))
    : Math.min(a.trainable, Math.max(0, ...a.targets.map((p) => a.rank * Math.max(...projDims(cfg, p)))))
  const backward = 2 * (activations + head) + a.trainable + embedGrads
  const step = a.trainable + 10 * largest
  const frozen = (full ? 0 : P) + a.frozen
  const floats = frozen + 3 * a.trainable + Math.max(backward, step)
  const tensorBytes = F32 * floats
  const heapBytes = HEAP_FACTOR * tensorBytes + HEAP_BASE
  const nativeHeapBytes = HEAP_FACTOR * F32 * (frozen + 3 * a.trainable + NATIVE_TRANSIENT * Math.max(backward, step)) + HEAP_BASE
  // JS copies: a checkpoint (3 × trainables, their moments and the written base) or the weights while they load (file buffer + decoded copy).
  const checkpoint = 3 * F32 * (3 * a.trainable + a.modifiedBase)
  const load = 2 * F32 * P
  const js = Math.max(checkpoint, load)
  const largestTensor = F32 * Math.max(B * cfg.nHead * T * T, K * V, V * C, isLlama(cfg) ? N * cfg.intermediateSize : N * cfg.mlpRatio * C)
  return {
    tensorBytes,
    heapBytes,
    rssBytes: heapBytes + js + PROCESS_BASE,
    nativeHeapBytes,
    nativeRssBytes: nativeHeapBytes + js + PROCESS_BASE,
    cpuRssBytes: CPU_FACTOR * tensorBytes + js + PROCESS_BASE,
    largestTensorBytes: largestTensor,
    parts: { weights: F32 * frozen, optimizer: F32 * 3 * a.trainable, activations: F32 * 2 * activations, head: F32 * 2 * head },
  }
}

/** A model as plan time knows it: build-model's and load-model's `facts`. */
export interface ModelFacts {
  readonly config: ModelConfig
}

export const isModelFacts = (x: unknown): x is ModelFacts =>
  typeof x === "object" && x !== null && typeof (x as { config?: unknown }).config === "object" && (x as { config: unknown }).config !== null

/** 1536 MiB, 4.0 GiB: for messages. */
export const formatBytes = (b: number): string => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : `${Math.ceil(b / 2 ** 20)} MiB`)

/** The estimate as the stage contract's MemoryNeed, with what it is made of. */
export const memoryNeed = (x: TrainMemoryInput, what: string): { heapBytes: number; rssBytes: number; nativeHeapBytes: number; nativeRssBytes: number; cpuRssBytes: number; detail: string } => {
  const e = estimateTrainMemory(x)
  const p = e.parts
  return {
    heapBytes: e.heapBytes,
    rssBytes: e.rssBytes,
    nativeHeapBytes: e.nativeHeapBytes,
    nativeRssBytes: e.nativeRssBytes,
    cpuRssBytes: e.cpuRssBytes,
    detail: `${what}, batch ${x.batch} × ${x.seq} tokens: tensors ≈ ${formatBytes(e.tensorBytes)} (weights ${formatBytes(p.weights)}, trained + AdamW ${formatBytes(p.optimizer)}, activations and their gradients ${formatBytes(p.activations)}, output head ${formatBytes(p.head)})`,
  }
}
