/*
 * adapters/payload/js_engine.c - JavaScript codecs in duktape, in the
 * convention of The Things Network device repository and ChirpStack:
 *   decodeUplink({bytes, fPort})   -> {data, warnings, errors}
 *   encodeDownlink({data})         -> {bytes, fPort, warnings, errors}
 *
 * Limits, per codec: every allocation of its heap goes through a counting
 * allocator with a cap (an allocation past it fails, the script gets an
 * out-of-memory error), and every call runs under duktape's execution
 * timeout hook (DUK_USE_EXEC_TIMEOUT_CHECK, enabled in the build: see the
 * Makefile), which aborts a script running past its deadline even inside
 * try/catch. After either, the heap is thrown away and the script compiled
 * again: a heap an aborted script left half-updated is not worth trusting.
 *
 * Every access to a JS value happens inside duk_safe_call, so a getter
 * that throws or a result of the wrong shape is an error, never a fatal
 * one. Results are copied to C before any field is emitted.
 */
#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duktape.h"

#include "../../lwm2m/precision.h"
#include "payload_internal.h"

/* Fields one decode may produce, and how deep `data` may nest. */
#define MAX_FIELDS 256
#define MAX_DEPTH 8
#define MAX_NAME 128

struct gw_js {
    duk_context *duk;
    char *source, *origin;
    unsigned timeout_ms;
    size_t cap, used;
    struct timespec deadline;
    bool armed, timed_out, oom;
};

typedef struct {
    size_t size;
    alignas(max_align_t) unsigned char data[];
} blk_t;

static void *js_alloc(void *udata, duk_size_t size)
{
    gw_js_t *e = udata;
    if (size == 0)
        return NULL;
    if (size > e->cap - e->used) {
        e->oom = true;
        return NULL;
    }
    blk_t *b = malloc(sizeof(*b) + size);
    if (!b)
        return NULL;
    b->size = size;
    e->used += size;
    return b->data;
}

static void js_free(void *udata, void *ptr)
{
    gw_js_t *e = udata;
    if (!ptr)
        return;
    blk_t *b = (blk_t *)((unsigned char *)ptr - offsetof(blk_t, data));
    e->used -= b->size;
    free(b);
}

static void *js_realloc(void *udata, void *ptr, duk_size_t size)
{
    gw_js_t *e = udata;
    if (!ptr)
        return js_alloc(udata, size);
    if (size == 0) {
        js_free(udata, ptr);
        return NULL;
    }
    blk_t *b = (blk_t *)((unsigned char *)ptr - offsetof(blk_t, data));
    if (size > b->size && size - b->size > e->cap - e->used) {
        e->oom = true;
        return NULL;
    }
    size_t old = b->size;
    blk_t *nb = realloc(b, sizeof(*nb) + size);
    if (!nb)
        return NULL;
    nb->size = size;
    e->used = e->used - old + size;
    return nb->data;
}

/* Only reached for an error outside any protected call, which this file
 * never makes: a bug, not a script's fault. */
static void js_fatal(void *udata, const char *msg)
{
    (void)udata;
    fprintf(stderr, "<2>payload: duktape fatal error: %s\n", msg ? msg : "?");
    abort();
}

/* Called by the interpreter every few thousand instructions (the
 * interrupt counter), so its cost is one clock read per burst. */
int gw_js_exec_timeout_check(void *udata);
int gw_js_exec_timeout_check(void *udata)
{
    gw_js_t *e = udata;
    if (!e || !e->armed)
        return 0;
    if (e->timed_out)
        return 1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > e->deadline.tv_sec ||
        (now.tv_sec == e->deadline.tv_sec && now.tv_nsec >= e->deadline.tv_nsec))
        e->timed_out = true;
    return e->timed_out;
}

static void arm(gw_js_t *e)
{
    clock_gettime(CLOCK_MONOTONIC, &e->deadline);
    e->deadline.tv_sec += e->timeout_ms / 1000;
    e->deadline.tv_nsec += (long)(e->timeout_ms % 1000) * 1000000L;
    if (e->deadline.tv_nsec >= 1000000000L) {
        e->deadline.tv_sec++;
        e->deadline.tv_nsec -= 1000000000L;
    }
    e->timed_out = e->oom = false;
    e->armed = true;
}

