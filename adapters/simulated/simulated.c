/*
 * adapters/simulated/simulated.c - sensors that do not exist: every
 * `simulate` entry of a device with adapter = "simulated" emits a reading
 * every interval, following its wave.
 *
 * Scheduling: one binary min-heap of fields keyed by their next due time,
 * so the adapter has one deadline (the heap's top), kept as one timer in
 * the loop, and a due field costs O(log n) whatever the fleet size (10,000
 * devices x a few fields) without a loop timer per field. First
 * readings are spread over one interval (an offset drawn from the device's
 * PRNG) so that a fleet configured from one template does not emit in
 * bursts.
 *
 * Every device has its own PRNG seeded from its key: a run is reproducible,
 * and a device's random walk does not depend on the rest of the fleet.
 *
 * Writes: a server's Write to a writable simulated field is accepted. The
 * LwM2M layer stores the written value; the simulator adopts it as the
 * field's current value, so a random walk continues from it, while periodic
 * waves replace it with their next generated value.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/log.h"
#include "../../lwm2m/precision.h"
#include "../adapters_internal.h"
#include "simulated.h"

typedef struct sim_dev {
    char *key;
    uint64_t rng;
    uint32_t first, n; /* its fields in a->fields */
} sim_dev_t;

typedef struct sim_field {
    const gw_config_sim_t *cfg;
    uint32_t dev;
    gw_sim_wave_t wave;
    double min, max, period_s, phase;
    int64_t interval_ms;
    int64_t due_ms;
    double value; /* random walk state, or the last written value */
} sim_field_t;

struct gw_adapter {
    gw_adapter_env_t env;
    sim_dev_t *devs;
    sim_dev_t **by_key; /* sorted by key, for writes */
    size_t n_devs;
    sim_field_t *fields;
    size_t n_fields;
    uint32_t *heap; /* field indices, min-heap on (due_ms, index) */
    size_t heap_n;
    int64_t start_ms;
    gw_sim_clock_fn mono, wall;
    void *clock_ctx;
    gw_timer_t timer; /* in env.loop, at the heap's top */
    bool started;     /* between start and stop */
};

static int64_t real_mono(void *ctx)
{
    (void)ctx;
    return gw_now_ms();
}

static int64_t real_wall(void *ctx)
{
    (void)ctx;
    return gw_wall_ms();
}

void gw_sim_set_clock(gw_adapter_t *a, gw_sim_clock_fn mono, gw_sim_clock_fn wall, void *ctx)
{
    if (!a)
        return;
    a->mono = mono ? mono : real_mono;
    a->wall = wall ? wall : real_wall;
    a->clock_ctx = ctx;
}

static void sim_destroy(gw_adapter_t **ap)
{
    if (!ap || !*ap)
        return;
    gw_adapter_t *a = *ap;
    if (a->env.loop)
        gw_timer_stop(a->env.loop, &a->timer);
    for (size_t i = 0; i < a->n_devs; i++)
        free(a->devs[i].key);
    free(a->devs);
    free(a->by_key);
    free(a->fields);
    free(a->heap);
    free(a);
    *ap = NULL;
}

/* The loop's timer follows the heap's top; without a loop (a unit test
 * driving the adapter by hand with gw_sim_run_due) there is nothing to arm. */
static void rearm(gw_adapter_t *a)
{
    if (!a->env.loop)
        return;
    int64_t due = gw_sim_next_due_ms(a);
    if (due < 0)
        gw_timer_stop(a->env.loop, &a->timer);
    else if (gw_timer_start_at(a->env.loop, &a->timer, due) < 0)
        gw_err("simulated: cannot schedule the next reading: out of memory");
}

static void on_timer(void *ctx)
{
    gw_adapter_t *a = ctx;
    gw_sim_run_due(a);
    rearm(a);
}

