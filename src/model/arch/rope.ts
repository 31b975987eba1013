/**
 * Rotary position embeddings (Su et al. 2021, RoFormer, arXiv 2104.09864) as the Llama family
 * uses them in transformers (`modeling_rope_utils.py`, `apply_rotary_pos_emb`): per head of
 * width d, frequencies inv_freq[i] = θ^(−2i/d) for i < d/2, angle = position·inv_freq[i], and the
 * `rotate_half` layout — dimension i pairs with i + d/2 (first half / second half), not the
 * interleaved (2i, 2i+1) pairs of the paper:
 *   q' = q·cos + rotate_half(q)·sin,  rotate_half([x₁ | x₂]) = [−x₂ | x₁],  cos = [cos(a) | cos(a)].
 * No tfjs here: the tables are plain float32 arrays, computed as transformers computes them
 * (float32 throughout), so positions and frequencies round the same way.
 */
import type { LlamaConfig, RopeScaling } from "./config.ts"

const f = Math.fround

/**
 * inv_freq (d/2) for head width d after the config's scaling, in float32 as transformers:
 * `1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))`, then
 * - linear: inv_freq / factor;
 * - llama3 (`_compute_llama3_parameters`): wavelength λ = 2π/inv_freq; λ > L/low → inv_freq/factor;
 *   λ < L/high → kept; between, (1 − s)·inv_freq/factor + s·inv_freq with s = (L/λ − low)/(high − low),
 *   L = original_max_position_embeddings.
 */
export const inverseFrequencies = (headDim: number, theta: number, scaling: RopeScaling): Float32Array => {
  const half = headDim / 2
  const inv = new Float32Array(half)
  for (let i = 0; i < half; i++) inv[i] = f(1 / f(f(theta) ** f((2 * i) / headDim)))
  if (scaling.type === "linear") for (let i = 0; i < half; i++) inv[i] = f((inv[i] ?? 0) / scaling.factor)
  if (scaling.type === "llama3") {
    const { factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositionEmbeddings: L } = scaling
    const lowWavelen = L / low
    const highWavelen = L / high
    for (let i = 0; i < half; i++) {
      const w = inv[i] ?? 0
      const wavelen = f((2 * Math.PI) / w)
      const scaled = wavelen > lowWavelen ? f(w / factor) : w
      if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
        const s = f((f(L / wavelen) - low) / (high - low))
        inv[i] = f(f(f(1 - s) * f(scaled / factor)) + f(s * scaled))
      } else inv[i] = scaled
    }
  }
  return inv
}

/** cos and sin tables (T, d/2) for positions 0..T−1: angle[t, i] = f32(t·inv_freq[i]). */
export const ropeTables = (cfg: Pick<LlamaConfig, "headDim" | "ropeTheta" | "ropeScaling">, T: number): { cos: Float32Array; sin: Float32Array } => {
  const inv = inverseFrequencies(cfg.headDim, cfg.ropeTheta, cfg.ropeScaling)
  const half = inv.length
  const cos = new Float32Array(T * half)
  const sin = new Float32Array(T * half)
  for (let t = 0; t < T; t++)
    for (let i = 0; i < half; i++) {
      const a = f(t * (inv[i] ?? 0))
      cos[t * half + i] = Math.cos(a)
      sin[t * half + i] = Math.sin(a)
    }
  return { cos, sin }
}
