/*
 * mapping/config_identity.c - what names a device: endpoint names built
 * from gateway.endpoint_pattern, and the fingerprint a reload compares.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static const char *const placeholders[] = {"gateway", "adapter", "address", "template"};
#define N_PLACEHOLDERS (sizeof placeholders / sizeof placeholders[0])

/* Index of the placeholder at p ("{address}..."), its length in *len, or
 * -1 when p does not start a known one. */
static int placeholder_at(const char *p, size_t *len)
{
    for (size_t i = 0; i < N_PLACEHOLDERS; i++) {
        size_t l = strlen(placeholders[i]);
        if (p[0] == '{' && strncmp(p + 1, placeholders[i], l) == 0 && p[l + 1] == '}') {
            *len = l + 2;
            return (int)i;
        }
    }
    return -1;
}

bool gw_config_check_pattern(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *pattern)
{
    char q[GW_CFG_QUOTE_SIZE];
    if (!*pattern) {
        gw_config_error(ctx, s, "endpoint_pattern must not be empty, expected e.g. "
                                "\"{gateway}-{adapter}-{address}\"");
        return false;
    }
    for (const char *p = pattern; *p;) {
        size_t len;
        if (*p == '{' || *p == '}') {
            int i = placeholder_at(p, &len);
            if (i < 0) {
                const char *end = strchr(p, '}');
                int shown = end && *p == '{' ? (int)(end - p + 1) : 1;
                gw_config_error(ctx, s, "endpoint_pattern %s has an unknown placeholder "
                                        "\"%.*s\", expected {gateway}, {adapter}, {address} or "
                                        "{template}",
                                gw_config_quote(pattern, q, sizeof q), shown > 40 ? 40 : shown,
                                p);
                return false;
            }
            p += len;
        } else {
            p++;
        }
    }
    return true;
}

int gw_config_expand_pattern(gw_cfg_ctx_t *ctx, const gw_config_device_t *d, int line,
                             char **out)
{
    const char *pattern = ctx->cfg->endpoint_pattern;
    const char *values[N_PLACEHOLDERS] = {ctx->cfg->name, d->adapter, d->address,
                                          d->template_name};
    *out = NULL;
    size_t size = 1;
    for (const char *p = pattern; *p;) {
        size_t len;
        int i = placeholder_at(p, &len);
        if (i < 0) {
            size++;
            p++;
            continue;
        }
        if (!values[i]) {
            gw_config_error_at(ctx, line, "endpoint_pattern uses {%s} but the device has no %s, "
                                          "expected an explicit endpoint = \"...\"",
                               placeholders[i], placeholders[i]);
            return -EINVAL;
        }
        size += strlen(values[i]);
        p += len;
    }
    char *ep = malloc(size), *w = ep;
    if (!ep)
        return -ENOMEM;
    for (const char *p = pattern; *p;) {
        size_t len;
        int i = placeholder_at(p, &len);
        if (i < 0) {
            *w++ = *p++;
            continue;
        }
        size_t l = strlen(values[i]);
        memcpy(w, values[i], l);
        w += l;
        p += len;
    }
    *w = '\0';
    *out = ep;
    return 0;
}

/* ---- fingerprint ------------------------------------------------------ */

/* FNV-1a, 64 bits (offset basis and prime from the FNV reference,
 * http://www.isthe.com/chongo/tech/comp/fnv/). Not cryptographic: it only
 * has to tell an edited device from an untouched one. */
#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME 1099511628211ull

static void h_bytes(uint64_t *h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= FNV_PRIME;
    }
}

static void h_u64(uint64_t *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    h_bytes(h, b, sizeof b);
}

/* Length first, so that ("ab", "c") and ("a", "bc") differ; NULL differs
 * from "". */
static void h_str(uint64_t *h, const char *s)
{
    if (!s) {
        h_u64(h, UINT64_MAX);
        return;
    }
    size_t n = strlen(s);
    h_u64(h, n);
    h_bytes(h, s, n);
}

