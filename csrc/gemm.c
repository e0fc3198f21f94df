/* Row-major SGEMM on top of the Fortran BLAS that SciPy ships, and the CPU facts
 * the Python side reports. */
#include <limits.h>
#include <stddef.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "dnnl_kernels.h"

static dnnl_sgemm_fn sgemm_fn = NULL;

void dnnl_set_sgemm(dnnl_sgemm_fn fn) { sgemm_fn = fn; }

/* BLAS's 32-bit leading dimension for `rows` rows of `cols` elements, or -1 when the
 * rows overlap (ld < cols) or it does not fit: refused, never raised to the row length,
 * which would step past the caller's buffer. With one row it is never used, but BLAS
 * still wants it >= the row length. */
static int leading_dim(int64_t ld, int64_t rows, int64_t cols) {
    if (ld < cols && rows > 1) return -1;
    if (ld < cols) ld = cols;
    if (ld < 1) ld = 1;
    return ld > INT_MAX ? -1 : (int)ld;
}

/* Row-major C = A.B is column-major C^T = B^T.A^T: swap operands, keep strides. */
int dnnl_sgemm_rm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                  const float *a, int64_t lda, const float *b, int64_t ldb,
                  float beta, float *c, int64_t ldc) {
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX) return -1;
    int ilda = trans_a ? leading_dim(lda, k, m) : leading_dim(lda, m, k);
    int ildb = trans_b ? leading_dim(ldb, n, k) : leading_dim(ldb, k, n);
    int ildc = leading_dim(ldc, m, n);
    if (ilda < 0 || ildb < 0 || ildc < 0) return -1;
    if (m == 0 || n == 0) return 0;
    int im = (int)m, in = (int)n, ik = (int)k;
    char ta = trans_a ? 'T' : 'N', tb = trans_b ? 'T' : 'N';
    float alpha = 1.0f;
    if (k == 0) { /* BLAS would still scale C by beta; be explicit */
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) c[i * ildc + j] *= beta;
        return 0;
    }
    sgemm_fn(&tb, &ta, &in, &im, &ik, &alpha, (float *)b, &ildb, (float *)a, &ilda,
             &beta, c, &ildc);
    return 0;
}

int dnnl_cpu_isa(void) {
#if defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return 3;
    if (__builtin_cpu_supports("x86-64-v3")) return 2;
#endif
    return 0;
}

int dnnl_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
