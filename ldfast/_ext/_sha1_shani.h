/* SHA-1 block function with the x86 SHA extensions (SHA-NI), chosen at run time when the CPU has
 * them; elsewhere ldfast_sha1_shani_available() is 0 and bucketing_c.pyx uses its portable C. */
#ifndef LDFAST_SHA1_SHANI_H
#define LDFAST_SHA1_SHANI_H
#include <stdint.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

static int ldfast_sha1_shani_available(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 9)) || !(c & (1u << 19))) return 0; /* SSSE3, SSE4.1 */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 29) & 1u; /* SHA */
}

#define LDFAST_SHA1_GROUP(g, F, Ecur, Eoth, Mi, Mnext, Mprev, Mopp)        \
    Ecur = _mm_sha1nexte_epu32(Ecur, Mi);                                   \
    Eoth = ABCD;                                                            \
    if ((g) >= 3 && (g) <= 18) Mnext = _mm_sha1msg2_epu32(Mnext, Mi);       \
    ABCD = _mm_sha1rnds4_epu32(ABCD, Ecur, F);                              \
    if ((g) >= 1 && (g) <= 16) Mprev = _mm_sha1msg1_epu32(Mprev, Mi);       \
    if ((g) >= 2 && (g) <= 17) Mopp = _mm_xor_si128(Mopp, Mi);

__attribute__((target("sha,sse4.1,ssse3")))
static void ldfast_sha1_block_shani(uint32_t state[5], const uint8_t *data) {
    __m128i ABCD, ABCD_SAVE, E0, E0_SAVE, E1, M0, M1, M2, M3;
    const __m128i MASK = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);

    ABCD = _mm_loadu_si128((const __m128i *)state);
    E0 = _mm_set_epi32((int)state[4], 0, 0, 0);
    ABCD = _mm_shuffle_epi32(ABCD, 0x1B);
    ABCD_SAVE = ABCD;
    E0_SAVE = E0;

    M0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 0)), MASK);
    M1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16)), MASK);
    M2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 32)), MASK);
    M3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 48)), MASK);

    /* group 0: rounds 0-3 */
    E0 = _mm_add_epi32(E0, M0);
    E1 = ABCD;
    ABCD = _mm_sha1rnds4_epu32(ABCD, E0, 0);
    /* groups 1-19: (g, function, E used, E saved, W_i, W_i+1, W_i+3, W_i+2) */
    LDFAST_SHA1_GROUP(1, 0, E1, E0, M1, M2, M0, M3)
    LDFAST_SHA1_GROUP(2, 0, E0, E1, M2, M3, M1, M0)
    LDFAST_SHA1_GROUP(3, 0, E1, E0, M3, M0, M2, M1)
    LDFAST_SHA1_GROUP(4, 0, E0, E1, M0, M1, M3, M2)
    LDFAST_SHA1_GROUP(5, 1, E1, E0, M1, M2, M0, M3)
    LDFAST_SHA1_GROUP(6, 1, E0, E1, M2, M3, M1, M0)
    LDFAST_SHA1_GROUP(7, 1, E1, E0, M3, M0, M2, M1)
    LDFAST_SHA1_GROUP(8, 1, E0, E1, M0, M1, M3, M2)
    LDFAST_SHA1_GROUP(9, 1, E1, E0, M1, M2, M0, M3)
    LDFAST_SHA1_GROUP(10, 2, E0, E1, M2, M3, M1, M0)
    LDFAST_SHA1_GROUP(11, 2, E1, E0, M3, M0, M2, M1)
    LDFAST_SHA1_GROUP(12, 2, E0, E1, M0, M1, M3, M2)
    LDFAST_SHA1_GROUP(13, 2, E1, E0, M1, M2, M0, M3)
    LDFAST_SHA1_GROUP(14, 2, E0, E1, M2, M3, M1, M0)
    LDFAST_SHA1_GROUP(15, 3, E1, E0, M3, M0, M2, M1)
    LDFAST_SHA1_GROUP(16, 3, E0, E1, M0, M1, M3, M2)
    LDFAST_SHA1_GROUP(17, 3, E1, E0, M1, M2, M0, M3)
    LDFAST_SHA1_GROUP(18, 3, E0, E1, M2, M3, M1, M0)
    LDFAST_SHA1_GROUP(19, 3, E1, E0, M3, M0, M2, M1)

    E0 = _mm_sha1nexte_epu32(E0, E0_SAVE);
    ABCD = _mm_add_epi32(ABCD, ABCD_SAVE);
    ABCD = _mm_shuffle_epi32(ABCD, 0x1B);
    _mm_storeu_si128((__m128i *)state, ABCD);
    state[4] = (uint32_t)_mm_extract_epi32(E0, 3);
}
#else
static int ldfast_sha1_shani_available(void) { return 0; }
static void ldfast_sha1_block_shani(uint32_t state[5], const uint8_t *data) { (void)state; (void)data; }
#endif
#endif
