/* FNV-1a, 64 bits (Fowler, Noll, Vo): the hash of the in-memory tables keyed by stream ids, texts and
 * words. Fast on short keys; not for keys chosen to collide (the tables' probes stay correct, only
 * slower). */
#ifndef METS_COMMON_HASH_H
#define METS_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define METS_FNV64_BASIS 0xcbf29ce484222325ull

/* Continues hash `h` (METS_FNV64_BASIS to start) over n bytes. */
static inline uint64_t mets_fnv64(uint64_t h, const void *data, size_t n)
{
    const uint8_t *b = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static inline uint64_t mets_fnv64_str(const char *s)
{
    return mets_fnv64(METS_FNV64_BASIS, s, strlen(s));
}

#endif
