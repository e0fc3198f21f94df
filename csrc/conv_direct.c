/* Direct forward convolution for channels-last src/dst and weights with the output
 * channel innermost (the arrangement of oneDNN's x64 "brgemm" kernels).
 *
 * Each step keeps a block of up to 14 output pixels x 32 output channels in vector
 * registers and accumulates over a range of taps and input channels, broadcasting the
 * source values straight from memory: no im2col buffer. The pixels of a block may lie
 * on different rows: each has its own offset, the taps' offsets are shared. That needs
 * every tap of every pixel to be inside the source, so a problem with padding first
 * copies src into a zero-padded scratch image. That is the general path; problems
 * with input channels a multiple of 16 and several taps take the row-block path
 * below (conv_rows), which skips the padded taps and keeps no per-pixel offsets.
 *
 * Blocking parameters, chosen by the caller (tuned or heuristic): a work item covers
 * ocw output channels (a multiple of 16, at most MAX_OCW) and a pass kc steps. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dnnl_kernels.h"
#include "isa.h"

#define VLEN 16     /* floats per vector */
#define MAX_NV 2    /* vectors of output channels per block: 32 channels */
#define WIDE_NV 4   /* ... and per block of a short row (at most WIDE_R pixels): 64 */
#define WIDE_R 7
#define MAX_R 14    /* pixels per block: 14 x 2 accumulators, 2 weight vectors and a
                     * broadcast fill 31 of the 32 zmm registers */
#define CHUNK (8 * MAX_R) /* pixels per work item: they share each pass's weights */
#define MAX_OCW 128 /* output channels per work item, at most */
#define PF_STEPS 48 /* weight rows prefetched ahead: half a pass of kc = 96 steps, each
                     * step 14 x 2 FMAs, so a row is asked for well over L3's latency
                     * before it is used */

typedef float vf __attribute__((vector_size(VLEN * 4), aligned(4)));
#include "fused.h"

/* A block's accumulators: R pixels x NV vectors at out + out_off[pixel], started at zero
 * or at what out holds (a later pass), and stored back. */
static inline __attribute__((always_inline)) void acc_load(const int R, const int NV,
        vf acc[MAX_R][WIDE_NV], int accumulate, const float *out, const int64_t *out_off) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j)
            acc[r][j] = accumulate ? *(const vf *)(out + out_off[r] + j * VLEN) : (vf){0};
}

static inline __attribute__((always_inline)) void acc_store(const int R, const int NV,
        vf acc[MAX_R][WIDE_NV], float *out, const int64_t *out_off) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) *(vf *)(out + out_off[r] + j * VLEN) = acc[r][j];
}

/* A step i of tap t reads src[pix_off[r] + src_off[t] + i] for pixel r of a block and
 * the weight vectors at wei[wei_off[t] + i * wei_step]. A tap's `run` steps are the
 * input channels of one kernel position, or of a whole row of kw positions when those
 * lie back to back in memory. */
typedef struct {
    int ntaps;
    int64_t run, wei_step;
    const int64_t *src_off, *wei_off;
} taps_t;

/* Cache lines to ask for while a block computes, one per step: line[0, nread) to be
 * read, line[nread, n) to be written. */
typedef struct {
    const uintptr_t *line;
    int64_t nread, n;
} pf_t;

/* out[R pixels, NV vectors] (+)= the steps [i0, i1) of taps [t0, t1), prefetching pf's
 * lines on the way if PF (an instance of its own: the counters cost res3a_branch2a's
 * block, short of general registers already, 4% where they went unused). */
static inline __attribute__((always_inline)) void block(const int R, const int NV, const int PF,
        const taps_t *tp, int t0, int t1, int64_t i0, int64_t i1, int accumulate,
        const float *src, const int64_t *pix_off, const float *wei, float *out,
        const int64_t *out_off, pf_t pf) {
    int64_t step = 0;
    vf acc[MAX_R][WIDE_NV];
    acc_load(R, NV, acc, accumulate, out, out_off);
    for (int t = t0; t < t1; ++t) {
        const float *s = src + tp->src_off[t];
        const float *w = wei + tp->wei_off[t] + i0 * tp->wei_step;
        for (int64_t i = i0; i < i1; ++i, w += tp->wei_step) {
            vf wv[MAX_NV];
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j) {
                /* Weight rows lie wei_step apart (2 KiB on ResNet's deep layers: two
                 * per 4 KiB page), a stride the hardware prefetchers do not follow
                 * across pages, so the first block of pixels through a pass would wait
                 * on L3 for every row. Prefetches never fault, so the rows past the
                 * last step are harmless; the address is formed as an integer, a
                 * pointer past the weights being undefined in C. */
                __builtin_prefetch((const void *)((uintptr_t)(w + j * VLEN)
                                                  + PF_STEPS * tp->wei_step * sizeof(float)),
                                   0, 3);
                wv[j] = *(const vf *)(w + j * VLEN);
            }
            if (PF) {
                if (step < pf.nread)
                    __builtin_prefetch((const void *)pf.line[step], 0, 3);
                else if (step < pf.n)
                    __builtin_prefetch((void *)pf.line[step], 1, 3);
                ++step;
            }
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
                const float b = s[pix_off[r] + i];
#pragma GCC unroll 4
                for (int j = 0; j < NV; ++j) acc[r][j] += b * wv[j];
            }
        }
    }
    acc_store(R, NV, acc, out, out_off);
}

