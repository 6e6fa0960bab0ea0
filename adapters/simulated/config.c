/*
 * adapters/simulated/config.c - the simulated adapter's configuration: a
 * device's `simulate` list (one entry per generated field), through the
 * adapter configuration interface (adapters/adapter_config.h). Each entry
 * is a field the device declares, with the unit its values come in.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simulated.h"

static const char *const wave_names[] = {"sine", "random_walk", "sawtooth", "square", "constant"};
#define N_WAVES (sizeof wave_names / sizeof wave_names[0])

static bool finite_number(gw_cfg_ctx_t *ctx, const config_setting_t *s, double *out)
{
    int t = config_setting_type(s);
    double v = t == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                                      : (double)config_setting_get_int64(s);
    if (!isfinite(v)) {
        gw_config_error(ctx, s, "\"%s\" must be a finite number", config_setting_name(s));
        return false;
    }
    *out = v;
    return true;
}

static void free_sim(gw_config_sim_t *s);

static int copy_sim(gw_config_sim_t *dst, const gw_config_sim_t *src)
{
    *dst = *src;
    dst->field = strdup(src->field);
    dst->wave = strdup(src->wave);
    dst->unit = src->unit ? strdup(src->unit) : NULL;
    if (!dst->field || !dst->wave || (src->unit && !dst->unit)) {
        free_sim(dst);
        return -ENOMEM;
    }
    return 0;
}

static void free_sim(gw_config_sim_t *s)
{
    free(s->field);
    free(s->wave);
    free(s->unit);
    s->field = s->wave = s->unit = NULL;
}

/* ---- simulate entries -------------------------------------------------- */

enum { S_FIELD, S_WAVE, S_MIN, S_MAX, S_PERIOD, S_INTERVAL, S_UNIT, S_DECIMALS, S_N };

static const gw_cfg_key_t sim_keys[] = {
    {"field", GW_CFG_STRING, "a string (the field generated, e.g. \"temperature\")", true,
     NULL, S_FIELD, 0, 0},
    {"wave", GW_CFG_STRING, "\"sine\", \"random_walk\", \"sawtooth\", \"square\" or \"constant\"",
     false, NULL, S_WAVE, 0, 0},
    {"min", GW_CFG_NUMBER, "a number (lowest value)", false, NULL, S_MIN, 0, 0},
    {"max", GW_CFG_NUMBER, "a number (highest value)", false, NULL, S_MAX, 0, 0},
    {"period", GW_CFG_NUMBER, "a number (seconds per cycle)", false, NULL, S_PERIOD, 0, 0},
    {"interval", GW_CFG_NUMBER, "a number (seconds between readings)", false, NULL,
     S_INTERVAL, 0, 0},
    {"unit", GW_CFG_STRING, "a string (the unit of the generated values)", false, NULL,
     S_UNIT, 0, 0},
    {"decimals", GW_CFG_INT, "an integer 0..6 (decimals the values are rounded to)", false,
     NULL, S_DECIMALS, 0, 0},
};