static int init_field(sim_field_t *f, const gw_config_sim_t *s, const char *key, uint64_t *rng)
{
    if (gw_sim_wave_parse(s->wave, &f->wave) < 0) {
        gw_err("simulated: %s: field \"%s\": unknown wave \"%s\", expected sine, random_walk, "
               "sawtooth, square or constant",
               key, s->field ? s->field : "?", s->wave);
        return -EINVAL;
    }
    if (!s->field || !(s->min <= s->max) || !(s->interval_s > 0) || !(s->period_s >= 0)) {
        gw_err("simulated: %s: field \"%s\": expected a name, min <= max, interval > 0 and "
               "period >= 0",
               key, s->field ? s->field : "?");
        return -EINVAL;
    }
    f->cfg = s;
    f->min = s->min;
    f->max = s->max;
    f->period_s = s->period_s;
    f->interval_ms = (int64_t)(s->interval_s * 1000.0 + 0.5);
    if (f->interval_ms < 1)
        f->interval_ms = 1;
    f->phase = gw_sim_uniform(rng);
    f->value = (s->min + s->max) / 2;
    return 0;
}

static int cmp_key(const void *x, const void *y)
{
    return strcmp((*(sim_dev_t *const *)x)->key, (*(sim_dev_t *const *)y)->key);
}

static int sim_create(const gw_adapter_env_t *env, const void *section,
                      const gw_adapter_device_t *devs, size_t nd, gw_adapter_t **out)
{
    (void)section;
    if (!env || !out || (nd && !devs))
        return -EINVAL;
    gw_adapter_t *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->env = *env;
    gw_sim_set_clock(a, NULL, NULL, NULL);
    gw_timer_init(&a->timer, on_timer, a);
    size_t nf = 0;
    for (size_t i = 0; i < nd; i++) {
        const sim_part_t *p = devs[i].conf;
        nf += p ? p->n_sims : 0;
    }
    int rc = -ENOMEM;
    if (nd > UINT32_MAX || nf > UINT32_MAX)
        goto fail;
    a->devs = calloc(nd ? nd : 1, sizeof(*a->devs));
    a->by_key = calloc(nd ? nd : 1, sizeof(*a->by_key));
    a->fields = calloc(nf ? nf : 1, sizeof(*a->fields));
    a->heap = calloc(nf ? nf : 1, sizeof(*a->heap));
    if (!a->devs || !a->by_key || !a->fields || !a->heap)
        goto fail;
    for (size_t i = 0; i < nd; i++) {
        const sim_part_t *p = devs[i].conf;
        const char *key = devs[i].key;
        if (!key) {
            gw_err("simulated: device at line %d has no key", devs[i].line);
            rc = -EINVAL;
            goto fail;
        }
        sim_dev_t *sd = &a->devs[a->n_devs];
        sd->key = strdup(key);
        if (!sd->key) {
            rc = -ENOMEM;
            goto fail;
        }
        sd->rng = gw_sim_seed(key);
        sd->first = (uint32_t)a->n_fields;
        a->by_key[a->n_devs] = sd;
        uint32_t di = (uint32_t)a->n_devs++; /* counted now: destroy frees its key */
        for (size_t j = 0; p && j < p->n_sims; j++) {
            sim_field_t *f = &a->fields[a->n_fields];
            rc = init_field(f, &p->sims[j], key, &sd->rng);
            if (rc < 0)
                goto fail;
            f->dev = di;
            a->n_fields++;
        }
        sd->n = (uint32_t)(a->n_fields - sd->first);
    }
    qsort(a->by_key, a->n_devs, sizeof(*a->by_key), cmp_key);
    for (size_t i = 1; i < a->n_devs; i++)
        if (strcmp(a->by_key[i - 1]->key, a->by_key[i]->key) == 0) {
            gw_err("simulated: two devices share the key %s, expected distinct addresses",
                   a->by_key[i]->key);
            rc = -EINVAL;
            goto fail;
        }
    *out = a;
    return 0;
fail:
    sim_destroy(&a);
    return rc;
}

static bool before(const gw_adapter_t *a, uint32_t x, uint32_t y)
{
    int64_t dx = a->fields[x].due_ms, dy = a->fields[y].due_ms;
    return dx < dy || (dx == dy && x < y);
}