/* One instance per (R, NV, PF) so that the accumulators live in registers. */
#define CASE(R, NV, PF) \
    case R: \
        block(R, NV, PF, tp, t0, t1, i0, i1, accumulate, src, pix_off, wei, out, out_off, \
              pf); \
        break;
#define CASES(NV, PF) CASE(1, NV, PF) CASE(2, NV, PF) CASE(3, NV, PF) CASE(4, NV, PF) \
    CASE(5, NV, PF) CASE(6, NV, PF) CASE(7, NV, PF) CASE(8, NV, PF) CASE(9, NV, PF) \
    CASE(10, NV, PF) CASE(11, NV, PF) CASE(12, NV, PF) CASE(13, NV, PF) CASE(14, NV, PF)
static inline __attribute__((always_inline)) void block_nv(int r, int nv,
        const taps_t *tp, int t0, int t1, int64_t i0, int64_t i1, int accumulate,
        const float *src, const int64_t *pix_off, const float *wei, float *out,
        const int64_t *out_off, pf_t pf) {
    if (nv == MAX_NV && pf.n) {
        switch (r) { CASES(MAX_NV, 1) }
    } else if (nv == MAX_NV) {
        switch (r) { CASES(MAX_NV, 0) }
    } else if (pf.n) {
        switch (r) { CASES(1, 1) }
    } else {
        switch (r) { CASES(1, 0) }
    }
}
#undef CASES
#undef CASE

#define MAX_PF 256 /* lines prefetched per block of pixels, at most */
/* src + dst bytes from which a 1x1 prefetches (see pixels): past L3's share of a core,
 * between minibatch 1 (1.6 MB, slower with) and 32 (51 MB, faster) of res2a_branch2a */
#define STREAM_BYTES DNNL_CONV_STREAM_BYTES

/* The source and dst lines of the pixels [x, x + MAX_R) below npix, source first, at
 * most MAX_PF; returns how many, *nread of them source. */
static inline __attribute__((always_inline)) int64_t next_lines(const taps_t *tp,
        int64_t x, int64_t npix, int64_t noc, const float *src, const int64_t *pix_off,
        float *out, const int64_t *out_off, uintptr_t *line, int64_t *nread) {
    const int64_t end = DNNL_MIN(npix, x + MAX_R);
    int64_t n = 0;
    for (int pass = 0; pass < 2; ++pass) {
        for (int64_t q = x; q < end; ++q) {
            const uintptr_t a = pass ? (uintptr_t)(out + out_off[q])
                                     : (uintptr_t)(src + pix_off[q] + tp->src_off[0]);
            const uintptr_t e = a + (pass ? noc : tp->run) * sizeof(float);
            for (uintptr_t l = a & ~(uintptr_t)63; l < e && n < MAX_PF; l += 64) line[n++] = l;
        }
        if (!pass) *nread = n;
    }
    return n;
}

/* npix pixels x noc channels into out + out_off[pixel]: passes of kc steps over the
 * taps, short enough for their weights (kc x noc) to stay in L1 while every block of
 * pixels goes through them, each block's source staying there across the channel
 * blocks; later passes add to what earlier ones stored. */
