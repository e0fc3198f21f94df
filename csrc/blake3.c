/* BLAKE3 (the plain hash, 32 bytes out) of a byte buffer: the content key of a model's
 * weights (dnnl_py/model/hashing.py). sha256 was the warm start's largest cost (~55 ms
 * of CPU for ResNet-50's 97 MB at SHA-NI's ~1.8 GB/s); BLAKE3 is as collision-resistant
 * for this use and, unlike sha256, hashes 1 KiB chunks independently, so 16 of them go
 * through one AVX-512 compression at once (one chunk a vector lane).
 *
 * From the BLAKE3 specification (Aumasson, Neves, O'Connor, Wilcox-O'Hearn, 2020): the
 * input is cut into 1024-byte chunks of 64-byte blocks; a chunk's blocks are compressed
 * in a chain from the IV (first flagged CHUNK_START, last CHUNK_END, all with the chunk's
 * index as counter); chaining values pair up in a binary tree whose left subtrees hold
 * the largest power of two of chunks that leaves a byte for the right (the same tree as
 * pairing level by level, an odd node carried up); parents compress left || right from
 * the IV with counter 0 and PARENT; the root's compression adds ROOT and its first 8
 * words are the hash. Tests: tests/test_model.py (published vectors, the specification
 * in Python). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dnnl_kernels.h"
#include "isa.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "cv_lanes reads message words in the host's order: little-endian only"
#endif

enum { CHUNK_START = 1, CHUNK_END = 2, PARENT = 4, ROOT = 8 };
#define CHUNK 1024
/* chunks a subtree is hashed in at once, bottom to top in a buffer on the stack */
#define SUBTREE_CHUNKS 256

static const uint32_t IV[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                               0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};

