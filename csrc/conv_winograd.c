/* Winograd F(2x2, 3x3) forward convolution (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2015): each 2x2 block of output pixels ("tile") is
 * A^T [ (G g G^T) . (B^T d B) ] A over the tile's 4x4 input patch d, with "." 16
 * products per (input, output) channel pair where a direct 3x3 makes 36: 2.25x fewer
 * FMAs. Those products are 16 GEMMs (one per position xi of the 4x4 transform):
 * M[xi][tile][oc] = sum over ic of V[xi][tile][ic] . U[xi][ic][oc].
 *
 * Channels-last src/dst, one group, stride 1, no dilation, ic and oc multiples of 16.
 * The weights come either transformed (U, 16/9 of their size: memory format
 * wino_2x3_aaio, made once by a reorder through dnnl_conv_wino_weights, as oneDNN's
 * wino weights format) or as 3x3 weights with oc innermost (the direct kernel's),
 * transformed on every call, since oneDNN's contract lets them change between
 * executions: about a third of res4's call (4 MiB of U written and read back). Then
 * each thread takes blocks of at most TB tiles through the input transform, the 16
 * GEMMs (micro_gemm.h) and the output transform with its own V and M, which stay in
 * L2.
 *
 * Rounding: the transforms add and subtract at most 4 values per stage with weights
 * 1 and 1/2, so the error is that of a direct sum a few terms longer (the tests bound
 * it against a float64 reference). */
#include <omp.h>
#include <stdint.h>
#include "dnnl_kernels.h"
#include "isa.h"

#define VLEN 16
#define TB DNNL_WINO_TILE_BLOCK /* tiles per block, at most: two of micro_gemm's row blocks */
#define NXI 16

typedef float vf __attribute__((vector_size(VLEN * 4), aligned(4)));
#include "fused.h"
#include "micro_gemm.h"

int dnnl_conv_wino_supported(const dnnl_conv_t *p) {
    return p->g == 1 && p->kd == 1 && p->kh == 3 && p->kw == 3 && p->sd == 1 && p->sh == 1
           && p->sw == 1 && p->dd == 0 && p->dh == 0 && p->dw == 0 && p->pd == 0
           && p->ic > 0 && p->ic % VLEN == 0 && p->oc % VLEN == 0 && p->src_s[1] == 1
           && p->dst_s[1] == 1 && p->wei_s[1] == 1;
}

/* Floats of scratch per thread: V, M and the 4 pixels of a tile (ybuf below). */
static int64_t per_thread(const dnnl_conv_t *p) {
    return NXI * TB * (p->ic + p->oc) + 4 * p->oc;
}

/* Floats of scratch: U unless the weights come transformed, then each thread's share. */
int64_t dnnl_conv_wino_scratch_size(const dnnl_conv_t *p, int threads, int transformed) {
    return (transformed ? 0 : NXI * p->ic * p->oc) + (int64_t)threads * per_thread(p);
}

/* U[xi][ic][oc] = G g G^T for the 3x3 kernel g of each (ic, oc), 16 channels of oc at
 * a time. G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. */
static inline __attribute__((always_inline)) void weights_vec(const dnnl_conv_t *p,
        const float *wei, float *u, int64_t c, int64_t o) {
    const int64_t *ws = p->wei_s;
    vf g[3][3], t[4][3];
    for (int h = 0; h < 3; ++h)
        for (int w = 0; w < 3; ++w)
            g[h][w] = *(const vf *)(wei + c * ws[2] + h * ws[4] + w * ws[5] + o);
    for (int w = 0; w < 3; ++w) { /* G g: the kernel's rows */
        t[0][w] = g[0][w];
        t[1][w] = 0.5f * (g[0][w] + g[1][w] + g[2][w]);
        t[2][w] = 0.5f * (g[0][w] - g[1][w] + g[2][w]);
        t[3][w] = g[2][w];
    }
    for (int i = 0; i < 4; ++i) { /* (G g) G^T: its columns */
        vf *row = (vf *)(u + (int64_t)(i * 4) * p->ic * p->oc + c * p->oc + o);
        const int64_t xs = p->ic * p->oc / VLEN; /* vectors from xi to xi + 1 */
        row[0] = t[i][0];
        row[xs] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        row[2 * xs] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        row[3 * xs] = t[i][2];
    }
}