static inline __attribute__((always_inline)) void pixels(const taps_t *tp, int64_t kc,
        int64_t npix, int64_t noc, const float *src, const int64_t *pix_off, const float *wei,
        float *out, const int64_t *out_off, int large) {
    const int64_t splits = tp->run >= kc ? (tp->run + kc - 1) / kc : 1;
    const int per_pass = tp->run >= kc ? 1 : (int)(kc / tp->run);
    /* One tap in one pass (a 1x1): each source line is read by one block of pixels and
     * each dst line written by it, straight from and to memory at minibatch 32 (25 MB
     * each for ResNet-50's res2a_branch2a), and the hardware prefetchers left the FMAs
     * waiting: that layer ran at 70 GF/s on one thread against 101 at minibatch 1. So
     * each block asks for the next block's source and dst lines (the stores' read for
     * ownership), one per step, spread over its channel blocks (all at once, before
     * the block, gained ~2%: too many misses in flight at once): 1.25-1.3x there. Only
     * on `large` problems: where src and dst stay in the caches (the same layer at
     * minibatch 1, 1.6 MB) listing the lines cost 6%. */
    const int stream = large && tp->ntaps == 1 && splits == 1;
    uintptr_t line[MAX_PF];
    for (int t0 = 0; t0 < tp->ntaps; t0 += per_pass) {
        const int t1 = DNNL_MIN(t0 + per_pass, tp->ntaps);
        for (int64_t k = 0; k < splits; ++k) {
            const int64_t i0 = tp->run * k / splits, i1 = tp->run * (k + 1) / splits;
            for (int64_t x = 0; x < npix; x += MAX_R) {
                const int r = (int)DNNL_MIN(npix - x, MAX_R);
                int64_t nread = 0;
                const int64_t n = stream ? next_lines(tp, x + MAX_R, npix, noc, src, pix_off,
                                                      out, out_off, line, &nread) : 0;
                const int64_t cblocks = (noc + MAX_NV * VLEN - 1) / (MAX_NV * VLEN);
                const int64_t per = (n + cblocks - 1) / cblocks;
                for (int64_t c = 0, l0 = 0; c < noc; l0 += per) {
                    const int nv = noc - c >= MAX_NV * VLEN ? MAX_NV : 1;
                    const int64_t left = n > l0 ? n - l0 : 0;
                    const pf_t pf = {line + l0, nread > l0 ? nread - l0 : 0,
                                     DNNL_MIN(per, left)};
                    block_nv(r, nv, tp, t0, t1, i0, i1, t0 > 0 || k > 0, src,
                             pix_off + x, wei + c, out + c, out_off + x, pf);
                    c += nv * VLEN;
                }
            }
        }
    }
}

/* The zero-padded source image: extents (d, h, w) with padding on both sides, and
 * whether one is needed at all. */
typedef struct { int needed; int64_t d, h, w; } padded_t;

static int64_t padded_extent(int64_t in, int64_t out, int64_t k, int64_t s, int64_t dil,
                             int64_t pad, int *needed) {
    const int64_t last = (out - 1) * s - pad + (k - 1) * (dil + 1); /* last input read */
    if (pad > 0 || last >= in) *needed = 1;
    return pad + (last + 1 > in ? last + 1 : in);
}

static padded_t padded_shape(const dnnl_conv_t *p) {
    padded_t pp = {0, 0, 0, 0};
    pp.d = padded_extent(p->id, p->od, p->kd, p->sd, p->dd, p->pd, &pp.needed);
    pp.h = padded_extent(p->ih, p->oh, p->kh, p->sh, p->dh, p->ph, &pp.needed);
    pp.w = padded_extent(p->iw, p->ow, p->kw, p->sw, p->dw, p->pw, &pp.needed);
    return pp;
}

/* ---- Row blocks: input channels a multiple of 16 and a kernel of several taps ----
 *
 * The source is copied once into a blocked image [n][g][d][h][ic / 16][sw][w / sw][16]:
 * the columns split by their phase modulo the stride, zeros where the padding is
 * along w. A block of output pixels lies on one output row, so its pixels read columns
 * one stride apart, which are 16 floats apart in that image whatever ic and the
 * stride are: the kernel reads pixel r's channel i at a displacement (16 r + i) known
 * at compile time from one pointer per unit of 16 channels, and needs no per-pixel
 * offsets (they did not fit the general registers). One row also means one range of
 * kd and kh taps inside the source: the taps that fall into the top and bottom (front
 * and back) padding are skipped, not multiplied by zeros. Left and right, a block's
 * first (last) pixel is left out of the taps that put it in the padding; padding wider
 * than that is multiplied (the image's zero columns). */

/* A unit is 16 input channels of one tap: its source offset in the blocked image and
 * its weights' offset, and the tap it belongs to. */
typedef struct {
    int64_t src, wei;
    int64_t kd, kh, x; /* x: the tap's column offset, kw (dw + 1) */
} unit_t;

/* The blocked image's extents: w columns per phase, wp padded columns in all. */
typedef struct { int64_t wq, wp, nicb, row, plane, image; } blocked_t;

static blocked_t blocked_shape(const dnnl_conv_t *p) {
    blocked_t b;
    const int64_t last = (p->ow - 1) * p->sw - p->pw + (p->kw - 1) * (p->dw + 1);
    b.wp = p->pw + (last + 1 > p->iw ? last + 1 : p->iw);
    b.wq = (b.wp + p->sw - 1) / p->sw;
    b.nicb = p->ic / VLEN;
    b.row = b.nicb * p->sw * b.wq * VLEN; /* floats per input row */
    b.plane = p->ih * b.row;
    b.image = p->id * b.plane; /* per (n, g) */
    return b;
}

