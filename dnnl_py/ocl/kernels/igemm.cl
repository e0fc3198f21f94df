/* Implicit GEMM for matmul and forward convolution, specialised per problem by -D
 * macros (dnnl_py/ocl/gemm.py writes them; problem.cl says what they mean and comes first
 * in the program, with post_ops.cl).
 *
 *   dst[row, col] = post_ops(sum_k src[row, k] * wei[k, col] + bias[row, col])
 *
 * The reduction reads the source through the convolution's window; any plain layout works.
 *
 * The weights come packed into panels of NB = 16 * NV columns, KTOT rows each, zero-padded
 * past OC (by the engine's strided copy, see GemmKernel in gemm.py): the GEMM then streams
 * one contiguous panel per work-item (measured on PoCL: 2x over reading strided weight
 * rows, which thrash the TLB).
 * Each work-item of gemm computes RB rows x NB columns in registers. */

#define NB (16 * NV)
#define NPANELS ((OC + NB - 1) / NB)

/* 16 floats at p, which need not be 64-byte aligned, as two 8-wide loads/stores: no
 * built-in may take or return a 16-wide vector (a PoCL whose LLVM targets znver3 while its
 * built-in library is built for skylake-avx512, as on AMD Zen 4, aborts compiling one;
 * tests/test_ocl_sources.py checks every .cl file for it). Macros, and store_row takes
 * its float16 by pointer, for the same reason: no 16-wide value crosses a call. */
#define LOAD16(p) ((float16)(vload8(0, (p)), vload8(1, (p))))
#define STORE16(x, p) do { vstore8((x).lo, 0, (p)); vstore8((x).hi, 1, (p)); } while (0)

/* acc + bias, post-ops, stored: a vector store when the columns are dense and all
 * inside OC, element by element otherwise, and with binary post-ops (column col0 on,
 * their src1 rows at po_row), whose comparisons are scalar code. */
static void store_row(const float16 *sum, __global float *restrict d,
                      __global const float *restrict bia, int cols, PO_PARAMS,
                      const long *po_row, int col0) {
    const bool vec = DST_C == 1 && cols == 16;
    float16 acc = *sum;
#if WITH_BIAS
    if (BIA_C == 1 && cols == 16) acc += LOAD16(bia);
    else for (int c = 0; c < cols; ++c) acc[c] += bia[c * BIA_C];
#endif
#if WITH_BINARY
    for (int c = 0; c < cols; ++c) {
        float bin[PO_COUNT];
        const float x = acc[c];  /* a scalar: see LOAD16 */
        binary_values(bin, PO_PASS, po_row, col0 + c);
        d[c * DST_C] = post_ops_float(x, WITH_SUM ? d[c * DST_C] : 0.0f, bin);
    }
    return;
#elif PO_COUNT > 0
    float16 old = 0.0f;
#if WITH_SUM
    if (vec) old = LOAD16(d);
    else for (int c = 0; c < cols; ++c) old[c] = d[c * DST_C];
#endif
    acc.lo = post_ops_float8(acc.lo, old.lo, 0);  /* 8-wide: see LOAD16 */
    acc.hi = post_ops_float8(acc.hi, old.hi, 0);
#endif
    if (vec) STORE16(acc, d);
    else for (int c = 0; c < cols; ++c) d[c * DST_C] = acc[c];
}

__kernel void gemm(__global const float *restrict src, __global const float *restrict packed,
                   __global const float *restrict bia, __global float *restrict dst,
                   PO_PARAMS) {
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
        bool inside[RB];  /* false for a window position in the padding (if PADDED) */
        for (int r = 0; r < RB; ++r) {
            const int id = id0[r] + kd * DD, ih = ih0[r] + kh * DH, iw = iw0[r] + kw * DW;
            const bool in = id >= 0 && id < ID && ih >= 0 && ih < IH && iw >= 0 && iw < IW;
            inside[r] = in;
            a[r] = src + src_row[r] + (in ? id * (long)SRC_D + ih * (long)SRC_H + iw * (long)SRC_W : 0);
        }
        for (int ic = 0; ic < IC; ++ic) {
            float16 w[NV];  /* panels are 64-byte aligned: a plain 16-wide load */
            for (int v = 0; v < NV; ++v) w[v] = ((const __global float16 *)p)[v];
            p += NB;
            for (int r = 0; r < RB; ++r) {
#if PADDED  /* a select, not a multiply by 0: the value read may be inf or NaN */
                const float x = inside[r] ? a[r][ic * SRC_C] : 0.0f;
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
        long po_row[4];
#if WITH_BINARY
        binary_rows(po_row, b, n, od, oh, ow);
#endif
        for (int v = 0; v < NV; ++v) {
            const int col = panel * NB + v * 16;
            if (col < OC)
                store_row(&acc[r][v], dst + dst_row[r] + col * (long)DST_C,
                          bia + bia_row + col * (long)BIA_C, min(16, OC - col), PO_PASS,
                          po_row, col);
        }
    }
}
