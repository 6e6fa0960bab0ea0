/*
 * adapters/adapter.h - the one interface every sensor adapter implements
 * (static, simulated, modbus, lora, ble), and the reading it
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

#include <stdio.h>

#include "../gateway/loop.h"
#include "../lwm2m/value.h"
#include "adapter_config.h"
#include "reading.h"

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

/* One device of an adapter, as the gateway hands it over. */
typedef struct gw_adapter_device {
    const char *key;      /* "<adapter>:<address>": what readings carry as device_key */
    const char *endpoint; /* its virtual client's name, for messages */
    const void *conf;     /* the adapter's own part of the device entry (conf->parse ...),
                             NULL for an adapter without conf */
    int line;             /* where the device is configured */
} gw_adapter_device_t;

typedef enum { GW_ADAPTER_ADDED = 1, GW_ADAPTER_REMOVED, GW_ADAPTER_CHANGED } gw_adapter_change_kind_t;

typedef struct gw_adapter_change {
    gw_adapter_change_kind_t kind;
    gw_adapter_device_t dev; /* removed: key and endpoint only */
} gw_adapter_change_t;

struct gw_adapter_conf_ops;

typedef struct gw_adapter_ops {
    const char *name; /* the config's adapter = "..." */
    /* Its own configuration (NULL: the adapter has none beyond the common
     * device keys, like static). */
    const struct gw_adapter_conf_ops *conf;
    /* Create the adapter instance for its devices devs[0..n): section is
     * what conf->parse_section returned (NULL without conf). env is
     * borrowed and outlives the adapter; section, devs[i].conf and
     * devs[i].key stay valid until the adapter is destroyed or reconfigure
     * names the device removed or changed (copy what must live longer). */
    int (*create)(const gw_adapter_env_t *env, const void *section, const gw_adapter_device_t *devs,
                  size_t n, gw_adapter_t **out);
    /* A reload changed some of the adapter's devices and not its section:
     * changes[0..n) says which were added, removed and changed (a changed
     * one has the same key and a new conf). Every other device keeps its
     * state (connection, counters, availability) and its conf pointer (the
     * gateway keeps that part alive). New pointers follow the rules of
     * create; the removed and the old changed ones stay valid during the
     * call only. Returns 0, or a negative errno after which the gateway
     * restarts the adapter (destroy, create, start) and re-asserts
     * availability. NULL: the gateway always restarts it. */
    int (*reconfigure)(gw_adapter_t *a, const gw_adapter_change_t *changes, size_t n);
    /* Start talking to devices (open sockets, first polls): registers the
     * adapter's fds, timers and hooks in env->loop. */
    int (*start)(gw_adapter_t *a);
    /* Stop I/O and take everything the adapter put in the loop out of it;
     * free with destroy. */
    void (*stop)(gw_adapter_t *a);
    void (*destroy)(gw_adapter_t **a);
    /* Writes. An LwM2M Write (value != NULL) or Execute (value == NULL,
     * args) on a field configured `writable` reaches the adapter in two
     * steps: write_check for every value of the request, then, only when
     * all passed, write_async for each. value is in the adapter's own unit
     * and scale (the mapping's conversion is undone). The results:
     *   0        done (or queued for a sleeping device);
     *   -ENOENT  unknown device or field;
     * the value refused by the adapter itself, before any device traffic
     * (the server's fault: 4.00 Bad Request):
     *   -ERANGE  the value does not fit the field (a register's type and
     *            scale, a bit field's width, an enumeration's values);
     *   -EDOM    the value falls between two steps the field can hold (a
     *            register with scale 0.1 takes 12.3 or 12.4, not 12.34):
     *            refused, never rounded to another value than was written;
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
     * The gateway maps these in one place (gw_lwm2m_write_code). For
     * -ERANGE the adapter's write_range, when set, tells the server what
     * fits. There is no blocking write: the loop never waits for a device.
     *
     * write_check: whether write_async would take this value (or
     * Execute), judged by the adapter alone, without device traffic: the
     * field exists and is writable, the value has a type it can hold and
     * fits it (range, type, scale). Returns 0 or a refusal above (-ENOENT,
     * -ERANGE, -EDOM, -EINVAL, -EPERM, -ENOTSUP). The gateway checks every value
     * of a request this way before it starts any write, so a Write-Composite
     * or an instance Write with one bad value writes nothing. Required when
     * write_async is set. */
    int (*write_check)(gw_adapter_t *a, const char *device_key, const char *field,
                       const gw_value_t *value, const char *args);
    /* write_async: do the write without blocking the loop. Returns 0 when
     * the write is under way: done(done_ctx, rc) is then called exactly
     * once, on the loop thread, with a result above; or returns a negative
     * errno at once (a refusal, -ENOTCONN, -ENOMEM), and done is never
     * called. An adapter with nothing to wait for (static, simulated)
     * calls done before write_async returns; one that talks to a device
     * (Modbus) calls it from a later loop iteration. Callers handle both
     * (the gateway counts the writes of a request it started and answers
     * when the count reaches zero after the last start). stop() completes
     * every write still under way with -ECANCELED. value/args are borrowed
     * for the call (copied when kept). May be NULL: no field of this
     * adapter is writable. */
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
    /* The step between two values a writable numeric field holds, in the
     * adapter's own unit and scale (a register with scale 0.1: 0.1), for
     * the diagnostic of a Write refused with -EDOM. Returns 0, -ENOENT,
     * -ENOTSUP for a field without steps (a float register). May be NULL. */
    int (*write_step)(gw_adapter_t *a, const char *device_key, const char *field, double *out_step);
} gw_adapter_ops_t;

