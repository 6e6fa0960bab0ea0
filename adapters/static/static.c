/*
 * adapters/static/static.c - devices whose values are all in the
 * configuration (their resources list). Nothing to talk to: nothing in
 * the loop. A server's Write to one of their writable fields is accepted,
 * because the store already keeps the written value and that is all a
 * static device is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../mapping/mapping.h"
#include "../adapters_internal.h"

struct gw_adapter {
    const gw_config_t *cfg;
};

static int static_create(const gw_adapter_env_t *env, const gw_config_t *cfg, gw_adapter_t **out)
{
    (void)env;
    if (!cfg || !out)
        return -EINVAL;
    gw_adapter_t *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->cfg = cfg;
    *out = a;
    return 0;
}

static int static_start(gw_adapter_t *a)
{
    return a ? 0 : -EINVAL;
}

static void static_stop(gw_adapter_t *a)
{
    (void)a;
}

static void static_destroy(gw_adapter_t **a)
{
    if (!a)
        return;
    free(*a);
    *a = NULL;
}

/* Writes are rare (a server's Write): a scan of the config is fine. */
static const gw_config_device_t *find_device(const gw_adapter_t *a, const char *key)
{
    char buf[512];
    for (size_t i = 0; i < a->cfg->n_devices; i++) {
        const gw_config_device_t *d = &a->cfg->devices[i];
        if (d->adapter && strcmp(d->adapter, "static") == 0 &&
            gw_mapping_device_key(d, buf, sizeof buf) == 0 && strcmp(buf, key) == 0)
            return d;
    }
    return NULL;
}

static int static_write(gw_adapter_t *a, const char *device_key, const char *field,
                        const gw_value_t *value, const char *args)
{
    (void)args;
    if (!a || !device_key || !field)
        return -EINVAL;
    const gw_config_device_t *d = find_device(a, device_key);
    if (!d)
        return -ENOENT;
    /* Nothing would run an Execute: saying it worked would be a lie. */
    if (!value)
        return -ENOTSUP;
    for (size_t i = 0; i < d->n_fields; i++)
        if (d->fields[i].field && strcmp(d->fields[i].field, field) == 0)
            return 0;
    return -ENOENT;
}

const gw_adapter_ops_t gw_adapter_static = {
    .name = "static",
    .create = static_create,
    .start = static_start,
    .stop = static_stop,
    .destroy = static_destroy,
    .write = static_write,
    .write_check = static_write, /* a write does nothing beyond its check */
};
