/*
 * mapping/config_template.c - `templates = ( { name = "sdm120"; ... } )` and
 * their application to devices.
 *
 * Each template is parsed and checked once, where it is written, so a
 * mistake in a template shared by a thousand meters is one message at the
 * template's line. Its parents (`template = "other"`) are applied once too
 * and cached; a device then costs one merge.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

enum { T_NEW = 0, T_RESOLVING, T_DONE };

struct gw_cfg_tmpl {
    gw_cfg_parts_t own;      /* as written */
    gw_cfg_parts_t resolved; /* parents applied */
    int state;
};

static char *dup_opt(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

/* A record of base is replaced by over when over writes the same entry,
 * or the same resource as a whole (a 3-level path, a list value). */
static bool value_replaced(const gw_cfg_parts_t *over, const gw_path_t *entry)
{
    for (size_t i = 0; i < over->dev.n_resources; i++) {
        const gw_path_t *o = &over->res_entry[i];
        if (gw_path_cmp(o, entry) == 0)
            return true;
        bool same_res = o->id[0] == entry->id[0] && o->id[1] == entry->id[1] &&
                        o->id[2] == entry->id[2];
        if (same_res && (o->len == 3 || entry->len == 3))
            return true;
    }
    return false;
}

static int merge_values(const gw_cfg_parts_t *base, const gw_cfg_parts_t *over,
                        gw_cfg_parts_t *out)
{
    size_t n = over->dev.n_resources + (base ? base->dev.n_resources : 0);
    if (!n)
        return 0;
    out->dev.resources = calloc(n, sizeof *out->dev.resources);
    out->res_entry = calloc(n, sizeof *out->res_entry);
    if (!out->dev.resources || !out->res_entry)
        return -ENOMEM;
    out->cap_res = n;
    for (int pass = 0; pass < 2; pass++) {
        const gw_cfg_parts_t *src = pass ? over : base;
        for (size_t i = 0; src && i < src->dev.n_resources; i++) {
            if (!pass && value_replaced(over, &src->res_entry[i]))
                continue;
            size_t k = out->dev.n_resources;
            out->dev.resources[k] = src->dev.resources[i];
            if (gw_config_copy_value(&out->dev.resources[k].value, &src->dev.resources[i].value))
                return -ENOMEM;
            out->res_entry[k] = src->res_entry[i];
            out->dev.n_resources++;
        }
    }
    return 0;
}

/* Fields: base's in order, one of over with the same
 * field taking its place (so instance numbering by order stays), then over's
 * new ones. */
static int merge_fields(const gw_cfg_parts_t *base, const gw_cfg_parts_t *over,
                        gw_cfg_parts_t *out)
{
    const gw_config_device_t *b = base ? &base->dev : NULL, *o = &over->dev;
    size_t n = o->n_fields + (b ? b->n_fields : 0);
    if (!n)
        return 0;
    gw_config_device_t *d = &out->dev;
    d->fields = calloc(n, sizeof *d->fields);
    if (!d->fields)
        return -ENOMEM;
    out->cap_fields = n;
    for (size_t i = 0; b && i < b->n_fields; i++) {
        const gw_config_field_t *src = &b->fields[i];
        for (size_t j = 0; j < o->n_fields; j++)
            if (strcmp(o->fields[j].field, src->field) == 0)
                src = &o->fields[j];
        if (gw_config_copy_field(&d->fields[d->n_fields], src) < 0)
            return -ENOMEM;
        d->n_fields++;
    }
    for (size_t j = 0; j < o->n_fields; j++) {
        bool in_base = false;
        for (size_t i = 0; b && i < b->n_fields && !in_base; i++)
            in_base = strcmp(o->fields[j].field, b->fields[i].field) == 0;
        if (in_base)
            continue;
        if (gw_config_copy_field(&d->fields[d->n_fields], &o->fields[j]) < 0)
            return -ENOMEM;
        d->n_fields++;
    }
    return 0;
}

int gw_config_merge_parts(const gw_cfg_parts_t *base, const gw_cfg_parts_t *over,
                          gw_cfg_parts_t *out)
{
    const gw_config_device_t *o = &over->dev;
    const gw_config_device_t *b = base ? &base->dev : NULL;
    gw_config_device_t *d = &out->dev;
    unsigned bs = base ? base->set : 0;
    bool oom = false;
    /* A key the device sets wins; otherwise the template's value. */
#define PICK(bit, f) dup_opt((over->set & (bit)) ? o->f : (bs & (bit)) ? b->f : NULL, &oom)
    d->endpoint = PICK(GW_CFG_SET_ENDPOINT, endpoint);
    d->address = PICK(GW_CFG_SET_ADDRESS, address);
    d->adapter = PICK(GW_CFG_SET_ADAPTER, adapter);
    d->manufacturer = PICK(GW_CFG_SET_INFO0, manufacturer);
    d->model = PICK(GW_CFG_SET_INFO0 << 1, model);
    d->serial = PICK(GW_CFG_SET_INFO0 << 2, serial);
    d->firmware = PICK(GW_CFG_SET_INFO0 << 3, firmware);
    d->psk_identity = PICK(GW_CFG_SET_PSK_IDENTITY, psk_identity);
#undef PICK
    /* access is one list: the device's replaces its template's whole. */
    if (gw_config_copy_access(d, (over->set & GW_CFG_SET_ACCESS) ? o : (bs & GW_CFG_SET_ACCESS) ? b : d) < 0)
        oom = true;
    if (over->set & GW_CFG_SET_ACCESS_OWNER) {
        d->access_owner = o->access_owner;
        d->access_owner_line = o->access_owner_line;
    } else if (bs & GW_CFG_SET_ACCESS_OWNER) {
        d->access_owner = b->access_owner;
        d->access_owner_line = b->access_owner_line;
    }
    if (over->set & GW_CFG_SET_PSK_KEY) {
        memcpy(d->psk_key, o->psk_key, sizeof d->psk_key);
        d->psk_key_len = o->psk_key_len;
    } else if (bs & GW_CFG_SET_PSK_KEY) {
        memcpy(d->psk_key, b->psk_key, sizeof d->psk_key);
        d->psk_key_len = b->psk_key_len;
    }
    /* DTLS keys go as one set: a device giving any replaces its template's. */
    const gw_config_dtls_t *dtls = gw_config_dtls_given(&over->dtls) ? &over->dtls : base ? &base->dtls : NULL;
    if (dtls && gw_config_dtls_given(dtls) && gw_config_dtls_copy(&out->dtls, dtls) < 0)
        oom = true;
    d->report_send = (over->set & GW_CFG_SET_REPORT) ? o->report_send
                     : (bs & GW_CFG_SET_REPORT)     ? b->report_send
                                                    : false;
    d->send_interval_s = (over->set & GW_CFG_SET_SEND_INTERVAL) ? o->send_interval_s
                         : (bs & GW_CFG_SET_SEND_INTERVAL)     ? b->send_interval_s
                                                               : 10;
    d->queue_mode = (over->set & GW_CFG_SET_BINDING) ? o->queue_mode
                    : (bs & GW_CFG_SET_BINDING)     ? b->queue_mode
                                                    : false;
    d->bootstrap = (over->set & GW_CFG_SET_BOOTSTRAP) ? o->bootstrap : (bs & GW_CFG_SET_BOOTSTRAP) && b->bootstrap;
    d->queue_time_s = (over->set & GW_CFG_SET_QUEUE_TIME) ? o->queue_time_s
                      : (bs & GW_CFG_SET_QUEUE_TIME)     ? b->queue_time_s
                                                         : 93;
    d->line = o->line;
    out->set = over->set | bs;
    out->group = over->group;
    out->bad = over->bad || (base && base->bad);
    for (int i = 0; i < 4; i++)
        out->info[i] = over->info[i];
    out->endpoint_s = over->endpoint_s;
    out->address_s = over->address_s;
    out->adapter_s = over->adapter_s;
    out->template_s = over->template_s;
    if (oom || merge_values(base, over, out) < 0 || merge_fields(base, over, out) < 0 ||
        gw_config_merge_adapter_parts(base, over, out) < 0)
        return -ENOMEM;
    return 0;
}

/* ---- the templates list ------------------------------------------------ */

static struct gw_cfg_tmpl *find_tmpl(gw_cfg_ctx_t *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->n_tmpl; i++)
        if (ctx->tmpl[i].own.name && strcmp(ctx->tmpl[i].own.name, name) == 0)
            return &ctx->tmpl[i];
    return NULL;
}

