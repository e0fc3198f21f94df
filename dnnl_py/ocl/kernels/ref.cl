/* Reference forward convolution and matmul: one output element per work-item, scalar code
 * only, every operand read through its strides (the macros of problem.cl, which comes first
 * in the program with post_ops.cl). The OpenCL engine's last implementation: what runs
 * when the fast kernel cannot be built on a device. Grid: (OC rounded up, ROWS, NBATCH). */

__kernel void ref_gemm(__global const float *restrict src, __global const float *restrict wei,
                       __global const float *restrict bia, __global float *restrict dst,
                       PO_PARAMS) {
    const int oc = get_global_id(0), row = get_global_id(1);
    const long b = get_global_id(2);
    if (oc >= OC) return;
    const int ow = row % OW, oh = row / OW % OH, od = row / OW / OH % OD;
    const int n = row / OW / OH / OD;
    const __global float *s = src + BATCH_OFF(b, SRC) + n * (long)SRC_N;
    const __global float *w = wei + BATCH_OFF(b, WEI) + oc * (long)WEI_O;
    float acc = 0.0f;
    for (int kd = 0; kd < KD; ++kd) {
        const int id = od * SD - PD + kd * DD;
        if (id < 0 || id >= ID) continue;  /* the padding adds nothing */
        for (int kh = 0; kh < KH; ++kh) {
            const int ih = oh * SH - PH + kh * DH;
            if (ih < 0 || ih >= IH) continue;
            for (int kw = 0; kw < KW; ++kw) {
                const int iw = ow * SW - PW + kw * DW;
                if (iw < 0 || iw >= IW) continue;
                const __global float *sp = s + id * (long)SRC_D + ih * (long)SRC_H
                                           + iw * (long)SRC_W;
                const __global float *wp = w + kd * (long)WEI_D + kh * (long)WEI_H
                                           + kw * (long)WEI_W;
                for (int ic = 0; ic < IC; ++ic)
                    acc += sp[ic * (long)SRC_C] * wp[ic * (long)WEI_I];
            }
        }
    }
    const long d = BATCH_OFF(b, DST) + n * (long)DST_N + od * (long)DST_D + oh * (long)DST_H
                   + ow * (long)DST_W + oc * (long)DST_C;
#if WITH_BIAS
    acc += bia[BATCH_OFF(b, BIA) + n * (long)BIA_N + od * (long)BIA_D + oh * (long)BIA_H
               + ow * (long)BIA_W + oc * (long)BIA_C];
#endif
#if PO_COUNT > 0
    float bin[PO_COUNT];
#if WITH_BINARY
    long po_row[4];
    binary_rows(po_row, b, n, od, oh, ow);
    binary_values(bin, PO_PASS, po_row, oc);
#endif
    acc = post_ops_float(acc, WITH_SUM ? dst[d] : 0.0f, bin);
#endif
    dst[d] = acc;
}
