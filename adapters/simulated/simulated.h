/*
 * adapters/simulated/simulated.h - what the simulated adapter shares with
 * its tests and nothing else: the waves as pure functions and a clock that
 * tests can drive, so that no test sleeps.
 */
#ifndef GW_ADAPTERS_SIMULATED_SIMULATED_H
#define GW_ADAPTERS_SIMULATED_SIMULATED_H

#include "../adapter.h"

/* One generated field of a simulated device
 * (`simulate = ( { field = "temperature"; wave = "sine"; min = 18.0; max = 24.0;
 *                  period = 60.0; interval = 5.0; } )`). */
typedef struct gw_config_sim {
    char *field;
    char *wave;                   /* "sine" (default), "random_walk", "sawtooth", "square", "constant" */
    double min, max;              /* value range, default 0..100 */
    double period_s;              /* default 60 */
    double interval_s;            /* one reading every interval, default 5 */
    char *unit;                   /* unit of the generated values, NULL = the object's */
    int decimals;                 /* values rounded to this many decimals (0..6, default 2),
                                     as a real sensor resolves them: 20.32, not
                                     20.316704277139795 */
    int line;
} gw_config_sim_t;

/* A device's simulated part (gw_adapter_device_t.conf): its simulate list. */
typedef struct sim_part {
    gw_config_sim_t *sims;
    size_t n_sims, cap_sims;
} sim_part_t;

extern const gw_adapter_conf_ops_t gw_sim_conf_ops;

typedef enum gw_sim_wave {
    GW_SIM_SINE = 0,
    GW_SIM_RANDOM_WALK,
    GW_SIM_SAWTOOTH,
    GW_SIM_SQUARE,
    GW_SIM_CONSTANT,
} gw_sim_wave_t;

/* "sine" (also NULL), "random_walk", "sawtooth", "square", "constant".
 * 0 or -EINVAL. */
int gw_sim_wave_parse(const char *name, gw_sim_wave_t *out);

/* Value of a periodic wave (not random_walk) at t_s seconds, with phase
 * in periods (0..1). */
double gw_sim_wave_at(gw_sim_wave_t w, double min, double max, double period_s, double phase,
                      double t_s);

/* One step of the bounded random walk from v: a uniform step of at most
 * (max-min)/20, reflected at the bounds. *rng is the PRNG state. */
double gw_sim_walk_step(double v, double min, double max, uint64_t *rng);

/* Seed derived from a device key (reproducible runs) and the next uniform
 * number in [0,1). */
uint64_t gw_sim_seed(const char *key);
double gw_sim_uniform(uint64_t *rng);

/* The adapter's step, for tests that drive it by hand (env.loop NULL, no
 * timer in a loop): emit every reading due by the adapter's monotonic
 * clock; 0 or -EINVAL. In the daemon a timer in env.loop calls it. */
int gw_sim_run_due(gw_adapter_t *a);
/* Monotonic ms at which the next reading is due, -1 when none (stopped). */
int64_t gw_sim_next_due_ms(const gw_adapter_t *a);

/* Replace the monotonic and wall clocks (ms) of an adapter, before start.
 * Only for an adapter without env.loop: the loop's timers follow the real
 * monotonic clock. */
typedef int64_t (*gw_sim_clock_fn)(void *ctx);
void gw_sim_set_clock(gw_adapter_t *a, gw_sim_clock_fn mono, gw_sim_clock_fn wall, void *ctx);

#endif
