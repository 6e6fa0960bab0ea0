/*
 * gateway/print_mapping.c - `--print-mapping`: what a configuration means,
 * before it is deployed.
 */
#include <stdlib.h>
#include <string.h>

#include "../adapters/adapter.h"
#include "../mapping/mapping.h"
#include "gateway.h"

static const char *res_name(const gw_registry_t *reg, const gw_path_t *p, const char **unit)
{
    const gw_objdef_t *o = gw_registry_find(reg, p->id[0]);
    const gw_resdef_t *d = o && p->len >= 3 ? gw_objdef_find_res(o, p->id[2]) : NULL;
    if (unit)
        *unit = d && d->units && d->units[0] ? d->units : NULL;
    return d ? d->name : "?";
}

static void print_target(FILE *out, const gw_registry_t *reg, const gw_map_target_t *t)
{
    char ps[32];
    const gw_objdef_t *o = gw_registry_find(reg, t->path.id[0]);
    fprintf(out, "    field %-16s -> %-14s %s / %s", t->field, gw_path_format(&t->path, ps, sizeof ps),
            o ? o->name : "?", res_name(reg, &t->path, NULL));
    if (t->lwm2m_unit)
        fprintf(out, " [%s]", t->lwm2m_unit);
    if (t->conv != GW_CONV_NONE)
        fprintf(out, ", unit converted");
    /* %.15g: every decimal a config file holds, without %g's rounding to
     * six digits (a scale of 0.0001234567) or a double's binary tail. */
    if (t->scale != 1.0 || t->offset != 0.0)
        fprintf(out, ", x%.15g %+.15g", t->scale, t->offset);
    if (t->has_min)
        fprintf(out, ", min %.15g", t->min);
    if (t->has_max)
        fprintf(out, ", max %.15g", t->max);
    if (t->writable)
        fprintf(out, ", writable");
    fprintf(out, "%s\n", t->line ? "" : " (default map)");
}

int gw_print_mapping(const gw_config_t *cfg, const gw_registry_t *reg, FILE *out)
{
    int rc = 0;
    fprintf(out, "%s (the gateway itself)\n    /3/0 describes the host\n", cfg->name);
    for (size_t i = 0; i < cfg->n_devices; i++) {
        const gw_config_device_t *d = &cfg->devices[i];
        char key[160];
        gw_config_device_key(d, key, sizeof key);
        fprintf(out, "%s  (%s%s%s, %s:%d)\n", d->endpoint, key, d->template_name ? ", template " : "",
                d->template_name ? d->template_name : "", cfg->file, d->line);
        if (d->ops && d->ops->conf && d->ops->conf->describe_part && d->part)
            d->ops->conf->describe_part(d->part, out);
        for (size_t k = 0; k < d->n_resources; k++) {
            const gw_config_resource_t *r = &d->resources[k];
            char ps[32];
            gw_buf_t v = {0};
            gw_value_to_text(&r->value, &v);
            fprintf(out, "    value %-16.*s -> %-14s %s\n", (int)v.len, v.data ? (const char *)v.data : "",
                    gw_path_format(&r->path, ps, sizeof ps), res_name(reg, &r->path, NULL));
            gw_buf_free(&v);
        }
        gw_map_target_t *t = NULL;
        size_t n = 0;
        char err[256] = "";
        if (gw_mapping_resolve(d, reg, &t, &n, err, sizeof err) < 0) {
            fprintf(out, "    error: %s\n", err);
            rc = -1;
        }
        for (size_t k = 0; k < n; k++)
            print_target(out, reg, &t[k]);
        free(t);
    }
    return rc;
}
