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

/* OpenBLAS runs one thread per call: the threads are OpenMP's, which split the GEMM
 * below. With a thread pool of its own, OpenBLAS's workers spun (sched_yield, ~2^28
 * cycles) after every call while OpenMP's ran the next kernel, two pools on the same
 * cores: a kernel after a BLAS call ran up to 2x slower than alone (docs/performance.md,
 * "Run-order effects"), and OpenMP's threads had to wait passively for BLAS's sake. Runs
 * when the extension loads, after OpenBLAS's own initialisation. */
__attribute__((constructor)) static void blas_single_threaded(void) {
    scipy_openblas_set_num_threads(1);
}

/* Below this many multiply-adds a GEMM runs on one thread: a team's start and join
 * (a few microseconds) would cost more than the second thread saves. */
#define PARALLEL_MIN_MACS (1 << 18)

int dnnl_sgemm_rm_refuses(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                          int64_t lda, int64_t ldb, int64_t ldc) {
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX) return 1;
    return (trans_a ? leading_dim(lda, k, m) : leading_dim(lda, m, k)) < 0
           || (trans_b ? leading_dim(ldb, n, k) : leading_dim(ldb, k, n)) < 0
           || leading_dim(ldc, m, n) < 0;
}

int dnnl_sgemm_rm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                  const float *a, int64_t lda, const float *b, int64_t ldb,
                  float beta, float *c, int64_t ldc) {
    if (dnnl_sgemm_rm_refuses(trans_a, trans_b, m, n, k, lda, ldb, ldc)) return -1;
    const int ilda = trans_a ? leading_dim(lda, k, m) : leading_dim(lda, m, k);
    const int ildb = trans_b ? leading_dim(ldb, n, k) : leading_dim(ldb, k, n);
    const int ildc = leading_dim(ldc, m, n);
    if (m == 0 || n == 0) return 0;
    if (k == 0) { /* BLAS would still scale C by beta; be explicit */
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) c[i * ildc + j] *= beta;
        return 0;
    }
    const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans,
                          tb = trans_b ? CblasTrans : CblasNoTrans;
    /* Each thread takes a slice of C's rows or columns, whichever is longer: it packs
     * its own slice of that operand and all of the other, so the longer one is the
     * one worth sharing out. Slices are multiples of 16 (whole micro-kernel tiles). */
    const int split_rows = m >= n;
    const int64_t len = split_rows ? m : n;
    int nt = 1;
#ifdef _OPENMP
    if (!omp_in_parallel() && (double)m * n * k >= PARALLEL_MIN_MACS)
        nt = (int)DNNL_MIN(omp_get_max_threads(), (len + 15) / 16);
#endif
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = 0, team = 1;
#ifdef _OPENMP
        t = omp_get_thread_num(), team = omp_get_num_threads();
#endif
        const int64_t tiles = (len + 15) / 16;
        const int64_t lo = DNNL_MIN(len, tiles * t / team * 16);
        const int64_t hi = DNNL_MIN(len, tiles * (t + 1) / team * 16);
        if (hi > lo) {
            if (split_rows)
                scipy_cblas_sgemm(CblasRowMajor, ta, tb, (int)(hi - lo), (int)n, (int)k, 1.0f,
                                  a + lo * (trans_a ? 1 : ilda), ilda, b, ildb, beta,
                                  c + lo * ildc, ildc);
            else
                scipy_cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)(hi - lo), (int)k, 1.0f,
                                  a, ilda, b + lo * (trans_b ? ildb : 1), ildb, beta, c + lo,
                                  ildc);
        }
    }
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