static int use_rows(const dnnl_conv_t *p) {
    return p->ic % VLEN == 0 && p->kd * p->kh * p->kw > 1;
}

/* src (n, g, d, h) rows -> the blocked image. */
static void block_source(const dnnl_conv_t *p, blocked_t b, const float *src, float *img) {
    const int64_t *ss = p->src_s, rows = p->mb * p->g * p->id * p->ih;
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
        const int64_t ih = row % p->ih, id = (row / p->ih) % p->id, ng = row / (p->ih * p->id);
        const float *in = src + (ng / p->g) * ss[0] + (ng % p->g) * p->ic + id * ss[2]
                          + ih * ss[3];
        float *out = img + row * b.row;
        for (int64_t cb = 0; cb < b.nicb; ++cb)
            for (int64_t ph = 0; ph < p->sw; ++ph)
                for (int64_t q = 0; q < b.wq; ++q, out += VLEN) {
                    const int64_t iw = q * p->sw + ph - p->pw;
                    if (iw >= 0 && iw < p->iw)
                        memcpy(out, in + iw * ss[4] + cb * VLEN, sizeof(float) * VLEN);
                    else
                        memset(out, 0, sizeof(float) * VLEN);
                }
    }
}

/* acc (+)= the 16 steps of one unit for pixels [A, R - B) of a block: A (B) is 1 where
 * the block's first (last) pixel reads the left (right) padding at this unit's tap. */
static inline __attribute__((always_inline)) void row_steps(const int R, const int NV,
        const int A, const int B, vf acc[MAX_R][WIDE_NV], const float *s, const float *w,
        int64_t wstep) {
    /* not unrolled: with s and w advancing each step, every broadcast is s + 64 r bytes,
     * and the 28 accumulators keep their registers (unrolled, GCC interleaved steps
     * and spilled them) */
#pragma GCC unroll 1
    for (int i = 0; i < VLEN; ++i, w += wstep, ++s) {
        vf wv[WIDE_NV];
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) {
            /* see block() */
            __builtin_prefetch((const void *)((uintptr_t)(w + j * VLEN)
                                              + PF_STEPS * wstep * sizeof(float)), 0, 3);
            wv[j] = *(const vf *)(w + j * VLEN);
        }
#pragma GCC unroll 16
        for (int r = A; r < R - B; ++r) {
            const float v = s[r * VLEN];
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j) acc[r][j] += v * wv[j];
        }
    }
}

/* out[R pixels, NV vectors] (+)= n units: unit u reads src + soff[u] and
 * wei + woff[u], rows wstep floats apart, skipping the edge pixels edge[u] names; then,
 * on the block's last pass, f's bias and activation (fused.h; never a sum: the earlier
 * passes' partial sums lie in dst). */
static inline __attribute__((always_inline)) void row_block(const int R, const int NV,
        const int64_t *soff, const int64_t *woff, const unsigned char *edge, int n,
        int64_t wstep, int accumulate, const float *src, const float *wei, float *out,
        const int64_t *out_off, const fused_t *f) {
    vf acc[MAX_R][WIDE_NV];
    acc_load(R, NV, acc, accumulate, out, out_off);
    for (int u = 0; u < n; ++u) {
        const float *s = src + soff[u], *w = wei + woff[u];
        switch (edge[u]) {
        case 0: row_steps(R, NV, 0, 0, acc, s, w, wstep); break;
        case 1: row_steps(R, NV, 1, 0, acc, s, w, wstep); break;
        case 2: row_steps(R, NV, 0, 1, acc, s, w, wstep); break;
        default: row_steps(R, NV, 1, 1, acc, s, w, wstep); break;
        }
    }
    if (f) {
        if (f->bias) FUSED_BIAS(acc, R, NV, f);
        FUSED_ACT(acc, R, NV, f);
    }
    acc_store(R, NV, acc, out, out_off);
}

#define CASE(R, NV) \
    case R: \
        row_block(R, NV, soff, woff, edge, n, wstep, accumulate, src, wei, out, out_off, f); \
        break;
#define CASES(NV) CASE(1, NV) CASE(2, NV) CASE(3, NV) CASE(4, NV) CASE(5, NV) \
    CASE(6, NV) CASE(7, NV) CASE(8, NV) CASE(9, NV) CASE(10, NV) CASE(11, NV) \
    CASE(12, NV) CASE(13, NV) CASE(14, NV)
