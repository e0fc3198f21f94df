/* oneDNN's own time for dnnl_py's benchmark problems (benchmarks/vs_onednn.py builds and
 * runs it). A reference only: nothing in dnnl_py links oneDNN.
 *
 * Each argument is one problem:
 *   conv,NAME,mb,ic,ih,iw,oc,oh,ow,kh,kw,sh,sw,ph,pw,prh,prw   (forward inference, f32)
 *   matmul,NAME,batch,m,n,k                                   (batch 0: 2D operands)
 * Every memory is format_tag any, so oneDNN picks its layouts; inputs are reordered into
 * them once, from plain arrays of seeded values. Each problem runs once untimed and then
 * `reps` (default 20; DNNL_REF_REPS) times; one JSON line per problem gives the best
 * time and the implementation oneDNN chose. Threads: OMP_NUM_THREADS (the GOMP build). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "oneapi/dnnl/dnnl.h"

#define CHECK(call)                                                              \
    do {                                                                         \
        dnnl_status_t s_ = (call);                                               \
        if (s_ != dnnl_success) {                                                \
            fprintf(stderr, "%s:%d: %s failed: status %d\n", __FILE__, __LINE__, \
                    #call, (int)s_);                                             \
            exit(2);                                                             \
        }                                                                        \
    } while (0)

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

/* A memory of the primitive's layout `md` holding seeded values, reordered from a plain
 * (row-major) array of the same dims. */