/* V[xi][t][ic] = B^T d B for the block's tiles, d the 4x4 patch of tile t (zero outside
 * the source). B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. */
static inline __attribute__((always_inline)) void input_tiles(const dnnl_conv_t *p,
        const float *src, int64_t tw, int64_t t0, int nt, float *v) {
    const int64_t *ss = p->src_s;
    for (int t = 0; t < nt; ++t) {
        const int64_t ty = (t0 + t) / tw, tx = (t0 + t) % tw;
        const int64_t y0 = 2 * ty - p->ph, x0 = 2 * tx - p->pw;
        for (int64_t c = 0; c < p->ic; c += VLEN) {
            vf d[4][4], r[4][4];
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) {
                    const int64_t y = y0 + i, x = x0 + j;
                    d[i][j] = y >= 0 && y < p->ih && x >= 0 && x < p->iw
                                  ? *(const vf *)(src + y * ss[3] + x * ss[4] + c)
                                  : (vf){0};
                }
            for (int j = 0; j < 4; ++j) { /* B^T d */
                r[0][j] = d[0][j] - d[2][j];
                r[1][j] = d[1][j] + d[2][j];
                r[2][j] = d[2][j] - d[1][j];
                r[3][j] = d[1][j] - d[3][j];
            }
            for (int i = 0; i < 4; ++i) { /* (B^T d) B */
                float *o = v + ((int64_t)(i * 4) * TB + t) * p->ic + c;
                const int64_t xs = TB * p->ic;
                *(vf *)o = r[i][0] - r[i][2];
                *(vf *)(o + xs) = r[i][1] + r[i][2];
                *(vf *)(o + 2 * xs) = r[i][2] - r[i][1];
                *(vf *)(o + 3 * xs) = r[i][1] - r[i][3];
            }
        }
    }
}


/* The block's output pixels, channels c0..c1: Y = A^T M A per tile and 16 channels,
 * A^T = [1 1 1 0; 0 1 -1 -1], then bias and post-ops, in registers where fused_t covers
 * them, else (all channels only) through ybuf and dnnl_epilogue_row. */
static inline __attribute__((always_inline)) void output_tiles(const dnnl_conv_t *p,
        const float *m, int64_t tw, int64_t t0, int nt, int64_t c0, int64_t c1, float *dst,
        const float *bias, const dnnl_post_ops_t *po, int in_registers, const fused_t *f,
        float *ybuf) {
    const int64_t *ds = p->dst_s, oc = p->oc;
    for (int t = 0; t < nt; ++t) {
        const int64_t ty = (t0 + t) / tw, tx = (t0 + t) % tw;
        const int rows = 2 * ty + 1 < p->oh ? 2 : 1, cols = 2 * tx + 1 < p->ow ? 2 : 1;
        float *out = dst + 2 * ty * ds[3] + 2 * tx * ds[4];
        for (int64_t c = c0; c < c1; c += VLEN) {
            vf s[2][4], y[4][1];
            const float *mc = m + (int64_t)t * oc + c;
            const int64_t xs = TB * oc;
#define M_AT(i, j) (*(const vf *)(mc + (int64_t)((i) * 4 + (j)) * xs))
            for (int j = 0; j < 4; ++j) { /* A^T M */
                s[0][j] = M_AT(0, j) + M_AT(1, j) + M_AT(2, j);
                s[1][j] = M_AT(1, j) - M_AT(2, j) - M_AT(3, j);
            }
#undef M_AT
            for (int a = 0; a < 2; ++a) { /* (A^T M) A */
                y[2 * a][0] = s[a][0] + s[a][1] + s[a][2];
                y[2 * a + 1][0] = s[a][1] - s[a][2] - s[a][3];
            }
            if (in_registers) {
                fused_t at = *f;
                if (at.bias) {
                    at.bias += c;
                    FUSED_BIAS(y, 4, 1, &at);
                }
                if (at.sum)
                    for (int a = 0; a < rows; ++a)
                        for (int b = 0; b < cols; ++b)
                            y[2 * a + b][0] += at.scale
                                               * *(const vf *)(out + a * ds[3] + b * ds[4] + c);
                FUSED_ACT(y, 4, 1, &at);
                for (int a = 0; a < rows; ++a)
                    for (int b = 0; b < cols; ++b)
                        *(vf *)(out + a * ds[3] + b * ds[4] + c) = y[2 * a + b][0];
            } else {
                for (int q = 0; q < 4; ++q) *(vf *)(ybuf + q * oc + c) = y[q][0];
            }
        }
        if (!in_registers)
            for (int a = 0; a < rows; ++a)
                for (int b = 0; b < cols; ++b)
                    dnnl_epilogue_row(oc, ybuf + (2 * a + b) * oc, out + a * ds[3] + b * ds[4],
                                      bias, 1, po);
    }
}

