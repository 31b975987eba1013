/*
 * The Llama family's fused elementwise kernels (src/model/arch/llama.ts), on tensors in
 * tfjs-wasm's heap, as blas.c's are: a second addon (peftlab_llama.node), no BLAS in it.
 *
 * Each replaces a chain of 4–12 tfjs kernels, with their dispatch and (N, C)-sized temporaries,
 * by one pass; the backward passes likewise (src/model/kernels/native-llama.ts wraps them in
 * tf.customGrad):
 *
 *   rmsnorm(heap, xOff, wOff, yOff, rOff, N, C, eps)
 *       r = 1/√(mean_C(x²) + ε) (N), y = x·r·w        (Zhang & Sennrich 2019; transformers'
 *                                                      LlamaRMSNorm: x·rsqrt(var + ε), then ·w)
 *   rmsnormBackward(heap, dyOff, xOff, rOff, wOff, dxOff, dwOff, N, C)
 *       x̂ = x·r, g = dy·w:  dx = r·(g − x̂·Σ_C(g·x̂)/C),  dw = Σ_N dy·x̂
 *   rope(heap, xOff, cosOff, sinOff, yOff, B, T, H, D, csBatch, inverse)
 *       x (B·T, H·D), tables (B or 1, T, D/2) with csBatch = their batch stride (0 broadcasts):
 *       rotate_half, y₁ = x₁·cos − x₂·sin, y₂ = x₂·cos + x₁·sin (per head, halves of D).
 *       The rotation is orthogonal, so its gradient is the inverse rotation (sin → −sin):
 *       inverse = 1 gives dx from dy.
 *   swiglu(heap, gOff, uOff, yOff, n)            y = silu(g)·u, silu(g) = g·σ(g)  (Shazeer 2020)
 *   swigluBackward(heap, dyOff, gOff, uOff, dgOff, duOff, n)
 *       du = dy·silu(g),  dg = dy·u·σ(g)·(1 + g·(1 − σ(g)))
 *
 * The forward kernels round as the tfjs ops they replace where the order is the same
 * (rope: two products and a difference, each rounded: the same bits as tf.mul/tf.sub);
 * reductions accumulate in double. Native code trusts nothing: every region is checked to lie
 * in the heap, aligned, and outputs must not overlap other regions.
 */
#include <math.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
  const char* name;
  int64_t off; /* bytes */
  int64_t len; /* float32 elements */
  int output;
} Region;

