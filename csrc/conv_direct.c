/* Direct forward convolution for channels-last src/dst and weights with the output
 * channel innermost (the arrangement of oneDNN's x64 "brgemm" kernels).
 *
 * Each step keeps a block of R output pixels x NV*16 output channels in vector
 * registers and accumulates over every tap and input channel, then stores the block
 * once (bias and post-ops applied while it is in L1). No im2col buffer is written:
 * the source pixels are broadcast straight from src, or from a zero-padded copy of
 * the few input rows that an output row reads when its taps reach into the left or
 * right padding. */
#include <stdlib.h>
#include <string.h>
#include "dnnl_kernels.h"
#include "isa.h"

#define VLEN 16     /* floats per vector */
#define MAX_NV 2    /* vectors of output channels per block: 32 channels */
#define MAX_R 14    /* pixels per block: 14 x 2 accumulators, 2 weight vectors and a
                     * broadcast fill 31 of the 32 zmm registers */

typedef float vf __attribute__((vector_size(VLEN * 4), aligned(4)));

/* The taps of one block: `ntaps` runs, each `run` steps long; step i of run t reads
 * src[src_off[t] + i] for the first pixel (the others are `pix_step` further on) and
 * the weight vectors at wei[wei_off[t] + i * wei_step]. A run is the input channels
 * of one tap, or of a whole row of kw taps when those lie back to back in memory. */
typedef struct {
    int ntaps;
    int64_t run, pix_step, wei_step;
    const int64_t *src_off, *wei_off;
    const float *src;
} taps_t;

/* out[R pixels, NV vectors] (+)= the steps [i0, i1) of taps [t0, t1). */
static inline __attribute__((always_inline)) void block(const int R, const int NV,
        const taps_t *tp, int t0, int t1, int64_t i0, int64_t i1, int accumulate,
        const float *src, const float *wei, float *out, int64_t out_pix) {
    vf acc[MAX_R][MAX_NV];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j)
            acc[r][j] = accumulate ? *(vf *)(out + r * out_pix + j * VLEN) : (vf){0};
    for (int t = t0; t < t1; ++t) {
        const float *s = src + tp->src_off[t];
        const float *w = wei + tp->wei_off[t] + i0 * tp->wei_step;
        for (int64_t i = i0; i < i1; ++i, w += tp->wei_step) {
            vf wv[MAX_NV];
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j) wv[j] = *(const vf *)(w + j * VLEN);
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
                const float b = s[r * tp->pix_step + i];
#pragma GCC unroll 4
                for (int j = 0; j < NV; ++j) acc[r][j] += b * wv[j];
            }
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) *(vf *)(out + r * out_pix + j * VLEN) = acc[r][j];
}

/* One instance per (R, NV) so that the accumulators live in registers. */
#define CASE(R, NV) \
    case R: block(R, NV, tp, t0, t1, i0, i1, accumulate, src, wei, out, out_pix); break;
static inline __attribute__((always_inline)) void block_nv(int r, int nv,
        const taps_t *tp, int t0, int t1, int64_t i0, int64_t i1, int accumulate,
        const float *src, const float *wei, float *out, int64_t out_pix) {
#define CASES(NV) CASE(1, NV) CASE(2, NV) CASE(3, NV) CASE(4, NV) CASE(5, NV) \
    CASE(6, NV) CASE(7, NV) CASE(8, NV) CASE(9, NV) CASE(10, NV) CASE(11, NV) \
    CASE(12, NV) CASE(13, NV) CASE(14, NV)
    if (nv == MAX_NV) {
        switch (r) { CASES(MAX_NV) }
    } else {
        switch (r) { CASES(1) }
    }
}
#undef CASES
#undef CASE

/* Width of a row with its left and right padding when some kw taps of a row read
 * outside [0, iw); 0 when none does. */
static int64_t padded_width(const dnnl_conv_t *p) {
    const int64_t last = (p->ow - 1) * p->sw - p->pw + (p->kw - 1) * (p->dw + 1);
    if (p->pw <= 0 && last < p->iw) return 0;
    return p->pw + (last + 1 > p->iw ? last + 1 : p->iw);
}

/* The taps of output row (od, oh) of image src_img. Offsets are relative to the pixel
 * at column ow = 0 and to the output-channel block in wei. With pad_w, the input rows
 * are first copied into pad_rows (zero columns on both sides, channels dense) so that
 * every pixel of the row has all its kw taps: one block shape for the whole row. */
static void row_taps(const dnnl_conv_t *p, int64_t od, int64_t oh, const float *src_img,
                     int64_t pad_w, float *pad_rows, int fuse_kw, int64_t *src_off,
                     int64_t *wei_off, taps_t *tp) {
    const int64_t *ss = p->src_s, *ws = p->wei_s;
    const int64_t pix = pad_w ? p->ic : ss[4]; /* stride between input pixels */
    tp->ntaps = 0;
    tp->run = fuse_kw ? p->kw * p->ic : p->ic;
    tp->pix_step = p->sw * pix;
    tp->wei_step = ws[2];
    tp->src = pad_w ? pad_rows : src_img;
    tp->src_off = src_off;
    tp->wei_off = wei_off;
    int64_t rows = 0;
    for (int64_t kd = 0; kd < p->kd; ++kd) {
        const int64_t id = od * p->sd - p->pd + kd * (p->dd + 1);
        if (id < 0 || id >= p->id) continue;
        for (int64_t kh = 0; kh < p->kh; ++kh, ++rows) {
            const int64_t ih = oh * p->sh - p->ph + kh * (p->dh + 1);
            if (ih < 0 || ih >= p->ih) continue;
            int64_t row = id * ss[2] + ih * ss[3] - p->pw * pix;
            if (pad_w) {
                float *dst = pad_rows + (rows * pad_w + p->pw) * p->ic;
                const float *in = src_img + id * ss[2] + ih * ss[3];
                for (int64_t x = 0; x < p->iw; ++x)
                    memcpy(dst + x * p->ic, in + x * ss[4], sizeof(float) * p->ic);
                row = rows * pad_w * p->ic;
            }
            for (int64_t kw = 0; kw < (fuse_kw ? 1 : p->kw); ++kw) {
                src_off[tp->ntaps] = row + kw * (p->dw + 1) * pix;
                wei_off[tp->ntaps] = kd * ws[3] + kh * ws[4] + kw * ws[5];
                ++tp->ntaps;
            }
        }
    }
}

