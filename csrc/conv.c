/* Forward convolution: im2col + BLAS, a depthwise direct kernel, and the reference. */
#include <stdlib.h>
#include <string.h>
#include "dnnl_kernels.h"
#include "isa.h"

/* Input coordinate that kernel tap k of output o reads (may fall in the padding). */
static inline int64_t src_coord(int64_t o, int64_t k, int64_t stride, int64_t pad,
                                int64_t dil) {
    return o * stride - pad + k * (dil + 1);
}

/* The GEMM arrangements (K = ic * kd * kh * kw per group, P = output pixels):
 *  channels-last  dst[P, oc] = col[P, K] . wei[K, oc]; K ordered (kd, kh, kw, ic)
 *  channels-first dst[oc, P] = wei[oc, K] . col[K, P]; K ordered (ic, kd, kh, kw)
 * col is src itself for a dense 1x1 convolution with unit strides and no padding. */
static int src_is_col(const dnnl_conv_t *p, int channels_last) {
    if (p->kd * p->kh * p->kw != 1 || p->sd * p->sh * p->sw != 1) return 0;
    if (p->pd || p->ph || p->pw) return 0;
    const int64_t *s = p->src_s;
    const int64_t px = channels_last ? s[4] : 1; /* stride between pixels */
    if (!channels_last && s[4] != 1) return 0;
    return s[3] == p->iw * px && s[2] == p->ih * s[3];
}

/* Pixels of all images form one GEMM when both src and dst step evenly over n. */
static int batch_is_rows(const dnnl_conv_t *p) {
    const int64_t pix = p->od * p->oh * p->ow;
    return p->src_s[0] == pix * p->src_s[4] && p->dst_s[0] == pix * p->dst_s[4];
}

int64_t dnnl_conv_gemm_scratch_size(const dnnl_conv_t *p, int channels_last,
                                    int64_t rows_per_chunk, int has_sum) {
    const int64_t k = p->ic * p->kd * p->kh * p->kw;
    int64_t size = src_is_col(p, channels_last) ? 0 : rows_per_chunk * k;
    if (has_sum) size += rows_per_chunk * p->oc;
    return size;
}

DNNL_MULTIVERSION
static void im2col(const dnnl_conv_t *p, int channels_last, const float *src, int64_t pix0,
                   int64_t npix, float *col) {
    const int64_t *s = p->src_s;
    const int64_t kdhw = p->kd * p->kh * p->kw, k = p->ic * kdhw;
#pragma omp parallel for schedule(static) if (npix * k > 32768)
    for (int64_t r = 0; r < npix; ++r) {
        int64_t od, oh, ow;
        dnnl_conv_pixel_coords(p, pix0 + r, &od, &oh, &ow);
        for (int64_t t = 0; t < kdhw; ++t) {
            const int64_t kw = t % p->kw, kh = (t / p->kw) % p->kh, kd = t / (p->kw * p->kh);
            const int64_t id = src_coord(od, kd, p->sd, p->pd, p->dd);
            const int64_t ih = src_coord(oh, kh, p->sh, p->ph, p->dh);
            const int64_t iw = src_coord(ow, kw, p->sw, p->pw, p->dw);
            const int inside = id >= 0 && id < p->id && ih >= 0 && ih < p->ih && iw >= 0
                               && iw < p->iw;
            const float *in = src + id * s[2] + ih * s[3] + iw * s[4];
            if (channels_last) {
                float *out = col + r * k + t * p->ic;
                if (inside) for (int64_t c = 0; c < p->ic; ++c) out[c] = in[c];
                else memset(out, 0, sizeof(float) * p->ic);
            } else {
                for (int64_t c = 0; c < p->ic; ++c)
                    col[(c * kdhw + t) * npix + r] = inside ? in[c * s[1]] : 0.0f;
            }
        }
    }
}

