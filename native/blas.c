/*
 * peftlab's native matrix products: sgemm on tensors that live in tfjs-wasm's heap.
 *
 * tfjs-wasm keeps every tensor in one WebAssembly memory (an ArrayBuffer). This addon receives
 * that buffer and byte offsets into it, and runs sgemm in place, so a product costs one
 * call and no copy (DESIGN.md, "Compute backends": 120–135 GFLOP/s vs 16–23 for XNNPACK).
 * The sgemm is OpenBLAS's cblas_sgemm, or Accelerate's on macOS without OpenBLAS, or our own
 * (gemm.c) where neither was found: bin/build-native.mjs picks, and defines PEFTLAB_BLAS_*.
 *
 * Native code trusts nothing: every operand's extent (offset, leading dimension, batch
 * stride, batch count) is checked to lie inside the heap, the output must not overlap an
 * input, and every size must be a non-negative integer. A violation throws a RangeError that
 * names the shapes; it never touches memory.
 *
 *   sgemm(heap, transA, transB, M, N, K, alpha, aOff, lda, strideA, bOff, ldb, strideB,
 *         beta, cOff, ldc, strideC, batch)
 *     for g in 0..batch: C_g (M×N, row-major, ldc) = alpha·op(A_g)·op(B_g) + beta·C_g
 *     with A_g at aOff + 4·g·strideA bytes (strideA 0 broadcasts one A over the batch), etc.
 *   An optional 19th argument, a byte offset of N floats, starts every row of C as that bias
 *   (beta is then 1): a dense layer x·W + b in one call.
 *   setThreads(n), info() → { blas, core, threads, config }
 * and a few fused elementwise kernels with their gradients (below: GELU, cross-entropy,
 * LayerNorm, causal softmax), where tfjs-wasm spends most of a step once products are fast;
 * then the embedding lookup (a row gather), float32 + − × of one shape or with a scalar, and
 * one AdamW slot's update, each computing exactly what tfjs-wasm computes (same bits).
 */