static float* check_regions(napi_env env, const char* kernel, napi_value heapValue, Region* r, int n) {
  void* data = NULL;
  size_t bytes = 0;
  bool isBuffer = false;
  char msg[300];
  if (napi_is_arraybuffer(env, heapValue, &isBuffer) != napi_ok || !isBuffer || napi_get_arraybuffer_info(env, heapValue, &data, &bytes) != napi_ok) {
    snprintf(msg, sizeof msg, "peftlab_llama.%s: the heap must be an ArrayBuffer", kernel);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  for (int i = 0; i < n; i++)
    if (r[i].off < 0 || r[i].len < 0 || r[i].off % 4 || r[i].off + 4 * r[i].len > (int64_t)bytes) {
      snprintf(msg, sizeof msg, "peftlab_llama.%s: %s (offset %lld B, %lld elements) lies outside the %zu-byte heap or is misaligned", kernel,
               r[i].name, (long long)r[i].off, (long long)r[i].len, bytes);
      napi_throw_range_error(env, NULL, msg);
      return NULL;
    }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      if (i != j && r[i].output && r[i].len > 0 && r[j].len > 0 && r[i].off < r[j].off + 4 * r[j].len && r[j].off < r[i].off + 4 * r[i].len) {
        snprintf(msg, sizeof msg, "peftlab_llama.%s: output %s overlaps %s", kernel, r[i].name, r[j].name);
        napi_throw_range_error(env, NULL, msg);
        return NULL;
      }
  return (float*)data;
}

/* argv[1 .. want−1 − doubles] as integers in [0, 2⁴⁰]; the last `doubles` arguments as doubles. */
static int get_args(napi_env env, napi_callback_info info, const char* kernel, size_t want, size_t doubles, napi_value* argv, int64_t* ints, double* dbl) {
  size_t argc = want;
  char msg[160];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != want) {
    snprintf(msg, sizeof msg, "peftlab_llama.%s: expected %zu arguments", kernel, want);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  for (size_t i = 1; i < want; i++) {
    double d;
    if (napi_get_value_double(env, argv[i], &d) != napi_ok || !isfinite(d)) {
      snprintf(msg, sizeof msg, "peftlab_llama.%s: argument %zu must be a finite number", kernel, i);
      napi_throw_type_error(env, NULL, msg);
      return 0;
    }
    if (i >= want - doubles) {
      dbl[i - (want - doubles)] = d;
      continue;
    }
    if (floor(d) != d || d < 0 || d > (double)((int64_t)1 << 40)) {
      snprintf(msg, sizeof msg, "peftlab_llama.%s: argument %zu must be a non-negative integer", kernel, i);
      napi_throw_range_error(env, NULL, msg);
      return 0;
    }
    ints[i - 1] = (int64_t)d;
  }
  return 1;
}

static napi_value rmsnorm(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  int64_t a[6];
  double eps;
  if (!get_args(env, info, "rmsnorm", 8, 1, argv, a, &eps)) return NULL;
  const int64_t N = a[4], C = a[5];
  Region r[] = {{"x", a[0], N * C, 0}, {"w", a[1], C, 0}, {"y", a[2], N * C, 1}, {"r", a[3], N, 1}};
  float* heap = check_regions(env, "rmsnorm", argv[0], r, 4);
  if (heap == NULL || C == 0) return NULL;
  const float* w = heap + a[1] / 4;
  for (int64_t i = 0; i < N; i++) {
    const float* x = heap + a[0] / 4 + i * C;
    float* y = heap + a[2] / 4 + i * C;
    double ss = 0;
    for (int64_t c = 0; c < C; c++) ss += (double)x[c] * x[c];
    const float ri = (float)(1.0 / sqrt(ss / (double)C + eps));
    heap[a[3] / 4 + i] = ri;
    for (int64_t c = 0; c < C; c++) y[c] = (x[c] * ri) * w[c];
  }
  return NULL;
}

static napi_value rmsnorm_backward(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  int64_t a[8];
  if (!get_args(env, info, "rmsnormBackward", 9, 0, argv, a, NULL)) return NULL;
  const int64_t N = a[6], C = a[7];
  Region r[] = {{"dy", a[0], N * C, 0}, {"x", a[1], N * C, 0}, {"r", a[2], N, 0}, {"w", a[3], C, 0}, {"dx", a[4], N * C, 1}, {"dw", a[5], C, 1}};
  float* heap = check_regions(env, "rmsnormBackward", argv[0], r, 6);
  if (heap == NULL || C == 0) return NULL;
  const float* w = heap + a[3] / 4;
  float* dw = heap + a[5] / 4;
  for (int64_t c = 0; c < C; c++) dw[c] = 0;
  for (int64_t i = 0; i < N; i++) {
    const float *dy = heap + a[0] / 4 + i * C, *x = heap + a[1] / 4 + i * C;
    float* dx = heap + a[4] / 4 + i * C;
    const float ri = heap[a[2] / 4 + i];
    double dot = 0; /* Σ_C g·x̂ */
    for (int64_t c = 0; c < C; c++) {
      const float xh = x[c] * ri;
      dot += (double)(dy[c] * w[c]) * xh;
      dw[c] += dy[c] * xh;
    }
    const float m = (float)(dot / (double)C);
    for (int64_t c = 0; c < C; c++) dx[c] = ri * (dy[c] * w[c] - (x[c] * ri) * m);
  }
  return NULL;
}

static napi_value rope(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  int64_t a[10];
  if (!get_args(env, info, "rope", 11, 0, argv, a, NULL)) return NULL;
  const int64_t B = a[4], T = a[5], H = a[6], D = a[7], csBatch = a[8], inverse = a[9];
  const int64_t half = D / 2;
  if (D % 2 != 0 || (csBatch != 0 && csBatch != T * half)) {
    napi_throw_range_error(env, NULL, "peftlab_llama.rope: D must be even and csBatch 0 or T·D/2");
    return NULL;
  }
  const int64_t tables = (csBatch == 0 ? 1 : B) * T * half;
  Region r[] = {{"x", a[0], B * T * H * D, 0}, {"cos", a[1], tables, 0}, {"sin", a[2], tables, 0}, {"y", a[3], B * T * H * D, 1}};
  float* heap = check_regions(env, "rope", argv[0], r, 4);
  if (heap == NULL) return NULL;
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++) {
      const float* c = heap + a[1] / 4 + b * csBatch + t * half;
      const float* s0 = heap + a[2] / 4 + b * csBatch + t * half;
      for (int64_t h = 0; h < H; h++) {
        const int64_t row = ((b * T + t) * H + h) * D;
        const float* x = heap + a[0] / 4 + row;
        float* y = heap + a[3] / 4 + row;
        for (int64_t i = 0; i < half; i++) {
          const float s = inverse ? -s0[i] : s0[i];
          const float x1 = x[i], x2 = x[i + half];
          y[i] = x1 * c[i] - x2 * s;
          y[i + half] = x2 * c[i] + x1 * s;
        }
      }
    }
  return NULL;
}