static inline __attribute__((always_inline)) void row_block_nv(int r, int nv,
        const int64_t *soff, const int64_t *woff, const unsigned char *edge, int n,
        int64_t wstep, int accumulate, const float *src, const float *wei, float *out,
        const int64_t *out_off, const fused_t *f) {
    if (nv == WIDE_NV) {
        switch (r) { CASE(1, WIDE_NV) CASE(2, WIDE_NV) CASE(3, WIDE_NV) CASE(4, WIDE_NV)
                     CASE(5, WIDE_NV) CASE(6, WIDE_NV) CASE(7, WIDE_NV) }
    } else if (nv == MAX_NV) {
        switch (r) { CASES(MAX_NV) }
    } else {
        switch (r) { CASES(1) }
    }
}
#undef CASES
#undef CASE

/* A block of output pixels: r pixels of one row from (od, oh, ow0). */
typedef struct { int64_t od, oh, ow0; int r; } row_t;
#define ROWS_PER_ITEM 8 /* blocks per work item, at most CHUNK pixels */
#define MAX_PASS_UNITS 64 /* units per pass, at most (kc / 16 otherwise) */

/* Blocks per output row: rows of up to MAX_R pixels, each split evenly (28 -> 14 + 14,
 * 7 -> 7, 30 -> 10 + 10 + 10). */
static int64_t row_segments(const dnnl_conv_t *p) { return (p->ow + MAX_R - 1) / MAX_R; }

/* Floats of scratch: the blocked image, then the units and the row blocks. */
static int64_t rows_scratch(const dnnl_conv_t *p) {
    const blocked_t b = blocked_shape(p);
    const int64_t nunits = p->kd * p->kh * p->kw * b.nicb;
    const int64_t nrows = p->od * p->oh * row_segments(p);
    return p->mb * p->g * b.image
           + (int64_t)((nunits * sizeof(unit_t) + nrows * sizeof(row_t)) / sizeof(float)) + 1;
}

