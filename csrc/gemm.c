/* Row-major SGEMM on OpenBLAS, linked at build time from the scipy-openblas32 wheel
 * (the build numpy and SciPy ship; its symbols carry a scipy_ prefix, so it never
 * clashes with another OpenBLAS in the process), and the CPU facts the Python side
 * reports. Linking it directly, not through scipy.linalg.cython_blas, keeps SciPy out
 * of `import dnnl_py` (its import was ~200 ms of a ~500 ms cold start). */
#include <limits.h>
#include <stddef.h>
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "dnnl_kernels.h"

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

int dnnl_sgemm_rm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                  const float *a, int64_t lda, const float *b, int64_t ldb,
                  float beta, float *c, int64_t ldc) {
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX) return -1;
    int ilda = trans_a ? leading_dim(lda, k, m) : leading_dim(lda, m, k);
    int ildb = trans_b ? leading_dim(ldb, n, k) : leading_dim(ldb, k, n);
    int ildc = leading_dim(ldc, m, n);
    if (ilda < 0 || ildb < 0 || ildc < 0) return -1;
    if (m == 0 || n == 0) return 0;
    if (k == 0) { /* BLAS would still scale C by beta; be explicit */
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) c[i * ildc + j] *= beta;
        return 0;
    }
    scipy_cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                      trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
                      ilda, b, ildb, beta, c, ildc);
    return 0;
}

const char *dnnl_blas_config(void) { return scipy_openblas_get_config(); }

int dnnl_blas_threads(void) { return scipy_openblas_get_num_threads(); }

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