static inline float sigmoidf(float g) { return 1.0f / (1.0f + expf(-g)); }

static napi_value swiglu(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int64_t a[4];
  if (!get_args(env, info, "swiglu", 5, 0, argv, a, NULL)) return NULL;
  const int64_t n = a[3];
  Region r[] = {{"gate", a[0], n, 0}, {"up", a[1], n, 0}, {"y", a[2], n, 1}};
  float* heap = check_regions(env, "swiglu", argv[0], r, 3);
  if (heap == NULL) return NULL;
  const float *g = heap + a[0] / 4, *u = heap + a[1] / 4;
  float* y = heap + a[2] / 4;
  for (int64_t i = 0; i < n; i++) y[i] = (g[i] * sigmoidf(g[i])) * u[i];
  return NULL;
}

static napi_value swiglu_backward(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  int64_t a[6];
  if (!get_args(env, info, "swigluBackward", 7, 0, argv, a, NULL)) return NULL;
  const int64_t n = a[5];
  Region r[] = {{"dy", a[0], n, 0}, {"gate", a[1], n, 0}, {"up", a[2], n, 0}, {"dgate", a[3], n, 1}, {"dup", a[4], n, 1}};
  float* heap = check_regions(env, "swigluBackward", argv[0], r, 5);
  if (heap == NULL) return NULL;
  const float *dy = heap + a[0] / 4, *g = heap + a[1] / 4, *u = heap + a[2] / 4;
  float *dg = heap + a[3] / 4, *du = heap + a[4] / 4;
  for (int64_t i = 0; i < n; i++) {
    const float sg = sigmoidf(g[i]);
    du[i] = dy[i] * (g[i] * sg);
    dg[i] = dy[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"rmsnorm", NULL, rmsnorm, NULL, NULL, NULL, napi_default, NULL},
      {"rmsnormBackward", NULL, rmsnorm_backward, NULL, NULL, NULL, napi_default, NULL},
      {"rope", NULL, rope, NULL, NULL, NULL, napi_default, NULL},
      {"swiglu", NULL, swiglu, NULL, NULL, NULL, napi_default, NULL},
      {"swigluBackward", NULL, swiglu_backward, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
