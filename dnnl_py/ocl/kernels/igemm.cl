/* Implicit GEMM for matmul and forward convolution, specialised per problem by -D
 * macros (dnnl_py/ocl/gemm.py writes them).
 *
 *   dst[row, col] = post_ops(sum_k src[row, k] * wei[k, col] + bias[row, col])
 *
 * Rows are output pixels (n, od, oh, ow); columns output channels; the reduction
 * runs over (kd, kh, kw, ic), reading the source through the convolution's window
 * (a matmul is a 1x1 convolution over "pixels" m). The third grid dimension walks
 * groups / matmul batch dims. All strides are in elements, any plain layout works.
 *
 * pack_weights copies the weights into panels of NB = 16 * NV columns, K rows each,
 * zero-padded past OC: the GEMM then streams one contiguous panel per work-item
 * (measured on PoCL: 2x over reading strided weight rows, which thrash the TLB).
 * Each work-item of gemm computes RB rows x NB columns in registers. */

#define NB (16 * NV)
#define KTOT (KD * KH * KW * IC)
#define NPANELS ((OC + NB - 1) / NB)
#define ROWS (MB * OD * OH * OW)
#define NBATCH (B0_DIM * B1_DIM * B2_DIM * B3_DIM)

/* Offsets of batch index b (groups or matmul batch dims, up to 4) in each operand. */
#define BATCH_OFF(b, op) ( \
      ((b) / B0_DIV % B0_DIM) * B0_##op + ((b) / B1_DIV % B1_DIM) * B1_##op \
    + ((b) / B2_DIV % B2_DIM) * B2_##op + ((b) / B3_DIV % B3_DIM) * B3_##op)

__kernel void pack_weights(__global const float *restrict wei, __global float *restrict packed) {
    const long i = get_global_id(0);  /* over (batch, panel, k, col in panel) */
    if (i >= (long)NBATCH * NPANELS * KTOT * NB) return;
    const int c = i % NB, k = i / NB % KTOT;
    const long panel = i / NB / KTOT % NPANELS, b = i / NB / KTOT / NPANELS;
    const int oc = panel * NB + c;
    const int ic = k % IC, kw = k / IC % KW, kh = k / IC / KW % KH, kd = k / IC / KW / KH;
    packed[i] = oc < OC ? wei[BATCH_OFF(b, WEI) + oc * WEI_O + ic * WEI_I + kd * WEI_D
                              + kh * WEI_H + kw * WEI_W] : 0.0f;
}

#if PO_COUNT > 0
#define ELTWISE(alg, x, alpha, beta) ( \
      (alg) == ELT_RELU ? select((alpha) * (x), (x), (x) > 0.0f) \
    : (alg) == ELT_GELU_TANH ? 0.5f * (x) * (1.0f + tanh(0.79788456f * ((x) + 0.044715f * (x) * (x) * (x)))) \
    : (alg) == ELT_GELU_ERF ? 0.5f * (x) * (1.0f + erf((x) * 0.70710678f)) \
    : (alg) == ELT_TANH ? tanh(x) \
    : (alg) == ELT_LOGISTIC ? 1.0f / (1.0f + exp(-(x))) \
    : (alg) == ELT_SWISH ? (x) / (1.0f + exp(-(alpha) * (x))) \
    : (alg) == ELT_LINEAR ? (alpha) * (x) + (beta) \
    : (alg) == ELT_CLIP ? fmin(fmax((x), (alpha)), (beta)) \
    : (x))
