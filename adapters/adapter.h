/*
 * adapters/adapter.h - the one interface every sensor adapter implements
 * (static, simulated; later Modbus, LoRaWAN, BLE), and the reading it
 * produces.
 *
 * An adapter knows its wire and its payload formats; it never knows an
 * LwM2M object ID. It reports readings through env->emit; the mapping layer
 * decides where they land.
 *
 * All calls happen on the loop thread. An adapter uses the loop itself,
 * through env->loop (gateway/loop.h), for as long as it runs: it adds,
 * modifies (EPOLLOUT while output is queued) and removes its fds whenever
 * its connections come and go, keeps its timers (gw_timer_t) and, when a
 * library needs a per-iteration timeout (sd-bus), a prepare hook. It
 * registers nothing before start and leaves nothing in the loop after stop
 * (every fd removed, timer stopped, hook deleted). An adapter that must
 * block (serial I/O, a library's network thread) does so on its own thread
 * and hands results to the loop with gw_loop_post, or through an eventfd
 * of its own that it watches in the loop (the Modbus adapter, whose stop
 * must be able to drop what its workers left).
 */
#ifndef GW_ADAPTERS_ADAPTER_H
#define GW_ADAPTERS_ADAPTER_H

#include "../gateway/loop.h"
#include "../lwm2m/value.h"
#include "../mapping/config.h"

/* A reading: one value a sensor reported. All pointers are borrowed for the
 * duration of the emit call. */
typedef struct gw_reading {
    const char *device_key; /* "<adapter>:<address>", e.g. "simulated:boiler-1" */
    const char *field;      /* "temperature", "humidity", "battery", ... or decoder-specific */
    gw_value_t value;       /* usually FLOAT; INTEGER/BOOLEAN/STRING as the sensor gives */
    const char *unit;       /* unit the value is in ("Cel", "Fahrenheit", "Wh", "Pa", "%RH"),
                               NULL when the field's usual unit */
    int64_t ts_ms;          /* wall clock when the sensor measured it; 0 = now */
    /* How finely the source resolves a FLOAT value (lwm2m/precision.h):
     * has_decimals says the value is a decimal with `decimals` decimals (a
     * register scaled by 0.1: 1; a float32 288.1: 1), already rounded to
     * them, so that it publishes as 288.1, not 288.1000061035156; the
     * mapping keeps that precision through its conversions. Unset (zero):
     * the double is the value (INTEGER/UNSIGNED count as 0 decimals). */
    bool has_decimals;
    int8_t decimals;
} gw_reading_t;

typedef struct gw_adapter gw_adapter_t;

/* Completion of an asynchronous write (see write_async). */
typedef void (*gw_write_done_fn)(void *done_ctx, int rc);

/* What the gateway gives an adapter. */
typedef struct gw_adapter_env {
    gw_loop_t *loop; /* borrowed; NULL only in unit tests that drive an adapter by hand */
    /* Hand a reading to the mapping layer. Returns 0, or a negative errno
     * when the reading could not be stored (it is then logged and counted
     * by the mapping layer: the adapter need not log it again). */
    int (*emit)(void *emit_ctx, const gw_reading_t *r);
    void *emit_ctx;
    /* Whether a device can be reached, as the adapter judges it (issue 5:
     * a Modbus device after fail_threshold consecutive failures): false
     * asks the gateway to deregister the device's virtual client, true
     * (once the device answers again) to register it again. Called on
     * the loop thread, once per change, with emit_ctx; device_key is
     * borrowed. Returns 0 or a negative errno. NULL: the gateway keeps
     * every client registered (the adapter then only logs the change). */
    int (*set_available)(void *emit_ctx, const char *device_key, bool available);
} gw_adapter_env_t;

