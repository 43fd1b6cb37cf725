/* Shared by the libFuzzer harnesses in tests/fuzz/. */
#ifndef MPCONV_FUZZ_H
#define MPCONV_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in RelWithDebInfo; a broken property must crash
 * so that libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* Deterministic piece sizes for feeding a parser in parts: xorshift32
 * seeded from input bytes, so a saved crash replays the same split. */
static inline uint32_t fuzz_next(uint32_t *state)
{
    uint32_t x = *state ? *state : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

#endif
