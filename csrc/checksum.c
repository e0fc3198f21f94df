/* CRC-32C (Castagnoli) of a byte buffer: the damage check of a model cache entry's
 * weights (dnnl_py/model/hashing.py). SSE4.2's crc32 instruction takes 8 bytes a step,
 * ~3x zlib's table-driven CRC-32 (measured on Zen 4), which was a fifth of a warm
 * start's compile; a CPU without it gets the same values from a table. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dnnl_kernels.h"

#define CRC32C_POLY 0x82F63B78u /* reflected */

#define BLOCK 4096u /* bytes per stream and round of the three-stream loop */

static uint32_t crc32c_table[256];
/* shifting a CRC over BLOCK zero bytes, byte by byte of the CRC (see crc32c_sse42) */
static uint32_t shift_table[4][256];

/* a * b mod P, as polynomials in the reflected order of the CRC (bit 31 is x^0) */
static uint32_t gf_mul(uint32_t a, uint32_t b) {
    uint32_t p = 0;
    for (int i = 0; i < 32; ++i) {
        if (a & (0x80000000u >> i)) p ^= b; /* a's x^i term */
        b = (b & 1) ? (b >> 1) ^ CRC32C_POLY : b >> 1; /* b *= x */
    }
    return p;
}

/* x^(8 n) mod P: what n zero bytes multiply a CRC register by */
static uint32_t x_pow_8n(uint64_t n) {
    uint32_t r = 0x80000000u, sq = 0x00800000u; /* 1 and x^8 */
    for (; n; n >>= 1, sq = gf_mul(sq, sq))
        if (n & 1) r = gf_mul(r, sq);
    return r;
}

/* Filled when the library loads: no first-call race between threads. */
__attribute__((constructor)) static void crc32c_init(void) {
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc32c_table[i] = c;
    }
    const uint32_t by_block = x_pow_8n(BLOCK);
    for (int k = 0; k < 4; ++k)
        for (uint32_t b = 0; b < 256; ++b) shift_table[k][b] = gf_mul(b << (8 * k), by_block);
#if defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init();
#endif
}

/* c * x^(8 BLOCK) mod P: multiplying is linear, so by the bytes of c, one table each */
static inline uint32_t shift_block(uint32_t c) {
    return shift_table[0][c & 0xFF] ^ shift_table[1][(c >> 8) & 0xFF]
           ^ shift_table[2][(c >> 16) & 0xFF] ^ shift_table[3][c >> 24];
}

static uint32_t crc32c_bytes(uint32_t c, const unsigned char *p, size_t n) {
    while (n--) c = crc32c_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c;
}

#if defined(__GNUC__) && defined(__x86_64__)
static inline uint64_t load8(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8); /* any alignment */
    return v;
}

/* crc32 takes 3 cycles and can start every cycle: one dependent chain runs at a third
 * of its rate (~9 GB/s on Zen 4, half a warm ResNet-50 start's entry check). So three
 * blocks go at once, the second and third from a zero register, and join the first:
 * the CRC register is linear in its start value, so crc(c, A B) =
 * crc(c, A) * x^(8 |B|) ^ crc(0, B), mod P. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t c,
                                                                const unsigned char *p,
                                                                size_t n) {
    uint64_t c0 = c;
    for (; n >= 3 * BLOCK; n -= 3 * BLOCK, p += 3 * BLOCK) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < BLOCK; i += 8) {
            c0 = __builtin_ia32_crc32di(c0, load8(p + i));
            c1 = __builtin_ia32_crc32di(c1, load8(p + BLOCK + i));
            c2 = __builtin_ia32_crc32di(c2, load8(p + 2 * BLOCK + i));
        }
        c0 = shift_block(shift_block((uint32_t)c0) ^ (uint32_t)c1) ^ (uint32_t)c2;
    }
    for (; n >= 8; n -= 8, p += 8) c0 = __builtin_ia32_crc32di(c0, load8(p));
    c = (uint32_t)c0;
    for (; n; --n) c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}
#endif

uint32_t dnnl_crc32c(uint32_t crc, const unsigned char *data, size_t n) {
    uint32_t c = ~crc;
    if (n == 0) return crc;
#if defined(__GNUC__) && defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) return ~crc32c_sse42(c, data, n);
#endif
    return ~crc32c_bytes(c, data, n);
}

/* Digests of buffers taken one at a time from a list shared by the threads that call
 * this (dnnl_py/model/hashing.py): buffer k is size[k] bytes at data[k], its digest
 * goes to out + k * (4 or 32); *next, advanced atomically, is the next one to take. The
 * whole loop runs without the GIL: taking each buffer from Python waited up to the
 * interpreter's 5 ms switch interval whenever another thread was running Python. */
void dnnl_digest_list(int kind, const unsigned char *const *data, const size_t *size,
                      int64_t count, int64_t *next, unsigned char *out) {
    for (;;) {
        const int64_t k = __atomic_fetch_add(next, 1, __ATOMIC_RELAXED);
        if (k >= count) return;
        if (kind == DNNL_DIGEST_BLAKE3) {
            dnnl_blake3(data[k], size[k], out + 32 * k);
        } else {
            const uint32_t c = dnnl_crc32c(0, data[k], size[k]);
            for (int i = 0; i < 4; ++i) out[4 * k + i] = (unsigned char)(c >> (8 * i));
        }
    }
}
