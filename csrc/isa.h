/* Run-time ISA dispatch: one build runs everywhere, hot loops get AVX-512/AVX2
 * clones chosen by the loader (GCC function multi-versioning). */
#ifndef DNNL_ISA_H
#define DNNL_ISA_H
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define DNNL_MULTIVERSION \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DNNL_MULTIVERSION
#endif
#endif
