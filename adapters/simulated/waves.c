/*
 * adapters/simulated/waves.c - the value generators of simulated sensors.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "simulated.h"

int gw_sim_wave_parse(const char *name, gw_sim_wave_t *out)
{
    static const struct {
        const char *name;
        gw_sim_wave_t w;
    } names[] = {
        {"sine", GW_SIM_SINE},         {"random_walk", GW_SIM_RANDOM_WALK},
        {"sawtooth", GW_SIM_SAWTOOTH}, {"square", GW_SIM_SQUARE},
        {"constant", GW_SIM_CONSTANT},
    };
    if (!out)
        return -EINVAL;
    if (!name) {
        *out = GW_SIM_SINE;
        return 0;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].w;
            return 0;
        }
    return -EINVAL;
}

double gw_sim_wave_at(gw_sim_wave_t w, double min, double max, double period_s, double phase,
                      double t_s)
{
    double pos = (period_s > 0 ? t_s / period_s : 0) + phase;
    double frac = pos - floor(pos);
    double v;
    switch (w) {
    case GW_SIM_SINE:
        v = (min + max) / 2 + (max - min) / 2 * sin(2 * M_PI * frac);
        break;
    case GW_SIM_SAWTOOTH:
        v = min + (max - min) * frac;
        break;
    case GW_SIM_SQUARE:
        v = frac < 0.5 ? max : min;
        break;
    case GW_SIM_CONSTANT:
    case GW_SIM_RANDOM_WALK:
    default:
        /* A constant is the middle of its range, so min = max = 21 gives 21. */
        v = (min + max) / 2;
        break;
    }
    /* sin() may overshoot by an ulp; the range is a promise. */
    return v < min ? min : v > max ? max : v;
}

/* splitmix64 (Steele, Lea, Flood 2014) to spread a key hash into a state,
 * xorshift64* (Vigna 2016) for the draws: tiny, fast and good enough for
 * test signals. Constants are the published ones. */
static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t gw_sim_seed(const char *key)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; key && *key; key++)
        h = (h ^ (uint8_t)*key) * 0x100000001b3ull;
    uint64_t s = splitmix64(h);
    return s ? s : 0x2545f4914f6cdd1dull; /* xorshift must not start at 0 */
}

double gw_sim_uniform(uint64_t *rng)
{
    uint64_t x = *rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rng = x;
    return (double)((x * 0x2545f4914f6cdd1dull) >> 11) * 0x1.0p-53;
}

double gw_sim_walk_step(double v, double min, double max, uint64_t *rng)
{
    double step = (max - min) / 20;
    v += (gw_sim_uniform(rng) * 2 - 1) * step;
    if (v > max)
        v = 2 * max - v;
    if (v < min)
        v = 2 * min - v;
    return v < min ? min : v > max ? max : v;
}