DNNL_MULTIVERSION
static void conv_rows(const dnnl_conv_t *p, const float *src, const float *wei,
                      const float *bias, float *dst, const dnnl_post_ops_t *po,
                      int64_t ocw, int64_t kc, float *scratch) {
    const int64_t *ds = p->dst_s, *ws = p->wei_s;
    const blocked_t b = blocked_shape(p);
    block_source(p, b, src, scratch);
    /* the units and rows lie in the scratch after the image (see rows_scratch) */
    const int64_t nunits = p->kd * p->kh * p->kw * b.nicb;
    unit_t *units = (unit_t *)(scratch + p->mb * p->g * b.image);
    const int64_t segs = row_segments(p), nrows = p->od * p->oh * segs;
    row_t *rows = (row_t *)(units + nunits);
    int64_t k = 0;
    for (int64_t kd = 0; kd < p->kd; ++kd)
        for (int64_t kh = 0; kh < p->kh; ++kh)
            for (int64_t kw = 0; kw < p->kw; ++kw)
                for (int64_t cb = 0; cb < b.nicb; ++cb, ++k) {
                    const int64_t x = kw * (p->dw + 1); /* column of pixel 0's tap */
                    units[k].src = kd * (p->dd + 1) * b.plane + kh * (p->dh + 1) * b.row
                                   + (cb * p->sw + x % p->sw) * b.wq * VLEN
                                   + x / p->sw * VLEN;
                    units[k].wei = kd * ws[3] + kh * ws[4] + kw * ws[5] + cb * VLEN * ws[2];
                    units[k].kd = kd, units[k].kh = kh, units[k].x = x;
                }
    k = 0;
    for (int64_t od = 0; od < p->od; ++od)
        for (int64_t oh = 0; oh < p->oh; ++oh)
            for (int64_t s = 0; s < segs; ++s, ++k) {
                const int64_t ow0 = p->ow * s / segs;
                rows[k] = (row_t){od, oh, ow0, (int)(p->ow * (s + 1) / segs - ow0)};
            }
    const int64_t items_per_image = (nrows + ROWS_PER_ITEM - 1) / ROWS_PER_ITEM;
    const int64_t oc_blocks = (p->oc + ocw - 1) / ocw;
    const int64_t per_pass = DNNL_MIN(kc >= VLEN ? kc / VLEN : 1, MAX_PASS_UNITS);
    const int has_sum = dnnl_post_ops_have_sum(po);
    /* bias and a relu or clip in the row blocks' registers on their last pass (fused.h);
     * any other post-ops in a pass over each item's output afterwards */
    fused_t fused;
    const int in_registers = !has_sum && (bias || po->len) && fused_from(bias, po, 0, &fused);
    const int finish = (bias || po->len) && !in_registers;
    /* The items of an image: a thread's share of them either covers a band of the
     * image with every output channel (chunk-major) or a band of output channels over
     * the whole image (oc-major), reading all the weights and its band of the blocked
     * source, or its share of the weights and all the source. Chunk-major keeps the
     * band block_source's static schedule had the thread write in its own cache: in
     * ResNet-50's run loop oc-major was 6-12% slower on res3a_branch2b (1.7 MB of
     * source, 0.6 MB of weights) and ~8% on res3's 3x3s (0.46 and 0.6 MB), and 4-7%
     * faster on res4's (0.26 and 2.4 MB, the weights coming from memory). */
    const int64_t wei_bytes = p->kd * p->kh * p->kw * p->ic * p->oc * (int64_t)sizeof(float);
    const int oc_major = oc_blocks > 1 && wei_bytes > 4 * b.image * (int64_t)sizeof(float);
#pragma omp parallel
    {
        int64_t dst_off[CHUNK], buf_off[CHUNK], first[ROWS_PER_ITEM];
        int64_t lo[ROWS_PER_ITEM][2], hi[ROWS_PER_ITEM][2], base[ROWS_PER_ITEM];
        int64_t soff[MAX_PASS_UNITS], woff[MAX_PASS_UNITS];
        unsigned char edge[MAX_PASS_UNITS];
        float buf[CHUNK * MAX_OCW];
        for (int64_t q = 0; q < CHUNK; ++q) buf_off[q] = q * ocw;
#pragma omp for schedule(static)
        for (int64_t item = 0; item < p->mb * p->g * oc_blocks * items_per_image; ++item) {
            const int64_t inner = item % (oc_blocks * items_per_image);
            const int64_t ob = oc_major ? inner / items_per_image : inner % oc_blocks;
            const int64_t chunk = oc_major ? inner % items_per_image : inner / oc_blocks;
            const int64_t g = (item / (items_per_image * oc_blocks)) % p->g;
            const int64_t n = item / (items_per_image * oc_blocks * p->g);
            const int64_t r0 = nrows * chunk / items_per_image;
            const row_t *rw = rows + r0;
            const int nb = (int)(nrows * (chunk + 1) / items_per_image - r0);
            const int64_t oc0 = ob * ocw, noc = DNNL_MIN(p->oc - oc0, ocw);
            float *d = dst + n * ds[0] + g * p->oc + oc0;
            float *out = has_sum ? buf : d;
            const int64_t *out_off = has_sum ? buf_off : dst_off;
            const float *img = scratch + (n * p->g + g) * b.image;
            int npix = 0;
            for (int bi = 0; bi < nb; ++bi) {
                const row_t *x = rw + bi;
                /* the taps of this row inside the source: kd in [lo0, hi0), kh in [lo1, hi1) */
                const int64_t o[2] = {x->od, x->oh}, s[2] = {p->sd, p->sh};
                const int64_t pad[2] = {p->pd, p->ph}, dil[2] = {p->dd, p->dh};
                const int64_t in[2] = {p->id, p->ih}, kk[2] = {p->kd, p->kh};
                for (int a = 0; a < 2; ++a) {
                    const int64_t i0 = o[a] * s[a] - pad[a], step = dil[a] + 1;
                    lo[bi][a] = i0 >= 0 ? 0 : (-i0 + step - 1) / step;
                    hi[bi][a] = i0 >= in[a] ? 0 : DNNL_MIN(kk[a], (in[a] - 1 - i0) / step + 1);
                }
                first[bi] = lo[bi][0] < hi[bi][0] && lo[bi][1] < hi[bi][1]
                                ? (lo[bi][0] * p->kh + lo[bi][1]) * p->kw * b.nicb : -1;
                base[bi] = (x->od * p->sd - p->pd) * b.plane + (x->oh * p->sh - p->ph) * b.row
                           + x->ow0 * VLEN;
                for (int r = 0; r < x->r; ++r, ++npix)
                    dst_off[npix] = x->od * ds[2] + x->oh * ds[3] + (x->ow0 + r) * ds[4];
            }
            fused_t here = fused; /* this item's channels of the bias */
            if (in_registers && bias) here.bias = bias + g * p->oc + oc0;
            for (int64_t u0 = 0; u0 < nunits; u0 += per_pass) {
                const int64_t u1 = DNNL_MIN(u0 + per_pass, nunits);
                const int fuse = in_registers && u1 == nunits;
                for (int bi = 0, q = 0; bi < nb; q += rw[bi].r, ++bi) {
                    if (first[bi] < 0 || first[bi] >= u1) continue;
                    /* the pass's units whose taps reach the source from this row */
                    int nu = 0;
                    for (int64_t u = u0; u < u1; ++u) {
                        const unit_t *t = units + u;
                        if (t->kd < lo[bi][0] || t->kd >= hi[bi][0] || t->kh < lo[bi][1]
                            || t->kh >= hi[bi][1])
                            continue;
                        /* pixels at the start (end) of the block whose column at this
                         * tap is left (right) padding */
                        const int64_t iw0 = rw[bi].ow0 * p->sw - p->pw + t->x;
                        const int64_t a = iw0 >= 0 ? 0 : (-iw0 + p->sw - 1) / p->sw;
                        const int64_t last = iw0 + (rw[bi].r - 1) * p->sw;
                        const int64_t z = last < p->iw ? 0 : (last - p->iw) / p->sw + 1;
                        if (a + z >= rw[bi].r) continue; /* all padding */
                        soff[nu] = base[bi] + t->src, woff[nu] = t->wei;
                        edge[nu++] = (unsigned char)((a > 0) | (z > 0) << 1);
                    }
                    /* a pass that starts the block's sum stores it even when empty, and
                     * so does the last one when it applies the fused post-ops */
                    if (!nu && first[bi] < u0 && !fuse) continue;
                    for (int64_t c = 0; c < noc;) {
                        /* a short row (res5's 7 pixels) fills the registers with 64
                         * channels: 7 x 2 accumulators left half of them idle and loaded 9
                         * values per 14 FMAs (res5a_branch2b 10% faster this way) */
                        const int nv = rw[bi].r <= WIDE_R && noc - c >= WIDE_NV * VLEN
                                           ? WIDE_NV : noc - c >= MAX_NV * VLEN ? MAX_NV : 1;
                        fused_t at_c = here;
                        if (at_c.bias) at_c.bias += c;
                        row_block_nv(rw[bi].r, nv, soff, woff, edge, nu, ws[2], first[bi] < u0,
                                     img, wei + g * ws[0] + oc0 + c, out + c, out_off + q,
                                     fuse ? &at_c : NULL);
                        c += nv * VLEN;
                    }
                }
            }
            /* a row whose taps all fall into the padding sums nothing (and its post-ops
             * come after: no pass had it) */
            const float *bb = bias ? bias + g * p->oc + oc0 : NULL;
            for (int bi = 0, q = 0; bi < nb; q += rw[bi].r, ++bi)
                if (first[bi] < 0)
                    for (int r = 0; r < rw[bi].r; ++r) {
                        memset(out + out_off[q + r], 0, sizeof(float) * noc);
                        if (in_registers)
                            dnnl_epilogue_row(noc, d + dst_off[q + r], d + dst_off[q + r], bb, 1,
                                              po);
                    }
            if (finish)
                for (int q = 0; q < npix; ++q)
                    dnnl_epilogue_row(noc, has_sum ? buf + buf_off[q] : d + dst_off[q],
                                      d + dst_off[q], bb, 1, po);
        }
    }
}