#if defined(PEFTLAB_BLAS_OWN)
#include "gemm.h"
#elif defined(PEFTLAB_BLAS_ACCELERATE)
#include <Accelerate/Accelerate.h>
typedef int blasint;
#else
#include <cblas.h>
#endif
#include <math.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CHECK(call)                                                                 \
  do {                                                                              \
    if ((call) != napi_ok) {                                                        \
      napi_throw_error(env, NULL, "peftlab_blas: N-API call failed: " #call);       \
      return NULL;                                                                  \
    }                                                                               \
  } while (0)

/* A JS number that must be an integer in [lo, hi]. */
static int get_int(napi_env env, napi_value v, const char* name, int64_t lo, int64_t hi, int64_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !isfinite(d) || floor(d) != d || d < (double)lo || d > (double)hi) {
    char msg[160];
    snprintf(msg, sizeof msg, "peftlab_blas.sgemm: %s must be an integer in [%lld, %lld]", name, (long long)lo, (long long)hi);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}


/* Highest float index (exclusive) touched by batch2 × batch row-major rows×cols matrices. */
static int64_t extent2(int64_t off, int64_t rows, int64_t cols, int64_t ld, int64_t s1, int64_t b1, int64_t s2, int64_t b2) {
  if (rows == 0 || cols == 0 || b1 == 0 || b2 == 0) return off;
  return off + s2 * (b2 - 1) + s1 * (b1 - 1) + (rows - 1) * ld + cols;
}

typedef struct {
  bool tA, tB;
  int64_t M, N, K;
  double alpha, beta;
  int64_t aOff, lda, sA, sA2, bOff, ldb, sB, sB2, cOff, ldc, sC, sC2, batch, batch2, biasOff;
} Gemm;

/*
 * The checked product: for o < batch2, g < batch:
 *   C[o, g] = alpha·op(A[o, g])·op(B[o, g]) + beta·C[o, g]
 * with X[o, g] at xOff + 4·(o·sX2 + g·sX) bytes. Two batch levels let attention address a head
 * as a column block of the (B·T, C) activations (ld = C, inner stride = head size, outer stride
 * = T·C) instead of transposing it out. Throws (returns false) before touching memory.
 */
static bool run_gemm(napi_env env, const char* fn, float* heap, size_t bytes, const Gemm* g) {
  const int64_t heapFloats = (int64_t)(bytes / 4);
  const int64_t aRows = g->tA ? g->K : g->M, aCols = g->tA ? g->M : g->K, bRows = g->tB ? g->N : g->K, bCols = g->tB ? g->K : g->N;
  char shapes[480], msg[700];
  snprintf(shapes, sizeof shapes,
           "A %lld×%lld (lda %lld, strides %lld/%lld, offset %lld B), B %lld×%lld (ldb %lld, strides %lld/%lld, offset %lld B), "
           "C %lld×%lld (ldc %lld, strides %lld/%lld, offset %lld B), batch %lld×%lld, heap %zu B",
           (long long)aRows, (long long)aCols, (long long)g->lda, (long long)g->sA, (long long)g->sA2, (long long)g->aOff, (long long)bRows,
           (long long)bCols, (long long)g->ldb, (long long)g->sB, (long long)g->sB2, (long long)g->bOff, (long long)g->M, (long long)g->N,
           (long long)g->ldc, (long long)g->sC, (long long)g->sC2, (long long)g->cOff, (long long)g->batch2, (long long)g->batch, bytes);
#define FAIL(why)                                                           \
  do {                                                                      \
    snprintf(msg, sizeof msg, "peftlab_blas.%s: %s: %s", fn, why, shapes);  \
    napi_throw_range_error(env, NULL, msg);                                 \
    return false;                                                           \
  } while (0)
  if (g->aOff % 4 || g->bOff % 4 || g->cOff % 4) FAIL("offsets must be multiples of 4 bytes (float32)");
  if (g->lda < (aCols > 0 ? aCols : 1) || g->ldb < (bCols > 0 ? bCols : 1) || g->ldc < (g->N > 0 ? g->N : 1)) FAIL("a leading dimension is smaller than its row");
  const int64_t a0 = g->aOff / 4, b0 = g->bOff / 4, c0 = g->cOff / 4;
  const int64_t aEnd = extent2(a0, aRows, aCols, g->lda, g->sA, g->batch, g->sA2, g->batch2);
  const int64_t bEnd = extent2(b0, bRows, bCols, g->ldb, g->sB, g->batch, g->sB2, g->batch2);
  const int64_t cEnd = extent2(c0, g->M, g->N, g->ldc, g->sC, g->batch, g->sC2, g->batch2);
  if (aEnd > heapFloats || bEnd > heapFloats || cEnd > heapFloats) FAIL("an operand reaches past the end of the heap");
  /* Output matrices must not overlap each other: stacked (stride ≥ one matrix) or side by side
     within each row (stride ≥ N and all of them fit in ldc); outer groups beyond inner ones. */
  if (g->M > 0 && g->N > 0) {
    const bool stacked = g->sC >= (g->M - 1) * g->ldc + g->N, side = g->sC >= g->N && (g->batch - 1) * g->sC + g->N <= g->ldc;
    if (g->batch > 1 && !stacked && !side) FAIL("output batches overlap (strideC too small)");
    if (g->batch2 > 1 && g->sC2 < (g->batch - 1) * g->sC + (g->M - 1) * g->ldc + g->N) FAIL("output batches overlap (outer strideC too small)");
  }
  const bool work = g->M * g->N * g->K > 0;
  if (work && ((c0 < aEnd && a0 < cEnd) || (c0 < bEnd && b0 < cEnd))) FAIL("the output overlaps an input");
  if (g->biasOff >= 0 && (g->biasOff % 4 || g->biasOff / 4 + g->N > heapFloats)) FAIL("the bias (N floats) lies outside the heap or is misaligned");
  if (g->biasOff >= 0 && g->biasOff / 4 < cEnd && c0 < g->biasOff / 4 + g->N) FAIL("the output overlaps the bias");
#undef FAIL
  if (g->M == 0 || g->N == 0 || g->batch == 0 || g->batch2 == 0) return true;
  float beta = (float)g->beta;
  if (g->biasOff >= 0) {
    /* C starts as the bias in every row, then accumulates the product: x·W + b in one pass. */
    for (int64_t o = 0; o < g->batch2; o++)
      for (int64_t b = 0; b < g->batch; b++)
        for (int64_t i = 0; i < g->M; i++) memcpy(heap + c0 + o * g->sC2 + b * g->sC + i * g->ldc, heap + g->biasOff / 4, (size_t)g->N * 4);
    beta = 1;
  }
#if defined(PEFTLAB_BLAS_OWN)
  /* One call for every batch: gemm.c spreads the batch's tiles over its threads. */
  const pl_gemm_args args = {g->tA, g->tB, g->M, g->N, g->K, (float)g->alpha, beta, heap + a0, g->lda, g->sA, g->sA2,
                             heap + b0, g->ldb, g->sB, g->sB2, heap + c0, g->ldc, g->sC, g->sC2, g->batch, g->batch2};
  pl_sgemm(&args);
#else
  const enum CBLAS_TRANSPOSE ta = g->tA ? CblasTrans : CblasNoTrans, tb = g->tB ? CblasTrans : CblasNoTrans;
  for (int64_t o = 0; o < g->batch2; o++)
    for (int64_t b = 0; b < g->batch; b++)
      cblas_sgemm(CblasRowMajor, ta, tb, (blasint)g->M, (blasint)g->N, (blasint)g->K, (float)g->alpha, heap + a0 + o * g->sA2 + b * g->sA,
                  (blasint)g->lda, heap + b0 + o * g->sB2 + b * g->sB, (blasint)g->ldb, beta, heap + c0 + o * g->sC2 + b * g->sC, (blasint)g->ldc);
#endif
  return true;
}

/* The heap argument: an ArrayBuffer (tfjs-wasm's memory). */
static float* heap_of(napi_env env, const char* fn, napi_value v, size_t* bytes) {
  void* data = NULL;
  bool isBuffer = false;
  if (napi_is_arraybuffer(env, v, &isBuffer) != napi_ok || !isBuffer || napi_get_arraybuffer_info(env, v, &data, bytes) != napi_ok) {
    char msg[120];
    snprintf(msg, sizeof msg, "peftlab_blas.%s: the heap must be an ArrayBuffer", fn);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  return (float*)data;
}

/*
 * sgemm(heap, transA, transB, M, N, K, alpha, aOff, lda, strideA, bOff, ldb, strideB,
 *       beta, cOff, ldc, strideC, batch[, biasOff])                 — one batch level
 * sgemmStrided(heap, transA, transB, M, N, K, alpha, aOff, lda, strideA, outerA, bOff, ldb,
 *       strideB, outerB, beta, cOff, ldc, strideC, outerC, batch, outerBatch)  — two levels
 */
static napi_value gemm_entry(napi_env env, napi_callback_info info, bool strided) {
  const char* fn = strided ? "sgemmStrided" : "sgemm";
  size_t argc = 22;
  napi_value argv[22];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (strided ? argc != 22 : (argc != 18 && argc != 19)) {
    napi_throw_type_error(env, NULL, strided ? "peftlab_blas.sgemmStrided: expected 22 arguments" : "peftlab_blas.sgemm: expected 18 arguments, or 19 with a bias offset");
    return NULL;
  }
  size_t bytes = 0;
  float* heap = heap_of(env, fn, argv[0], &bytes);
  if (heap == NULL) return NULL;
  const int64_t I32 = INT32_MAX, B = (int64_t)bytes;
  Gemm g = {0};
  g.batch2 = 1;
  g.biasOff = -1;
  CHECK(napi_get_value_bool(env, argv[1], &g.tA));
  CHECK(napi_get_value_bool(env, argv[2], &g.tB));
  if (!get_int(env, argv[3], "M", 0, I32, &g.M) || !get_int(env, argv[4], "N", 0, I32, &g.N) || !get_int(env, argv[5], "K", 0, I32, &g.K)) return NULL;
  CHECK(napi_get_value_double(env, argv[6], &g.alpha));
  int i = 7;
  if (!get_int(env, argv[i++], "aOff", 0, B, &g.aOff) || !get_int(env, argv[i++], "lda", 1, I32, &g.lda) || !get_int(env, argv[i++], "strideA", 0, I32, &g.sA)) return NULL;
  if (strided && !get_int(env, argv[i++], "outerA", 0, I32, &g.sA2)) return NULL;
  if (!get_int(env, argv[i++], "bOff", 0, B, &g.bOff) || !get_int(env, argv[i++], "ldb", 1, I32, &g.ldb) || !get_int(env, argv[i++], "strideB", 0, I32, &g.sB)) return NULL;
  if (strided && !get_int(env, argv[i++], "outerB", 0, I32, &g.sB2)) return NULL;
  CHECK(napi_get_value_double(env, argv[i++], &g.beta));
  if (!get_int(env, argv[i++], "cOff", 0, B, &g.cOff) || !get_int(env, argv[i++], "ldc", 1, I32, &g.ldc) || !get_int(env, argv[i++], "strideC", 0, I32, &g.sC)) return NULL;
  if (strided && !get_int(env, argv[i++], "outerC", 0, I32, &g.sC2)) return NULL;
  if (!get_int(env, argv[i++], "batch", 0, I32, &g.batch)) return NULL;
  if (strided && !get_int(env, argv[i++], "outerBatch", 0, I32, &g.batch2)) return NULL;
  if (!strided && argc == 19 && !get_int(env, argv[18], "biasOff", 0, B, &g.biasOff)) return NULL;
  run_gemm(env, fn, heap, bytes, &g);
  return NULL;
}

static napi_value sgemm(napi_env env, napi_callback_info info) { return gemm_entry(env, info, false); }
static napi_value sgemm_strided(napi_env env, napi_callback_info info) { return gemm_entry(env, info, true); }

/* ------------------------------------------------------------------------------------------
 * Fused elementwise kernels (the profile after BLAS: tanh, exp, casts and one-hots of the
 * cross-entropy, LayerNorm's many small reductions). Each takes the heap, byte offsets and
 * sizes; `operands` checks every region before any memory is touched.
 */

typedef struct {
  const char* name;
  int64_t off; /* bytes */
  int64_t len; /* float32 / int32 elements */
  int output;
} Region;

/* Every region inside the heap and 4-byte aligned; no output overlapping another region. */
static float* check_regions(napi_env env, const char* kernel, napi_value heapValue, Region* r, int n) {
  size_t bytes = 0;
  char msg[300];
  float* data = heap_of(env, kernel, heapValue, &bytes);
  if (data == NULL) return NULL;
  for (int i = 0; i < n; i++) {
    if (r[i].off < 0 || r[i].len < 0 || r[i].off % 4 || r[i].off + 4 * r[i].len > (int64_t)bytes) {
      snprintf(msg, sizeof msg, "peftlab_blas.%s: %s (offset %lld B, %lld elements) lies outside the %zu-byte heap or is misaligned",
               kernel, r[i].name, (long long)r[i].off, (long long)r[i].len, bytes);
      napi_throw_range_error(env, NULL, msg);
      return NULL;
    }
  }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      if (i != j && r[i].output && r[i].len > 0 && r[j].len > 0 && r[i].off < r[j].off + 4 * r[j].len && r[j].off < r[i].off + 4 * r[i].len) {
        snprintf(msg, sizeof msg, "peftlab_blas.%s: output %s overlaps %s", kernel, r[i].name, r[j].name);
        napi_throw_range_error(env, NULL, msg);
        return NULL;
      }
  return data;
}

/* Reads argc integer arguments after the heap (argv[1..]) into out. */
static int get_ints(napi_env env, napi_callback_info info, const char* kernel, size_t want, napi_value* argv, int64_t* out,
                    const char* const* names) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != want) {
    char msg[120];
    snprintf(msg, sizeof msg, "peftlab_blas.%s: expected %zu arguments", kernel, want);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  for (size_t i = 1; i < want; i++)
    if (names[i - 1] != NULL && !get_int(env, argv[i], names[i - 1], 0, (int64_t)1 << 40, &out[i - 1])) return 0;
  return 1;
}

#define GELU_C 0.7978845608028654f /* √(2/π) */

/*
 * GELU, tanh form (GPT-2's "gelu_new"), and its derivative in one pass:
 *   y = ½x(1 + t),  t = tanh(c(x + 0.044715x³))
 *   y' = ½(1 + t) + ½x(1 − t²)·c(1 + 3·0.044715x²)
 * gelu(heap, xOff, yOff, dOff, n): the backward pass is then dy ⊙ y'.
 */
static napi_value gelu(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"xOff", "yOff", "dOff", "n"};
  napi_value argv[5];
  int64_t a[4];
  if (!get_ints(env, info, "gelu", 5, argv, a, names)) return NULL;
  Region r[] = {{"x", a[0], a[3], 0}, {"y", a[1], a[3], 1}, {"dydx", a[2], a[3], 1}};
  float* heap = check_regions(env, "gelu", argv[0], r, 3);
  if (heap == NULL) return NULL;
  const float* x = heap + a[0] / 4;
  float *y = heap + a[1] / 4, *d = heap + a[2] / 4;
  for (int64_t i = 0; i < a[3]; i++) {
    const float v = x[i], v2 = v * v;
    /* tanh(u) = 1 − 2/(e^{2u} + 1): one expf, several times faster than glibc's tanhf, and
       exact at both tails (e^{2u} → ∞ gives 1, → 0 gives −1). */
    const float t = 1.0f - 2.0f / (expf(2.0f * GELU_C * (v + 0.044715f * v2 * v)) + 1.0f);
    y[i] = 0.5f * v * (1.0f + t);
    d[i] = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * GELU_C * (1.0f + 3.0f * 0.044715f * v2);
  }
  return NULL;
}

