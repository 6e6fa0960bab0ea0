/*
 * mapping/config_access.c - a device's (or template's) `access` list: the
 * Access Control instances (object 2, LwM2M 1.1.1 Core 7.3) its virtual
 * client starts with.
 *
 *     access = ( { object = 3303; instance = 0; owner = 101;
 *                  acl = { s101 = "RWE"; s102 = "R"; default = ""; }; } );
 *
 * Rights are letters, so that a file reads as what it grants: R (Read,
 * Observe, Write-Attributes), W (Write), E (Execute), D (Delete), C
 * (Create), each at most once; "" grants nothing (an explicit "no" that
 * overrides `default`). Keys of acl are `default` or `s` and a Short
 * Server ID (libconfig names start with a letter).
 *
 *     access_owner = 101;
 *
 * is the short form for "server 101 owns everything else": every object
 * instance no entry names gets an Access Control instance owned by 101
 * (lwm2m/acl.h gw_acl_fill_owner). The gateway section takes both keys
 * for the gateway's own endpoint.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

typedef struct acc_tmp {
    int32_t object, instance, owner;
    gw_config_access_t *a; /* the entry h_acl fills */
} acc_tmp_t;

#define ACC(f) offsetof(acc_tmp_t, f)

static int h_acl(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj);

static const gw_cfg_key_t access_keys[] = {
    {"object", GW_CFG_INT, "an integer (the object's id, 1..65534, not 2)", true, gw_config_h_int32,
     ACC(object), 1, 65534},
    {"instance", GW_CFG_INT, "an integer (0..65534, or 65535 for the Create rights on the object)", true,
     gw_config_h_int32, ACC(instance), 0, 65535},
    {"owner", GW_CFG_INT, "an integer (the owner's short_server_id, 1..65534, or 65535: no server)", true,
     gw_config_h_int32, ACC(owner), 1, 65535},
    {"acl", GW_CFG_GROUP, "a group { s101 = \"RW\"; default = \"R\"; }", false, h_acl, 0, 0, 0},
};
#undef ACC

/* "RWE" into bits; -1 with *bad the offending character. */
static int rights_parse(const char *t, char *bad)
{
    static const char letters[] = "RWEDC";
    int bits = 0;
    for (const char *p = t; *p; p++) {
        const char *l = strchr(letters, *p);
        if (!l || (bits & (1 << (l - letters)))) {
            *bad = *p;
            return -1;
        }
        bits |= 1 << (l - letters);
    }
    return bits;
}

static int h_acl(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)k;
    gw_config_access_t *cur = ((acc_tmp_t *)obj)->a;
    char q[GW_CFG_QUOTE_SIZE];
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_name(e);
        long ssid = -1;
        if (name && strcmp(name, "default") == 0) {
            ssid = 0;
        } else if (name && name[0] == 's' && name[1] >= '1' && name[1] <= '9' && strlen(name) <= 6) {
            char *end;
            ssid = strtol(name + 1, &end, 10);
            if (*end || ssid > 65534)
                ssid = -1;
        }
        if (ssid < 0) {
            gw_config_error(ctx, e, "acl key %s is not a server, expected s<short_server_id> (s1..s65534, "
                                    "e.g. s101) or default",
                            gw_config_quote(name ? name : "", q, sizeof q));
            continue;
        }
        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            gw_config_error(ctx, e, "acl.%s must be a string of rights letters from R, W, E, D, C (e.g. "
                                    "\"RW\", \"\" for none), got %s",
                            name, gw_config_type_desc(e));
            continue;
        }
        char bad = 0;
        int bits = rights_parse(config_setting_get_string(e), &bad);
        if (bits < 0) {
            bool twice = bad && strchr("RWEDC", bad);
            gw_config_error(ctx, e, "acl.%s: '%c' %s, expected letters from R (Read, Observe, "
                                    "Write-Attributes), W (Write), E (Execute), D (Delete), C (Create), each at "
                                    "most once",
                            name, bad >= 0x20 && bad < 0x7f ? bad : '?',
                            twice ? "is given twice" : "is not a right");
            continue;
        }
        if (cur->n_acl == GW_CONFIG_ACL_MAX) {
            gw_config_error(ctx, e, "acl has more than %d entries, expected one per server and default",
                            GW_CONFIG_ACL_MAX);
            break;
        }
        cur->ssid[cur->n_acl] = (uint16_t)ssid;
        cur->rights[cur->n_acl] = (uint8_t)bits;
        cur->n_acl++;
    }
    return 0;
}