int dnnl_conv_direct_supported(const dnnl_conv_t *p) {
    return p->oc % VLEN == 0 && p->src_s[1] == 1 && p->dst_s[1] == 1 && p->wei_s[1] == 1;
}

int64_t dnnl_conv_direct_scratch_size(const dnnl_conv_t *p) {
    if (use_rows(p)) return rows_scratch(p);
    const padded_t pp = padded_shape(p);
    return pp.needed ? p->mb * p->g * pp.d * pp.h * pp.w * p->ic : 0;
}

/* src (n, g) images -> scratch [n][g][d][h][w][ic], zeros around. */
static void pad_source(const dnnl_conv_t *p, padded_t pp, const float *src, float *scratch) {
    const int64_t *ss = p->src_s, rows = p->mb * p->g * pp.d * pp.h;
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
        const int64_t h = row % pp.h, d = (row / pp.h) % pp.d, ng = row / (pp.h * pp.d);
        const int64_t ih = h - p->ph, id = d - p->pd;
        float *out = scratch + row * pp.w * p->ic;
        if (ih < 0 || ih >= p->ih || id < 0 || id >= p->id) {
            memset(out, 0, sizeof(float) * pp.w * p->ic);
            continue;
        }
        const float *in = src + (ng / p->g) * ss[0] + (ng % p->g) * p->ic + id * ss[2]
                          + ih * ss[3];
        memset(out, 0, sizeof(float) * p->pw * p->ic);
        for (int64_t x = 0; x < p->iw; ++x)
            memcpy(out + (p->pw + x) * p->ic, in + x * ss[4], sizeof(float) * p->ic);
        memset(out + (p->pw + p->iw) * p->ic, 0, sizeof(float) * (pp.w - p->pw - p->iw) * p->ic);
    }
}