/*
 * Weighted softmax cross-entropy with integer targets, and its gradient, in one pass:
 *   loss = Σ_i w_i·(logsumexp(z_i) − z_i[t_i]),  grad_i = w_i·(softmax(z_i) − onehot(t_i))
 * xent(heap, logitsOff, targetsOff (int32), weightsOff, gradOff, N, V) → loss.
 * Targets outside [0, V) are a thrown error (never an out-of-row read).
 */
static napi_value xent(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"logitsOff", "targetsOff", "weightsOff", "gradOff", "N", "V"};
  napi_value argv[7];
  int64_t a[6];
  if (!get_ints(env, info, "xent", 7, argv, a, names)) return NULL;
  const int64_t N = a[4], V = a[5];
  Region r[] = {{"logits", a[0], N * V, 0}, {"targets", a[1], N, 0}, {"weights", a[2], N, 0}, {"grad", a[3], N * V, 1}};
  float* heap = check_regions(env, "xent", argv[0], r, 4);
  if (heap == NULL) return NULL;
  const float* z = heap + a[0] / 4;
  const int32_t* t = (const int32_t*)(heap + a[1] / 4);
  const float* w = heap + a[2] / 4;
  float* g = heap + a[3] / 4;
  for (int64_t i = 0; i < N; i++)
    if (t[i] < 0 || t[i] >= V) {
      char msg[160];
      snprintf(msg, sizeof msg, "peftlab_blas.xent: target %d at row %lld is outside the vocabulary [0, %lld)", t[i], (long long)i, (long long)V);
      napi_throw_range_error(env, NULL, msg);
      return NULL;
    }
  double loss = 0;
  for (int64_t i = 0; i < N; i++) {
    const float* zi = z + i * V;
    float* gi = g + i * V;
    float max = zi[0];
    for (int64_t j = 1; j < V; j++) max = zi[j] > max ? zi[j] : max;
    double sum = 0;
    for (int64_t j = 0; j < V; j++) {
      gi[j] = expf(zi[j] - max);
      sum += gi[j];
    }
    const float scale = (float)(w[i] / sum);
    for (int64_t j = 0; j < V; j++) gi[j] *= scale;
    gi[t[i]] -= w[i];
    loss += (double)w[i] * (log(sum) + max - zi[t[i]]);
  }
  napi_value out;
  if (napi_create_double(env, loss, &out) != napi_ok) return NULL;
  return out;
}