int dnnl_conv_gemm(const dnnl_conv_t *p, int channels_last, int64_t rows_per_chunk,
                   const float *src, const float *wei, const float *bias, float *dst,
                   const dnnl_post_ops_t *po, float *scratch) {
    const int64_t k = p->ic * p->kd * p->kh * p->kw;
    const int64_t pix = p->od * p->oh * p->ow;
    const int direct = src_is_col(p, channels_last);
    const int has_sum = dnnl_post_ops_have_sum(po);
    /* Without a sum post-op the GEMM writes dst and the epilogue works in place. */
    float *col = scratch, *acc = direct ? scratch : scratch + rows_per_chunk * k;
    /* channels-last with dense batch: all images' pixels are rows of one matrix */
    const int merge = channels_last && direct && batch_is_rows(p);
    const int64_t images = merge ? 1 : p->mb, rows = merge ? p->mb * pix : pix;
    const int64_t *ss = p->src_s, *ds = p->dst_s, *ws = p->wei_s;
    for (int64_t n = 0; n < images; ++n)
        for (int64_t r0 = 0; r0 < rows; r0 += rows_per_chunk) {
            const int64_t nr = DNNL_MIN(rows_per_chunk, rows - r0);
            for (int64_t g = 0; g < p->g; ++g) {
                const float *src_g = src + n * ss[0] + g * p->ic * ss[1];
                const float *wei_g = wei + g * ws[0];
                const float *bias_g = bias ? bias + g * p->oc : NULL;
                if (channels_last) {
                    float *dst_t = dst + n * ds[0] + g * p->oc + r0 * ds[4];
                    const float *a = direct ? src_g + r0 * ss[4] : col;
                    const int64_t lda = direct ? ss[4] : k;
                    if (!direct) im2col(p, 1, src_g, r0, nr, col);
                    float *out = has_sum ? acc : dst_t;
                    const int64_t ldo = has_sum ? p->oc : ds[4];
                    if (dnnl_sgemm_rm(0, 0, nr, p->oc, k, a, lda, wei_g, ws[2], 0.0f, out, ldo))
                        return -1;
                    dnnl_epilogue(nr, p->oc, out, ldo, dst_t, ds[4], bias_g, 0, 1, po);
                } else {
                    float *dst_t = dst + n * ds[0] + g * p->oc * ds[1] + r0;
                    const float *b = direct ? src_g + r0 : col;
                    const int64_t ldb = direct ? ss[1] : nr;
                    if (!direct) im2col(p, 0, src_g, r0, nr, col);
                    float *out = has_sum ? acc : dst_t;
                    const int64_t ldo = has_sum ? nr : ds[1];
                    if (dnnl_sgemm_rm(0, 0, p->oc, nr, k, wei_g, ws[1], b, ldb, 0.0f, out, ldo))
                        return -1;
                    dnnl_epilogue(p->oc, nr, out, ldo, dst_t, ds[1], bias_g, 1, 0, po);
                }
            }
        }
    return 0;
}

/* Depthwise: each output pixel is a weighted sum of kd*kh*kw input pixels, channel by
 * channel; channels are contiguous in src, weights and dst. A work item is one output
 * row, its sums made in a row buffer (in L1): started at the bias, then each tap adds
 * its weights (16 channels in a register) times the source along the whole row, over
 * the pixels whose input at that tap lies inside the source (the padding is skipped,
 * not multiplied); then the post-ops run over the row in one pass where dst's pixels
 * are back to back. Pixel by pixel (coordinates divided out, a loop nest of 3 taps per
 * pixel) MobileNet v2's first depthwise layer (32 channels, 112x112) took 4.6x
 * onnxruntime's time. */
typedef float vdw __attribute__((vector_size(64), aligned(4)));
#define DW_VLEN 16

/* [lo, hi): the output positions o < out whose input o * stride + off lies in [0, in) */
static void outputs_inside(int64_t off, int64_t stride, int64_t in, int64_t out,
                           int64_t *lo, int64_t *hi) {
    *lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
    *hi = off > in - 1 ? 0 : (in - 1 - off) / stride + 1;
    if (*hi > out) *hi = out;
    if (*lo > *hi) *lo = *hi;
}

#define DW_PIX 8 /* pixels a register block sums through every tap */

/* buf[x, c .. c + 16) += the taps' products for the pixels [xa, xb), tap by tap along
 * the row (the range of pixels whose input is inside the source is the caller's). */
