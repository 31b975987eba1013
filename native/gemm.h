/*
 * peftlab's own single-precision GEMM (gemm.c), the native backend's BLAS where neither
 * OpenBLAS nor Accelerate is found at build time (bin/build-native.mjs).
 *
 *   for o < batch2, g < batch:  C[o,g] = alpha·op(A[o,g])·op(B[o,g]) + beta·C[o,g]
 *
 * Row-major like CBLAS's CblasRowMajor; X[o,g] starts at X + o·sX2 + g·sX (in floats; a
 * stride of 0 broadcasts one matrix over the batch). beta = 0 never reads C (BLAS semantics).
 * The caller (blas.c, run_gemm) has checked every extent; nothing is checked here.
 *
 * Deterministic: each element of C is one fixed sequence of operations (the K blocking
 * depends on K only; threads split C, never K), so the result is the same for any thread count.
 */
#ifndef PEFTLAB_GEMM_H
#define PEFTLAB_GEMM_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
  bool tA, tB;
  int64_t M, N, K;
  float alpha, beta;
  const float* A;
  int64_t lda, sA, sA2;
  const float* B;
  int64_t ldb, sB, sB2;
  float* C;
  int64_t ldc, sC, sC2;
  int64_t batch, batch2;
} pl_gemm_args;

void pl_sgemm(const pl_gemm_args* g);
/* Threads for the next products (1 = the calling thread only; a pool of n − 1 is kept). */
void pl_gemm_set_threads(int n);
int pl_gemm_threads(void);
/* The micro-kernel chosen at load from the CPU's features: "avx512", "avx2", "neon" or
   "portable" (PEFTLAB_GEMM_KERNEL=<name> picks a lesser one, for tests and benchmarks). */
const char* pl_gemm_kernel(void);
/* One line: kernel, register block, K block. */
const char* pl_gemm_config(void);

#endif