/*
 * LayerNorm over rows of x (N, C): y = x̂·γ + β, x̂ = (x − μ)·r, r = 1/√(σ² + ε).
 * layernorm(heap, xOff, gammaOff, betaOff, yOff, xhatOff, rOff, N, C, eps): saves x̂ and r.
 */
static napi_value layernorm(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"xOff", "gammaOff", "betaOff", "yOff", "xhatOff", "rOff", "N", "C", NULL};
  napi_value argv[10];
  int64_t a[9];
  if (!get_ints(env, info, "layernorm", 10, argv, a, names)) return NULL;
  double eps;
  if (napi_get_value_double(env, argv[9], &eps) != napi_ok) return NULL;
  const int64_t N = a[6], C = a[7];
  Region r[] = {{"x", a[0], N * C, 0}, {"gamma", a[1], C, 0}, {"beta", a[2], C, 0}, {"y", a[3], N * C, 1}, {"xhat", a[4], N * C, 1}, {"r", a[5], N, 1}};
  float* heap = check_regions(env, "layernorm", argv[0], r, 6);
  if (heap == NULL) return NULL;
  const float *x = heap + a[0] / 4, *gamma = heap + a[1] / 4, *beta = heap + a[2] / 4;
  float *y = heap + a[3] / 4, *xh = heap + a[4] / 4, *rs = heap + a[5] / 4;
  for (int64_t i = 0; i < N; i++) {
    const float* xi = x + i * C;
    double mean = 0, var = 0;
    for (int64_t j = 0; j < C; j++) mean += xi[j];
    mean /= (double)C;
    for (int64_t j = 0; j < C; j++) var += ((double)xi[j] - mean) * ((double)xi[j] - mean);
    const float rstd = (float)(1.0 / sqrt(var / (double)C + eps));
    rs[i] = rstd;
    for (int64_t j = 0; j < C; j++) {
      const float h = (float)((double)xi[j] - mean) * rstd;
      xh[i * C + j] = h;
      y[i * C + j] = h * gamma[j] + beta[j];
    }
  }
  return NULL;
}

