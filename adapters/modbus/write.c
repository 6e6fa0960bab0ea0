/*
 * adapters/modbus/write.c - LwM2M Write and Execute on Modbus registers and
 * coils.
 *
 * A write is checked and encoded on the loop thread (write_check does the
 * same checks without queueing, so the gateway can judge every value of a
 * request before any is sent) and queued on its bus; the worker takes it
 * ahead of the next poll (never into the middle of one), so the bus keeps
 * one request at a time. The answer comes back the way poll results
 * travel: the worker queues the finished write and wakes the loop through
 * the adapter's eventfd, and the loop calls done. Nothing on the loop ever
 * waits for the bus, so a slow or silent device never holds up other
 * clients.
 *
 * read_back: a device may answer a write and still not hold the value (a
 * clamped setpoint, a coil its program switches back), so such a register
 * is read again after the write and the write succeeds only when the raw
 * words match what was sent.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../gateway/log.h"
#include "modbus_internal.h"

/* ---- worker side ------------------------------------------------------- */

/* Read w's register(s) back into w->got; 0, or -errno as a request gives. */
static int read_back(mb_bus_t *b, int unit, mb_write_t *w)
{
    const gw_config_modbus_reg_t *r = w->reg;
    uint8_t bits[GW_MODBUS_MAX_FIELD_BITS];
    bool is_bits = r->table == GW_MODBUS_COIL;
    int rc = gw_modbus_request(b, unit, r->table, false, r->address, r->count, w->got, bits);
    if (rc >= 0 && rc != r->count)
        rc = -EMBBADDATA;
    if (rc < 0) {
        gw_modbus_failure(b, r->table, false, r->address, r->count, -rc, w->why, sizeof w->why);
        return rc;
    }
    for (size_t i = 0; is_bits && i < r->count && i < GW_MODBUS_MAX_FIELD_BITS; i++)
        w->got[i] = bits[i] != 0;
    bool same = true;
    for (size_t i = 0; i < r->count && i < GW_MODBUS_MAX_FIELD_BITS; i++)
        same &= is_bits ? (w->got[i] != 0) == (w->words[i] != 0) : w->got[i] == w->words[i];
    w->checked = same ? 1 : -1;
    return 0;
}