static inline __attribute__((always_inline)) void dw_tap_run(const float *s, int64_t step,
        const float *w, float *a, int64_t C, int64_t n, int vector) {
    if (vector) {
        const vdw wv = *(const vdw *)w;
        for (int64_t x = 0; x < n; ++x, s += step, a += C) *(vdw *)a += *(const vdw *)s * wv;
    } else {
        for (int64_t x = 0; x < n; ++x, s += step, a += C) *a += *s * *w;
    }
}

DNNL_MULTIVERSION
void dnnl_conv_dw(const dnnl_conv_t *p, const float *src, const float *wei,
                  const float *bias, float *dst, const dnnl_post_ops_t *po) {
    const int64_t C = p->g, rows = p->mb * p->od * p->oh, W = p->ow;
    const int64_t *ss = p->src_s, *ds = p->dst_s, *ws = p->wei_s;
    const int64_t vc = C / DW_VLEN * DW_VLEN; /* channels in whole vectors */
    const int dense = ds[4] == C || W == 1;
    const int64_t step = p->sw * ss[4];
    /* the pixels [in0, in1) read every kw tap inside the source; [in0, blocks_end) of
     * them go through the register blocks, DW_PIX at a time */
    int64_t a0, a1, b0, b1;
    outputs_inside(src_coord(0, 0, p->sw, p->pw, p->dw), p->sw, p->iw, W, &a0, &a1);
    outputs_inside(src_coord(0, p->kw - 1, p->sw, p->pw, p->dw), p->sw, p->iw, W, &b0, &b1);
    const int64_t in0 = a0 > b0 ? a0 : b0, in1 = a1 < b1 ? a1 : b1;
    const int64_t blocks_end = in1 > in0 ? in0 + (in1 - in0) / DW_PIX * DW_PIX : in0;
#pragma omp parallel
    {
        float *buf = malloc(sizeof(float) * W * C);
        /* the row's (kd, kh) taps inside the source: input row and weights */
        const float **tin = malloc(sizeof(float *) * 2 * p->kd * p->kh);
        const float **tw = tin + p->kd * p->kh;
#pragma omp for schedule(static)
        for (int64_t row = 0; row < rows; ++row) {
            const int64_t oh = row % p->oh, od = (row / p->oh) % p->od;
            const int64_t n = row / (p->oh * p->od);
            int nt = 0;
            for (int64_t kd = 0; kd < p->kd; ++kd) {
                const int64_t id = src_coord(od, kd, p->sd, p->pd, p->dd);
                for (int64_t kh = 0; kh < p->kh && id >= 0 && id < p->id; ++kh) {
                    const int64_t ih = src_coord(oh, kh, p->sh, p->ph, p->dh);
                    if (ih < 0 || ih >= p->ih) continue;
                    tin[nt] = src + n * ss[0] + id * ss[2] + ih * ss[3];
                    tw[nt++] = wei + kd * ws[3] + kh * ws[4];
                }
            }
            for (int64_t c = 0; c < vc; c += DW_VLEN) {
                const vdw b = bias ? *(const vdw *)(bias + c) : (vdw){0};
                for (int64_t x = 0; x < W; ++x) *(vdw *)(buf + x * C + c) = b;
                /* the interior, DW_PIX pixels in registers through all the taps */
                for (int64_t x = in0; x < blocks_end; x += DW_PIX) {
                    vdw acc[DW_PIX];
                    for (int j = 0; j < DW_PIX; ++j) acc[j] = b;
                    for (int t = 0; t < nt; ++t)
                        for (int64_t kw = 0; kw < p->kw; ++kw) {
                            const vdw wv = *(const vdw *)(tw[t] + kw * ws[5] + c);
                            const float *s0 =
                                tin[t] + src_coord(x, kw, p->sw, p->pw, p->dw) * ss[4] + c;
#pragma GCC unroll 8
                            for (int j = 0; j < DW_PIX; ++j)
                                acc[j] += *(const vdw *)(s0 + j * step) * wv;
                        }
                    for (int j = 0; j < DW_PIX; ++j) *(vdw *)(buf + (x + j) * C + c) = acc[j];
                }
            }
            for (int64_t c = vc; c < C; ++c)
                for (int64_t x = 0; x < W; ++x) buf[x * C + c] = bias ? bias[c] : 0.0f;
            /* the rest tap by tap along the row: edge pixels, what is left of the
             * interior, and the channels past the last whole vector */
            for (int t = 0; t < nt; ++t)
                for (int64_t kw = 0; kw < p->kw; ++kw) {
                    const int64_t off = src_coord(0, kw, p->sw, p->pw, p->dw);
                    int64_t x0, x1;
                    outputs_inside(off, p->sw, p->iw, W, &x0, &x1);
                    const float *s = tin[t] + (x0 * p->sw + off) * ss[4], *w = tw[t] + kw * ws[5];
                    /* vector channels: [x0, in0) and [blocks_end, x1), the blocks done */
                    const int64_t pre = (x1 < in0 ? x1 : in0) - x0;
                    const int64_t post = x0 > blocks_end ? x0 : blocks_end;
                    for (int64_t c = 0; c < vc; c += DW_VLEN) {
                        if (pre > 0) dw_tap_run(s + c, step, w + c, buf + x0 * C + c, C, pre, 1);
                        if (x1 > post)
                            dw_tap_run(s + (post - x0) * step + c, step, w + c,
                                       buf + post * C + c, C, x1 - post, 1);
                    }
                    for (int64_t c = vc; c < C; ++c)
                        dw_tap_run(s + c, step, w + c, buf + x0 * C + c, C, x1 - x0, 0);
                }
            float *out = dst + n * ds[0] + od * ds[2] + oh * ds[3];
            if (dense)
                dnnl_epilogue_row(W * C, buf, out, NULL, 0, po);
            else
                for (int64_t x = 0; x < W; ++x)
                    dnnl_epilogue_row(C, buf + x * C, out + x * ds[4], NULL, 0, po);
        }
        free(tin);
        free(buf);
    }
}

