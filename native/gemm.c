/*
 * peftlab's own SGEMM: what the native backend multiplies with where OpenBLAS (and, on macOS,
 * Accelerate) was not found at build time. The design is GotoBLAS's / BLIS's (Goto & van de
 * Geijn, "Anatomy of High-Performance Matrix Multiplication", TOMS 2008; Van Zee & van de Geijn,
 * "BLIS", TOMS 2015), cut down to what the native backend calls:
 *
 *   for each K block (≤ KC_MAX deep):
 *     pack a block of op(B), kc × nc, into NR-wide micro-panels  (stays in L2)
 *     for each M block of mc rows:
 *       pack op(A), mc × kc, into MR-tall micro-panels           (one micro-panel in L1)
 *       for each MR × NR tile of C: the micro-kernel, kc rank-1 updates held in registers
 *
 * Packing makes every transpose and leading dimension look the same to the micro-kernel: it
 * reads both panels with unit stride, aligned, and padded with zeros to whole tiles, so odd
 * sizes cost a little waste at the edges and no separate code. Row-major C is vectorized along
 * N (a vector of B times a broadcast element of A, as OpenBLAS's Haswell/SkylakeX kernels do).
 *
 * Micro-kernels (one binary, chosen at load from the CPU's features, __builtin_cpu_supports):
 *   avx512   8 × 32   16 zmm accumulators, FMA                   x86-64 with AVX-512F
 *   avx2     6 × 16   12 ymm accumulators, FMA                   x86-64 with AVX2 + FMA
 *   neon     8 × 8    16 q-register accumulators, FMA (by lane)  arm64 (always present)
 *   portable 4 × 8    plain C, a·b then + (what -O2 makes of it) anywhere
 * PEFTLAB_GEMM_KERNEL=avx2|portable|… picks a lesser one that this CPU also runs (tests, bench).
 *
 * Determinism. Each element of C is accumulated from k = 0 upward, one fused multiply-add per k
 * (portable: a rounded product, then a rounded sum), restarting at each K block, whose bounds
 * depend on K alone; then C = alpha·acc + beta·C (two rounded products and a rounded sum; beta
 * is 1 after the first block, and 0 never reads C). Threads and blocking in M and N only decide
 * which thread computes a tile, never how: the result is the same for any thread count, and the
 * three FMA kernels give the same bits as each other (tests/model/kernels/native-gemm.test.ts).
 *
 * Threads: a pool of n − 1 workers (pl_gemm_set_threads, like openblas_set_num_threads) that
 * spin briefly and then sleep on a condition variable; the caller computes too. Work items are
 * (batch, N block, M block) tiles of C, split into contiguous ranges, one per thread.
 */
#define _POSIX_C_SOURCE 200809L
#include "gemm.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define PL_X86 1
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

/* Blocking. KC_MAX fixes each element's order of operations (see above): it must not depend on
   the CPU or the thread count. MC_MAX × KC_MAX floats of A (128 KiB) and KC_MAX × NC_MAX of B
   (512 KiB) sit in a 1 MiB L2 together; one MR × KC_MAX micro-panel of A fits L1. */
#define KC_MAX 256
#define MC_MAX 128
#define NC_MAX 512
#define MAX_THREADS 256
#define MR_MAX 8
#define NR_MAX 32

typedef void (*ukernel_fn)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta);
typedef struct {
  const char* name;
  int mr, nr;
  ukernel_fn run;
} ukernel;

/* ---------------------------------------------------------------- micro-kernels ---------
 * C[r, j] (r < MR, j < NR, row stride ldc) = alpha·Σ_k a[k·MR + r]·b[k·NR + j] + beta·C[r, j];
 * beta = 0 writes without reading. a and b are packed, 64-byte aligned. */