/* the message word each G of round r takes: the permutation applied r times */
static const uint8_t SCHEDULE[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

static inline uint32_t load32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void store32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

/* The quarter-round and the round, for one state (uint32_t) or 16 (a vector of lanes):
 * the same expressions either way. */
#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define G(v, a, b, c, d, x, y)                                   \
    do {                                                         \
        v[a] = v[a] + v[b] + (x), v[d] = ROTR(v[d] ^ v[a], 16);  \
        v[c] = v[c] + v[d], v[b] = ROTR(v[b] ^ v[c], 12);        \
        v[a] = v[a] + v[b] + (y), v[d] = ROTR(v[d] ^ v[a], 8);   \
        v[c] = v[c] + v[d], v[b] = ROTR(v[b] ^ v[c], 7);         \
    } while (0)
#define ROUND(v, m, s)                                     \
    do {                                                   \
        G(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);               \
        G(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);               \
        G(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);              \
        G(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);              \
        G(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);              \
        G(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);            \
        G(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);             \
        G(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);             \
    } while (0)

/* cv = the chaining value out of compressing block (len bytes of it, the rest zero) */
static void compress(uint32_t cv[8], const unsigned char *block, uint32_t len,
                     uint64_t counter, uint32_t flags) {
    unsigned char padded[64] = {0};
    if (len) memcpy(padded, block, len);
    uint32_t m[16], v[16];
    for (int i = 0; i < 16; ++i) m[i] = load32(padded + 4 * i);
    for (int i = 0; i < 8; ++i) v[i] = cv[i], v[8 + i] = i < 4 ? IV[i] : 0;
    v[12] = (uint32_t)counter, v[13] = (uint32_t)(counter >> 32), v[14] = len, v[15] = flags;
    for (int r = 0; r < 7; ++r) ROUND(v, m, SCHEDULE[r]);
    for (int i = 0; i < 8; ++i) cv[i] = v[i] ^ v[i + 8];
}

/* one chunk of 0..1024 bytes (0 only for the empty input) through the chain */
static void chunk_cv(const unsigned char *p, size_t len, uint64_t counter, uint32_t root,
                     unsigned char out[32]) {
    uint32_t cv[8];
    memcpy(cv, IV, sizeof cv);
    const size_t blocks = len ? (len + 63) / 64 : 1;
    for (size_t b = 0; b < blocks; ++b) {
        const uint32_t n = (uint32_t)(b + 1 < blocks ? 64 : len - 64 * b);
        compress(cv, p + 64 * b, n, counter,
                 (b == 0 ? CHUNK_START : 0) | (b + 1 == blocks ? CHUNK_END | root : 0));
    }
    for (int i = 0; i < 8; ++i) store32(out + 4 * i, cv[i]);
}

static void parent_cv(const unsigned char pair[64], uint32_t root, unsigned char out[32]) {
    uint32_t cv[8];
    memcpy(cv, IV, sizeof cv);
    compress(cv, pair, 64, 0, PARENT | root);
    for (int i = 0; i < 8; ++i) store32(out + 4 * i, cv[i]);
}

/* cv_lanes16 (AVX-512: one zmm register holds a word of 16 inputs) where the CPU has
 * it, else cv_lanes8 (AVX2's ymm; without AVX2 GCC's SSE2 clone), one body. */
#if defined(__GNUC__) && defined(__x86_64__)
#define LANES 16
#define CV_LANES cv_lanes16
#define LANES_ATTR __attribute__((target("avx512f")))
#include "blake3_lanes.h"
#endif
#define LANES 8
#define CV_LANES cv_lanes8
#define LANES_ATTR DNNL_MULTIVERSION
#include "blake3_lanes.h"

typedef void cv_lanes_fn(const unsigned char *, size_t, int, size_t, uint64_t, uint64_t,
                         uint32_t, uint32_t, uint32_t, unsigned char *);
static cv_lanes_fn *cv_lanes = cv_lanes8;
static size_t lanes = 8; /* inputs a cv_lanes call takes */

/* Chosen when the library loads: no first-call race between threads. */
__attribute__((constructor)) static void blake3_init(void) {
#if defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) cv_lanes = cv_lanes16, lanes = 16;
#endif
}

/* The chaining value (with root: the hash) of the subtree over the len (0..256 KiB)
 * bytes at p, whose first chunk has index first_chunk: chunks a vector's lanes at a
 * time, then parents as many at a time level by level, an odd one out carried up. */
static void subtree_cv(const unsigned char *p, size_t len, uint64_t first_chunk,
                       uint32_t root, unsigned char out[32]) {
    unsigned char cvs[SUBTREE_CHUNKS * 32];
    const size_t chunks = len ? (len + CHUNK - 1) / CHUNK : 1, full = len / CHUNK;
    if (chunks == 1) {
        chunk_cv(p, len, first_chunk, root, out);
        return;
    }
    for (size_t c = 0; c < full; c += lanes)
        cv_lanes(p + c * CHUNK, CHUNK, (int)DNNL_MIN(lanes, full - c), CHUNK / 64,
                 first_chunk + c, 1, 0, CHUNK_START, CHUNK_END, cvs + 32 * c);
    if (full < chunks)
        chunk_cv(p + full * CHUNK, len - full * CHUNK, first_chunk + full, 0, cvs + 32 * full);
    size_t n = chunks;
    for (; n > 2; n = (n + 1) / 2) {
        const size_t pairs = n / 2;
        for (size_t i = 0; i < pairs; i += lanes) /* out over in: parent i reads 2i, 2i+1 */
            cv_lanes(cvs + 64 * i, 64, (int)DNNL_MIN(lanes, pairs - i), 1, 0, 0, PARENT, 0, 0,
                     cvs + 32 * i);
        if (n & 1) memmove(cvs + 32 * pairs, cvs + 32 * (n - 1), 32);
    }
    parent_cv(cvs, root, out);
}

void dnnl_blake3(const unsigned char *data, size_t n, unsigned char out[32]) {
    if (n <= SUBTREE_CHUNKS * CHUNK) {
        subtree_cv(data, n, 0, ROOT, out);
        return;
    }
    /* Whole subtrees of 256 chunks while a byte follows them, merged as they come (the
     * specification's stack: after the k-th, as many merges as k has trailing zeros),
     * then the last subtree and the merges up the stack, the bottom one the root. */
    unsigned char stack[64][32], pair[64];
    int depth = 0;
    uint64_t done = 0; /* subtrees */
    for (; n > SUBTREE_CHUNKS * CHUNK; n -= SUBTREE_CHUNKS * CHUNK) {
        subtree_cv(data, SUBTREE_CHUNKS * CHUNK, done * SUBTREE_CHUNKS, 0, pair + 32);
        data += SUBTREE_CHUNKS * CHUNK;
        for (uint64_t total = ++done; !(total & 1); total >>= 1) {
            memcpy(pair, stack[--depth], 32);
            parent_cv(pair, 0, pair + 32);
        }
        memcpy(stack[depth++], pair + 32, 32);
    }
    subtree_cv(data, n, done * SUBTREE_CHUNKS, 0, pair + 32);
    while (depth) {
        memcpy(pair, stack[--depth], 32);
        parent_cv(pair, depth ? 0 : ROOT, pair + 32);
    }
    memcpy(out, pair + 32, 32);
}
