/*
 * gateway/writes.c - LwM2M Writes and Executes on fields configured
 * `writable` go back to the sensor's adapter, with the mapping's conversion
 * undone (the device wants its own unit and scale).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lwm2m/precision.h"
#include "gateway_internal.h"
#include "log.h"

static double unconvert(gw_unit_conv_t c, double v)
{
    switch (c) {
    case GW_CONV_F_TO_C: return v * 9.0 / 5.0 + 32.0;
    case GW_CONV_K_TO_C: return v + 273.15;
    case GW_CONV_WH_TO_KWH:
    case GW_CONV_MV_TO_V:
    case GW_CONV_MA_TO_A:
    case GW_CONV_W_TO_KW: return v * 1000.0;
    case GW_CONV_PA_TO_HPA: return v * 100.0;
    case GW_CONV_KPA_TO_HPA: return v / 10.0;
    case GW_CONV_V_TO_MV: return v / 1000.0;
    case GW_CONV_NONE: break;
    }
    return v;
}

/* The adapter's limits of a field, in the resource's unit: what a server
 * may write there, for the diagnostic of a refused value. */
static void describe_range(gw_adapter_slot_t *s, const char *key, const gw_map_target_t *t, char *diag,
                           size_t size)
{
    double lo, hi;
    if (!diag || !size || !s->ops->write_range || s->ops->write_range(s->a, key, t->field, &lo, &hi) < 0)
        return;
    int dlo, dhi;
    lo = gw_prec_double(lo, &dlo);
    hi = gw_prec_double(hi, &dhi);
    int d = gw_prec_linear(gw_unit_conv_decimals(t->conv, dlo > dhi ? dlo : dhi), t->scale, t->offset);
    double a = gw_prec_round(gw_unit_conv_apply(t->conv, lo) * t->scale + t->offset, d);
    double b = gw_prec_round(gw_unit_conv_apply(t->conv, hi) * t->scale + t->offset, d);
    gw_buf_t out = {0};
    gw_value_t va = {.type = GW_TYPE_FLOAT, .v.f = a < b ? a : b};
    gw_value_t vb = {.type = GW_TYPE_FLOAT, .v.f = a < b ? b : a};
    if (gw_buf_appendf(&out, "field \"%s\" takes ", t->field) == 0 && gw_value_to_text(&va, &out) == 0 &&
        gw_buf_append(&out, "..", 2) == 0 && gw_value_to_text(&vb, &out) == 0 &&
        (!t->lwm2m_unit || gw_buf_appendf(&out, " %s", t->lwm2m_unit) == 0))
        snprintf(diag, size, "%.*s", (int)out.len, (const char *)out.data);
    gw_buf_free(&out);
}

/* The field's step in the resource's unit (the mapping's factor applied),
 * for the diagnostic of a value between two steps (-EDOM). */
static void describe_step(gw_adapter_slot_t *s, const char *key, const gw_map_target_t *t, char *diag,
                          size_t size)
{
    double step;
    if (!diag || !size || !s->ops->write_step || s->ops->write_step(s->a, key, t->field, &step) < 0)
        return;
    /* Conversions and scales are affine: a step scales by their factor. */
    step = fabs((gw_unit_conv_apply(t->conv, step) - gw_unit_conv_apply(t->conv, 0)) * t->scale);
    snprintf(diag, size, "field \"%s\" holds steps of %.6g%s%s, a value between two is not rounded", t->field,
             step, t->lwm2m_unit ? " " : "", t->lwm2m_unit ? t->lwm2m_unit : "");
}

/* The value itself, or the operation, refused before any device traffic:
 * the server's request was wrong, not the device (gw_lwm2m_write_code). */
static bool refusal(int rc)
{
    return rc == -ERANGE || rc == -EDOM || rc == -EINVAL || rc == -EPERM || rc == -ENOTSUP;
}

static void write_done(void *ctx, int rc)
{
    /* The adapter logged the device's fault with its detail. */
    gw_lwm2m_write_complete(ctx, rc);
}

/* The LwM2M Write/Execute and the MQTT mirror's `/set` share this path, so
 * a command from either side is checked, converted and logged alike. */