/* The error on top of the stack as text into msg (the stack is left as
 * it was). */
static void error_text(duk_context *d, const char *what, char *msg, size_t size)
{
    const char *s = duk_safe_to_string(d, -1);
    gw_payload_msg(0, msg, size, "%s: %s", what, s ? s : "?");
}

/* Compile and run the script's top level into a fresh heap. */
static int load(gw_js_t *e, char *msg, size_t size)
{
    e->used = 0;
    e->duk = duk_create_heap(js_alloc, js_realloc, js_free, e, js_fatal);
    if (!e->duk)
        return gw_payload_msg(-ENOMEM, msg, size, "JS: cannot create a heap of %zu KiB",
                              e->cap / 1024);
    duk_context *d = e->duk;
    duk_push_string(d, e->origin);
    arm(e);
    int rc = 0;
    if (duk_pcompile_string_filename(d, 0, e->source) != 0) {
        error_text(d, "JS: does not compile", msg, size);
        rc = -EINVAL;
    } else if (duk_pcall(d, 0) != 0) {
        error_text(d, e->timed_out ? "JS: top level ran past the time limit"
                                   : e->oom ? "JS: top level ran past the memory limit"
                                            : "JS: top level throws", msg, size);
        rc = -EINVAL;
    }
    e->armed = false;
    duk_pop(d);
    if (rc == 0 && !gw_js_engine_has(e, "decodeUplink") && !gw_js_engine_has(e, "encodeDownlink"))
        rc = gw_payload_msg(-EINVAL, msg, size,
                            "JS: defines neither decodeUplink(input) nor encodeDownlink(input)");
    if (rc < 0) {
        duk_destroy_heap(e->duk);
        e->duk = NULL;
    }
    return rc;
}

int gw_js_engine_new(const char *source, const char *origin, unsigned timeout_ms, unsigned memory_kb,
                     gw_js_t **out, char *msg, size_t size)
{
    *out = NULL;
    gw_js_t *e = calloc(1, sizeof(*e));
    if (!e || !(e->source = strdup(source)) || !(e->origin = strdup(origin))) {
        if (e) {
            free(e->source);
            free(e);
        }
        return gw_payload_msg(-ENOMEM, msg, size, "out of memory");
    }
    e->timeout_ms = timeout_ms;
    e->cap = (size_t)memory_kb * 1024;
    int rc = load(e, msg, size);
    if (rc < 0) {
        gw_js_engine_free(&e);
        return rc;
    }
    *out = e;
    return 0;
}

void gw_js_engine_free(gw_js_t **pe)
{
    if (!pe || !*pe)
        return;
    gw_js_t *e = *pe;
    *pe = NULL;
    if (e->duk)
        duk_destroy_heap(e->duk);
    free(e->source);
    free(e->origin);
    free(e);
}

bool gw_js_engine_has(gw_js_t *e, const char *fn)
{
    if (!e || !e->duk)
        return false;
    duk_get_global_string(e->duk, fn);
    bool ok = duk_is_function(e->duk, -1);
    duk_pop(e->duk);
    return ok;
}

/* ---- a call ---------------------------------------------------------------- */

typedef struct {
    char name[MAX_NAME];
    gw_value_t v;
    char *str;
    bool has_decimals;
    int8_t decimals;
} out_field_t;

typedef struct {
    /* in */
    unsigned fport;
    const uint8_t *bytes;
    size_t len;
    const char *field;
    const gw_value_t *value;
    /* out */
    out_field_t *f;
    size_t n;
    char err[256];
    char warn[256];
    uint8_t out[GW_PAYLOAD_MAX_BYTES];
    size_t out_len;
    unsigned out_fport;
    bool has_fport;
    int rc;
} call_t;

/* Messages of an array property (warnings, errors) joined by "; ". */
static size_t join_strings(duk_context *d, duk_idx_t obj, const char *key, char *buf, size_t size)
{
    size_t n = 0, at = 0;
    buf[0] = '\0';
    duk_get_prop_string(d, obj, key);
    if (duk_is_array(d, -1)) {
        duk_size_t len = duk_get_length(d, -1);
        for (duk_size_t i = 0; i < len; i++) {
            duk_get_prop_index(d, -1, (duk_uarridx_t)i);
            const char *s = duk_safe_to_string(d, -1);
            if (at < size)
                at += (size_t)snprintf(buf + at, size - at, "%s%s", n ? "; " : "", s);
            n++;
            duk_pop(d);
        }
    } else if (!duk_is_undefined(d, -1) && !duk_is_null(d, -1)) {
        snprintf(buf, size, "%s", duk_safe_to_string(d, -1));
        n = 1;
    }
    duk_pop(d);
    return n;
}

