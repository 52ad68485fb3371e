/* A small, fast, seedable random generator (xoshiro256** seeded by splitmix64), so that training and
 * tests are reproducible from one seed. Not for anything secret. */
#ifndef METS_RNG_H
#define METS_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct mets_rng {
    uint64_t s[4];
} mets_rng;

static inline uint64_t mets_rng_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void mets_rng_seed(mets_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = mets_rng_splitmix(&seed);
}

static inline uint64_t mets_rng_next(mets_rng *r)
{
    uint64_t *s = r->s, result = ((s[1] * 5) << 7 | (s[1] * 5) >> 57) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t;
    s[3] = s[3] << 45 | s[3] >> 19;
    return result;
}

/* Uniform in [0, 1). */
static inline double mets_rng_uniform(mets_rng *r)
{
    return (double)(mets_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n). */
static inline uint64_t mets_rng_below(mets_rng *r, uint64_t n)
{
    return n ? mets_rng_next(r) % n : 0;
}

/* Standard normal (Box-Muller). */
static inline double mets_rng_normal(mets_rng *r)
{
    double u = mets_rng_uniform(r), v = mets_rng_uniform(r);
    return sqrt(-2.0 * log(u > 0 ? u : 1e-300)) * cos(2.0 * M_PI * v);
}

#endif