/*
 * LayerNorm's backward from the saved x̂ and r:
 *   g = dy ⊙ γ,  dx = r·(g − mean(g) − x̂·mean(g ⊙ x̂)),  dγ = Σ_rows dy ⊙ x̂,  dβ = Σ_rows dy
 * layernorm_backward(heap, dyOff, xhatOff, rOff, gammaOff, dxOff, dgammaOff, dbetaOff, N, C)
 */
static napi_value layernorm_backward(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"dyOff", "xhatOff", "rOff", "gammaOff", "dxOff", "dgammaOff", "dbetaOff", "N", "C"};
  napi_value argv[10];
  int64_t a[9];
  if (!get_ints(env, info, "layernorm_backward", 10, argv, a, names)) return NULL;
  const int64_t N = a[7], C = a[8];
  Region r[] = {{"dy", a[0], N * C, 0}, {"xhat", a[1], N * C, 0}, {"r", a[2], N, 0}, {"gamma", a[3], C, 0},
                {"dx", a[4], N * C, 1}, {"dgamma", a[5], C, 1}, {"dbeta", a[6], C, 1}};
  float* heap = check_regions(env, "layernorm_backward", argv[0], r, 7);
  if (heap == NULL) return NULL;
  const float *dy = heap + a[0] / 4, *xh = heap + a[1] / 4, *rs = heap + a[2] / 4, *gamma = heap + a[3] / 4;
  float *dx = heap + a[4] / 4, *dg = heap + a[5] / 4, *db = heap + a[6] / 4;
  for (int64_t j = 0; j < C; j++) dg[j] = db[j] = 0;
  for (int64_t i = 0; i < N; i++) {
    const float *dyi = dy + i * C, *xhi = xh + i * C;
    double mg = 0, mgx = 0;
    for (int64_t j = 0; j < C; j++) {
      const double g = (double)dyi[j] * gamma[j];
      mg += g;
      mgx += g * xhi[j];
      dg[j] += dyi[j] * xhi[j];
      db[j] += dyi[j];
    }
    mg /= (double)C;
    mgx /= (double)C;
    for (int64_t j = 0; j < C; j++) dx[i * C + j] = (float)(rs[i] * ((double)dyi[j] * gamma[j] - mg - xhi[j] * mgx));
  }
  return NULL;
}

/*
 * Causal softmax of attention scores s (G, T, T) scaled by `scale`: row t keeps keys ≤ t.
 *   causal_softmax(heap, sOff, pOff, G, T, scale)             p = softmax(scale·s + causal mask)
 *   causal_softmax_backward(heap, pOff, dpOff, dsOff, G, T, scale)
 *                                                              ds = scale·p ⊙ (dp − Σ_row dp ⊙ p)
 * Masked entries are exactly 0 in p and ds (the −1e9 mask of the tfjs path gives the same).
 */
static napi_value causal_softmax(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"sOff", "pOff", "G", "T", NULL};
  napi_value argv[6];
  int64_t a[5];
  if (!get_ints(env, info, "causal_softmax", 6, argv, a, names)) return NULL;
  double scale;
  if (napi_get_value_double(env, argv[5], &scale) != napi_ok) return NULL;
  const int64_t G = a[2], T = a[3];
  Region r[] = {{"scores", a[0], G * T * T, 0}, {"probs", a[1], G * T * T, 1}};
  float* heap = check_regions(env, "causal_softmax", argv[0], r, 2);
  if (heap == NULL) return NULL;
  const float sc = (float)scale;
  for (int64_t g = 0; g < G; g++)
    for (int64_t t = 0; t < T; t++) {
      const float* s = heap + a[0] / 4 + (g * T + t) * T;
      float* p = heap + a[1] / 4 + (g * T + t) * T;
      float max = sc * s[0];
      for (int64_t k = 1; k <= t; k++) max = sc * s[k] > max ? sc * s[k] : max;
      double sum = 0;
      for (int64_t k = 0; k <= t; k++) {
        p[k] = expf(sc * s[k] - max);
        sum += p[k];
      }
      const float inv = (float)(1.0 / sum);
      for (int64_t k = 0; k <= t; k++) p[k] *= inv;
      for (int64_t k = t + 1; k < T; k++) p[k] = 0;
    }
  return NULL;
}

/*
 * The causal softmax with a per-sequence mask on top (evaluation's and the label-restricted
 * loss's packed rows, model/packing.ts): row t of group g = b·H + h keeps keys k ≤ t with
 * allowed[b, t, k] ≠ 0. A row that keeps nothing is all 0. The backward is causal_softmax_backward:
 * masked entries are exactly 0 in p, so they get exactly 0 in ds.
 *   masked_softmax(heap, sOff, pOff, mOff, G, T, H, scale)      allowed is (G / H, T, T)
 */