static int add_field(call_t *c, const char *name)
{
    if (c->n >= MAX_FIELDS) {
        snprintf(c->err, sizeof c->err, "more than %d fields in data", MAX_FIELDS);
        return -EBADMSG;
    }
    out_field_t *f = &c->f[c->n];
    *f = (out_field_t){0};
    if (strlen(name) >= sizeof f->name) {
        snprintf(c->err, sizeof c->err, "a field name longer than %d characters", MAX_NAME - 1);
        return -EBADMSG;
    }
    strcpy(f->name, name);
    return 0;
}

/* The value at the top of the stack, named prefix, into c->f. */
static int flatten(duk_context *d, call_t *c, char *prefix, size_t plen, int depth)
{
    if (duk_is_number(d, -1)) {
        double x = duk_get_number(d, -1);
        if (!isfinite(x))
            return 0; /* NaN, Infinity: nothing to report */
        int rc = add_field(c, prefix);
        if (rc < 0)
            return rc;
        out_field_t *f = &c->f[c->n++];
        if (x == trunc(x) && fabs(x) < 9007199254740992.0) {
            f->v = (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = (int64_t)x};
        } else {
            int dec = 0;
            x = gw_prec_double(x, &dec);
            f->v = (gw_value_t){.type = GW_TYPE_FLOAT, .v.f = x};
            f->has_decimals = true;
            f->decimals = (int8_t)dec;
        }
        return 0;
    }
    if (duk_is_boolean(d, -1)) {
        int rc = add_field(c, prefix);
        if (rc < 0)
            return rc;
        c->f[c->n++].v = (gw_value_t){.type = GW_TYPE_BOOLEAN, .v.b = duk_get_boolean(d, -1)};
        return 0;
    }
    if (duk_is_string(d, -1)) {
        int rc = add_field(c, prefix);
        if (rc < 0)
            return rc;
        duk_size_t len;
        const char *s = duk_get_lstring(d, -1, &len);
        out_field_t *f = &c->f[c->n];
        if (!(f->str = malloc(len + 1))) {
            snprintf(c->err, sizeof c->err, "out of memory");
            return -ENOMEM;
        }
        memcpy(f->str, s, len);
        f->str[len] = '\0';
        f->v = (gw_value_t){.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)f->str, len}};
        c->n++;
        return 0;
    }
    if (!duk_is_object(d, -1) || duk_is_function(d, -1))
        return 0; /* null, undefined, functions: not a value */
    if (depth >= MAX_DEPTH) {
        snprintf(c->err, sizeof c->err, "data nests deeper than %d levels at \"%s\"", MAX_DEPTH,
                 prefix);
        return -EBADMSG;
    }
    duk_enum(d, -1, DUK_ENUM_OWN_PROPERTIES_ONLY);
    int rc = 0;
    while (rc == 0 && duk_next(d, -1, 1)) {
        const char *k = duk_safe_to_string(d, -2);
        size_t klen = strlen(k), need = plen + (plen ? 1 : 0) + klen;
        if (need >= MAX_NAME) {
            snprintf(c->err, sizeof c->err, "a field name longer than %d characters", MAX_NAME - 1);
            rc = -EBADMSG;
        } else {
            if (plen)
                prefix[plen] = '.';
            memcpy(prefix + plen + (plen ? 1 : 0), k, klen + 1);
            rc = flatten(d, c, prefix, need, depth + 1);
            prefix[plen] = '\0';
        }
        duk_pop_2(d);
    }
    duk_pop(d);
    return rc;
}