/* The list into d->access (replacing what was there). */
static int parse_list(gw_cfg_ctx_t *ctx, const config_setting_t *list, gw_config_device_t *d)
{
    int n = config_setting_length(list);
    free(d->access);
    d->access = NULL;
    d->n_access = 0;
    if (n == 0)
        return 0;
    d->access = calloc((size_t)n, sizeof *d->access);
    if (!d->access)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        char where[32];
        snprintf(where, sizeof where, "access[%d]", i);
        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
            gw_config_error(ctx, g, "%s must be a group { object = ...; instance = ...; owner = ...; acl = "
                                    "{ ... }; }, got %s",
                            where, gw_config_type_desc(g));
            continue;
        }
        gw_config_access_t *a = &d->access[d->n_access];
        acc_tmp_t t = {-1, -1, -1, a};
        int before = gw_config_errors(ctx);
        memset(a, 0, sizeof *a);
        int rc = gw_config_walk(ctx, g, where, access_keys, sizeof access_keys / sizeof access_keys[0], &t, NULL);
        if (rc < 0)
            return rc;
        if (gw_config_errors(ctx) != before || t.object < 0 || t.instance < 0 || t.owner < 0)
            continue;
        const config_setting_t *os = config_setting_get_member(g, "object");
        if (t.object == 2) {
            gw_config_error(ctx, os, "%s.object is 2 (Access Control): its instances have none of their own, "
                                     "expected the id of the object governed",
                            where);
            continue;
        }
        if (ctx->reg && !gw_registry_find(ctx->reg, (uint16_t)t.object)) {
            gw_config_error(ctx, os, "%s.object %d is not a known object, expected one of the registry or "
                                     "objects_dir",
                            where, t.object);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < d->n_access && !dup; j++) {
            if (d->access[j].object == t.object && d->access[j].instance == t.instance) {
                gw_config_error(ctx, g, "%s governs /%d/%d again (first at line %d), expected one entry per "
                                        "object instance",
                                where, t.object, t.instance, d->access[j].line);
                dup = true;
            }
        }
        if (dup)
            continue;
        a->object = (uint16_t)t.object;
        a->instance = (uint16_t)t.instance;
        a->owner = (uint16_t)t.owner;
        a->line = (int)config_setting_source_line(g);
        d->n_access++;
    }
    return 0;
}

int gw_config_h_access(gw_cfg_ctx_t *ctx, const config_setting_t *list, const gw_cfg_key_t *k, void *obj)
{
    (void)k;
    gw_cfg_parts_t *p = obj;
    p->set |= GW_CFG_SET_ACCESS;
    return parse_list(ctx, list, &p->dev);
}

int gw_config_h_gateway_access(gw_cfg_ctx_t *ctx, const config_setting_t *list, const gw_cfg_key_t *k,
                               void *obj)
{
    (void)k;
    return parse_list(ctx, list, &((gw_config_t *)obj)->self_access);
}

static int h_owner(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, gw_config_device_t *d)
{
    int before = gw_config_errors(ctx);
    gw_config_h_int32(ctx, s, &(gw_cfg_key_t){k->name, k->types, k->expect, false, NULL,
                                              offsetof(gw_config_device_t, access_owner), 1, 65534},
                      d);
    if (gw_config_errors(ctx) != before)
        return 1;
    d->access_owner_line = (int)config_setting_source_line(s);
    return 0;
}