static napi_value masked_softmax(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"sOff", "pOff", "mOff", "G", "T", "H", NULL};
  napi_value argv[8];
  int64_t a[7];
  if (!get_ints(env, info, "masked_softmax", 8, argv, a, names)) return NULL;
  double scale;
  if (napi_get_value_double(env, argv[7], &scale) != napi_ok) return NULL;
  const int64_t G = a[3], T = a[4], H = a[5];
  if (H < 1 || G % H != 0) {
    napi_throw_range_error(env, NULL, "peftlab_blas.masked_softmax: G must be a multiple of H >= 1");
    return NULL;
  }
  Region r[] = {{"scores", a[0], G * T * T, 0}, {"probs", a[1], G * T * T, 1}, {"allowed", a[2], (G / H) * T * T, 0}};
  float* heap = check_regions(env, "masked_softmax", argv[0], r, 3);
  if (heap == NULL) return NULL;
  const float sc = (float)scale;
  for (int64_t g = 0; g < G; g++)
    for (int64_t t = 0; t < T; t++) {
      const float* s = heap + a[0] / 4 + (g * T + t) * T;
      const float* m = heap + a[2] / 4 + ((g / H) * T + t) * T;
      float* p = heap + a[1] / 4 + (g * T + t) * T;
      float max = -INFINITY;
      for (int64_t k = 0; k <= t; k++)
        if (m[k] != 0 && sc * s[k] > max) max = sc * s[k];
      double sum = 0;
      for (int64_t k = 0; k <= t; k++) {
        p[k] = m[k] != 0 ? expf(sc * s[k] - max) : 0;
        sum += p[k];
      }
      const float inv = sum > 0 ? (float)(1.0 / sum) : 0;
      for (int64_t k = 0; k <= t; k++) p[k] *= inv;
      for (int64_t k = t + 1; k < T; k++) p[k] = 0;
    }
  return NULL;
}

static napi_value causal_softmax_backward(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"pOff", "dpOff", "dsOff", "G", "T", NULL};
  napi_value argv[7];
  int64_t a[6];
  if (!get_ints(env, info, "causal_softmax_backward", 7, argv, a, names)) return NULL;
  double scale;
  if (napi_get_value_double(env, argv[6], &scale) != napi_ok) return NULL;
  const int64_t G = a[3], T = a[4];
  Region r[] = {{"probs", a[0], G * T * T, 0}, {"dprobs", a[1], G * T * T, 0}, {"dscores", a[2], G * T * T, 1}};
  float* heap = check_regions(env, "causal_softmax_backward", argv[0], r, 3);
  if (heap == NULL) return NULL;
  const float sc = (float)scale;
  for (int64_t g = 0; g < G; g++)
    for (int64_t t = 0; t < T; t++) {
      const int64_t row = (g * T + t) * T;
      const float *p = heap + a[0] / 4 + row, *dp = heap + a[1] / 4 + row;
      float* ds = heap + a[2] / 4 + row;
      double dot = 0;
      for (int64_t k = 0; k <= t; k++) dot += (double)dp[k] * p[k];
      for (int64_t k = 0; k <= t; k++) ds[k] = sc * p[k] * (dp[k] - (float)dot);
      for (int64_t k = t + 1; k < T; k++) ds[k] = 0;
    }
  return NULL;
}

/*
 * out[s, :] = Σ_{i : ids[i] = s} x[i, :] — the gradient of an embedding lookup (tf.gather).
 * Ids outside [0, S) are dropped, as TensorFlow's UnsortedSegmentSum does.
 * segment_sum(heap, xOff, idsOff (int32), outOff, N, inner, S)
 */
static napi_value segment_sum(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"xOff", "idsOff", "outOff", "N", "inner", "S"};
  napi_value argv[7];
  int64_t a[6];
  if (!get_ints(env, info, "segment_sum", 7, argv, a, names)) return NULL;
  const int64_t N = a[3], inner = a[4], S = a[5];
  Region r[] = {{"x", a[0], N * inner, 0}, {"ids", a[1], N, 0}, {"out", a[2], S * inner, 1}};
  float* heap = check_regions(env, "segment_sum", argv[0], r, 3);
  if (heap == NULL) return NULL;
  const float* x = heap + a[0] / 4;
  const int32_t* ids = (const int32_t*)(heap + a[1] / 4);
  float* out = heap + a[2] / 4;
  memset(out, 0, (size_t)(S * inner) * 4);
  for (int64_t i = 0; i < N; i++) {
    if (ids[i] < 0 || ids[i] >= S) continue;
    float* o = out + (int64_t)ids[i] * inner;
    const float* xi = x + i * inner;
    for (int64_t j = 0; j < inner; j++) o[j] += xi[j];
  }
  return NULL;
}

/*
 * out[i, :] = x[ids[i], :] — an embedding lookup (tf.gather on axis 0), a row copy. tfjs-wasm's
 * GatherV2 took 3.5 ms for 1032 rows of 128 floats (it reads the indices out of the heap and
 * walks generic strides); this takes microseconds.
 * gather_rows(heap, xOff, idsOff (int32), outOff, S, inner, N) → true, or false without writing
 * anything when an id lies outside [0, S): the caller then lets tfjs-wasm raise its own error.
 */