static duk_ret_t do_decode(duk_context *d, void *udata)
{
    call_t *c = udata;
    duk_get_global_string(d, "decodeUplink");
    duk_push_object(d);
    duk_push_array(d);
    for (size_t i = 0; i < c->len; i++) {
        duk_push_uint(d, c->bytes[i]);
        duk_put_prop_index(d, -2, (duk_uarridx_t)i);
    }
    duk_put_prop_string(d, -2, "bytes");
    duk_push_uint(d, c->fport);
    duk_put_prop_string(d, -2, "fPort");
    duk_call(d, 1);
    if (!duk_is_object(d, -1)) {
        snprintf(c->err, sizeof c->err, "decodeUplink returned %s, expected {data: {...}}",
                 duk_safe_to_string(d, -1));
        c->rc = -EBADMSG;
        return 0;
    }
    duk_idx_t r = duk_get_top_index(d);
    if (join_strings(d, r, "errors", c->err, sizeof c->err)) {
        c->rc = -EBADMSG;
        return 0;
    }
    join_strings(d, r, "warnings", c->warn, sizeof c->warn);
    duk_get_prop_string(d, r, "data");
    if (!duk_is_object(d, -1) || duk_is_array(d, -1) || duk_is_function(d, -1)) {
        snprintf(c->err, sizeof c->err, "decodeUplink returned no object data");
        c->rc = -EBADMSG;
        return 0;
    }
    char prefix[MAX_NAME] = "";
    c->rc = flatten(d, c, prefix, 0, 0);
    return 0;
}

static void push_value(duk_context *d, const gw_value_t *v)
{
    switch (v->type) {
    case GW_TYPE_BOOLEAN:
        duk_push_boolean(d, v->v.b);
        break;
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        duk_push_number(d, (double)v->v.i);
        break;
    case GW_TYPE_UNSIGNED:
        duk_push_number(d, (double)v->v.u);
        break;
    case GW_TYPE_FLOAT:
        duk_push_number(d, v->v.f);
        break;
    case GW_TYPE_STRING:
    case GW_TYPE_OPAQUE:
        duk_push_lstring(d, (const char *)v->v.bytes.ptr, v->v.bytes.len);
        break;
    default:
        duk_push_null(d);
        break;
    }
}

static duk_ret_t do_encode(duk_context *d, void *udata)
{
    call_t *c = udata;
    duk_get_global_string(d, "encodeDownlink");
    duk_push_object(d);
    duk_push_object(d);
    push_value(d, c->value);
    duk_put_prop_string(d, -2, c->field);
    duk_put_prop_string(d, -2, "data");
    duk_call(d, 1);
    if (!duk_is_object(d, -1)) {
        snprintf(c->err, sizeof c->err, "encodeDownlink returned %s, expected {bytes: [...]}",
                 duk_safe_to_string(d, -1));
        c->rc = -EBADMSG;
        return 0;
    }
    duk_idx_t r = duk_get_top_index(d);
    if (join_strings(d, r, "errors", c->err, sizeof c->err)) {
        c->rc = -EBADMSG;
        return 0;
    }
    join_strings(d, r, "warnings", c->warn, sizeof c->warn);
    duk_get_prop_string(d, r, "fPort");
    if (!duk_is_undefined(d, -1)) {
        double p = duk_is_number(d, -1) ? duk_get_number(d, -1) : -1;
        if (!(p >= 1 && p <= 223 && p == trunc(p))) {
            snprintf(c->err, sizeof c->err, "encodeDownlink returned fPort %s, expected 1..223",
                     duk_safe_to_string(d, -1));
            c->rc = -EBADMSG;
            return 0;
        }
        c->out_fport = (unsigned)p;
        c->has_fport = true;
    }
    duk_pop(d);
    duk_get_prop_string(d, r, "bytes");
    if (!duk_is_array(d, -1)) {
        snprintf(c->err, sizeof c->err, "encodeDownlink returned no bytes array");
        c->rc = -EBADMSG;
        return 0;
    }
    duk_size_t len = duk_get_length(d, -1);
    if (len > sizeof c->out) {
        snprintf(c->err, sizeof c->err, "encodeDownlink returned %lu bytes, at most %d fit",
                 (unsigned long)len, GW_PAYLOAD_MAX_BYTES);
        c->rc = -EBADMSG;
        return 0;
    }
    for (duk_size_t i = 0; i < len; i++) {
        duk_get_prop_index(d, -1, (duk_uarridx_t)i);
        double b = duk_is_number(d, -1) ? duk_get_number(d, -1) : -1;
        if (!(b >= 0 && b <= 255 && b == trunc(b))) {
            snprintf(c->err, sizeof c->err, "encodeDownlink bytes[%lu] is %s, expected 0..255",
                     (unsigned long)i, duk_safe_to_string(d, -1));
            c->rc = -EBADMSG;
            return 0;
        }
        c->out[i] = (uint8_t)b;
        duk_pop(d);
    }
    c->out_len = len;
    return 0;
}