void dnnl_conv_ref(const dnnl_conv_t *p, const float *src, const float *wei,
                   const float *bias, float *dst, const dnnl_post_ops_t *po) {
    const int64_t *ss = p->src_s, *ds = p->dst_s, *ws = p->wei_s;
#pragma omp parallel for collapse(3) schedule(static)
    for (int64_t n = 0; n < p->mb; ++n)
        for (int64_t g = 0; g < p->g; ++g)
            for (int64_t oc = 0; oc < p->oc; ++oc)
                for (int64_t od = 0; od < p->od; ++od)
                    for (int64_t oh = 0; oh < p->oh; ++oh)
                        for (int64_t ow = 0; ow < p->ow; ++ow) {
                            float acc = bias ? bias[g * p->oc + oc] : 0.0f;
                            for (int64_t ic = 0; ic < p->ic; ++ic)
                                for (int64_t kd = 0; kd < p->kd; ++kd) {
                                    const int64_t id = src_coord(od, kd, p->sd, p->pd, p->dd);
                                    if (id < 0 || id >= p->id) continue;
                                    for (int64_t kh = 0; kh < p->kh; ++kh) {
                                        const int64_t ih = src_coord(oh, kh, p->sh, p->ph, p->dh);
                                        if (ih < 0 || ih >= p->ih) continue;
                                        for (int64_t kw = 0; kw < p->kw; ++kw) {
                                            const int64_t iw = src_coord(ow, kw, p->sw, p->pw, p->dw);
                                            if (iw < 0 || iw >= p->iw) continue;
                                            acc += src[n * ss[0] + (g * p->ic + ic) * ss[1]
                                                       + id * ss[2] + ih * ss[3] + iw * ss[4]]
                                                   * wei[g * ws[0] + oc * ws[1] + ic * ws[2]
                                                         + kd * ws[3] + kh * ws[4] + kw * ws[5]];
                                        }
                                    }
                                }
                            float *out = dst + n * ds[0] + (g * p->oc + oc) * ds[1] + od * ds[2]
                                         + oh * ds[3] + ow * ds[4];
                            *out = dnnl_post_ops_scalar(acc, out, po);
                        }
}