int gw_config_h_access_owner(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    gw_cfg_parts_t *p = obj;
    if (h_owner(ctx, s, k, &p->dev) == 0)
        p->set |= GW_CFG_SET_ACCESS_OWNER;
    return 0;
}

int gw_config_h_gateway_access_owner(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                                     void *obj)
{
    h_owner(ctx, s, k, &((gw_config_t *)obj)->self_access);
    return 0;
}

static bool is_server(const gw_config_t *c, int32_t ssid)
{
    for (size_t i = 0; i < c->n_servers; i++)
        if (c->servers[i].short_server_id == ssid)
            return true;
    return false;
}

/* (line, server) pairs already reported: a template's entries are in
 * every device made from it, said once. */
typedef struct seen_lines {
    int64_t key[64];
    size_t n;
} seen_lines_t;

static bool first_time(seen_lines_t *seen, int line, int ssid)
{
    int64_t key = (int64_t)line << 17 | ssid;
    for (size_t i = 0; i < seen->n; i++)
        if (seen->key[i] == key)
            return false;
    if (seen->n < sizeof seen->key / sizeof seen->key[0])
        seen->key[seen->n++] = key;
    return true;
}

static void unknown(gw_cfg_ctx_t *ctx, const gw_config_t *c, seen_lines_t *seen, int line, const char *fmt,
                    const char *who, const char *what, int ssid)
{
    if (!first_time(seen, line, ssid))
        return;
    char text[256];
    snprintf(text, sizeof text, fmt, who, what, ssid);
    if (c->bootstrap_server)
        gw_config_warn_at(ctx, line, "%s (unless the bootstrap server provisions a server with that short "
                                     "server id)", text);
    else
        gw_config_error_at(ctx, line, "%s, expected one of the servers' short_server_id", text);
}

static void check_device(gw_cfg_ctx_t *ctx, const gw_config_t *c, const gw_config_device_t *d, const char *who,
                         seen_lines_t *seen)
{
    if (d->access_owner && !is_server(c, d->access_owner))
        unknown(ctx, c, seen, d->access_owner_line, "%s: %s %d is not the short_server_id of any server", who,
                "access_owner", (int)d->access_owner);
    for (size_t i = 0; i < d->n_access; i++) {
        const gw_config_access_t *a = &d->access[i];
        char what[96];
        if (a->owner != 65535 && !is_server(c, a->owner)) {
            snprintf(what, sizeof what, "access entry for /%u/%u: owner", a->object, a->instance);
            unknown(ctx, c, seen, a->line, "%s: %s %d is not the short_server_id of any server", who, what,
                    a->owner);
        }
        for (size_t j = 0; j < a->n_acl; j++) {
            if (a->ssid[j] == 0 || is_server(c, a->ssid[j]))
                continue;
            snprintf(what, sizeof what, "access entry for /%u/%u: acl key s%u", a->object, a->instance,
                     a->ssid[j]);
            unknown(ctx, c, seen, a->line, "%s: %s names server %d, which is not the short_server_id of any "
                                           "server", who, what, a->ssid[j]);
        }
    }
}

void gw_config_check_access_owners(gw_cfg_ctx_t *ctx, const gw_config_t *c)
{
    /* No server at all: every client bootstraps or the file is refused
     * for having none; nothing to name. */
    if (!c->n_servers && !c->bootstrap_server)
        return;
    seen_lines_t seen = {.n = 0};
    check_device(ctx, c, &c->self_access, "gateway", &seen);
    char who[160];
    for (size_t i = 0; i < c->n_devices; i++) {
        snprintf(who, sizeof who, "device \"%s\"", c->devices[i].endpoint ? c->devices[i].endpoint : "");
        check_device(ctx, c, &c->devices[i], who, &seen);
    }
}