#define POST_OP(n, x, old) ((PO##n##_KIND) == PO_SUM ? (x) + (PO##n##_SCALE) * (old) \
                            : ELTWISE(PO##n##_ALG, (x), (PO##n##_ALPHA), (PO##n##_BETA)))

static float16 post_ops(float16 x, float16 old) {
    x = POST_OP(0, x, old);
#if PO_COUNT > 1
    x = POST_OP(1, x, old);
#endif
#if PO_COUNT > 2
    x = POST_OP(2, x, old);
#endif
#if PO_COUNT > 3
    x = POST_OP(3, x, old);
#endif
    return x;
}
#endif

/* acc + bias, post-ops, stored: a vector store when the columns are dense and all
 * inside OC, element by element otherwise. */
static void store_row(float16 acc, __global float *restrict d, __global const float *restrict bia,
                      int cols) {
    const bool vec = DST_C == 1 && cols == 16;
#if WITH_BIAS
    if (BIA_C == 1 && cols == 16) acc += vload16(0, bia);
    else for (int c = 0; c < cols; ++c) acc[c] += bia[c * BIA_C];
#endif
#if PO_COUNT > 0
    float16 old = 0.0f;
#if WITH_SUM
    if (vec) old = vload16(0, d);
    else for (int c = 0; c < cols; ++c) old[c] = d[c * DST_C];
#endif
    acc = post_ops(acc, old);
#endif
    if (vec) vstore16(acc, 0, d);
    else for (int c = 0; c < cols; ++c) d[c * DST_C] = acc[c];
}

__kernel void gemm(__global const float *restrict src, __global const float *restrict packed,
                   __global const float *restrict bia, __global float *restrict dst) {
    const int panel = get_global_id(0), row0 = get_global_id(1) * RB;
    const long b = get_global_id(2);
    const __global float *p = packed + (b * NPANELS + panel) * (long)KTOT * NB;
    src += BATCH_OFF(b, SRC);

    long src_row[RB], dst_row[RB];   /* each row's pixel: source window corner, dst */
    int ih0[RB], iw0[RB], id0[RB];
    for (int r = 0; r < RB; ++r) {
        const int row = min(row0 + r, ROWS - 1);  /* rows past the end compute row ROWS-1 */
        const int ow = row % OW, oh = row / OW % OH, od = row / OW / OH % OD;
        const int n = row / OW / OH / OD;
        id0[r] = od * SD - PD; ih0[r] = oh * SH - PH; iw0[r] = ow * SW - PW;
        src_row[r] = n * (long)SRC_N;
        dst_row[r] = BATCH_OFF(b, DST) + n * (long)DST_N + od * (long)DST_D + oh * (long)DST_H
                     + ow * (long)DST_W;
    }

    float16 acc[RB][NV];
    for (int r = 0; r < RB; ++r)
        for (int v = 0; v < NV; ++v) acc[r][v] = 0.0f;

    for (int kd = 0; kd < KD; ++kd)
    for (int kh = 0; kh < KH; ++kh)
    for (int kw = 0; kw < KW; ++kw) {
        const __global float *a[RB];
        float mask[RB];  /* 0 for a window position in the padding (if PADDED) */
        for (int r = 0; r < RB; ++r) {
            const int id = id0[r] + kd * DD, ih = ih0[r] + kh * DH, iw = iw0[r] + kw * DW;
            const bool in = id >= 0 && id < ID && ih >= 0 && ih < IH && iw >= 0 && iw < IW;
            mask[r] = in ? 1.0f : 0.0f;
            a[r] = src + src_row[r] + (in ? id * (long)SRC_D + ih * (long)SRC_H + iw * (long)SRC_W : 0);
        }
        for (int ic = 0; ic < IC; ++ic) {
            float16 w[NV];
            for (int v = 0; v < NV; ++v) w[v] = vload16(v, p);
            p += NB;
            for (int r = 0; r < RB; ++r) {
#if PADDED
                const float x = a[r][ic * SRC_C] * mask[r];
#else
                const float x = a[r][ic * SRC_C];
#endif
                for (int v = 0; v < NV; ++v) acc[r][v] = x * w[v] + acc[r][v];
            }
        }
    }

    bia += BATCH_OFF(b, BIA);
    for (int r = 0; r < RB; ++r) {
        if (row0 + r >= ROWS) break;
        const int row = row0 + r;
        const int ow = row % OW, oh = row / OW % OH, od = row / OW / OH % OD;
        const int n = row / OW / OH / OD;
        const long bia_row = n * (long)BIA_N + od * (long)BIA_D + oh * (long)BIA_H + ow * (long)BIA_W;
        for (int v = 0; v < NV; ++v) {
            const int col = panel * NB + v * 16;
            if (col < OC)
                store_row(acc[r][v], dst + dst_row[r] + col * (long)DST_C,
                          bia + bia_row + col * (long)BIA_C, min(16, OC - col));
        }
    }
}
