/* The element walk of the eltwise and binary kernels (dnnl_py/ocl/eltwise.py writes the
 * -D macros): WALK_ND dims, outermost first, WALK_TOTAL elements; each operand's element
 * strides as a list (WALK_DST, WALK_SRC0, WALK_SRC1; 0 broadcasts). One work-item per
 * element, scalar code. */

__constant long walk_dims[WALK_ND] = {WALK_DIMS};
__constant long walk_src0[WALK_ND] = {WALK_SRC0};
__constant long walk_src1[WALK_ND] = {WALK_SRC1};
__constant long walk_dst[WALK_ND] = {WALK_DST};

/* Offsets of element i in src0, src1 and dst. */
static void walk(ulong i, long *s0, long *s1, long *d) {
    long a = 0, b = 0, c = 0;
    for (int k = WALK_ND - 1; k >= 0; --k) {
        const long j = i % walk_dims[k];
        i /= walk_dims[k];
        a += j * walk_src0[k];
        b += j * walk_src1[k];
        c += j * walk_dst[k];
    }
    *s0 = a;
    *s1 = b;
    *d = c;
}
