/* Bias and post-ops applied to a freshly computed tile while it is in cache. */
#include "binary_op.h"
#include "eltwise.h"
#include "isa.h"

#define SEG 256 /* a row is processed in L1-sized segments */

/* One loop per algorithm so that each one vectorises. */
#define ELTWISE_LOOP(ALG) \
    { for (int64_t i = 0; i < n; ++i) v[i] = eltwise_f(ALG, v[i], alpha, beta); } break;

/* Always inlined: it must be compiled for the ISA of each clone of its caller (with
 * 19 loops GCC otherwise keeps one baseline copy, and nothing vectorises). */
static inline __attribute__((always_inline)) void eltwise_segment(float *restrict v, int64_t n,
                                                                   const dnnl_post_op_t *op) {
    const float alpha = op->alpha, beta = op->beta;
    switch (op->alg) {
    case DNNL_ELT_RELU: ELTWISE_LOOP(DNNL_ELT_RELU)
    case DNNL_ELT_GELU_TANH: ELTWISE_LOOP(DNNL_ELT_GELU_TANH)
    case DNNL_ELT_GELU_ERF: ELTWISE_LOOP(DNNL_ELT_GELU_ERF)
    case DNNL_ELT_TANH: ELTWISE_LOOP(DNNL_ELT_TANH)
    case DNNL_ELT_LOGISTIC: ELTWISE_LOOP(DNNL_ELT_LOGISTIC)
    case DNNL_ELT_SWISH: ELTWISE_LOOP(DNNL_ELT_SWISH)
    case DNNL_ELT_LINEAR: ELTWISE_LOOP(DNNL_ELT_LINEAR)
    case DNNL_ELT_CLIP: ELTWISE_LOOP(DNNL_ELT_CLIP)
    case DNNL_ELT_EXP: ELTWISE_LOOP(DNNL_ELT_EXP)
    case DNNL_ELT_LOG: ELTWISE_LOOP(DNNL_ELT_LOG)
    case DNNL_ELT_SQRT: ELTWISE_LOOP(DNNL_ELT_SQRT)
    case DNNL_ELT_SQUARE: ELTWISE_LOOP(DNNL_ELT_SQUARE)
    case DNNL_ELT_ABS: ELTWISE_LOOP(DNNL_ELT_ABS)
    case DNNL_ELT_POW: ELTWISE_LOOP(DNNL_ELT_POW)
    case DNNL_ELT_SOFT_RELU: ELTWISE_LOOP(DNNL_ELT_SOFT_RELU)
    case DNNL_ELT_HARDSWISH: ELTWISE_LOOP(DNNL_ELT_HARDSWISH)
    case DNNL_ELT_HARDSIGMOID: ELTWISE_LOOP(DNNL_ELT_HARDSIGMOID)
    case DNNL_ELT_ELU: ELTWISE_LOOP(DNNL_ELT_ELU)
    case DNNL_ELT_ROUND: ELTWISE_LOOP(DNNL_ELT_ROUND)
    }
}

/* op's src1 at the elements matching dst[off, off + n) (offsets from po->dst, contiguous
 * in dst): a pointer into src1 itself when they are contiguous there too (a residual
 * add), else gathered into b. Coordinates are found once per run of dst's innermost
 * dim, the stretch along which src1 steps by one stride: once per row for a
 * channels-last conv, once per image row for a channels-first one. */
static inline __attribute__((always_inline)) const float *src1_segment(
        const dnnl_post_op_t *op, int64_t off, int64_t n, float *b) {
    const int last = op->ndims - 1;
    for (int64_t i = 0; i < n;) {
        int64_t o = off + i, s = 0, c = 0;
        for (int d = 0; d <= last; ++d) { /* nested strides: peel the outermost first */
            c = o / op->dst_s[d];
            o -= c * op->dst_s[d];
            s += c * op->src1_s[d];
        }
        const int64_t left = op->dst_s[last] == 1 ? op->dims[last] - c : 1;
        const int64_t run = DNNL_MIN(left, n - i), step = op->src1_s[last];
        const float *p = op->src1 + s;
        if (step == 1 && run == n) return p;
        if (step == 0) {
            for (int64_t k = 0; k < run; ++k) b[i + k] = p[0];
        } else if (step == 1) {
            for (int64_t k = 0; k < run; ++k) b[i + k] = p[k];
        } else {
            for (int64_t k = 0; k < run; ++k) b[i + k] = p[k * step];
        }
        i += run;
    }
    return b;
}

DNNL_MULTIVERSION
void dnnl_epilogue_row(int64_t cols, const float *acc, float *dst, const float *bias,
                         int64_t bias_cs, const dnnl_post_ops_t *po) {
    float v[SEG];
    for (int64_t c0 = 0; c0 < cols; c0 += SEG) {
        const int64_t n = cols - c0 < SEG ? cols - c0 : SEG;
        if (!bias) {
            for (int64_t i = 0; i < n; ++i) v[i] = acc[c0 + i];
        } else if (bias_cs == 0) {
            const float b = bias[0];
            for (int64_t i = 0; i < n; ++i) v[i] = acc[c0 + i] + b;
        } else {
            const float *b = bias + c0 * bias_cs;
            for (int64_t i = 0; i < n; ++i) v[i] = acc[c0 + i] + b[i * bias_cs];
        }
        int stored = 0;
        for (int j = 0; j < po->len; ++j) {
            const dnnl_post_op_t *op = &po->ops[j];
            if (op->kind == DNNL_PO_SUM) {
                const float s = op->scale;
                for (int64_t i = 0; i < n; ++i) v[i] += s * dst[c0 + i];
            } else if (op->kind == DNNL_PO_BINARY) {
                float b[SEG];
                /* the last one stores: a residual add costs no pass over the segment
                 * beyond its read of src1 (measured 3% of a 1x1 conv with 64 inputs) */
                stored = j == po->len - 1;
                binary_segment(op->alg, n, v, src1_segment(op, dst + c0 - po->dst, n, b), 1,
                               stored ? dst + c0 : v);
            } else {
                eltwise_segment(v, n, op);
            }
        }
        if (!stored)
            for (int64_t i = 0; i < n; ++i) dst[c0 + i] = v[i];
    }
}

void dnnl_epilogue(int64_t rows, int64_t cols, const float *acc, int64_t ld_acc,
                   float *dst, int64_t ld_dst, const float *bias, int64_t bias_rs,
                   int64_t bias_cs, const dnnl_post_ops_t *po) {
    if (!bias && po->len == 0 && acc == dst) return;
#pragma omp parallel for schedule(static) if (rows * cols > 16384)
    for (int64_t r = 0; r < rows; ++r)
        dnnl_epilogue_row(cols, acc + r * ld_acc, dst + r * ld_dst,
                     bias ? bias + r * bias_rs : NULL, bias_cs, po);
}

float dnnl_post_ops_scalar(float v, const float *dst, const dnnl_post_ops_t *po) {
    for (int j = 0; j < po->len; ++j) {
        const dnnl_post_op_t *op = &po->ops[j];
        if (op->kind == DNNL_PO_SUM) {
            v += op->scale * *dst;
        } else if (op->kind == DNNL_PO_BINARY) {
            float b;
            binary_segment(op->alg, 1, &v, src1_segment(op, dst - po->dst, 1, &b), 1, &v);
        } else {
            v = eltwise_f(op->alg, v, op->alpha, op->beta);
        }
    }
    return v;
}

int dnnl_post_ops_have_sum(const dnnl_post_ops_t *po) {
    for (int j = 0; j < po->len; ++j)
        if (po->ops[j].kind == DNNL_PO_SUM) return 1;
    return 0;
}