/* The device as the configuration loader shows it to an adapter's
 * finish_part, once its template is applied. */
typedef struct gw_adapter_conf_dev {
    const char *where;             /* "devices[3]", for messages */
    const config_setting_t *group; /* the device's own group, for messages */
    int line;
    const char *address;           /* as configured, NULL when the entry has none */
    char *default_address;         /* out: the address finish_part derives when address is
                                      NULL (malloc'd, the loader takes it), e.g. "plc/7" */
} gw_adapter_conf_dev_t;

/* An adapter's own configuration: the `adapters.<name>` section and the
 * adapter's keys in device and template entries. Parts and sections are
 * opaque to everyone else; the loader keeps them and hands them back. Every
 * problem goes through gw_config_error (file:line, what is expected). */
typedef struct gw_adapter_conf_ops {
    /* The keys the adapter owns in a device or template group; their
     * handlers (every key has one) get obj = the part (from new_part).
     * keys_text names them in "bus, unit_id and registers are only for
     * adapter = ...". */
    const gw_cfg_key_t *keys;
    size_t n_keys;
    const char *keys_text;
    /* adapters.<name> (s is NULL when the file has none): *out may stay
     * NULL. 0 (problems reported) or -ENOMEM. May be NULL. */
    int (*parse_section)(gw_cfg_ctx_t *ctx, const config_setting_t *s, void **out);
    void (*free_section)(void *section);
    /* Equal sections give equal fingerprints (a reload keeps the adapter
     * running when its section and devices are unchanged). */
    uint64_t (*section_fingerprint)(const void *section);
    /* An empty part, for the first key of the adapter in a group. */
    int (*new_part)(void **out);
    /* Template base (may be NULL) and the entry over it into a new *out;
     * 0 or -ENOMEM. */
    int (*merge_part)(const void *base, const void *over, void **out);
    /* The checks of a device of this adapter once its template is applied
     * (part NULL when the entry has none of its keys): what is missing, a
     * default address. 0 (problems reported) or -ENOMEM. */
    int (*finish_part)(gw_cfg_ctx_t *ctx, const void *section, void *part, gw_adapter_conf_dev_t *dev);
    /* The fields the device produces (see gw_field_decl_t), into *out
     * (malloc'd, freed with gw_field_decls_free). 0 or -ENOMEM. */
    int (*declare)(const void *part, gw_field_decl_t **out, size_t *out_n);
    uint64_t (*part_fingerprint)(const void *part);
    /* One or more lines "    <what>\n" for --print-mapping. May be NULL. */
    void (*describe_part)(const void *part, FILE *out);
    void (*free_part)(void *part);
    /* The physical device a part addresses, when two entries must not
     * configure the same one (a Modbus unit on a bus): text into buf,
     * 0, or -ENOENT when the part does not say. identity_what names it in
     * "duplicate <what> ...", identity_expect says what is expected,
     * identity_key is the device key where the message points. May be
     * NULL. An address derived by finish_part is checked this way only. */
    int (*identity)(const void *part, char *buf, size_t size);
    const char *identity_what, *identity_expect, *identity_key;
    /* Where the device physically answers, from the section too (two
     * Modbus buses naming one TCP server): two entries with the same
     * physical text and different identities are reported as
     * "duplicate <physical_what>". May be NULL. */
    int (*physical)(const void *section, const void *part, char *buf, size_t size);
    const char *physical_what, *physical_expect;
    /* "register field": how a declared field is named when it lands
     * nowhere; decl_paths: the adapter's entries can carry a path. */
    const char *field_noun;
    bool decl_paths;
} gw_adapter_conf_ops_t;

/* The adapters compiled in, looked up by name; NULL when unknown. */
const gw_adapter_ops_t *gw_adapter_find(const char *name);
/* NULL-terminated list, for messages ("expected one of ..."). */
extern const gw_adapter_ops_t *const gw_adapters[];

#endif
