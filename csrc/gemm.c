/* Row-major SGEMM on top of the Fortran BLAS that SciPy ships, and the CPU facts
 * the Python side reports. */
#include <stddef.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "dnnl_kernels.h"

static dnnl_sgemm_fn sgemm_fn = NULL;

void dnnl_set_sgemm(dnnl_sgemm_fn fn) { sgemm_fn = fn; }

/* Row-major C = A.B is column-major C^T = B^T.A^T: swap operands, keep strides. */
void dnnl_sgemm_rm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                   const float *a, int64_t lda, const float *b, int64_t ldb,
                   float beta, float *c, int64_t ldc) {
    if (m == 0 || n == 0) return;
    /* BLAS rejects a leading dimension below the row length even when there is one row. */
    int64_t a_row = trans_a ? m : k, b_row = trans_b ? k : n;
    if (lda < a_row) lda = a_row;
    if (ldb < b_row) ldb = b_row;
    if (ldc < n) ldc = n;
    if (lda < 1) lda = 1;
    if (ldb < 1) ldb = 1;
    int im = (int)m, in = (int)n, ik = (int)k, ilda = (int)lda, ildb = (int)ldb, ildc = (int)ldc;
    char ta = trans_a ? 'T' : 'N', tb = trans_b ? 'T' : 'N';
    float alpha = 1.0f;
    if (k == 0) { /* BLAS would still scale C by beta; be explicit */
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) c[i * ldc + j] *= beta;
        return;
    }
    sgemm_fn(&tb, &ta, &in, &im, &ik, &alpha, (float *)b, &ildb, (float *)a, &ilda, &beta,
             c, &ildc);
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