DNNL_MULTIVERSION
void dnnl_conv_direct(const dnnl_conv_t *p, const float *src, const float *wei,
                      const float *bias, float *dst, const dnnl_post_ops_t *po,
                      int64_t ocw, int64_t kc, float *scratch) {
    if (use_rows(p)) {
        conv_rows(p, src, wei, bias, dst, po, ocw, kc, scratch);
        return;
    }
    const int64_t *ds = p->dst_s, *ws = p->wei_s;
    const padded_t pp = padded_shape(p);
    /* strides of the source read: (n, g, d, h, w), channels dense in the padded copy */
    int64_t ss[5] = {p->src_s[0], p->ic, p->src_s[2], p->src_s[3], p->src_s[4]};
    if (pp.needed) {
        pad_source(p, pp, src, scratch);
        src = scratch;
        ss[4] = p->ic, ss[3] = pp.w * ss[4], ss[2] = pp.h * ss[3];
        ss[1] = pp.d * ss[2], ss[0] = p->g * ss[1];
    }
    /* the taps, shared by every pixel; kw positions and channels form one run when
     * they are back to back in src and wei */
    const int fuse_kw = p->dw == 0 && ss[4] == p->ic && ws[5] == p->ic * ws[2];
    const int64_t max_taps = p->kd * p->kh * p->kw;
    int64_t *tap_off = malloc(sizeof(int64_t) * 2 * max_taps);
    taps_t tp = {0, fuse_kw ? p->kw * p->ic : p->ic, ws[2], tap_off, tap_off + max_taps};
    for (int64_t kd = 0; kd < p->kd; ++kd)
        for (int64_t kh = 0; kh < p->kh; ++kh)
            for (int64_t kw = 0; kw < (fuse_kw ? 1 : p->kw); ++kw, ++tp.ntaps) {
                tap_off[tp.ntaps] = kd * (p->dd + 1) * ss[2] + kh * (p->dh + 1) * ss[3]
                                    + kw * (p->dw + 1) * ss[4];
                tap_off[max_taps + tp.ntaps] = kd * ws[3] + kh * ws[4] + kw * ws[5];
            }
    const int64_t pix = p->od * p->oh * p->ow, chunks = (pix + CHUNK - 1) / CHUNK;
    const int large = p->mb * p->g * pix * (p->ic + p->oc) * (int64_t)sizeof(float)
                      > STREAM_BYTES;
    const int64_t oc_blocks = (p->oc + ocw - 1) / ocw;
    /* Without a sum post-op the passes accumulate in dst itself and bias and
     * post-ops are applied there; a sum needs the old dst, so they go to a buffer. */
    const int has_sum = dnnl_post_ops_have_sum(po), finish = bias || po->len;
#pragma omp parallel
    {
        int64_t pix_off[CHUNK], dst_off[CHUNK], buf_off[CHUNK];
        float buf[CHUNK * MAX_OCW];
        for (int64_t q = 0; q < CHUNK; ++q) buf_off[q] = q * ocw;
        /* items ordered (n, g, oc block, chunk): a thread's consecutive items share
         * one block of weights */
#pragma omp for schedule(static)
        for (int64_t item = 0; item < p->mb * p->g * oc_blocks * chunks; ++item) {
            const int64_t chunk = item % chunks, ob = (item / chunks) % oc_blocks;
            const int64_t g = (item / (chunks * oc_blocks)) % p->g;
            const int64_t n = item / (chunks * oc_blocks * p->g);
            const int64_t q0 = chunk * CHUNK, npix = DNNL_MIN(pix - q0, CHUNK);
            for (int64_t q = 0; q < npix; ++q) {
                int64_t od, oh, ow;
                dnnl_conv_pixel_coords(p, q0 + q, &od, &oh, &ow);
                pix_off[q] = od * p->sd * ss[2] + oh * p->sh * ss[3] + ow * p->sw * ss[4];
                dst_off[q] = od * ds[2] + oh * ds[3] + ow * ds[4];
            }
            const int64_t oc0 = ob * ocw;
            const int64_t noc = DNNL_MIN(p->oc - oc0, ocw);
            float *d = dst + n * ds[0] + g * p->oc + oc0;
            const float *b = bias ? bias + g * p->oc + oc0 : NULL;
            pixels(&tp, kc, npix, noc, src + n * ss[0] + g * ss[1], pix_off,
                   wei + g * ws[0] + oc0, has_sum ? buf : d, has_sum ? buf_off : dst_off,
                   large);
            if (finish)
                for (int64_t q = 0; q < npix; ++q)
                    dnnl_epilogue_row(noc, has_sum ? buf + buf_off[q] : d + dst_off[q],
                                      d + dst_off[q], b, 1, po);
        }
    }
    free(tap_off);
}
