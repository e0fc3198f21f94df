/* The small-GEMM micro-kernel (csrc/matmul.c's batched path: attention's 128x64 . 64x128;
 * csrc/conv_winograd.c's 16 GEMMs per block of tiles): blocks of up to 14 rows x 32
 * columns of C held in vector registers (28 accumulators, 2 rows of b and a broadcast:
 * 31 of AVX-512's 32 zmm) while the whole reduction runs; a's values are broadcast
 * straight from memory and b's rows, contiguous, are read in place: no packing and no
 * call overhead, which at these sizes cost OpenBLAS ~15%. Always inlined, so that each
 * ISA clone of the caller gets its own. The includer defines VLEN and the vector type
 * vf (VLEN floats). */
#ifndef DNNL_MICRO_GEMM_H
#define DNNL_MICRO_GEMM_H
#include "dnnl_kernels.h"

#define MICRO_ROWS 14

/* out[R, NV vectors] = a[R, k] . b[k, NV vectors]; a's columns sa apart. */
static inline __attribute__((always_inline)) void micro_block(const int R, const int NV,
        const int64_t sa, int64_t k, const float *a, int64_t lda, const float *b,
        int64_t ldb, float *out, int64_t ldo) {
    vf acc[MICRO_ROWS][2];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
        for (int j = 0; j < NV; ++j) acc[r][j] = (vf){0};
    for (int64_t i = 0; i < k; ++i) {
        vf w[2];
#pragma GCC unroll 2
        for (int j = 0; j < NV; ++j) w[j] = *(const vf *)(b + i * ldb + j * VLEN);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            const float x = a[r * lda + i * sa];
#pragma GCC unroll 2
            for (int j = 0; j < NV; ++j) acc[r][j] += x * w[j];
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
        for (int j = 0; j < NV; ++j) *(vf *)(out + r * ldo + j * VLEN) = acc[r][j];
}

/* One instance per (R, NV), a's unit column stride a constant in its own set. */
#define CASE(R, NV, SA) case R: micro_block(R, NV, SA, k, a, lda, b, ldb, out, ldo); break;
#define CASES(NV, SA) CASE(1, NV, SA) CASE(2, NV, SA) CASE(3, NV, SA) CASE(4, NV, SA) \
    CASE(5, NV, SA) CASE(6, NV, SA) CASE(7, NV, SA) CASE(8, NV, SA) CASE(9, NV, SA) \
    CASE(10, NV, SA) CASE(11, NV, SA) CASE(12, NV, SA) CASE(13, NV, SA) CASE(14, NV, SA)
static inline __attribute__((always_inline)) void micro_rows(int r, int nv, int64_t sa,
        int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, float *out,
        int64_t ldo) {
    if (sa == 1 && nv == 2) { switch (r) { CASES(2, 1) } }
    else if (sa == 1) { switch (r) { CASES(1, 1) } }
    else if (nv == 2) { switch (r) { CASES(2, sa) } }
    else { switch (r) { CASES(1, sa) } }
}
#undef CASES
#undef CASE

/* c[m, n] = a[m, k] . b[k, n], n a multiple of VLEN, b's and c's columns contiguous.
 * Row blocks outside, column blocks inside: a block's rows of a stay in L1 while all of
 * b streams from L1/L2. */
static inline __attribute__((always_inline)) void micro_gemm(int64_t m, int64_t n,
        int64_t k, const float *a, int64_t lda, int64_t sa, const float *b, int64_t ldb,
        float *c, int64_t ldc) {
    for (int64_t r = 0; r < m; r += MICRO_ROWS) {
        const int R = (int)DNNL_MIN(m - r, MICRO_ROWS);
        for (int64_t j = 0; j < n;) {
            const int nv = n - j >= 2 * VLEN ? 2 : 1;
            micro_rows(R, nv, sa, k, a + r * lda, lda, b + j, ldb, c + r * ldc + j, ldc);
            j += nv * VLEN;
        }
    }
}
#endif
