/* Softmax and layer/batch normalization forward, scalar code: one work-item per parallel
 * point (a softmax or layer-norm row, a batch-norm channel) walks its reduction. The
 * walk is the split of dnnl_py/reduction.py as -D macros: NP parallel and NR reduced
 * dims, padded to MAXD with unit dims of zero strides. Sums are float with Kahan
 * compensation (double is optional in OpenCL), which keeps their error independent of
 * the reduction's length. A program holds one kernel: softmax_fwd (LOG_SOFTMAX defined)
 * or norm_fwd (EPS defined). Grid: (POINTS rounded up to the work-group size). */
#define MAXD 6

__constant long P_DIM[MAXD] = {P0_DIM, P1_DIM, P2_DIM, P3_DIM, P4_DIM, P5_DIM};
__constant long P_SRC[MAXD] = {P0_SRC, P1_SRC, P2_SRC, P3_SRC, P4_SRC, P5_SRC};
__constant long P_DST[MAXD] = {P0_DST, P1_DST, P2_DST, P3_DST, P4_DST, P5_DST};
__constant long P_STAT[MAXD] = {P0_STAT, P1_STAT, P2_STAT, P3_STAT, P4_STAT, P5_STAT};
__constant long P_SS[MAXD] = {P0_SS, P1_SS, P2_SS, P3_SS, P4_SS, P5_SS};
__constant long R_DIM[MAXD] = {R0_DIM, R1_DIM, R2_DIM, R3_DIM, R4_DIM, R5_DIM};
__constant long R_SRC[MAXD] = {R0_SRC, R1_SRC, R2_SRC, R3_SRC, R4_SRC, R5_SRC};
__constant long R_DST[MAXD] = {R0_DST, R1_DST, R2_DST, R3_DST, R4_DST, R5_DST};
__constant long R_SS[MAXD] = {R0_SS, R1_SS, R2_SS, R3_SS, R4_SS, R5_SS};

typedef struct { long src, dst, stat, ss; } norm_off;

/* Offsets of parallel point i. */
norm_off norm_point(long i) {
    norm_off o = {0, 0, 0, 0};
    for (int k = MAXD - 1; k >= 0; --k) {
        const long x = i % P_DIM[k];
        i /= P_DIM[k];
        o.src += x * P_SRC[k];
        o.dst += x * P_DST[k];
        o.stat += x * P_STAT[k];
        o.ss += x * P_SS[k];
    }
    return o;
}

/* Offsets of the j-th reduced element of point o. */
norm_off norm_elem(norm_off o, long j) {
    for (int k = MAXD - 1; k >= 0; --k) {
        const long x = j % R_DIM[k];
        j /= R_DIM[k];
        o.src += x * R_SRC[k];
        o.dst += x * R_DST[k];
        o.ss += x * R_SS[k];
    }
    return o;
}

/* Kahan's compensated sum: *sum += v, *c carrying what the addition lost. */
void kahan_add(float *sum, float *c, float v) {
    const float y = v - *c;
    const float t = *sum + y;
    *c = (t - *sum) - y;
    *sum = t;
}

#ifdef LOG_SOFTMAX  /* the softmax program */
__kernel void softmax_fwd(__global const float *src, __global float *dst) {
    const long i = get_global_id(0);
    if (i >= POINTS) return;
    const norm_off o = norm_point(i);
    /* NaN never wins the comparison but makes the sum, so the row, NaN */
    float mx = -INFINITY;
    for (long j = 0; j < LENGTH; ++j) {
        const float v = src[norm_elem(o, j).src];
        mx = v > mx ? v : mx;
    }
    float sum = 0.0f, c = 0.0f;
    for (long j = 0; j < LENGTH; ++j) kahan_add(&sum, &c, exp(src[norm_elem(o, j).src] - mx));
#if LOG_SOFTMAX
    const float lse = log(sum);  /* subtracted after max: x - (max + lse) rounds lse away */
    for (long j = 0; j < LENGTH; ++j) {
        const norm_off e = norm_elem(o, j);
        dst[e.dst] = (src[e.src] - mx) - lse;
    }
#else
    const float inv = 1.0f / sum;
    for (long j = 0; j < LENGTH; ++j) {
        const norm_off e = norm_elem(o, j);
        dst[e.dst] = exp(src[e.src] - mx) * inv;
    }
#endif
}

#endif

#ifdef EPS  /* a normalization program */
__kernel void norm_fwd(__global const float *src, __global float *mean, __global float *var,
                       __global const float *scale, __global const float *shift,
                       __global float *dst) {
    const long i = get_global_id(0);
    if (i >= POINTS) return;
    const norm_off o = norm_point(i);
#if GLOBAL_STATS
    const float m = mean[o.stat], v = var[o.stat];
#else
    float sum = 0.0f, c = 0.0f;
    for (long j = 0; j < LENGTH; ++j) kahan_add(&sum, &c, src[norm_elem(o, j).src]);
    const float m = sum / (float)LENGTH;
    float sq = 0.0f;
    c = 0.0f;
    for (long j = 0; j < LENGTH; ++j) {
        const float d = src[norm_elem(o, j).src] - m;
        kahan_add(&sq, &c, d * d);
    }
    const float v = sq / (float)LENGTH;
#if SAVE_STATS
    mean[o.stat] = m;
    var[o.stat] = v;
#endif
#endif
    const float inv = 1.0f / sqrt(v + EPS);
    for (long j = 0; j < LENGTH; ++j) {
        const norm_off e = norm_elem(o, j);
        float y = (src[e.src] - m) * inv;
#if USE_SCALE
        y *= scale[e.ss];
#endif
#if USE_SHIFT
        y += shift[e.ss];
#endif
#if RELU
        y = y > 0.0f ? y : 0.0f;
#endif
        dst[e.dst] = y;
    }
}
#endif