void gw_modbus_do_write(mb_bus_t *b, mb_write_t *w)
{
    gw_adapter_t *a = b->a;
    int unit = a->devs[w->dev].cfg->unit_id;
    const gw_config_modbus_reg_t *r = w->reg;
    int rc = gw_modbus_request(b, unit, r->table, true, r->address, r->count, w->words, NULL);
    if (rc < 0)
        gw_modbus_failure(b, r->table, true, r->address, r->count, -rc, w->why, sizeof w->why);
    if (rc >= 0 && w->pulse) {
        struct timespec ts = {r->pulse_ms / 1000, (long)(r->pulse_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        for (uint16_t i = 0; i < r->count && i < GW_MODBUS_MAX_FIELD_BITS; i++)
            w->words[i] = 0;
        rc = gw_modbus_request(b, unit, r->table, true, r->address, r->count, w->words, NULL);
        if (rc < 0)
            gw_modbus_failure(b, r->table, true, r->address, r->count, -rc, w->why, sizeof w->why);
    }
    if (rc >= 0) {
        gw_modbus_add_stat(a, &a->stats.writes, 1);
        rc = r->read_back ? read_back(b, unit, w) : 0;
    }
    mb_item_t *head = NULL, *tail = NULL;
    if (rc < 0) {
        gw_modbus_device_outcome(b, w->dev, gw_modbus_classify(b, -rc), w->why, &head, &tail);
        /* Exceptions and garbled replies are the device's refusal (EIO);
         * no answer or no connection a device that may answer later
         * (adapter.h). */
        w->rc = -rc > MODBUS_ENOBASE ? -EIO : rc == -ETIMEDOUT ? rc : -ENOTCONN;
    } else {
        gw_modbus_device_outcome(b, w->dev, 0, NULL, &head, &tail);
        w->rc = w->checked < 0 ? -EIO : 0;
    }
    gw_modbus_post(a, head, tail);
}

void gw_modbus_write_finished(gw_adapter_t *a, mb_write_t *w)
{
    w->next = NULL;
    if (a->wd_tail)
        a->wd_tail->next = w;
    else
        a->wd_head = w;
    a->wd_tail = w;
    uint64_t one = 1;
    /* A full counter still wakes the loop; nothing is lost. */
    if (write(a->efd, &one, sizeof one) < 0) {
    }
}

/* ---- loop side --------------------------------------------------------- */

static void format_words(const gw_config_modbus_reg_t *r, const uint16_t *words, char *out,
                         size_t size)
{
    gw_value_t v;
    if (gw_modbus_decode(r, words, r->count, &v, NULL, 0) < 0) {
        snprintf(out, size, "(raw 0x%04x...)", (unsigned)words[0]);
        return;
    }
    gw_buf_t b = {0};
    switch (v.type) {
    case GW_TYPE_FLOAT:
        /* As the server sees it: the decimal of the source, all digits. */
        if (gw_value_to_text(&v, &b) == 0)
            snprintf(out, size, "%.*s", (int)b.len, (const char *)b.data);
        gw_buf_free(&b);
        break;
    case GW_TYPE_UNSIGNED: snprintf(out, size, "%" PRIu64, v.v.u); break;
    case GW_TYPE_BOOLEAN: snprintf(out, size, "%s", v.v.b ? "true" : "false"); break;
    default: snprintf(out, size, "%" PRId64, v.v.i); break;
    }
}

/* The log line for a finished write that failed at the device or was read
 * back. */
static void report(gw_adapter_t *a, const mb_write_t *w)
{
    const char *key = a->devs[w->dev].key;
    if (w->rc < 0 && w->why[0]) {
        gw_warn("modbus: %s (bus %s, unit %d) %s: write failed: %s", key,
                a->buses[a->devs[w->dev].bus].cfg->name, (int)a->devs[w->dev].cfg->unit_id,
                w->reg->field, w->why);
        return;
    }
    if (!w->checked)
        return;
    char sent[64], got[64];
    format_words(w->reg, w->words, sent, sizeof sent);
    if (w->checked > 0) {
        gw_info("modbus: %s %s: wrote %s, read back the same", key, w->reg->field, sent);
        return;
    }
    format_words(w->reg, w->got, got, sizeof got);
    gw_warn("modbus: %s %s: wrote %s to %s %u but read back %s: the device did not take it", key,
            w->reg->field, sent, gw_modbus_table_name(w->reg->table), (unsigned)w->reg->address, got);
}

static mb_write_t *take_finished(gw_adapter_t *a)
{
    pthread_mutex_lock(&a->mu);
    mb_write_t *w = a->wd_head;
    a->wd_head = a->wd_tail = NULL;
    pthread_mutex_unlock(&a->mu);
    return w;
}

/* Complete a list of asynchronous writes. No lock is held: done may queue
 * another write. */
static void complete(gw_adapter_t *a, mb_write_t *w, bool cancel)
{
    while (w) {
        mb_write_t *n = w->next;
        if (!cancel)
            report(a, w);
        w->done_fn(w->done_ctx, cancel ? -ECANCELED : w->rc);
        free(w);
        w = n;
    }
}

void gw_modbus_write_deliver(gw_adapter_t *a)
{
    complete(a, take_finished(a), false);
}

void gw_modbus_write_stop(gw_adapter_t *a)
{
    /* The workers are joined: what they finished has its answer, the rest
     * never reached a device. */
    complete(a, take_finished(a), false);
    for (size_t i = 0; i < a->n_buses; i++) {
        pthread_mutex_lock(&a->mu);
        mb_write_t *w = a->buses[i].wq_head;
        a->buses[i].wq_head = a->buses[i].wq_tail = NULL;
        pthread_mutex_unlock(&a->mu);
        complete(a, w, true);
    }
}

static int to_double(const gw_value_t *v, double *out)
{
    switch (v->type) {
    case GW_TYPE_FLOAT: *out = v->v.f; return 0;
    case GW_TYPE_INTEGER: *out = (double)v->v.i; return 0;
    case GW_TYPE_UNSIGNED: *out = (double)v->v.u; return 0;
    case GW_TYPE_BOOLEAN: *out = v->v.b; return 0;
    default: return -EINVAL;
    }
}

static int find_reg(gw_adapter_t *a, const char *device_key, const char *field, size_t *out_di,
                    const gw_config_modbus_reg_t **out_r)
{
    if (!a || !device_key || !field)
        return -EINVAL;
    size_t di = 0;
    while (di < a->n_devs && strcmp(a->devs[di].key, device_key) != 0)
        di++;
    if (di == a->n_devs)
        return -ENOENT;
    const gw_modbus_dev_conf_t *d = a->devs[di].cfg;
    for (size_t i = 0; i < d->n_registers; i++)
        if (strcmp(d->registers[i].field, field) == 0) {
            *out_di = di;
            *out_r = &d->registers[i];
            return 0;
        }
    return -ENOENT;
}

int gw_modbus_write_range(gw_adapter_t *a, const char *device_key, const char *field, double *out_lo,
                          double *out_hi)
{
    size_t di;
    const gw_config_modbus_reg_t *r;
    int rc = find_reg(a, device_key, field, &di, &r);
    return rc < 0 ? rc : gw_modbus_range(r, out_lo, out_hi);
}

int gw_modbus_write_step(gw_adapter_t *a, const char *device_key, const char *field, double *out_step)
{
    size_t di;
    const gw_config_modbus_reg_t *r;
    int rc = find_reg(a, device_key, field, &di, &r);
    return rc < 0 ? rc : gw_modbus_step(r, out_step);
}

/* Find the register and encode the value (or the Execute) into w, without
 * device traffic. Returns 0 with w->dev, w->reg, w->words, w->pulse set,
 * or the refusal write_check documents. */
static int prepare(gw_adapter_t *a, const char *device_key, const char *field, const gw_value_t *value,
                   const char *args, mb_write_t *w)
{
    size_t di;
    const gw_config_modbus_reg_t *r;
    int rc = find_reg(a, device_key, field, &di, &r);
    if (rc < 0)
        return rc;
    if (!r->writable)
        return -EPERM;
    if (r->type == GW_MODBUS_STRING)
        return -ENOTSUP; /* text registers are read only here */
    double v = 0;
    if (value && to_double(value, &v) < 0)
        return -EINVAL;
    if (!value && r->table != GW_MODBUS_COIL && !r->has_execute_value)
        return -ENOTSUP;
    if (value) {
        rc = gw_modbus_encode(r, v, w->words, GW_MODBUS_MAX_FIELD_BITS);
    } else if (r->has_execute_value) {
        rc = gw_modbus_encode(r, r->execute_value, w->words, GW_MODBUS_MAX_FIELD_BITS);
    } else if (r->pulse_ms > 0) {
        /* A pulse: on now, off after pulse_ms (the worker waits, the loop
         * does not); the Execute is answered when the coil is off again. */
        for (uint16_t i = 0; i < r->count && i < GW_MODBUS_MAX_FIELD_BITS; i++)
            w->words[i] = 1;
        w->pulse = true;
    } else {
        /* Execute on a coil switches it on, or off with the argument "0"; on
         * a bit field all its coils. Raw coil states: scale has no say. */
        bool on = !(args && strcmp(args, "0") == 0);
        for (uint16_t i = 0; i < r->count && i < GW_MODBUS_MAX_FIELD_BITS; i++)
            w->words[i] = on;
    }
    if (rc < 0)
        return rc;
    w->dev = (uint32_t)di;
    w->reg = r;
    return 0;
}

int gw_modbus_write_check(gw_adapter_t *a, const char *device_key, const char *field,
                          const gw_value_t *value, const char *args)
{
    mb_write_t w;
    memset(&w, 0, sizeof w);
    return prepare(a, device_key, field, value, args, &w);
}

int gw_modbus_write_async(gw_adapter_t *a, const char *device_key, const char *field,
                          const gw_value_t *value, const char *args, gw_write_done_fn done,
                          void *done_ctx)
{
    if (!done)
        return -EINVAL;
    mb_write_t *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    int rc = prepare(a, device_key, field, value, args, w);
    if (rc < 0) {
        free(w);
        return rc;
    }
    mb_bus_t *b = &a->buses[a->devs[w->dev].bus];
    if (!b->running) {
        free(w);
        return -ENOTCONN;
    }
    w->done_fn = done;
    w->done_ctx = done_ctx;
    pthread_mutex_lock(&a->mu);
    if (b->wq_tail)
        b->wq_tail->next = w;
    else
        b->wq_head = w;
    b->wq_tail = w;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