static int write_common(struct gw_gateway *g, gw_vclient_t *vc, const gw_path_t *path, const gw_value_t *value,
                        const uint8_t *args, size_t args_len, gw_write_mode_t mode, gw_write_done_fn done,
                        void *token, char *diag, size_t diag_size)
{
    const char *key = NULL;
    const gw_map_target_t *t = NULL;
    if (gw_mapping_find_path(g->mapping, gw_vclient_store(vc), path, &key, &t) < 0 || !t->writable)
        return -ENOENT;
    gw_adapter_slot_t *s = gw_adapters_slot_for_client(g, vc);
    if (!s || !s->ops->write_async)
        return -ENOTSUP;
    gw_value_t dv;
    char *argz = NULL;
    if (value) {
        dv = *value;
        double x;
        bool num = true;
        switch (value->type) {
        case GW_TYPE_FLOAT: x = value->v.f; break;
        case GW_TYPE_INTEGER: x = (double)value->v.i; break;
        case GW_TYPE_UNSIGNED: x = (double)value->v.u; break;
        default: num = false; x = 0; break;
        }
        if (num) {
            dv.type = GW_TYPE_FLOAT;
            dv.v.f = unconvert(t->conv, (x - t->offset) / (t->scale != 0.0 ? t->scale : 1.0));
        }
    } else {
        argz = strndup(args ? (const char *)args : "", args_len);
        if (!argz)
            return -ENOMEM;
    }
    int rc;
    if (mode == GW_WRITE_CHECK) {
        rc = s->ops->write_check ? s->ops->write_check(s->a, key, t->field, value ? &dv : NULL, argz) : 0;
    } else if (!token) {
        rc = -EINVAL;
    } else {
        /* The device answers later (a serial bus) or at once (static,
         * simulated: done runs inside this call); the server's request
         * waits for it, the loop never does. */
        rc = s->ops->write_async(s->a, key, t->field, value ? &dv : NULL, argz, done, token);
        if (rc == 0)
            rc = -EINPROGRESS;
    }
    free(argz);
    if (rc >= 0 || rc == -EINPROGRESS || (mode == GW_WRITE_CHECK && rc == -ENOENT))
        return rc;
    char ps[32], vs[48] = "";
    if (value) {
        gw_buf_t b = {0};
        if (gw_value_to_text(value, &b) == 0)
            snprintf(vs, sizeof vs, " = %.*s", (int)(b.len < 40 ? b.len : 40), (const char *)b.data);
        gw_buf_free(&b);
    }
    if (rc == -ERANGE)
        describe_range(s, key, t, diag, diag_size);
    else if (rc == -EDOM)
        describe_step(s, key, t, diag, diag_size);
    if (refusal(rc))
        gw_notice("%s: %s %s%s (field %s) refused: %s%s%s", key, value ? "Write" : "Execute",
                  gw_path_format(path, ps, sizeof ps), vs, t->field, strerror(-rc), diag && diag[0] ? "; " : "",
                  diag ? diag : "");
    else
        gw_warn("%s: %s %s%s (field %s) failed at the device: %s", key, value ? "Write" : "Execute",
                gw_path_format(path, ps, sizeof ps), vs, t->field, strerror(-rc));
    return rc;
}

int gw_gateway_write_hook(void *ctx, gw_vclient_t *vc, const gw_path_t *path, const gw_value_t *value,
                          const uint8_t *args, size_t args_len, gw_write_mode_t mode,
                          gw_write_token_t *token, char *diag, size_t diag_size)
{
    return write_common(ctx, vc, path, value, args, args_len, mode, write_done, token, diag, diag_size);
}

int gw_gateway_write_value(struct gw_gateway *g, gw_vclient_t *vc, const gw_path_t *path, const gw_value_t *value,
                           gw_write_done_fn done, void *done_ctx, char *diag, size_t diag_size)
{
    int rc = write_common(g, vc, path, value, NULL, 0, GW_WRITE_CHECK, NULL, NULL, diag, diag_size);
    if (rc < 0)
        return rc;
    return write_common(g, vc, path, value, NULL, 0, GW_WRITE_START, done, done_ctx, diag, diag_size);
}