static void unknown_template(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *name)
{
    char q[GW_CFG_QUOTE_SIZE], list[512];
    const char **names = calloc(ctx->n_tmpl + 1, sizeof *names);
    size_t n = 0, o = 0;
    list[0] = '\0';
    for (size_t i = 0; names && i < ctx->n_tmpl; i++)
        if (ctx->tmpl[i].own.name) {
            names[n++] = ctx->tmpl[i].own.name;
            if (o < sizeof list)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "",
                                      ctx->tmpl[i].own.name);
        }
    const char *best = names ? gw_config_suggest(name, names, n) : NULL;
    if (best)
        gw_config_error(ctx, s, "unknown template %s, did you mean \"%s\"?",
                        gw_config_quote(name, q, sizeof q), best);
    else if (n)
        gw_config_error(ctx, s, "unknown template %s, expected one of: %s",
                        gw_config_quote(name, q, sizeof q), list);
    else
        gw_config_error(ctx, s, "unknown template %s, expected a name defined in templates = "
                                "( { name = ...; } )", gw_config_quote(name, q, sizeof q));
    free(names);
}

/* Resolve template t: its parents first. chain holds the templates being
 * resolved (depth of them) to name a cycle. */
static int resolve(gw_cfg_ctx_t *ctx, struct gw_cfg_tmpl *t, struct gw_cfg_tmpl **chain,
                   size_t depth)
{
    if (t->state == T_DONE)
        return 0;
    t->state = T_RESOLVING;
    chain[depth] = t;
    struct gw_cfg_tmpl *parent = NULL;
    bool bad = false;
    if (t->own.template_ref) {
        parent = find_tmpl(ctx, t->own.template_ref);
        if (!parent) {
            unknown_template(ctx, t->own.template_s, t->own.template_ref);
            bad = true;
        } else if (parent->state == T_RESOLVING) {
            char msg[768];
            size_t o = 0, k = 0;
            while (chain[k] != parent)
                k++;
            for (; k <= depth && o < sizeof msg; k++)
                o += (size_t)snprintf(msg + o, sizeof msg - o, "%s -> ", chain[k]->own.name);
            if (o < sizeof msg)
                snprintf(msg + o, sizeof msg - o, "%s", parent->own.name);
            gw_config_error(ctx, t->own.template_s, "template cycle: %s, expected templates "
                                                    "that do not include themselves", msg);
            parent = NULL;
            bad = true;
        } else {
            int rc = resolve(ctx, parent, chain, depth + 1);
            if (rc < 0)
                return rc;
        }
    }
    int rc = gw_config_merge_parts(parent ? &parent->resolved : NULL, &t->own, &t->resolved);
    t->resolved.bad |= bad;
    t->state = T_DONE;
    return rc;
}