static void sift_up(gw_adapter_t *a, size_t i)
{
    uint32_t v = a->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(a, v, a->heap[p]))
            break;
        a->heap[i] = a->heap[p];
        i = p;
    }
    a->heap[i] = v;
}

static void sift_down(gw_adapter_t *a, size_t i)
{
    uint32_t v = a->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= a->heap_n)
            break;
        if (c + 1 < a->heap_n && before(a, a->heap[c + 1], a->heap[c]))
            c++;
        if (!before(a, a->heap[c], v))
            break;
        a->heap[i] = a->heap[c];
        i = c;
    }
    a->heap[i] = v;
}

static int sim_start(gw_adapter_t *a)
{
    if (!a)
        return -EINVAL;
    a->start_ms = a->mono(a->clock_ctx);
    a->heap_n = 0;
    for (size_t i = 0; i < a->n_fields; i++) {
        sim_field_t *f = &a->fields[i];
        uint64_t *rng = &a->devs[f->dev].rng;
        f->due_ms = a->start_ms + (int64_t)(gw_sim_uniform(rng) * (double)f->interval_ms);
        a->heap[a->heap_n] = (uint32_t)i;
        sift_up(a, a->heap_n++);
    }
    a->started = true;
    rearm(a);
    gw_info("simulated: %zu devices, %zu fields", a->n_devs, a->n_fields);
    return 0;
}

static void sim_stop(gw_adapter_t *a)
{
    if (!a)
        return;
    a->heap_n = 0;
    a->started = false;
    if (a->env.loop)
        gw_timer_stop(a->env.loop, &a->timer);
}

int64_t gw_sim_next_due_ms(const gw_adapter_t *a)
{
    if (!a || a->heap_n == 0)
        return -1;
    return a->fields[a->heap[0]].due_ms;
}

static double next_value(gw_adapter_t *a, sim_field_t *f)
{
    if (f->wave == GW_SIM_RANDOM_WALK) {
        f->value = gw_sim_walk_step(f->value, f->min, f->max, &a->devs[f->dev].rng);
        return f->value;
    }
    double t_s = (double)(f->due_ms - a->start_ms) / 1000.0;
    f->value = gw_sim_wave_at(f->wave, f->min, f->max, f->period_s, f->phase, t_s);
    return f->value;
}

int gw_sim_run_due(gw_adapter_t *a)
{
    if (!a)
        return -EINVAL;
    int64_t now = a->mono(a->clock_ctx);
    while (a->heap_n > 0) {
        sim_field_t *f = &a->fields[a->heap[0]];
        if (f->due_ms > now)
            break;
        /* The walk goes on at full precision; what a sensor would report
         * is rounded to its resolution and says so (has_decimals). */
        gw_reading_t r = {
            .device_key = a->devs[f->dev].key,
            .field = f->cfg->field,
            .value = {.type = GW_TYPE_FLOAT,
                      .v.f = gw_prec_round(next_value(a, f), f->cfg->decimals)},
            .unit = f->cfg->unit,
            .ts_ms = a->wall(a->clock_ctx),
            .has_decimals = true,
            .decimals = (int8_t)f->cfg->decimals,
        };
        /* A refused reading is logged and counted by the mapping. */
        if (a->env.emit)
            a->env.emit(a->env.emit_ctx, &r);
        f->due_ms += f->interval_ms;
        /* After a stall (suspend, debugger) skip the missed readings
         * rather than emit them all at once with the same time. */
        if (f->due_ms <= now)
            f->due_ms = now + f->interval_ms;
        sift_down(a, 0);
    }
    return 0;
}