typedef struct gw_adapter_ops {
    const char *name; /* the config's adapter = "..." */
    /* Create the adapter instance for the devices of the config that name
     * it (cfg and env are borrowed and outlive the adapter). */
    int (*create)(const gw_adapter_env_t *env, const gw_config_t *cfg, gw_adapter_t **out);
    /* Start talking to devices (open sockets, first polls): registers the
     * adapter's fds, timers and hooks in env->loop. */
    int (*start)(gw_adapter_t *a);
    /* Stop I/O and take everything the adapter put in the loop out of it;
     * free with destroy. */
    void (*stop)(gw_adapter_t *a);
    void (*destroy)(gw_adapter_t **a);
    /* An LwM2M Write (value != NULL) or Execute (value == NULL, args) on a
     * field configured `writable`. value is in the adapter's own unit and
     * scale (the mapping's conversion is undone). Returns
     *   0        handed to the device (or queued for a sleeping one);
     *   -ENOENT  unknown device or field;
     * the value refused by the adapter itself, before any device traffic
     * (the server's fault: 4.00 Bad Request):
     *   -ERANGE  the value does not fit the field (a register's type and
     *            scale, a bit field's width, an enumeration's values);
     *   -EINVAL  a value of a type the field cannot hold (text to a number);
     * the operation itself not possible on this field (4.05):
     *   -EPERM   the field is not writable;
     *   -ENOTSUP the adapter cannot do this (an Execute on a register
     *            without execute_value);
     * the device failing (5.00 Internal Server Error, 5.03 when it may
     * answer later):
     *   -EIO     the device answered with an error, or does not hold the
     *            value (read_back);
     *   -ETIMEDOUT, -ENOTCONN, -ECANCELED  no answer, no connection, the
     *            adapter stopped (5.03);
     *   -ENOMEM and other negative errno (5.00).
     * The gateway maps these in one place (gateway/writes.c). For -ERANGE
     * the adapter's write_range, when set, tells the server what fits.
     * May be NULL: no field of this adapter is writable. */
    int (*write)(gw_adapter_t *a, const char *device_key, const char *field,
                 const gw_value_t *value, const char *args);
    /* Whether write() would take this value (or Execute), judged by the
     * adapter alone, without device traffic: the field exists and is
     * writable, the value has a type it can hold and fits it (range,
     * type, scale). Returns 0 or the refusals write() lists (-ENOENT,
     * -ERANGE, -EINVAL, -EPERM, -ENOTSUP). The gateway checks every value
     * of a request this way before it starts any write, so a Write-Composite
     * or an instance Write with one bad value writes nothing. Required
     * when write or write_async is set. */
    int (*write_check)(gw_adapter_t *a, const char *device_key, const char *field,
                       const gw_value_t *value, const char *args);
    /* The same without blocking the loop, for devices that answer slowly
     * (a serial bus): returns 0 when the request is queued, and then calls
     * done(done_ctx, rc) exactly once, later, on the loop thread, with rc as
     * write() would return it; or returns a negative errno at once (done is
     * then never called). stop() completes every queued write with
     * -ECANCELED. value/args are copied. May be NULL: write() is used.
     * A value the adapter refuses (-ERANGE, -EINVAL, -EPERM, -ENOTSUP,
     * -ENOENT) is refused at once, never through done. */
    int (*write_async)(gw_adapter_t *a, const char *device_key, const char *field,
                       const gw_value_t *value, const char *args, gw_write_done_fn done,
                       void *done_ctx);
    /* The numbers a writable numeric field accepts, lo..hi inclusive, in
     * the adapter's own unit and scale (a s16 register with scale 0.1:
     * -3276.8..3276.7), for the diagnostic of a refused Write. Returns 0,
     * -ENOENT for an unknown device/field, -ENOTSUP for a field that is not
     * numeric. May be NULL. */
    int (*write_range)(gw_adapter_t *a, const char *device_key, const char *field,
                       double *out_lo, double *out_hi);
} gw_adapter_ops_t;

/* The adapters compiled in, looked up by name; NULL when unknown. */
const gw_adapter_ops_t *gw_adapter_find(const char *name);
/* NULL-terminated list, for messages ("expected one of ..."). */
extern const gw_adapter_ops_t *const gw_adapters[];

#endif