int gw_config_parse_templates(gw_cfg_ctx_t *ctx, const config_setting_t *list)
{
    int n = config_setting_length(list);
    if (n == 0)
        return 0;
    ctx->tmpl = calloc((size_t)n, sizeof *ctx->tmpl);
    struct gw_cfg_tmpl **chain = calloc((size_t)n, sizeof *chain);
    int rc = 0;
    if (!ctx->tmpl || !chain) {
        rc = -ENOMEM;
        goto out;
    }
    gw_cfg_list_t it = {.list = list, .name = "templates",
                        .shape = "{ name = ...; adapter = ...; }"};
    while (gw_config_list_next(ctx, &it)) {
        const config_setting_t *g = it.group;
        struct gw_cfg_tmpl *t = &ctx->tmpl[ctx->n_tmpl];
        rc = gw_config_parse_parts(ctx, g, it.where, true, &t->own);
        ctx->n_tmpl++;
        if (rc < 0)
            goto out;
        if (!t->own.name)
            continue;
        for (size_t j = 0; j + 1 < ctx->n_tmpl; j++) {
            const gw_cfg_parts_t *o = &ctx->tmpl[j].own;
            if (o->name && strcmp(o->name, t->own.name) == 0) {
                const config_setting_t *ns = config_setting_get_member(g, "name");
                gw_config_error(ctx, ns, "duplicate template \"%s\" (first defined at line %d)",
                                t->own.name, o->dev.line);
                free(t->own.name);
                t->own.name = NULL;
                break;
            }
        }
    }
    for (size_t i = 0; i < ctx->n_tmpl; i++) {
        rc = resolve(ctx, &ctx->tmpl[i], chain, 0);
        if (rc < 0)
            goto out;
    }
out:
    free(chain);
    return rc;
}

int gw_config_apply_template(gw_cfg_ctx_t *ctx, const gw_cfg_parts_t *own, gw_cfg_parts_t *out)
{
    const struct gw_cfg_tmpl *t = NULL;
    if (own->template_ref) {
        t = find_tmpl(ctx, own->template_ref);
        if (!t)
            unknown_template(ctx, own->template_s, own->template_ref);
    }
    int rc = gw_config_merge_parts(t ? &t->resolved : NULL, own, out);
    if (rc < 0)
        return rc;
    if (own->template_ref && !t)
        out->bad = true;
    if (t) {
        out->dev.template_name = strdup(own->template_ref);
        if (!out->dev.template_name)
            return -ENOMEM;
    }
    return 0;
}

void gw_config_free_templates(gw_cfg_ctx_t *ctx)
{
    for (size_t i = 0; i < ctx->n_tmpl; i++) {
        gw_config_free_parts(&ctx->tmpl[i].own);
        gw_config_free_parts(&ctx->tmpl[i].resolved);
    }
    free(ctx->tmpl);
    ctx->tmpl = NULL;
    ctx->n_tmpl = 0;
}