static napi_value gather_rows(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"xOff", "idsOff", "outOff", "S", "inner", "N"};
  napi_value argv[7];
  int64_t a[6];
  if (!get_ints(env, info, "gather_rows", 7, argv, a, names)) return NULL;
  const int64_t S = a[3], inner = a[4], N = a[5];
  Region r[] = {{"x", a[0], S * inner, 0}, {"ids", a[1], N, 0}, {"out", a[2], N * inner, 1}};
  float* heap = check_regions(env, "gather_rows", argv[0], r, 3);
  if (heap == NULL) return NULL;
  const float* x = heap + a[0] / 4;
  const int32_t* ids = (const int32_t*)(heap + a[1] / 4);
  float* out = heap + a[2] / 4;
  bool ok = true;
  for (int64_t i = 0; i < N; i++)
    if (ids[i] < 0 || ids[i] >= S) ok = false;
  if (ok)
    for (int64_t i = 0; i < N; i++) memcpy(out + i * inner, x + (int64_t)ids[i] * inner, (size_t)inner * 4);
  napi_value result;
  if (napi_get_boolean(env, ok, &result) != napi_ok) return NULL;
  return result;
}

/*
 * out = a ∘ b, float32, ∘ one of + (op 0), − (op 1), × (op 2); a and b have n elements each, or
 * one of them has 1 (a scalar). tfjs-wasm's Add/Sub/Multiply (XNNPACK) cost ~100 µs for 132k
 * elements, mostly dispatch; a step runs ~250 of them.
 * IEEE float32 +, −, × are exactly rounded, so this loop (built with -ffp-contract=off: no fused
 * multiply-add) gives wasm's bits. Where both operands are NaN, x86 returns the first one; the
 * operand order below is XNNPACK's (a scalar first operand of + and × is moved second), so even
 * NaN payloads match (tests/model/native.test.ts).
 * binary(heap, op, aOff, aN, bOff, bN, outOff, n)
 */
static napi_value binary(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"op", "aOff", "aN", "bOff", "bN", "outOff", "n"};
  napi_value argv[8];
  int64_t a[7];
  if (!get_ints(env, info, "binary", 8, argv, a, names)) return NULL;
  const int64_t op = a[0], aN = a[2], bN = a[4], n = a[6];
  if (op > 2 || (aN != n && aN != 1) || (bN != n && bN != 1)) {
    napi_throw_range_error(env, NULL, "peftlab_blas.binary: op must be 0, 1 or 2, and each operand n elements or 1");
    return NULL;
  }
  Region r[] = {{"a", a[1], aN, 0}, {"b", a[3], bN, 0}, {"out", a[5], n, 1}};
  float* heap = check_regions(env, "binary", argv[0], r, 3);
  if (heap == NULL) return NULL;
  const float *x = heap + a[1] / 4, *y = heap + a[3] / 4;
  float* out = heap + a[5] / 4;
  if (bN == n && aN == n) {
    if (op == 0) for (int64_t i = 0; i < n; i++) out[i] = x[i] + y[i];
    else if (op == 1) for (int64_t i = 0; i < n; i++) out[i] = x[i] - y[i];
    else for (int64_t i = 0; i < n; i++) out[i] = x[i] * y[i];
  } else if (bN == 1) {
    const float s = y[0];
    if (op == 0) for (int64_t i = 0; i < n; i++) out[i] = x[i] + s;
    else if (op == 1) for (int64_t i = 0; i < n; i++) out[i] = x[i] - s;
    else for (int64_t i = 0; i < n; i++) out[i] = x[i] * s;
  } else {
    const float s = x[0];
    if (op == 0) for (int64_t i = 0; i < n; i++) out[i] = y[i] + s;
    else if (op == 1) for (int64_t i = 0; i < n; i++) out[i] = s - y[i];
    else for (int64_t i = 0; i < n; i++) out[i] = y[i] * s;
  }
  return NULL;
}

/* restrict: check_regions proved the outputs overlap nothing, and the inputs are only read. With
   it (and -fno-math-errno, binding.gyp) the loop is vectorized: 0.55 ms instead of 1.55 ms for
   full fine-tuning's 544k elements. SIMD ÷ and √ are exactly rounded too: the same bits. */
static void adamw_loop(const float* restrict P, const float* restrict M, const float* restrict V, const float* restrict G, float* restrict Po,
                       float* restrict Mo, float* restrict Vo, int64_t n, bool decayOn, float decay, float b1, float c1, float b2, float c2,
                       float bc1, float bc2, float eps, float lr) {
  for (int64_t i = 0; i < n; i++) {
    float p = P[i];
    if (decayOn) p = p - p * decay;
    const float g = G[i];
    const float m = M[i] * b1 + g * c1;
    const float v = V[i] * b2 + (g * g) * c2;
    const float denom = sqrtf(v / bc2) + eps;
    Po[i] = p - ((m / bc1) / denom) * lr;
    Mo[i] = m;
    Vo[i] = v;
  }
}

/*
 * One AdamW slot (src/model/adamw.ts), the same float32 operations in the same order as its
 * tfjs code, each rounded to float32 (no fused multiply-add), so the bits are wasm's:
 *   p ← p − p·decay                       (only when decayOn: p − p·0 is not p for ±∞, NaN, −0)
 *   m ← m·β1 + g·(1−β1),  v ← v·β2 + (g·g)·(1−β2)
 *   p ← p − ((m / bc1) / (√(v / bc2) + ε))·lr
 * The scalars arrive as the doubles tfjs would have made float32 tensors of. New p, m, v are
 * written to fresh outputs: a variable's data may be shared (a clone, Adapter.snapshot).
 * On tfjs this was 16 kernels and 3 assigns per slot (~15–30 µs of dispatch each).
 * adamw(heap, pOff, mOff, vOff, gOff, pOutOff, mOutOff, vOutOff, n, decayOn,
 *       decay, beta1, oneMinusBeta1, beta2, oneMinusBeta2, bc1, bc2, eps, lr)
 */
