/* One width of BLAKE3's many-inputs compression, included by csrc/blake3.c once per
 * width with LANES (inputs at once: 8 or 16), CV_LANES (the function's name) and
 * LANES_ATTR (the ISA it is compiled for, as attributes) defined; G, ROUND, IV, SCHEDULE and store32
 * come from there. No include guard: that is the point. */
#define LANES_T_(n) lanes##n##_t
#define LANES_T__(n) LANES_T_(n)
#define LANES_T LANES_T__(LANES)
typedef uint32_t LANES_T __attribute__((vector_size(4 * LANES)));

/* Chaining values of `count` (<= LANES) inputs at once, one a vector lane: input l is
 * `blocks` 64-byte blocks at in + l * stride with counter + l * step; the first block
 * also flagged `start`, the last `end`. Lanes past `count` repeat the last input. */
LANES_ATTR static void CV_LANES(
    const unsigned char *in, size_t stride, int count, size_t blocks, uint64_t counter,
    uint64_t step, uint32_t flags, uint32_t start, uint32_t end, unsigned char *out) {
    LANES_T h[8], m[16], counter_lo, counter_hi, iota;
    for (int l = 0; l < LANES; ++l) {
        const uint64_t c = counter + step * (uint64_t)(l < count ? l : count - 1);
        counter_lo[l] = (uint32_t)c, counter_hi[l] = (uint32_t)(c >> 32), iota[l] = l;
    }
    for (int i = 0; i < 8; ++i) h[i] = (LANES_T){0} + IV[i];
    for (size_t b = 0; b < blocks; ++b) {
        /* m[w] must hold word w of every input: each LANES words of an input's block are
         * loaded as a row, and each LANES x LANES square of rows transposed by swapping
         * bit k of the row index with bit k of the word index, k by k: rows a = r[i] and
         * b = r[i + k] (i without bit k) become (a's words without bit k, b's without)
         * and (a's with bit k, b's with). */
        for (int w0 = 0; w0 < 16; w0 += LANES) {
            LANES_T *r = m + w0;
            for (int l = 0; l < LANES; ++l) { /* x86 is little-endian: words as stored */
                const unsigned char *block = in + (size_t)(l < count ? l : count - 1) * stride
                                             + 64 * b;
                memcpy(&r[l], block + 4 * w0, 4 * LANES);
                /* Each lane reads its own stream, a line a block, more streams than the
                 * hardware prefetchers follow: from memory (a model's weights) that ran
                 * at 3.6 GB/s against 5.7 in cache. The next block's line, and before
                 * the last block the first line of the chunk this lane takes next
                 * (LANES chunks on): 3.6 -> 5.2 GB/s (a /tmp benchmark, 96 MiB). A
                 * prefetch past the buffer is harmless. */
                if (w0 == 0) {
                    __builtin_prefetch(block + 64);
                    if (b + 2 == blocks) __builtin_prefetch(block + LANES * stride - 64 * b);
                }
            }
#pragma GCC unroll 4
            for (int k = 1; k < LANES; k <<= 1) {
                const LANES_T bit = (LANES_T)((iota & k) != 0);
                const LANES_T take_a = (iota & ~bit) | ((iota - k + LANES) & bit);
                const LANES_T take_b = ((iota + k) & ~bit) | ((iota + LANES) & bit);
                for (int i = 0; i < LANES; ++i) {
                    if (i & k) continue;
                    const LANES_T a = r[i], c = r[i + k];
                    r[i] = __builtin_shuffle(a, c, take_a);
                    r[i + k] = __builtin_shuffle(a, c, take_b);
                }
            }
        }
        const uint32_t f = flags | (b == 0 ? start : 0) | (b + 1 == blocks ? end : 0);
        LANES_T v[16] = {h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]};
        for (int i = 0; i < 4; ++i) v[8 + i] = (LANES_T){0} + IV[i];
        v[12] = counter_lo, v[13] = counter_hi;
        v[14] = (LANES_T){0} + 64, v[15] = (LANES_T){0} + f;
#pragma GCC unroll 7 /* the schedule's indices constant: m stays in registers */
        for (int r = 0; r < 7; ++r) ROUND(v, m, SCHEDULE[r]);
        for (int i = 0; i < 8; ++i) h[i] = v[i] ^ v[i + 8];
    }
    for (int l = 0; l < count; ++l)
        for (int i = 0; i < 8; ++i) store32(out + 32 * l + 4 * i, h[i][l]);
}

#undef LANES_T
#undef LANES_T_
#undef LANES_T__
#undef LANES
#undef CV_LANES
#undef LANES_ATTR