static bool named(const gw_config_device_t *d, uint16_t oid, uint16_t iid)
{
    for (size_t i = 0; i < d->n_access; i++)
        if (d->access[i].object == oid && d->access[i].instance == iid)
            return true;
    return false;
}

/* Object instances the client of d starts with that no access entry names:
 * /1/x (one per server), /3/0, extra (the gateway's own objects), each
 * initial value's and each field's instance, each counted once. */
static size_t gaps_of(const gw_config_t *c, const gw_config_device_t *d, const gw_path_t *extra, size_t n_extra)
{
    if (d->access_owner)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < c->n_servers; i++)
        n += !named(d, 1, (uint16_t)i);
    n += !named(d, 3, 0);
    for (size_t i = 0; i < n_extra; i++)
        n += !named(d, extra[i].id[0], extra[i].id[1]);
    /* Instances repeat (several resources of one): O(n^2) over one
     * device's entries, a few dozen at most. */
    for (size_t i = 0; i < d->n_resources + d->n_fields; i++) {
        const gw_path_t *p = i < d->n_resources ? &d->resources[i].path : &d->fields[i - d->n_resources].path;
        if (p->len < 2 || (p->id[0] == 3 && p->id[1] == 0) || named(d, p->id[0], p->id[1]))
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) {
            const gw_path_t *q = j < d->n_resources ? &d->resources[j].path : &d->fields[j - d->n_resources].path;
            seen = q->len >= 2 && q->id[0] == p->id[0] && q->id[1] == p->id[1];
        }
        n += !seen;
    }
    return n;
}

size_t gw_config_access_gaps(const gw_config_t *c, size_t *out_instances)
{
    size_t clients = 0, inst = 0;
    if (c->n_servers > 1) {
        /* The gateway's own endpoint: its offline-drops counter. */
        static const gw_path_t self_extra[] = {{{3300, 0, 0, 0}, 2}};
        size_t k = gaps_of(c, &c->self_access, self_extra, 1);
        clients += k > 0;
        inst += k;
        for (size_t i = 0; i < c->n_devices; i++) {
            k = gaps_of(c, &c->devices[i], NULL, 0);
            clients += k > 0;
            inst += k;
        }
    }
    if (out_instances)
        *out_instances = inst;
    return clients;
}

int gw_config_copy_access(gw_config_device_t *dst, const gw_config_device_t *src)
{
    dst->access = NULL;
    dst->n_access = 0;
    if (!src->n_access)
        return 0;
    dst->access = malloc(src->n_access * sizeof *dst->access);
    if (!dst->access)
        return -ENOMEM;
    memcpy(dst->access, src->access, src->n_access * sizeof *dst->access);
    dst->n_access = src->n_access;
    return 0;
}

void gw_config_free_access(gw_config_device_t *d)
{
    free(d->access);
    d->access = NULL;
    d->n_access = 0;
}

uint64_t gw_config_access_hash(const gw_config_device_t *d, uint64_t h)
{
    /* FNV-1a over the entries' contents (no lines), as the fingerprint. */
    for (size_t k = 0; k < sizeof d->access_owner; k++)
        h = (h ^ (uint8_t)((uint32_t)d->access_owner >> (8 * k))) * 1099511628211ull;
    for (size_t i = 0; i < d->n_access; i++) {
        const gw_config_access_t *a = &d->access[i];
        uint16_t f[4] = {a->object, a->instance, a->owner, (uint16_t)a->n_acl};
        const uint8_t *b = (const uint8_t *)f;
        for (size_t k = 0; k < sizeof f; k++)
            h = (h ^ b[k]) * 1099511628211ull;
        for (size_t k = 0; k < a->n_acl; k++) {
            uint8_t e[3] = {(uint8_t)(a->ssid[k] >> 8), (uint8_t)a->ssid[k], a->rights[k]};
            for (size_t x = 0; x < sizeof e; x++)
                h = (h ^ e[x]) * 1099511628211ull;
        }
    }
    return h;
}
