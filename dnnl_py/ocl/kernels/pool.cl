/* Forward pooling: one output element per work-item, scalar code, src and dst read
 * through their strides. -D macros (dnnl_py/ocl/pooling.py): ALG (0 max, 1 average
 * including the padding, 2 excluding it), sizes MB C ID IH IW OD OH OW KD KH KW, strides
 * SD SH SW, dilated tap steps DD DH DW (oneDNN's dilation + 1), padding PD PH PW, element
 * strides SRC_N..SRC_W and DST_N..DST_W. Only taps inside the source are read; max
 * propagates NaN. Grid: TOTAL outputs rounded up to the work-group size. */

#define TOTAL ((long)MB * C * OD * OH * OW)

/* First tap of a window starting at `base`, `step` apart, at or after 0, and the end of
 * those before `size` (at most k). */
inline int tap_lo(long base, int step) {
    return base < 0 ? (int)((-base + step - 1) / step) : 0;
}

inline int tap_hi(long base, int k, int step, int size) {
    const long room = size - base;
    return room <= 0 ? 0 : (int)min((room + step - 1) / step, (long)k);
}

__kernel void pool_fwd(__global const float *restrict src, __global float *restrict dst) {
    const long i = get_global_id(0);
    if (i >= TOTAL) return;
    const int ow = (int)(i % OW), oh = (int)(i / OW % OH), od = (int)(i / OW / OH % OD);
    const int c = (int)(i / OW / OH / OD % C);
    const long n = i / OW / OH / OD / C;
    const long bd = (long)od * SD - PD, bh = (long)oh * SH - PH, bw = (long)ow * SW - PW;
    const int d0 = tap_lo(bd, DD), d1 = max(d0, tap_hi(bd, KD, DD, ID));
    const int h0 = tap_lo(bh, DH), h1 = max(h0, tap_hi(bh, KH, DH, IH));
    const int w0 = tap_lo(bw, DW), w1 = max(w0, tap_hi(bw, KW, DW, IW));
    const __global float *s = src + n * (long)SRC_N + c * (long)SRC_C;
#if ALG == 0
    float acc = -INFINITY;
#else
    float acc = 0.0f;
#endif
    for (int kd = d0; kd < d1; ++kd)
        for (int kh = h0; kh < h1; ++kh)
            for (int kw = w0; kw < w1; ++kw) {
                const float v = s[(bd + kd * DD) * (long)SRC_D + (bh + kh * DH) * (long)SRC_H
                                  + (bw + kw * DW) * (long)SRC_W];
#if ALG == 0
                acc = (v > acc || isnan(v)) ? v : acc;
#else
                acc += v;
#endif
            }
#if ALG == 1
    acc /= (float)((long)KD * KH * KW);
#elif ALG == 2
    const int taps = (d1 - d0) * (h1 - h0) * (w1 - w0);
    acc = taps ? acc / (float)taps : 0.0f;
#endif
    dst[n * (long)DST_N + c * (long)DST_C + od * (long)DST_D + oh * (long)DST_H
        + ow * (long)DST_W] = acc;
}