static void free_fields(call_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->f[i].str);
    c->n = 0;
}

/* Run fn under the limits; a script that hit one loses its heap, which is
 * rebuilt for the next call. */
static int run(gw_js_t *e, const char *what, duk_safe_call_function fn, call_t *c, char *msg,
               size_t size)
{
    if (!e->duk) {
        char why[200];
        if (load(e, why, sizeof why) < 0)
            return gw_payload_msg(-ENOMEM, msg, size, "JS %s: heap not rebuilt: %s", e->origin,
                                  why);
    }
    if (!gw_js_engine_has(e, what))
        return gw_payload_msg(-ENOTSUP, msg, size, "JS %s defines no %s(input)", e->origin, what);
    duk_context *d = e->duk;
    arm(e);
    int prc = duk_safe_call(d, fn, c, 0, 1);
    e->armed = false;
    int rc = 0;
    if (e->timed_out) {
        rc = gw_payload_msg(-ETIMEDOUT, msg, size, "JS %s: %s ran past its %u ms limit", e->origin,
                            what, e->timeout_ms);
    } else if (e->oom) {
        rc = gw_payload_msg(-ENOMEM, msg, size, "JS %s: %s ran past its %zu KiB memory limit",
                            e->origin, what, e->cap / 1024);
    } else if (prc != DUK_EXEC_SUCCESS) {
        const char *s = duk_safe_to_string(d, -1);
        rc = gw_payload_msg(-EBADMSG, msg, size, "JS %s: %s threw: %s", e->origin, what, s);
    } else if (c->rc < 0) {
        rc = gw_payload_msg(c->rc, msg, size, "JS %s: %s: %s", e->origin, what, c->err);
    } else {
        gw_payload_msg(0, msg, size, "%s", c->warn);
    }
    duk_pop(d);
    if (e->timed_out || e->oom) {
        duk_destroy_heap(e->duk);
        e->duk = NULL;
    }
    return rc;
}

int gw_js_decode(gw_js_conf_t *j, unsigned fport, const uint8_t *b, size_t len,
                 gw_payload_emit_fn emit, void *ctx, char *msg, size_t size)
{
    call_t *c = calloc(1, sizeof(*c));
    out_field_t *f = calloc(MAX_FIELDS, sizeof(*f));
    int rc;
    if (!c || !f) {
        rc = gw_payload_msg(-ENOMEM, msg, size, "out of memory");
        goto out;
    }
    *c = (call_t){.fport = fport, .bytes = b, .len = len, .f = f};
    rc = run(j->engine, "decodeUplink", do_decode, c, msg, size);
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        gw_payload_field_t pf = {.name = f[i].name, .value = f[i].v,
                                 .has_decimals = f[i].has_decimals, .decimals = f[i].decimals};
        for (size_t k = 0; k < j->n_fields; k++)
            if (strcmp(j->fields[k].name, pf.name) == 0)
                pf.unit = j->fields[k].unit;
        rc = emit(ctx, &pf);
    }
out:
    if (c)
        free_fields(c);
    free(c);
    free(f);
    return rc;
}

int gw_js_encode(gw_js_conf_t *j, const char *field, const gw_value_t *v, unsigned *out_fport,
                 uint8_t *out, size_t cap, size_t *out_len, char *msg, size_t size)
{
    call_t *c = calloc(1, sizeof(*c));
    if (!c)
        return gw_payload_msg(-ENOMEM, msg, size, "out of memory");
    *c = (call_t){.field = field, .value = v};
    int rc = run(j->engine, "encodeDownlink", do_encode, c, msg, size);
    if (rc == 0 && c->out_len > cap)
        rc = gw_payload_msg(-ENOSPC, msg, size, "JS: %zu bytes encoded, room for %zu", c->out_len,
                            cap);
    if (rc == 0) {
        memcpy(out, c->out, c->out_len);
        *out_len = c->out_len;
        *out_fport = c->has_fport ? c->out_fport : j->fport;
    }
    free(c);
    return rc;
}