static dnnl_memory_t input_memory(const_dnnl_memory_desc_t md, int ndims, const dnnl_dims_t dims,
                                  unsigned seed) {
    static const dnnl_format_tag_t plain[] = {dnnl_format_tag_undef, dnnl_a, dnnl_ab,
                                              dnnl_abc, dnnl_abcd, dnnl_abcde};
    dnnl_memory_desc_t user_md;
    CHECK(dnnl_memory_desc_create_with_tag(&user_md, ndims, dims, dnnl_f32, plain[ndims]));
    dnnl_memory_t user, mem;
    CHECK(dnnl_memory_create(&user, user_md, engine, DNNL_MEMORY_ALLOCATE));
    float *data;
    CHECK(dnnl_memory_get_data_handle(user, (void **)&data));
    const size_t n = dnnl_memory_desc_get_size(user_md) / sizeof(float);
    for (size_t i = 0; i < n; ++i) { /* in [-1, 1): no denormals, no overflow */
        seed = seed * 1103515245u + 12345u;
        data[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    CHECK(dnnl_memory_create(&mem, md, engine, DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t rpd;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, user_md, engine, md, engine, NULL));
    dnnl_primitive_t reorder;
    CHECK(dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, mem}};
    CHECK(dnnl_primitive_execute(reorder, stream, 2, args));
    CHECK(dnnl_stream_wait(stream));
    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(user);
    dnnl_memory_desc_destroy(user_md);
    return mem;
}

/* Best time of `reps` executes after one warm-up, and the implementation's name. */
static void time_primitive(const char *kind, const char *name, dnnl_primitive_desc_t pd,
                           int ndims[3], dnnl_dims_t dims[3], int reps) {
    static const dnnl_query_t queries[3] = {dnnl_query_src_md, dnnl_query_weights_md,
                                            dnnl_query_dst_md};
    static const int arg_ids[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    dnnl_exec_arg_t args[4];
    int nargs = 0;
    for (int i = 0; i < 3; ++i) {
        const_dnnl_memory_desc_t md = dnnl_primitive_desc_query_md(pd, queries[i], 0);
        dnnl_memory_t mem;
        if (i < 2) {
            mem = input_memory(md, ndims[i], dims[i], 17u + i);
        } else {
            CHECK(dnnl_memory_create(&mem, md, engine, DNNL_MEMORY_ALLOCATE));
        }
        args[nargs++] = (dnnl_exec_arg_t){arg_ids[i], mem};
    }
    const_dnnl_memory_desc_t scratch_md =
        dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (scratch_md && dnnl_memory_desc_get_size(scratch_md)) {
        dnnl_memory_t mem;
        CHECK(dnnl_memory_create(&mem, scratch_md, engine, DNNL_MEMORY_ALLOCATE));
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, mem};
    }
    dnnl_primitive_t prim;
    CHECK(dnnl_primitive_create(&prim, pd));
    double best = 1e30;
    for (int r = 0; r <= reps; ++r) {
        const double t0 = now_ms();
        CHECK(dnnl_primitive_execute(prim, stream, nargs, args));
        CHECK(dnnl_stream_wait(stream));
        const double t = now_ms() - t0;
        if (r > 0 && t < best) best = t; /* r == 0: the warm-up */
    }
    const char *impl = "?";
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    printf("{\"kind\": \"%s\", \"name\": \"%s\", \"impl\": \"%s\", \"ms\": %.6f}\n", kind, name,
           impl, best);
    fflush(stdout);
    dnnl_primitive_destroy(prim);
    for (int i = 0; i < nargs; ++i) dnnl_memory_destroy(args[i].memory);
}

static dnnl_memory_desc_t any_md(int ndims, const dnnl_dims_t dims) {
    dnnl_memory_desc_t md;
    CHECK(dnnl_memory_desc_create_with_tag(&md, ndims, dims, dnnl_f32, dnnl_format_tag_any));
    return md;
}

static int parse(const char *spec, char *kind, char *name, long *v, int max_v) {
    const char *p = strchr(spec, ','), *q = p ? strchr(p + 1, ',') : NULL;
    if (!p || !q || p - spec >= 16 || q - p - 1 >= 128) return -1;
    memcpy(kind, spec, p - spec), kind[p - spec] = 0;
    memcpy(name, p + 1, q - p - 1), name[q - p - 1] = 0;
    int n = 0;
    for (const char *s = q; *s == ',' && n < max_v; ++n) {
        char *end;
        v[n] = strtol(s + 1, &end, 10);
        if (end == s + 1) return -1;
        s = end;
    }
    return n;
}

int main(int argc, char **argv) {
    const char *reps_env = getenv("DNNL_REF_REPS");
    const int reps = reps_env ? atoi(reps_env) : 20;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    for (int a = 1; a < argc; ++a) {
        char kind[16], name[128];
        long v[16];
        const int n = parse(argv[a], kind, name, v, 16);
        dnnl_primitive_desc_t pd;
        int ndims[3];
        dnnl_dims_t dims[3];
        if (n == 15 && !strcmp(kind, "conv")) {
            const long mb = v[0], ic = v[1], ih = v[2], iw = v[3], oc = v[4], oh = v[5],
                       ow = v[6], kh = v[7], kw = v[8];
            dnnl_dims_t src = {mb, ic, ih, iw}, wei = {oc, ic, kh, kw}, dst = {mb, oc, oh, ow};
            dnnl_dims_t strides = {v[9], v[10]}, dil = {0, 0}, pl = {v[11], v[12]},
                        pr = {v[13], v[14]};
            memcpy(dims[0], src, sizeof(src)), memcpy(dims[1], wei, sizeof(wei));
            memcpy(dims[2], dst, sizeof(dst));
            ndims[0] = ndims[1] = ndims[2] = 4;
            dnnl_memory_desc_t s = any_md(4, src), w = any_md(4, wei), d = any_md(4, dst);
            CHECK(dnnl_convolution_forward_primitive_desc_create(
                &pd, engine, dnnl_forward_inference, dnnl_convolution_direct, s, w, NULL, d,
                strides, dil, pl, pr, NULL));
            dnnl_memory_desc_destroy(s), dnnl_memory_desc_destroy(w), dnnl_memory_desc_destroy(d);
        } else if (n == 4 && !strcmp(kind, "matmul")) {
            const long b = v[0], m = v[1], nn = v[2], k = v[3];
            const int nd = b ? 3 : 2;
            dnnl_dims_t src = {b, m, k}, wei = {b, k, nn}, dst = {b, m, nn};
            if (!b) { /* 2D: drop the batch dim */
                memmove(src, src + 1, 2 * sizeof(dnnl_dim_t));
                memmove(wei, wei + 1, 2 * sizeof(dnnl_dim_t));
                memmove(dst, dst + 1, 2 * sizeof(dnnl_dim_t));
            }
            memcpy(dims[0], src, sizeof(src)), memcpy(dims[1], wei, sizeof(wei));
            memcpy(dims[2], dst, sizeof(dst));
            ndims[0] = ndims[1] = ndims[2] = nd;
            dnnl_memory_desc_t s = any_md(nd, src), w = any_md(nd, wei), d = any_md(nd, dst);
            CHECK(dnnl_matmul_primitive_desc_create(&pd, engine, s, w, NULL, d, NULL));
            dnnl_memory_desc_destroy(s), dnnl_memory_desc_destroy(w), dnnl_memory_desc_destroy(d);
        } else {
            fprintf(stderr, "bad problem %s (expected conv,NAME,15 numbers or "
                            "matmul,NAME,batch,m,n,k)\n", argv[a]);
            return 1;
        }
        time_primitive(kind, name, pd, ndims, dims, reps);
        dnnl_primitive_desc_destroy(pd);
    }
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
    return 0;
}
