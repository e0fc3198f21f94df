/* What the conv/matmul kernels derive from their -D macros (dnnl_py/ocl/gemm.py writes
 * them): rows are output pixels (n, od, oh, ow), columns output channels, the reduction
 * runs over (kd, kh, kw, ic); a matmul is a 1x1 convolution over "pixels" m. The third
 * grid dimension walks groups / matmul batch dims. All strides are in elements. */

#define KTOT (KD * KH * KW * IC)
#define ROWS (MB * OD * OH * OW)
#define NBATCH (B0_DIM * B1_DIM * B2_DIM * B3_DIM)

/* Offsets of batch index b (groups or matmul batch dims, up to 4) in each operand. */
#define BATCH_OFF(b, op) ( \
      ((b) / B0_DIV % B0_DIM) * B0_##op + ((b) / B1_DIV % B1_DIM) * B1_##op \
    + ((b) / B2_DIV % B2_DIM) * B2_##op + ((b) / B3_DIV % B3_DIM) * B3_##op)