static napi_value adamw(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"pOff", "mOff", "vOff", "gOff", "pOutOff", "mOutOff", "vOutOff", "n", "decayOn", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  napi_value argv[19];
  int64_t a[18];
  if (!get_ints(env, info, "adamw", 19, argv, a, names)) return NULL;
  double d[9];
  for (int i = 0; i < 9; i++)
    if (napi_get_value_double(env, argv[10 + i], &d[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "peftlab_blas.adamw: the hyperparameters must be numbers");
      return NULL;
    }
  const int64_t n = a[7];
  Region r[] = {{"p", a[0], n, 0}, {"m", a[1], n, 0}, {"v", a[2], n, 0}, {"g", a[3], n, 0}, {"pOut", a[4], n, 1}, {"mOut", a[5], n, 1}, {"vOut", a[6], n, 1}};
  float* heap = check_regions(env, "adamw", argv[0], r, 7);
  if (heap == NULL) return NULL;
  adamw_loop(heap + a[0] / 4, heap + a[1] / 4, heap + a[2] / 4, heap + a[3] / 4, heap + a[4] / 4, heap + a[5] / 4, heap + a[6] / 4, n, a[8] != 0,
             (float)d[0], (float)d[1], (float)d[2], (float)d[3], (float)d[4], (float)d[5], (float)d[6], (float)d[7], (float)d[8]);
  return NULL;
}

#if defined(PEFTLAB_BLAS_ACCELERATE)
static int accelerate_threads = 1;
#endif

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n;
  if (argc != 1 || !get_int(env, argv[0], "threads", 1, 1024, &n)) return NULL;
#if defined(PEFTLAB_BLAS_OWN)
  pl_gemm_set_threads((int)n);
#elif defined(PEFTLAB_BLAS_ACCELERATE)
  accelerate_threads = (int)n; /* recorded only: Accelerate decides its own threading */
#else
  openblas_set_num_threads((int)n);
#endif
  return NULL;
}

/*
 * info() → { blas, core, threads, config }: which BLAS this addon was built with ("openblas",
 * "accelerate" or "own", bin/build-native.mjs), the kernels it runs (OpenBLAS's core, e.g.
 * "SkylakeX"; the own GEMM's micro-kernel, e.g. "avx512"), and its thread count and build line.
 */
static napi_value get_info(napi_env env, napi_callback_info info) {
  (void)info;
#if defined(PEFTLAB_BLAS_OWN)
  const char *blas = "own", *coreName = pl_gemm_kernel(), *configText = pl_gemm_config();
  const int nThreads = pl_gemm_threads();
#elif defined(PEFTLAB_BLAS_ACCELERATE)
  const char *blas = "accelerate", *coreName = "vecLib", *configText = "Apple Accelerate (vecLib) CBLAS";
  const int nThreads = accelerate_threads;
#else
  const char *blas = "openblas", *coreName = openblas_get_corename(), *configText = openblas_get_config();
  const int nThreads = openblas_get_num_threads();
#endif
  napi_value obj, blasValue, core, threads, config;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_string_utf8(env, blas, NAPI_AUTO_LENGTH, &blasValue));
  CHECK(napi_create_string_utf8(env, coreName, NAPI_AUTO_LENGTH, &core));
  CHECK(napi_create_int32(env, nThreads, &threads));
  CHECK(napi_create_string_utf8(env, configText, NAPI_AUTO_LENGTH, &config));
  CHECK(napi_set_named_property(env, obj, "blas", blasValue));
  CHECK(napi_set_named_property(env, obj, "core", core));
  CHECK(napi_set_named_property(env, obj, "threads", threads));
  CHECK(napi_set_named_property(env, obj, "config", config));
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
#if defined(PEFTLAB_BLAS_OWN)
  (void)pl_gemm_kernel(); /* the micro-kernel is chosen when the addon loads (PEFTLAB_GEMM_KERNEL is read now) */
#endif
  napi_property_descriptor props[] = {
      {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"sgemmStrided", NULL, sgemm_strided, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, get_info, NULL, NULL, NULL, napi_default, NULL},
      {"gelu", NULL, gelu, NULL, NULL, NULL, napi_default, NULL},
      {"segmentSum", NULL, segment_sum, NULL, NULL, NULL, napi_default, NULL},
      {"gatherRows", NULL, gather_rows, NULL, NULL, NULL, napi_default, NULL},
      {"binary", NULL, binary, NULL, NULL, NULL, napi_default, NULL},
      {"adamw", NULL, adamw, NULL, NULL, NULL, napi_default, NULL},
      {"xent", NULL, xent, NULL, NULL, NULL, napi_default, NULL},
      {"layernorm", NULL, layernorm, NULL, NULL, NULL, napi_default, NULL},
      {"layernormBackward", NULL, layernorm_backward, NULL, NULL, NULL, napi_default, NULL},
      {"causalSoftmax", NULL, causal_softmax, NULL, NULL, NULL, napi_default, NULL},
      {"causalSoftmaxBackward", NULL, causal_softmax_backward, NULL, NULL, NULL, napi_default, NULL},
      {"maskedSoftmax", NULL, masked_softmax, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