static void h_double(uint64_t *h, double v)
{
    uint64_t bits;
    if (v == 0)
        v = 0; /* -0.0 and 0.0 configure the same thing */
    memcpy(&bits, &v, sizeof bits);
    h_u64(h, bits);
}

static void h_path(uint64_t *h, const gw_path_t *p)
{
    h_u64(h, p->len);
    for (int i = 0; i < p->len && i < 4; i++)
        h_u64(h, p->id[i]);
}

static void h_value(uint64_t *h, const gw_value_t *v)
{
    h_u64(h, (uint64_t)v->type);
    switch (v->type) {
    case GW_TYPE_STRING:
    case GW_TYPE_CORELNK:
    case GW_TYPE_OPAQUE:
        h_u64(h, v->v.bytes.len);
        h_bytes(h, v->v.bytes.ptr, v->v.bytes.len);
        break;
    case GW_TYPE_FLOAT: h_double(h, v->v.f); break;
    case GW_TYPE_UNSIGNED: h_u64(h, v->v.u); break;
    case GW_TYPE_BOOLEAN: h_u64(h, v->v.b); break;
    case GW_TYPE_OBJLNK: h_u64(h, (uint64_t)v->v.objlnk.oid << 16 | v->v.objlnk.iid); break;
    default: h_u64(h, (uint64_t)v->v.i); break;
    }
}

uint64_t gw_config_fingerprint(const gw_config_device_t *d)
{
    uint64_t h = FNV_OFFSET;
    h_str(&h, d->endpoint);
    h_str(&h, d->adapter);
    h_str(&h, d->address);
    h_str(&h, d->manufacturer);
    h_str(&h, d->model);
    h_str(&h, d->serial);
    h_str(&h, d->firmware);
    h_str(&h, d->psk_identity);
    h_bytes(&h, &d->report_send, sizeof d->report_send);
    h_bytes(&h, &d->send_interval_s, sizeof d->send_interval_s);
    h_bytes(&h, &d->queue_mode, sizeof d->queue_mode);
    h_bytes(&h, &d->queue_time_s, sizeof d->queue_time_s);
    h_bytes(&h, &d->bootstrap, sizeof d->bootstrap);
    h_u64(&h, d->psk_key_len);
    h_bytes(&h, d->psk_key, d->psk_key_len < sizeof d->psk_key ? d->psk_key_len
                                                                : sizeof d->psk_key);
    static const gw_config_dtls_t no_dtls;
    const gw_config_dtls_t *dt = d->dtls ? d->dtls : &no_dtls;
    h_u64(&h, (uint64_t)dt->set << 8 | (uint64_t)dt->creds.mode << 1 | dt->creds.verify);
    h_u64(&h, (uint64_t)dt->creds.cert_usage);
    h_bytes(&h, dt->creds.own, dt->creds.own_len);
    h_bytes(&h, dt->creds.server_key, dt->creds.server_key_len);
    h_bytes(&h, dt->creds.secret, dt->creds.secret_len);
    h_str(&h, dt->creds.server_name);
    h_u64(&h, d->n_resources);
    for (size_t i = 0; i < d->n_resources; i++) {
        h_path(&h, &d->resources[i].path);
        h_value(&h, &d->resources[i].value);
    }
    h_u64(&h, d->n_fields);
    for (size_t i = 0; i < d->n_fields; i++) {
        const gw_config_field_t *f = &d->fields[i];
        h_str(&h, f->field);
        h_path(&h, &f->path);
        h_double(&h, f->scale);
        h_double(&h, f->offset);
        h_u64(&h, (uint64_t)f->has_min << 1 | f->has_max);
        h_double(&h, f->has_min ? f->min : 0);
        h_double(&h, f->has_max ? f->max : 0);
        h_str(&h, f->unit);
        h_str(&h, f->application_type);
        h_u64(&h, f->writable);
    }
    /* The adapter's own part, in its own terms (its name is hashed above). */
    const gw_adapter_conf_ops_t *conf = d->ops ? d->ops->conf : NULL;
    h_u64(&h, conf && d->part ? conf->part_fingerprint(d->part) : 0);
    h = gw_config_access_hash(d, h);
    return h;
}