static void kern_portable(int64_t kc, const float* restrict a, const float* restrict b, float* restrict c, int64_t ldc, float alpha, float beta) {
  float acc[4][8] = {{0}};
  for (int64_t k = 0; k < kc; k++, a += 4, b += 8)
    for (int r = 0; r < 4; r++)
      for (int j = 0; j < 8; j++) acc[r][j] += a[r] * b[j];
  for (int r = 0; r < 4; r++)
    for (int j = 0; j < 8; j++) {
      const float x = alpha * acc[r][j];
      float* p = c + r * ldc + j;
      *p = beta == 0.0f ? x : beta == 1.0f ? x + *p : x + beta * *p;
    }
}
static const ukernel K_PORTABLE = {"portable", 4, 8, kern_portable};

#ifdef PL_X86
#define PL_AVX512 __attribute__((target("avx512f")))
#define PL_AVX2 __attribute__((target("avx2,fma")))

PL_AVX512 static void kern_avx512(int64_t kc, const float* restrict a, const float* restrict b, float* restrict c, int64_t ldc, float alpha, float beta) {
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  __m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
  for (int64_t k = 0; k < kc; k++, a += 8, b += 32) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#define ROW(r)                                    \
  {                                               \
    const __m512 ar = _mm512_set1_ps(a[r]);       \
    c##r##0 = _mm512_fmadd_ps(ar, b0, c##r##0);   \
    c##r##1 = _mm512_fmadd_ps(ar, b1, c##r##1);   \
  }
    ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#define OUT(r, j)                                                                     \
  {                                                                                   \
    float* p = c + (r) * ldc + 16 * (j);                                              \
    __m512 x = _mm512_mul_ps(va, c##r##j);                                            \
    if (beta == 1.0f) x = _mm512_add_ps(x, _mm512_loadu_ps(p));                       \
    else if (beta != 0.0f) x = _mm512_add_ps(x, _mm512_mul_ps(vb, _mm512_loadu_ps(p))); \
    _mm512_storeu_ps(p, x);                                                           \
  }
  OUT(0, 0) OUT(0, 1) OUT(1, 0) OUT(1, 1) OUT(2, 0) OUT(2, 1) OUT(3, 0) OUT(3, 1)
  OUT(4, 0) OUT(4, 1) OUT(5, 0) OUT(5, 1) OUT(6, 0) OUT(6, 1) OUT(7, 0) OUT(7, 1)
#undef OUT
}
static const ukernel K_AVX512 = {"avx512", 8, 32, kern_avx512};

PL_AVX2 static void kern_avx2(int64_t kc, const float* restrict a, const float* restrict b, float* restrict c, int64_t ldc, float alpha, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t k = 0; k < kc; k++, a += 6, b += 16) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#define ROW(r)                                    \
  {                                               \
    const __m256 ar = _mm256_broadcast_ss(a + r); \
    c##r##0 = _mm256_fmadd_ps(ar, b0, c##r##0);   \
    c##r##1 = _mm256_fmadd_ps(ar, b1, c##r##1);   \
  }
    ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#define OUT(r, j)                                                                     \
  {                                                                                   \
    float* p = c + (r) * ldc + 8 * (j);                                               \
    __m256 x = _mm256_mul_ps(va, c##r##j);                                            \
    if (beta == 1.0f) x = _mm256_add_ps(x, _mm256_loadu_ps(p));                       \
    else if (beta != 0.0f) x = _mm256_add_ps(x, _mm256_mul_ps(vb, _mm256_loadu_ps(p))); \
    _mm256_storeu_ps(p, x);                                                           \
  }
  OUT(0, 0) OUT(0, 1) OUT(1, 0) OUT(1, 1) OUT(2, 0) OUT(2, 1) OUT(3, 0) OUT(3, 1) OUT(4, 0) OUT(4, 1) OUT(5, 0) OUT(5, 1)
#undef OUT
}
static const ukernel K_AVX2 = {"avx2", 6, 16, kern_avx2};
#endif

#if defined(__aarch64__)
static void kern_neon(int64_t kc, const float* restrict a, const float* restrict b, float* restrict c, int64_t ldc, float alpha, float beta) {
  float32x4_t c00 = vdupq_n_f32(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  float32x4_t c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
  for (int64_t k = 0; k < kc; k++, a += 8, b += 8) {
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
#define ROW(r, v, lane)                                 \
  c##r##0 = vfmaq_laneq_f32(c##r##0, b0, v, lane);      \
  c##r##1 = vfmaq_laneq_f32(c##r##1, b1, v, lane);
    ROW(0, a0, 0) ROW(1, a0, 1) ROW(2, a0, 2) ROW(3, a0, 3) ROW(4, a1, 0) ROW(5, a1, 1) ROW(6, a1, 2) ROW(7, a1, 3)
#undef ROW
  }
  const float32x4_t va = vdupq_n_f32(alpha), vb = vdupq_n_f32(beta);
#define OUT(r, j)                                                          \
  {                                                                        \
    float* p = c + (r) * ldc + 4 * (j);                                    \
    float32x4_t x = vmulq_f32(va, c##r##j);                                \
    if (beta == 1.0f) x = vaddq_f32(x, vld1q_f32(p));                      \
    else if (beta != 0.0f) x = vaddq_f32(x, vmulq_f32(vb, vld1q_f32(p)));  \
    vst1q_f32(p, x);                                                       \
  }
  OUT(0, 0) OUT(0, 1) OUT(1, 0) OUT(1, 1) OUT(2, 0) OUT(2, 1) OUT(3, 0) OUT(3, 1)
  OUT(4, 0) OUT(4, 1) OUT(5, 0) OUT(5, 1) OUT(6, 0) OUT(6, 1) OUT(7, 0) OUT(7, 1)
#undef OUT
}
static const ukernel K_NEON = {"neon", 8, 8, kern_neon};
#endif

/* ---------------------------------------------------------------- kernel choice --------- */

static const ukernel* kernel;
static char config[160];
static pthread_once_t chosen = PTHREAD_ONCE_INIT;

static void choose(void) {
  const ukernel* options[4];
  int n = 0;
#ifdef PL_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) options[n++] = &K_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) options[n++] = &K_AVX2;
#endif
#if defined(__aarch64__)
  options[n++] = &K_NEON;
#endif
  options[n++] = &K_PORTABLE;
  kernel = options[0];
  const char* want = getenv("PEFTLAB_GEMM_KERNEL");
  for (int i = 0; want != NULL && i < n; i++)
    if (strcmp(options[i]->name, want) == 0) kernel = options[i];
  snprintf(config, sizeof config, "peftlab gemm: %s micro-kernel %dx%d, K blocks <= %d, M blocks <= %d, N blocks <= %d", kernel->name, kernel->mr, kernel->nr,
           KC_MAX, MC_MAX, NC_MAX);
}

const char* pl_gemm_kernel(void) {
  pthread_once(&chosen, choose);
  return kernel->name;
}
const char* pl_gemm_config(void) {
  pthread_once(&chosen, choose);
  return config;
}

/* ---------------------------------------------------------------- packing --------------- */

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* op(A)[i0 .. i0+m, k0 .. k0+kc] → micro-panels of mr rows: dst[p·mr·kc + k·mr + r]. */
static void pack_a(bool tA, const float* A, int64_t lda, int64_t i0, int64_t m, int64_t k0, int64_t kc, int mr, float* restrict dst) {
  for (int64_t p = 0; p < m; p += mr, dst += mr * kc) {
    const int rows = (int)min64(mr, m - p);
    if (!tA) { /* op(A)[i, k] = A[i·lda + k]: rows are contiguous; read mr rows side by side
                  and write dst in order (writing it in strides of mr was ~10 % of a product) */
      const float* s[MR_MAX];
      for (int r = 0; r < rows; r++) s[r] = A + (i0 + p + r) * lda + k0;
      if (rows == 8) {
        const float *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3], *s4 = s[4], *s5 = s[5], *s6 = s[6], *s7 = s[7];
        for (int64_t k = 0; k < kc; k++) {
          float* d = dst + k * mr;
          d[0] = s0[k], d[1] = s1[k], d[2] = s2[k], d[3] = s3[k], d[4] = s4[k], d[5] = s5[k], d[6] = s6[k], d[7] = s7[k];
        }
      } else if (rows == 6) {
        const float *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3], *s4 = s[4], *s5 = s[5];
        for (int64_t k = 0; k < kc; k++) {
          float* d = dst + k * mr;
          d[0] = s0[k], d[1] = s1[k], d[2] = s2[k], d[3] = s3[k], d[4] = s4[k], d[5] = s5[k];
        }
      } else {
        for (int64_t k = 0; k < kc; k++)
          for (int r = 0; r < rows; r++) dst[k * mr + r] = s[r][k];
      }
    } else { /* op(A)[i, k] = A[k·lda + i]: a micro-panel's column is contiguous */
      for (int64_t k = 0; k < kc; k++) {
        const float* src = A + (k0 + k) * lda + i0 + p;
        for (int r = 0; r < rows; r++) dst[k * mr + r] = src[r];
      }
    }
    for (int r = rows; r < mr; r++)
      for (int64_t k = 0; k < kc; k++) dst[k * mr + r] = 0;
  }
}

/* op(B)[k0 .. k0+kc, j0 .. j0+n] → micro-panels of nr columns: dst[p·nr·kc + k·nr + j]. */
static void pack_b(bool tB, const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t j0, int64_t n, int nr, float* restrict dst) {
  for (int64_t p = 0; p < n; p += nr, dst += nr * kc) {
    const int cols = (int)min64(nr, n - p);
    if (!tB) { /* op(B)[k, j] = B[k·ldb + j] */
      for (int64_t k = 0; k < kc; k++) {
        const float* src = B + (k0 + k) * ldb + j0 + p;
        float* d = dst + k * nr;
        for (int j = 0; j < cols; j++) d[j] = src[j];
        for (int j = cols; j < nr; j++) d[j] = 0;
      }
    } else { /* op(B)[k, j] = B[j·ldb + k] */
      for (int j = 0; j < cols; j++) {
        const float* src = B + (j0 + p + j) * ldb + k0;
        for (int64_t k = 0; k < kc; k++) dst[k * nr + j] = src[k];
      }
      for (int j = cols; j < nr; j++)
        for (int64_t k = 0; k < kc; k++) dst[k * nr + j] = 0;
    }
  }
}

/* ---------------------------------------------------------------- one call's plan -------- */

typedef struct {
  const pl_gemm_args* g;
  const ukernel* uk;
  int64_t kc, nk;      /* K blocks: nk of kc (the last one shorter); from K alone */
  int64_t mc, mb;      /* M blocks: mb of mc rows */
  int64_t nc, nb;      /* N blocks: nb of nc columns */
  int64_t items;       /* batch2 · batch · nb · mb tiles of C */
  int threads;         /* threads that take part (≤ items) */
} plan;

typedef struct {
  float* a;
  float* b;
  size_t an, bn; /* capacities in floats */
} buffers;

static buffers bufs[MAX_THREADS];

static float* grow(float** p, size_t* cap, size_t need) {
  if (*cap >= need) return *p;
  free(*p);
  void* q = NULL;
  if (posix_memalign(&q, 64, need * sizeof(float)) != 0) q = NULL;
  *p = q;
  *cap = q == NULL ? 0 : need;
  return *p;
}

/* Items lo..hi of the plan on one thread. Consecutive items share (batch, N block) and differ in
   the M block, so a thread packs each K block of B once for all its M blocks. */
static void run_range(const plan* p, buffers* buf, int64_t lo, int64_t hi) {
  const pl_gemm_args* g = p->g;
  const ukernel* uk = p->uk;
  const int mr = uk->mr, nr = uk->nr;
  float* apack = grow(&buf->a, &buf->an, (size_t)(ceil_div(p->mc, mr) * mr * p->kc));
  float* bpack = grow(&buf->b, &buf->bn, (size_t)(ceil_div(p->nc, nr) * nr * p->kc));
  if (apack == NULL || bpack == NULL) abort(); /* out of memory for < 1 MiB: nothing sane is left */
  _Alignas(64) float tile[MR_MAX * NR_MAX];
  for (int64_t it = lo; it < hi;) {
    const int64_t rest = it / p->mb, end = min64(hi, (rest + 1) * p->mb);
    const int64_t jb = rest % p->nb, gb = rest / p->nb, gi = gb % g->batch, go = gb / g->batch;
    const float* A = g->A + go * g->sA2 + gi * g->sA;
    const float* B = g->B + go * g->sB2 + gi * g->sB;
    float* C = g->C + go * g->sC2 + gi * g->sC;
    const int64_t j0 = jb * p->nc, n = min64(p->nc, g->N - j0);
    for (int64_t kb = 0; kb < p->nk; kb++) {
      const int64_t k0 = kb * p->kc, kc = min64(p->kc, g->K - k0);
      const float beta = kb == 0 ? g->beta : 1.0f;
      pack_b(g->tB, B, g->ldb, k0, kc, j0, n, nr, bpack);
      for (int64_t i = it; i < end; i++) {
        const int64_t i0 = (i % p->mb) * p->mc, m = min64(p->mc, g->M - i0);
        pack_a(g->tA, A, g->lda, i0, m, k0, kc, mr, apack);
        for (int64_t ir = 0; ir < m; ir += mr)
          for (int64_t jr = 0; jr < n; jr += nr) {
            const float* ap = apack + ir * kc;
            const float* bp = bpack + jr * kc;
            float* c = C + (i0 + ir) * g->ldc + j0 + jr;
            const int64_t rows = min64(mr, m - ir), cols = min64(nr, n - jr);
            if (rows == mr && cols == nr) {
              uk->run(kc, ap, bp, c, g->ldc, g->alpha, beta);
            } else { /* an edge: the whole tile into `tile`, then the part that exists */
              uk->run(kc, ap, bp, tile, nr, g->alpha, 0.0f);
              for (int64_t r = 0; r < rows; r++)
                for (int64_t j = 0; j < cols; j++) {
                  const float x = tile[r * nr + j];
                  float* q = c + r * g->ldc + j;
                  *q = beta == 0.0f ? x : beta == 1.0f ? x + *q : x + beta * *q;
                }
            }
          }
      }
    }
    it = end;
  }
}

static void run_share(const plan* p, int tid) {
  if (tid >= p->threads) return;
  run_range(p, &bufs[tid], p->items * tid / p->threads, p->items * (tid + 1) / p->threads);
}

/* ---------------------------------------------------------------- thread pool ----------- */

#if defined(PL_X86)
#define RELAX() _mm_pause()
#elif defined(__aarch64__)
#define RELAX() __asm__ __volatile__("yield")
#else
#define RELAX() ((void)0)
#endif
/* A worker spins ~2,000 pauses (~40–100 µs: a pause is ~30–140 cycles, by CPU) before it sleeps:
   the products of a training step come a few dozen µs apart, and a futex wake costs about as
   much as a small product; longer would take a shared core from others. */
#define SPIN 2000

static int threads = 1;                 /* as set: the caller + pool workers */
static int pool = 0;                    /* workers running, tids 1..pool */
static int keep = 0;                    /* workers with tid > keep leave at the next generation */
static pthread_t workers[MAX_THREADS];
static uint64_t first_seen[MAX_THREADS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static atomic_uint_fast64_t generation;
static atomic_int remaining;
static int sleepers;
static const plan* job; /* NULL: a generation that only tells workers to leave */
static pthread_mutex_t calls = PTHREAD_MUTEX_INITIALIZER; /* one product at a time */

static void* worker_main(void* arg) {
  const int tid = (int)(intptr_t)arg;
  uint64_t seen = first_seen[tid];
  for (;;) {
    uint64_t g = atomic_load_explicit(&generation, memory_order_acquire);
    for (int s = 0; g == seen && s < SPIN; s++) {
      RELAX();
      g = atomic_load_explicit(&generation, memory_order_acquire);
    }
    if (g == seen) {
      pthread_mutex_lock(&mu);
      sleepers++;
      while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen) pthread_cond_wait(&wake, &mu);
      sleepers--;
      pthread_mutex_unlock(&mu);
    }
    seen = g;
    const bool leave = tid > keep;
    if (!leave && job != NULL) run_share(job, tid);
    if (atomic_fetch_sub(&remaining, 1) == 1) {
      pthread_mutex_lock(&mu);
      pthread_cond_signal(&done);
      pthread_mutex_unlock(&mu);
    }
    if (leave) return NULL;
  }
}

/* Every pool worker runs its share of p (or, with p NULL, only notices a new `keep`); the
   caller runs share 0 and returns when all are done. */
static void dispatch(const plan* p) {
  job = p;
  atomic_store(&remaining, pool);
  pthread_mutex_lock(&mu);
  atomic_fetch_add_explicit(&generation, 1, memory_order_release);
  if (sleepers > 0) pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&mu);
  if (p != NULL) run_share(p, 0);
  for (int s = 0; s < SPIN && atomic_load(&remaining) != 0; s++) RELAX();
  pthread_mutex_lock(&mu);
  while (atomic_load(&remaining) != 0) pthread_cond_wait(&done, &mu);
  pthread_mutex_unlock(&mu);
}

