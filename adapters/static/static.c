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

#include "../adapters_internal.h"

/* Nothing to remember per device: the gateway routes a write here only for
 * a field the configuration made writable on one of its devices. */
struct gw_adapter {
    size_t n_devs;
};

static int static_create(const gw_adapter_env_t *env, const void *section,
                         const gw_adapter_device_t *devs, size_t n, gw_adapter_t **out)
{
    (void)env, (void)section, (void)devs;
    if (!out)
        return -EINVAL;
    gw_adapter_t *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->n_devs = n;
    *out = a;
    return 0;
}

/* Added, removed and changed devices change nothing the adapter keeps
 * beyond their number. */
static int static_reconfigure(gw_adapter_t *a, const gw_adapter_change_t *changes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (changes[i].kind == GW_ADAPTER_ADDED)
            a->n_devs++;
        else if (changes[i].kind == GW_ADAPTER_REMOVED)
            a->n_devs--;
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

static int static_write_check(gw_adapter_t *a, const char *device_key, const char *field,
                              const gw_value_t *value, const char *args)
{
    (void)args;
    if (!a || !device_key || !field)
        return -EINVAL;
    /* Nothing would run an Execute: saying it worked would be a lie. */
    if (!value)
        return -ENOTSUP;
    return 0;
}

/* The store keeps the value: a write is done once checked, and done is
 * called before this returns (adapter.h allows it). */
static int static_write_async(gw_adapter_t *a, const char *device_key, const char *field,
                              const gw_value_t *value, const char *args, gw_write_done_fn done,
                              void *done_ctx)
{
    if (!done)
        return -EINVAL;
    int rc = static_write_check(a, device_key, field, value, args);
    if (rc == 0)
        done(done_ctx, 0);
    return rc;
}

const gw_adapter_ops_t gw_adapter_static = {
    .name = "static",
    .create = static_create,
    .reconfigure = static_reconfigure,
    .start = static_start,
    .stop = static_stop,
    .destroy = static_destroy,
    .write_check = static_write_check,
    .write_async = static_write_async,
};
