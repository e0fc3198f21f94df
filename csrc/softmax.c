/* Softmax forward along one axis of any strided layout (dnnl_reduce_t: one parallel point
 * per row). Three passes over a row: its maximum, the sum of exp(x - max), the output.
 * Subtracting the maximum keeps exp() in range for any finite input. The sum is
 * accumulated in double: a float sum of n terms in [0, 1] loses ~n * 2^-24 relative in
 * the worst case, the double one nothing visible after rounding to float, and the exp()
 * per element costs far more than the wider add. */
#include <math.h>
#include "dnnl_kernels.h"
#include "reduce.h"

void dnnl_softmax_fwd(const dnnl_reduce_t *p, int log_softmax, const float *src, float *dst) {
    const int64_t points = dnnl_reduce_points(p), runs = dnnl_reduce_runs(p);
    const int64_t n = p->r_dim[p->nr - 1], ss = p->r_src[p->nr - 1], ds = p->r_dst[p->nr - 1];
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < points; ++i) {
        const dnnl_reduce_off_t o = dnnl_reduce_point(p, i);
        /* a NaN never wins a comparison, but exp(NaN - max) makes the sum and so the
         * whole row NaN; +inf makes max - max NaN, as the float64 reference does */
        float mx = -INFINITY;
        for (int64_t j = 0; j < runs; ++j) {
            const float *s = src + dnnl_reduce_run(p, o, j).src;
            for (int64_t k = 0; k < n; ++k) mx = s[k * ss] > mx ? s[k * ss] : mx;
        }
        double sum = 0.0;
        for (int64_t j = 0; j < runs; ++j) {
            const float *s = src + dnnl_reduce_run(p, o, j).src;
            for (int64_t k = 0; k < n; ++k) sum += (double)expf(s[k * ss] - mx);
        }
        if (log_softmax) {
            /* (x - max) - log(sum), not x - (max + log(sum)): near FLT_MAX the latter
             * rounds log(sum) away */
            const float lse = (float)log(sum);
            for (int64_t j = 0; j < runs; ++j) {
                const dnnl_reduce_off_t r = dnnl_reduce_run(p, o, j);
                for (int64_t k = 0; k < n; ++k)
                    dst[r.dst + k * ds] = (src[r.src + k * ss] - mx) - lse;
            }
        } else {
            const float inv = (float)(1.0 / sum);
            for (int64_t j = 0; j < runs; ++j) {
                const dnnl_reduce_off_t r = dnnl_reduce_run(p, o, j);
                for (int64_t k = 0; k < n; ++k)
                    dst[r.dst + k * ds] = expf(src[r.src + k * ss] - mx) * inv;
            }
        }
    }
}