void pl_gemm_set_threads(int n) {
  n = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n;
  pthread_mutex_lock(&calls);
  if (n - 1 < pool) { /* fewer: the extra workers leave, and are joined */
    keep = n - 1;
    dispatch(NULL);
    for (int t = n; t <= pool; t++) pthread_join(workers[t], NULL);
    pool = n - 1;
  }
  while (pool < n - 1) { /* more: start them at the current generation */
    const int t = pool + 1;
    first_seen[t] = atomic_load(&generation);
    keep = t;
    if (pthread_create(&workers[t], NULL, worker_main, (void*)(intptr_t)t) != 0) break; /* fewer threads, same results */
    pool = t;
  }
  keep = pool;
  threads = pool + 1;
  pthread_mutex_unlock(&calls);
}

int pl_gemm_threads(void) { return threads; }

/* ---------------------------------------------------------------- the product ----------- */

void pl_sgemm(const pl_gemm_args* g) {
  if (g->M <= 0 || g->N <= 0 || g->batch <= 0 || g->batch2 <= 0) return;
  if (g->K == 0 || g->alpha == 0.0f) { /* C = beta·C, A and B unread (BLAS semantics) */
    if (g->beta == 1.0f) return;
    for (int64_t o = 0; o < g->batch2; o++)
      for (int64_t b = 0; b < g->batch; b++)
        for (int64_t i = 0; i < g->M; i++) {
          float* c = g->C + o * g->sC2 + b * g->sC + i * g->ldc;
          for (int64_t j = 0; j < g->N; j++) c[j] = g->beta == 0.0f ? 0.0f : g->beta * c[j];
        }
    return;
  }
  pthread_once(&chosen, choose);
  pthread_mutex_lock(&calls);
  plan p = {.g = g, .uk = kernel};
  p.nk = ceil_div(g->K, KC_MAX);
  p.kc = ceil_div(g->K, p.nk);
  const int nr = kernel->nr, mr = kernel->mr;
  p.nb = ceil_div(g->N, NC_MAX);
  p.nc = ceil_div(ceil_div(g->N, p.nb), nr) * nr;
  p.nb = ceil_div(g->N, p.nc);
  const int64_t batches = g->batch * g->batch2;
  const double flops = 2.0 * (double)g->M * (double)g->N * (double)g->K * (double)batches;
  /* Below ~2 MFLOP a second thread costs about what it saves. Otherwise cut M finely enough
     that each thread gets ~4 tiles (balance), but no finer than one micro-panel. */
  const int t = flops < 2e6 ? 1 : threads;
  int64_t mb = ceil_div(g->M, MC_MAX);
  if (t > 1) {
    const int64_t want = ceil_div(4 * (int64_t)t, batches * p.nb);
    if (want > mb) mb = want;
  }
  p.mc = ceil_div(ceil_div(g->M, mb), mr) * mr;
  p.mb = ceil_div(g->M, p.mc);
  p.items = batches * p.nb * p.mb;
  p.threads = (int)min64(t, p.items);
  if (p.threads <= 1 || pool == 0) {
    p.threads = 1;
    run_range(&p, &bufs[0], 0, p.items);
  } else {
    if (p.threads > pool + 1) p.threads = pool + 1;
    dispatch(&p);
  }
  pthread_mutex_unlock(&calls);
}
