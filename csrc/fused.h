/* Post-ops applied to a register block before its store (csrc/gemm_packed.c's tiles,
 * csrc/conv_direct.c's row blocks), when they are only these, in this order: a bias
 * broadcast over rows, a sum with dst, a relu or a clip (ResNet's and MobileNet's
 * convolutions; a linear layer's bias). A separate pass over the output
 * (dnnl_epilogue) cost 6% of a 1x1 convolution with 64 inputs and 2-4% of ResNet-50's
 * 3x3s: the output went through L2 twice. The includer defines VLEN and the vector
 * type vf (VLEN floats). */
#ifndef DNNL_FUSED_H
#define DNNL_FUSED_H
#include "dnnl_kernels.h"

enum { ACT_NONE, ACT_RELU, ACT_CLIP };
typedef struct {
    const float *bias;
    int sum, act;
    float scale, alpha, beta;
} fused_t;

typedef int vi __attribute__((vector_size(VLEN * 4)));

/* x > 0 ? x : alpha * x, lane by lane (NaN stays NaN, as in the scalar relu); a macro:
 * a function returning a 64-byte vector warns in the clones built without AVX-512 */
#define RELU_V(x, alpha) ({ \
    const vf x_ = (x); \
    const vi pos_ = x_ > (vf){0}; \
    (vf)(((vi)x_ & pos_) | ((vi)(x_ * (alpha)) & ~pos_)); })

/* x < lo ? lo : x, then > hi ? hi : that (NaN stays NaN, as in the scalar clip) */
#define CLIP_V(x, lo, hi) ({ \
    const vf x_ = (x), lo_ = (vf){0} + (lo), hi_ = (vf){0} + (hi); \
    const vi below_ = x_ < lo_; \
    const vf y_ = (vf)(((vi)lo_ & below_) | ((vi)x_ & ~below_)); \
    const vi above_ = y_ > hi_; \
    (vf)(((vi)hi_ & above_) | ((vi)y_ & ~above_)); })

/* A register block's accumulators acc[r][j] (r < R pixels or rows, j < NV vectors) plus
 * vector j of f->bias, and through f's activation: what both kernels apply before their
 * store (the packed GEMM adds its sum between the two). Macros for the same reason as
 * RELU_V. */
#define FUSED_BIAS(acc, R, NV, f) do { \
    _Pragma("GCC unroll 4") for (int j_ = 0; j_ < (NV); ++j_) { \
        const vf b_ = *(const vf *)((f)->bias + j_ * VLEN); \
        _Pragma("GCC unroll 16") for (int r_ = 0; r_ < (R); ++r_) acc[r_][j_] += b_; \
    } } while (0)
#define FUSED_ACT(acc, R, NV, f) do { \
    if ((f)->act == ACT_RELU) { \
        _Pragma("GCC unroll 16") for (int r_ = 0; r_ < (R); ++r_) \
            _Pragma("GCC unroll 4") for (int j_ = 0; j_ < (NV); ++j_) \
                acc[r_][j_] = RELU_V(acc[r_][j_], (f)->alpha); \
    } else if ((f)->act == ACT_CLIP) { \
        _Pragma("GCC unroll 16") for (int r_ = 0; r_ < (R); ++r_) \
            _Pragma("GCC unroll 4") for (int j_ = 0; j_ < (NV); ++j_) \
                acc[r_][j_] = CLIP_V(acc[r_][j_], (f)->alpha, (f)->beta); \
    } } while (0)

/* Whether bias and po are all a register block can apply (fused_t), filling f; a sum
 * only where sum_ok (the block's sums are complete when it first stores). */
static inline int fused_from(const float *bias, const dnnl_post_ops_t *po, int sum_ok,
                             fused_t *f) {
    *f = (fused_t){bias, 0, ACT_NONE, 1.0f, 0.0f, 0.0f};
    int j = 0;
    if (j < po->len && po->ops[j].kind == DNNL_PO_SUM) {
        if (!sum_ok) return 0;
        f->sum = 1, f->scale = po->ops[j++].scale;
    }
    if (j < po->len && po->ops[j].kind == DNNL_PO_ELTWISE
        && (po->ops[j].alg == DNNL_ELT_RELU || po->ops[j].alg == DNNL_ELT_CLIP)) {
        f->act = po->ops[j].alg == DNNL_ELT_RELU ? ACT_RELU : ACT_CLIP;
        f->alpha = po->ops[j].alpha, f->beta = po->ops[j++].beta;
    }
    return j == po->len;
}
#endif
