/**
 * Learning-rate schedule: linear warmup, then cosine decay to `minLr` (nanoGPT's `get_lr`).
 * Steps are 0-based: step 0 already trains at lr/warmup, step warmup−1 at the full lr, the
 * last step (total−1) approaches minLr; past `total` the rate stays at minLr.
 */
export interface Schedule {
  readonly lr: number
  readonly minLr: number
  readonly warmup: number
  readonly total: number
}

export const lrAt = (step: number, s: Schedule): number => {
  if (step < s.warmup) return (s.lr * (step + 1)) / s.warmup
  const span = Math.max(1, s.total - s.warmup)
  const progress = Math.min(1, (step - s.warmup) / span)
  return s.minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (s.lr - s.minLr)
}