/* U of all the weights, shared between the threads of the enclosing parallel region */
static inline __attribute__((always_inline)) void weights_all(const dnnl_conv_t *p,
        const float *wei, float *u) {
    const int64_t vecs = p->oc / VLEN;
#pragma omp for schedule(static)
    for (int64_t k = 0; k < p->ic * vecs; ++k) weights_vec(p, wei, u, k / vecs, k % vecs * VLEN);
}

DNNL_MULTIVERSION
void dnnl_conv_wino_weights(const dnnl_conv_t *p, const float *wei, float *u, int threads) {
#pragma omp parallel num_threads(threads)
    weights_all(p, wei, u);
}

DNNL_MULTIVERSION
void dnnl_conv_wino(const dnnl_conv_t *p, const float *src, const float *wei,
                    const float *bias, float *dst, const dnnl_post_ops_t *po, int threads,
                    float *scratch, int transformed) {
    const int64_t ic = p->ic, oc = p->oc;
    const int64_t th = (p->oh + 1) / 2, tw = (p->ow + 1) / 2, tiles = th * tw;
    const int64_t planes = p->mb * p->od;
    /* blocks of at most TB tiles, as many more as make the threads' shares equal
     * (res3's 196 tiles: 8 blocks of 24-25 rather than 4 and 3 blocks of 28 a thread;
     * res4's 49: 25 + 24, not 28 + 21) */
    int64_t blocks = (tiles + TB - 1) / TB;
    while ((planes * blocks) % threads && blocks < tiles
           && blocks < (tiles + TB - 1) / TB + threads)
        ++blocks;
    fused_t fused;
    const int in_registers = fused_from(bias, po, 1, &fused);
    /* Transformed weights come from memory, each thread reading all of U for its blocks:
     * where there are fewer blocks than two a thread (res4's 49 tiles, 4 MiB of U), the
     * threads split the output channels instead, each reading its part of U for every
     * block (and transforming every block's input, a small cost); in_registers only, as
     * dnnl_epilogue_row takes whole rows. */
    const int64_t splits = transformed && in_registers && planes * blocks < 2 * threads
                                   && oc >= 2 * VLEN * threads
                               ? threads : 1;
    const float *u = transformed ? wei : scratch;
    const int64_t shared = transformed ? 0 : NXI * ic * oc;
#pragma omp parallel num_threads(threads)
    {
        float *v = scratch + shared + omp_get_thread_num() * per_thread(p);
        float *m = v + NXI * TB * ic, *ybuf = m + NXI * TB * oc;
        if (!transformed) weights_all(p, wei, scratch);
#pragma omp for schedule(static)
        for (int64_t item = 0; item < splits * planes * blocks; ++item) {
            /* split-major: a thread's items share its channels (see splits) */
            const int64_t split = item / (planes * blocks), rest = item % (planes * blocks);
            const int64_t plane = rest / blocks, b = rest % blocks;
            const int64_t t0 = tiles * b / blocks;
            const int nt = (int)(tiles * (b + 1) / blocks - t0);
            const int64_t n = plane / p->od, d = plane % p->od;
            const int64_t c0 = oc / VLEN * split / splits * VLEN;
            const int64_t c1 = oc / VLEN * (split + 1) / splits * VLEN;
            input_tiles(p, src + n * p->src_s[0] + d * p->src_s[2], tw, t0, nt, v);
            for (int xi = 0; xi < NXI; ++xi)
                micro_gemm(nt, c1 - c0, ic, v + (int64_t)xi * TB * ic, ic, 1,
                           u + (int64_t)xi * ic * oc + c0, oc,
                           m + (int64_t)xi * TB * oc + c0, oc);
            output_tiles(p, m, tw, t0, nt, c0, c1, dst + n * p->dst_s[0] + d * p->dst_s[2],
                         bias, po, in_registers, &fused, ybuf);
        }
    }
}