int dnnl_conv_direct_supported(const dnnl_conv_t *p) {
    return p->oc % VLEN == 0 && p->src_s[1] == 1 && p->dst_s[1] == 1 && p->wei_s[1] == 1;
}

/* One output row: passes over the taps, each short enough (KC steps of NV*16
 * weights) for its weights to stay in L1 while every pixel block of the row goes
 * through them; later passes add to what earlier ones stored. */
#define KC 96
static inline __attribute__((always_inline)) void row(const taps_t *tp, int64_t ow,
        int64_t noc, const float *wei, float *out, int64_t out_pix) {
    const int64_t splits = tp->run >= KC ? (tp->run + KC - 1) / KC : 1;
    const int per_pass = tp->run >= KC ? 1 : (int)(KC / tp->run);
    int first = 1;
    for (int t0 = 0; t0 < tp->ntaps || first; t0 += per_pass) {
        const int t1 = t0 + per_pass < tp->ntaps ? t0 + per_pass : tp->ntaps;
        for (int64_t k = 0; k < splits; ++k, first = 0) {
            const int64_t i0 = tp->run * k / splits, i1 = tp->run * (k + 1) / splits;
            for (int64_t x = 0; x < ow; x += MAX_R) {
                const int r = ow - x < MAX_R ? (int)(ow - x) : MAX_R;
                for (int64_t c = 0; c < noc;) {
                    const int nv = noc - c >= MAX_NV * VLEN ? MAX_NV : 1;
                    block_nv(r, nv, tp, t0, t1, i0, i1, !first, tp->src + x * tp->pix_step,
                             wei + c, out + x * out_pix + c, out_pix);
                    c += nv * VLEN;
                }
            }
        }
    }
}

DNNL_MULTIVERSION
void dnnl_conv_direct(const dnnl_conv_t *p, const float *src, const float *wei,
                      const float *bias, float *dst, const dnnl_post_ops_t *po) {
    const int64_t *ss = p->src_s, *ds = p->dst_s, *ws = p->wei_s;
    const int64_t oc_blocks = (p->oc + MAX_NV * VLEN - 1) / (MAX_NV * VLEN);
    const int64_t rows = p->mb * p->g * oc_blocks * p->od * p->oh;
    const int64_t pad_w = padded_width(p);
    /* kw taps and channels form one run when they are back to back in src and wei */
    const int fuse_kw = p->dw == 0 && (pad_w || ss[4] == p->ic) && ws[5] == p->ic * ws[2];
    /* with bias or post-ops a row is computed into a buffer, then finished into dst */
    const int epilogue = bias || po->len;
    const int64_t max_taps = p->kd * p->kh * p->kw, buf_pix = MAX_NV * VLEN;
#pragma omp parallel
    {
        int64_t *off = malloc(sizeof(int64_t) * 2 * max_taps);
        float *buf = epilogue ? malloc(sizeof(float) * p->ow * buf_pix) : NULL;
        float *pad_rows = pad_w ? calloc(p->kd * p->kh * pad_w * p->ic, sizeof(float)) : NULL;
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; ++r) {
            /* r -> (n, g, oc block, od, oh), oc block outside the rows so that a
             * thread's consecutive rows reuse one block of weights */
            const int64_t oh = r % p->oh, od = (r / p->oh) % p->od;
            const int64_t ob = (r / (p->oh * p->od)) % oc_blocks;
            const int64_t g = (r / (p->oh * p->od * oc_blocks)) % p->g;
            const int64_t n = r / (p->oh * p->od * oc_blocks * p->g);
            const int64_t oc0 = ob * MAX_NV * VLEN;
            const int64_t noc = p->oc - oc0 < MAX_NV * VLEN ? p->oc - oc0 : MAX_NV * VLEN;
            float *dst_row = dst + n * ds[0] + g * p->oc + oc0 + od * ds[2] + oh * ds[3];
            taps_t tp;
            row_taps(p, od, oh, src + n * ss[0] + g * p->ic, pad_w, pad_rows, fuse_kw, off,
                     off + max_taps, &tp);
            row(&tp, p->ow, noc, wei + g * ws[0] + oc0, epilogue ? buf : dst_row,
                epilogue ? buf_pix : ds[4]);
            if (epilogue)
                for (int64_t x = 0; x < p->ow; ++x)
                    dnnl_epilogue_row(noc, buf + x * buf_pix, dst_row + x * ds[4],
                                      bias ? bias + g * p->oc + oc0 : NULL, 1, po);
        }
        free(pad_rows);
        free(buf);
        free(off);
    }
}