static int sim_entry(gw_cfg_ctx_t *ctx, sim_part_t *p, const config_setting_t *g,
                     const config_setting_t *const *e)
{
    char q[GW_CFG_QUOTE_SIZE];
    gw_config_sim_t sm = {.min = 0, .max = 100, .period_s = 60, .interval_s = 5, .decimals = 2,
                          .line = (int)config_setting_source_line(g)};
    const char *name = config_setting_get_string(e[S_FIELD]);
    const char *wave = e[S_WAVE] ? config_setting_get_string(e[S_WAVE]) : "sine";
    bool ok = true;
    if (!*name) {
        gw_config_error(ctx, e[S_FIELD], "\"field\" must not be empty, expected the name of the "
                                         "generated field");
        ok = false;
    }
    for (size_t i = 0; ok && i < p->n_sims; i++)
        if (strcmp(p->sims[i].field, name) == 0) {
            gw_config_error(ctx, e[S_FIELD], "duplicate simulated field %s (first at line %d)",
                            gw_config_quote(name, q, sizeof q), p->sims[i].line);
            ok = false;
        }
    size_t w = 0;
    while (w < N_WAVES && strcmp(wave_names[w], wave) != 0)
        w++;
    if (w == N_WAVES) {
        const char *best = gw_config_suggest(wave, wave_names, N_WAVES);
        if (best)
            gw_config_error(ctx, e[S_WAVE], "unknown wave %s, did you mean \"%s\"?",
                            gw_config_quote(wave, q, sizeof q), best);
        else
            gw_config_error(ctx, e[S_WAVE], "unknown wave %s, expected one of: sine, "
                                            "random_walk, sawtooth, square, constant",
                            gw_config_quote(wave, q, sizeof q));
        ok = false;
    }
    bool constant = w < N_WAVES && strcmp(wave, "constant") == 0;
    if (e[S_MIN])
        ok &= finite_number(ctx, e[S_MIN], &sm.min);
    if (e[S_MAX])
        ok &= finite_number(ctx, e[S_MAX], &sm.max);
    else if (constant)
        sm.max = sm.min;
    if (e[S_PERIOD])
        ok &= finite_number(ctx, e[S_PERIOD], &sm.period_s);
    if (e[S_INTERVAL])
        ok &= finite_number(ctx, e[S_INTERVAL], &sm.interval_s);
    if (ok && constant && sm.max < sm.min) {
        gw_config_error(ctx, e[S_MAX], "max (%g) must be at least min (%g)", sm.max, sm.min);
        ok = false;
    } else if (ok && !constant && !(sm.min < sm.max)) {
        gw_config_error(ctx, e[S_MAX] ? e[S_MAX] : e[S_MIN] ? e[S_MIN] : g,
                        "max (%g) must be greater than min (%g) for wave \"%s\"", sm.max, sm.min,
                        wave);
        ok = false;
    }
    if (ok && !(sm.period_s > 0)) {
        gw_config_error(ctx, e[S_PERIOD], "\"period\" must be greater than 0 seconds, got %g",
                        sm.period_s);
        ok = false;
    }
    if (ok && !(sm.interval_s >= 0.01)) {
        gw_config_error(ctx, e[S_INTERVAL], "\"interval\" must be at least 0.01 seconds, got %g",
                        sm.interval_s);
        ok = false;
    }
    if (e[S_DECIMALS]) {
        long long dv = config_setting_get_int64(e[S_DECIMALS]);
        if (dv < 0 || dv > 6) {
            gw_config_error(ctx, e[S_DECIMALS], "\"decimals\" must be 0..6, got %lld", dv);
            ok = false;
        } else
            sm.decimals = (int)dv;
    }
    if (e[S_UNIT] && !*config_setting_get_string(e[S_UNIT])) {
        gw_config_error(ctx, e[S_UNIT], "\"unit\" must not be empty, expected a unit such as "
                                        "\"Cel\" or leave it out");
        ok = false;
    }
    if (!ok)
        return 0;
    sm.field = strdup(name);
    sm.wave = strdup(wave);
    sm.unit = e[S_UNIT] ? strdup(config_setting_get_string(e[S_UNIT])) : NULL;
    sim_part_t *d = p;
    if (!sm.field || !sm.wave || (e[S_UNIT] && !sm.unit))
        goto fail;
    if (d->n_sims == p->cap_sims) {
        size_t cap = p->cap_sims ? p->cap_sims * 2 : 4;
        gw_config_sim_t *n = realloc(d->sims, cap * sizeof *n);
        if (!n)
            goto fail;
        d->sims = n;
        p->cap_sims = cap;
    }
    d->sims[d->n_sims++] = sm;
    return 0;
fail:
    free_sim(&sm);
    return -ENOMEM;
}