static sim_dev_t *find_dev(gw_adapter_t *a, const char *key)
{
    size_t lo = 0, hi = a->n_devs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        sim_dev_t *d = a->by_key[mid];
        int c = strcmp(d->key, key);
        if (c == 0)
            return d;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The field a write reaches (*out_f NULL: a writable field with no
 * generator, which the store alone keeps) and the number written; 0 or the
 * refusal adapter.h lists. Touches nothing. */
static int sim_judge(gw_adapter_t *a, const char *device_key, const char *field, const gw_value_t *value,
                     sim_field_t **out_f, double *out_v)
{
    if (!a || !device_key || !field)
        return -EINVAL;
    sim_dev_t *d = find_dev(a, device_key);
    if (!d)
        return -ENOENT;
    /* The gateway routes only fields the configuration made writable. */
    sim_field_t *f = NULL;
    for (uint32_t i = d->first; i < d->first + d->n; i++)
        if (strcmp(a->fields[i].cfg->field, field) == 0)
            f = &a->fields[i];
    if (!value)
        return -ENOTSUP; /* nothing in a simulation to execute */
    *out_f = f;
    if (!f)
        return 0;
    double v;
    switch (value->type) {
    case GW_TYPE_FLOAT:
        v = value->v.f;
        break;
    case GW_TYPE_INTEGER:
        v = (double)value->v.i;
        break;
    case GW_TYPE_UNSIGNED:
        v = (double)value->v.u;
        break;
    case GW_TYPE_BOOLEAN:
        v = value->v.b;
        break;
    default:
        return -EINVAL;
    }
    if (!(v == v))
        return -EINVAL;
    *out_v = v;
    return 0;
}

static int sim_write_check(gw_adapter_t *a, const char *device_key, const char *field,
                           const gw_value_t *value, const char *args)
{
    (void)args;
    sim_field_t *f;
    double v;
    return sim_judge(a, device_key, field, value, &f, &v);
}

/* A simulation has nothing to wait for: the write is done, and done
 * called, before this returns (adapter.h allows it; the gateway's count of
 * a request's writes is made for it). */
static int sim_write_async(gw_adapter_t *a, const char *device_key, const char *field,
                           const gw_value_t *value, const char *args, gw_write_done_fn done,
                           void *done_ctx)
{
    (void)args;
    sim_field_t *f;
    double v;
    if (!done)
        return -EINVAL;
    int rc = sim_judge(a, device_key, field, value, &f, &v);
    if (rc < 0)
        return rc;
    if (f)
        f->value = v < f->min ? f->min : v > f->max ? f->max : v;
    done(done_ctx, 0);
    return 0;
}

/* A reload's device changes. An unchanged device keeps its fields as they
 * run: random walk position, phase, next due time, a value a server wrote.
 * A changed device keeps its seed's sequence but gets its new fields, due
 * within one interval; an added one starts as at create. Everything is
 * built aside first: a refusal leaves the adapter as it was. */
static int sim_reconfigure(gw_adapter_t *a, const gw_adapter_change_t *ch, size_t n)
{
    if (!a || (n && !ch))
        return -EINVAL;
    uint8_t *fate = calloc(a->n_devs ? a->n_devs : 1, 1); /* 1 removed, 2 changed */
    const sim_part_t **conf = calloc(a->n_devs ? a->n_devs : 1, sizeof *conf);
    sim_dev_t *devs = NULL;
    sim_dev_t **by_key = NULL;
    sim_field_t *fields = NULL;
    uint32_t *heap = NULL;
    size_t nd = 0, nf = 0, added = 0, added_f = 0;
    int rc = fate && conf ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sim_dev_t *d = ch[i].dev.key ? find_dev(a, ch[i].dev.key) : NULL;
        const sim_part_t *p = ch[i].dev.conf;
        if (!ch[i].dev.key || (ch[i].kind == GW_ADAPTER_ADDED) != !d || (d && fate[d - a->devs])) {
            rc = -EINVAL;
        } else if (ch[i].kind == GW_ADAPTER_ADDED) {
            added++;
            added_f += p ? p->n_sims : 0;
        } else {
            fate[d - a->devs] = ch[i].kind == GW_ADAPTER_REMOVED ? 1 : 2;
            conf[d - a->devs] = p;
        }
    }
    size_t max_f = added_f;
    for (size_t i = 0; rc == 0 && i < a->n_devs; i++)
        max_f += fate[i] == 0 ? a->devs[i].n : fate[i] == 2 && conf[i] ? conf[i]->n_sims : 0;
    size_t max_d = a->n_devs + added;
    if (rc == 0 && (max_d > UINT32_MAX || max_f > UINT32_MAX))
        rc = -ENOMEM;
    if (rc == 0) {
        devs = calloc(max_d ? max_d : 1, sizeof *devs);
        by_key = calloc(max_d ? max_d : 1, sizeof *by_key);
        fields = calloc(max_f ? max_f : 1, sizeof *fields);
        heap = calloc(max_f ? max_f : 1, sizeof *heap);
        if (!devs || !by_key || !fields || !heap)
            rc = -ENOMEM;
    }
    int64_t now = a->mono(a->clock_ctx);
    /* Old devices in their order, then the added ones. */
    for (size_t i = 0; rc == 0 && i < a->n_devs + n; i++) {
        const sim_dev_t *od = i < a->n_devs ? &a->devs[i] : NULL;
        const gw_adapter_change_t *c = od ? NULL : &ch[i - a->n_devs];
        if ((od && fate[i] == 1) || (c && c->kind != GW_ADAPTER_ADDED))
            continue;
        sim_dev_t *d = &devs[nd];
        d->key = strdup(od ? od->key : c->dev.key);
        if (!d->key) {
            rc = -ENOMEM;
            break;
        }
        d->rng = od ? od->rng : gw_sim_seed(c->dev.key);
        d->first = (uint32_t)nf;
        by_key[nd] = d;
        nd++;
        if (od && fate[i] == 0) {
            for (uint32_t j = 0; j < od->n; j++) {
                fields[nf] = a->fields[od->first + j];
                fields[nf++].dev = (uint32_t)(nd - 1);
            }
        } else {
            const sim_part_t *p = od ? conf[i] : c->dev.conf;
            for (size_t j = 0; rc == 0 && p && j < p->n_sims; j++) {
                sim_field_t *f = &fields[nf];
                rc = init_field(f, &p->sims[j], d->key, &d->rng);
                f->dev = (uint32_t)(nd - 1);
                f->due_ms = now + (int64_t)(gw_sim_uniform(&d->rng) * (double)f->interval_ms);
                nf += rc == 0;
            }
        }
        d->n = (uint32_t)(nf - d->first);
    }
    if (rc == 0) {
        qsort(by_key, nd, sizeof *by_key, cmp_key);
        for (size_t i = 1; i < nd && rc == 0; i++)
            if (strcmp(by_key[i - 1]->key, by_key[i]->key) == 0)
                rc = -EINVAL;
    }
    if (rc < 0) {
        for (size_t i = 0; devs && i < nd; i++)
            free(devs[i].key);
        free(devs);
        free(by_key);
        free(fields);
        free(heap);
        free(fate);
        free(conf);
        return rc;
    }
    for (size_t i = 0; i < a->n_devs; i++)
        free(a->devs[i].key);
    free(a->devs);
    free(a->by_key);
    free(a->fields);
    free(a->heap);
    free(fate);
    free(conf);
    a->devs = devs;
    a->by_key = by_key;
    a->n_devs = nd;
    a->fields = fields;
    a->n_fields = nf;
    a->heap = heap;
    a->heap_n = 0;
    if (a->started) {
        for (size_t i = 0; i < nf; i++) {
            a->heap[a->heap_n] = (uint32_t)i;
            sift_up(a, a->heap_n++);
        }
        rearm(a);
    }
    gw_info("simulated: %zu devices, %zu fields after %zu change%s", nd, nf, n, n == 1 ? "" : "s");
    return 0;
}

const gw_adapter_ops_t gw_adapter_simulated = {
    .name = "simulated",
    .conf = &gw_sim_conf_ops,
    .create = sim_create,
    .reconfigure = sim_reconfigure,
    .start = sim_start,
    .stop = sim_stop,
    .destroy = sim_destroy,
    .write_check = sim_write_check,
    .write_async = sim_write_async,
};