static int h_simulate(gw_cfg_ctx_t *ctx, const config_setting_t *list, const gw_cfg_key_t *k,
                      void *obj)
{
    (void)k;
    sim_part_t *p = obj;
    gw_cfg_list_t it = {.list = list, .name = "simulate",
                        .shape = "{ field = ...; wave = ...; }"};
    while (gw_config_list_next(ctx, &it)) {
        const config_setting_t *e[S_N] = {0};
        int rc = gw_config_walk(ctx, it.group, it.where, sim_keys, S_N, e, NULL);
        if (rc == 0 && e[S_FIELD])
            rc = sim_entry(ctx, p, it.group, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- whole device ------------------------------------------------------ */

static int new_part(void **out)
{
    *out = calloc(1, sizeof(sim_part_t));
    return *out ? 0 : -ENOMEM;
}

static void free_part(void *part)
{
    sim_part_t *p = part;
    if (!p)
        return;
    for (size_t i = 0; i < p->n_sims; i++)
        free_sim(&p->sims[i]);
    free(p->sims);
    free(p);
}

/* Base's entries in order, one of over with the same field taking its
 * place (so instance numbering by order stays), then over's new ones. */
static int merge_part(const void *base, const void *over, void **out)
{
    const sim_part_t *b = base, *o = over;
    sim_part_t *d = calloc(1, sizeof *d);
    *out = d;
    if (!d)
        return -ENOMEM;
    size_t n = (o ? o->n_sims : 0) + (b ? b->n_sims : 0);
    if (!n)
        return 0;
    d->sims = calloc(n, sizeof *d->sims);
    if (!d->sims)
        return -ENOMEM;
    d->cap_sims = n;
    for (size_t i = 0; b && i < b->n_sims; i++) {
        const gw_config_sim_t *src = &b->sims[i];
        for (size_t j = 0; o && j < o->n_sims; j++)
            if (strcmp(o->sims[j].field, src->field) == 0)
                src = &o->sims[j];
        if (copy_sim(&d->sims[d->n_sims], src) < 0)
            return -ENOMEM;
        d->n_sims++;
    }
    for (size_t j = 0; o && j < o->n_sims; j++) {
        bool in_base = false;
        for (size_t i = 0; b && i < b->n_sims && !in_base; i++)
            in_base = strcmp(o->sims[j].field, b->sims[i].field) == 0;
        if (in_base)
            continue;
        if (copy_sim(&d->sims[d->n_sims], &o->sims[j]) < 0)
            return -ENOMEM;
        d->n_sims++;
    }
    return 0;
}

static int finish_part(gw_cfg_ctx_t *ctx, const void *section, void *part, gw_adapter_conf_dev_t *dev)
{
    (void)section;
    const sim_part_t *p = part;
    if (!p || !p->n_sims)
        gw_config_error(ctx, dev->group, "%s has adapter = \"simulated\" but no simulate entry, "
                                         "expected simulate = ( { field = ...; wave = ...; } )",
                        dev->where);
    return 0;
}

static int declare(const void *part, gw_field_decl_t **out, size_t *out_n)
{
    const sim_part_t *p = part;
    for (size_t i = 0; p && i < p->n_sims; i++) {
        const gw_config_sim_t *s = &p->sims[i];
        int rc = gw_field_decl_add(out, out_n, s->field, NULL, s->unit, false, s->line);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static uint64_t part_fingerprint(const void *part)
{
    const sim_part_t *p = part;
    uint64_t h = GW_FNV_OFFSET;
    for (size_t i = 0; p && i < p->n_sims; i++) {
        const gw_config_sim_t *s = &p->sims[i];
        gw_fnv_str(&h, s->field);
        gw_fnv_str(&h, s->wave);
        double v[] = {s->min, s->max, s->period_s, s->interval_s, (double)s->decimals};
        gw_fnv_bytes(&h, v, sizeof v);
        gw_fnv_str(&h, s->unit);
    }
    return h;
}

static void describe_part(const void *part, FILE *out)
{
    const sim_part_t *p = part;
    for (size_t i = 0; p && i < p->n_sims; i++) {
        const gw_config_sim_t *s = &p->sims[i];
        fprintf(out, "    simulate %-13s %s %.15g..%.15g%s%s, period %.15g s, every %.15g s\n",
                s->field, s->wave, s->min, s->max, s->unit ? " " : "", s->unit ? s->unit : "",
                s->period_s, s->interval_s);
    }
}

static const gw_cfg_key_t dev_keys[] = {
    {"simulate", GW_CFG_LIST, "a list of groups ( { field = ...; wave = ...; }, ... )", false,
     h_simulate, 0, 0, 0},
};

const gw_adapter_conf_ops_t gw_sim_conf_ops = {
    .keys = dev_keys,
    .n_keys = sizeof dev_keys / sizeof dev_keys[0],
    .keys_text = "simulate",
    .new_part = new_part,
    .merge_part = merge_part,
    .finish_part = finish_part,
    .declare = declare,
    .part_fingerprint = part_fingerprint,
    .describe_part = describe_part,
    .free_part = free_part,
    .field_noun = "simulated field",
};
