/*
 * mapping/config_keys.c - the table-driven part of the configuration loader:
 * collecting diagnostics, checking a group's settings against its key table,
 * and the handlers shared by several groups.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lwm2m/check.h"
#include "config_internal.h"

static void add_msg(gw_cfg_ctx_t *ctx, const char *file, int line, const char *msg, bool error)
{
    ctx->errors += error;
    if (ctx->oom)
        return;
    if (ctx->n_msgs == ctx->cap_msgs) {
        size_t cap = ctx->cap_msgs ? ctx->cap_msgs * 2 : 16;
        gw_cfg_diag_entry_t *m = realloc(ctx->msgs, cap * sizeof *m);
        if (!m) {
            ctx->oom = true;
            return;
        }
        ctx->msgs = m;
        ctx->cap_msgs = cap;
    }
    gw_cfg_diag_entry_t *e = &ctx->msgs[ctx->n_msgs];
    e->file = NULL;
    if (file && ctx->file && strcmp(file, ctx->file) != 0) {
        e->file = strdup(file);
        if (!e->file) {
            ctx->oom = true;
            return;
        }
    }
    e->msg = strdup(msg);
    if (!e->msg) {
        free(e->file);
        ctx->oom = true;
        return;
    }
    e->line = line;
    e->seq = (unsigned)ctx->n_msgs;
    ctx->n_msgs++;
}

static void vreport(gw_cfg_ctx_t *ctx, const char *file, int line, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    add_msg(ctx, file, line, msg, true);
}

const char *gw_config_shown_file(const gw_cfg_ctx_t *ctx, const char *file, char *buf,
                                 size_t size)
{
#if LIBCONFIG_VER_MAJOR == 1 && LIBCONFIG_VER_MINOR < 7
    /* The main file is read from memory, so any name is an @include's. */
    if (file && ctx->include_dir && file[0] != '/' && strcmp(file, ctx->file) != 0) {
        snprintf(buf, size, "%s/%s", ctx->include_dir, file);
        return buf;
    }
#else
    (void)ctx, (void)buf, (void)size;
#endif
    return file;
}

void gw_config_error(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *fmt, ...)
{
    const char *file = s ? config_setting_source_file(s) : NULL;
    int line = s ? (int)config_setting_source_line(s) : 0;
    char buf[4096];
    file = gw_config_shown_file(ctx, file, buf, sizeof buf);
    va_list ap;
    va_start(ap, fmt);
    vreport(ctx, file ? file : ctx->file, line, fmt, ap);
    va_end(ap);
}

void gw_config_error_file(gw_cfg_ctx_t *ctx, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(ctx, file ? file : ctx->file, line, fmt, ap);
    va_end(ap);
}

void gw_config_warn_at(gw_cfg_ctx_t *ctx, int line, const char *fmt, ...)
{
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "warning: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    add_msg(ctx, ctx->file, line, msg, false);
}

void gw_config_error_at(gw_cfg_ctx_t *ctx, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(ctx, ctx->file, line, fmt, ap);
    va_end(ap);
}

void gw_config_diag_forward(void *vctx, const char *file, int line, const char *msg)
{
    gw_cfg_ctx_t *ctx = vctx;
    ctx->errors++;
    if (ctx->diag)
        ctx->diag(ctx->diag_ctx, file, line, msg);
}

static int cmp_msg(const void *pa, const void *pb)
{
    const gw_cfg_diag_entry_t *a = pa, *b = pb;
    /* The main file first, then included files in order of appearance. */
    if (!a->file != !b->file)
        return a->file ? 1 : -1;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void gw_config_flush_diags(gw_cfg_ctx_t *ctx)
{
    if (ctx->n_msgs)
        qsort(ctx->msgs, ctx->n_msgs, sizeof *ctx->msgs, cmp_msg);
    for (size_t i = 0; i < ctx->n_msgs; i++) {
        gw_cfg_diag_entry_t *e = &ctx->msgs[i];
        if (ctx->diag)
            ctx->diag(ctx->diag_ctx, e->file ? e->file : ctx->file, e->line, e->msg);
        free(e->file);
        free(e->msg);
    }
    free(ctx->msgs);
    ctx->msgs = NULL;
    ctx->n_msgs = ctx->cap_msgs = 0;
}

char *gw_config_quote(const char *s, char *buf, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, shown = 0;
    if (size < 16) {
        if (size)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (shown >= 60 || o + 8 >= size) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c >= 0x7f) {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        } else if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else {
            buf[o++] = (char)c;
        }
        shown++;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

const char *gw_config_type_desc(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP: return "a group { }";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a float";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: return "an array [ ]";
    case CONFIG_TYPE_LIST: return "a list ( )";
    default: return "nothing";
    }
}

uint64_t gw_config_key_bit(const gw_cfg_key_t *keys, size_t n, const char *name)
{
    for (size_t i = 0; i < n && i < GW_CFG_MAX_KEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return (uint64_t)1 << i;
    return 0;
}

static void unknown_key(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *where,
                        const gw_cfg_key_t *keys, size_t n)
{
    const char *names[GW_CFG_MAX_KEYS] = {0};
    char q[GW_CFG_QUOTE_SIZE];
    for (size_t i = 0; i < n && i < GW_CFG_MAX_KEYS; i++)
        names[i] = keys[i].name;
    const char *name = config_setting_name(s);
    const char *best = gw_config_suggest(name, names, n);
    if (best) {
        gw_config_error(ctx, s, "unknown key %s in %s, did you mean \"%s\"?",
                        gw_config_quote(name, q, sizeof q), where, best);
        return;
    }
    char list[512];
    size_t o = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n && o < sizeof list; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", names[i]);
    gw_config_error(ctx, s, "unknown key %s in %s, expected one of: %s",
                    gw_config_quote(name, q, sizeof q), where, list);
}

int gw_config_walk(gw_cfg_ctx_t *ctx, const config_setting_t *group, const char *where,
                   const gw_cfg_key_t *keys, size_t n, void *obj, uint64_t *out_seen)
{
    uint64_t seen = 0;
    if (n > GW_CFG_MAX_KEYS)
        return -EINVAL;
    int count = config_setting_length(group);
    for (int i = 0; i < count; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        size_t k = 0;
        while (k < n && strcmp(keys[k].name, name) != 0)
            k++;
        if (k == n) {
            unknown_key(ctx, s, where, keys, n);
            continue;
        }
        if (!(keys[k].types & GW_CFG_T(config_setting_type(s)))) {
            gw_config_error(ctx, s, "\"%s\" must be %s, got %s", name, keys[k].expect,
                            gw_config_type_desc(s));
            continue;
        }
        seen |= (uint64_t)1 << k;
        if (!keys[k].handler) {
            ((const config_setting_t **)obj)[keys[k].offset] = s;
            continue;
        }
        int rc = keys[k].handler(ctx, s, &keys[k], obj);
        if (rc < 0)
            return rc;
        if (ctx->oom)
            return -ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        if (!keys[k].required || (seen & ((uint64_t)1 << k)))
            continue;
        /* Present with a wrong type was already reported. */
        if (config_setting_get_member(group, keys[k].name))
            continue;
        gw_config_error(ctx, group, "%s is missing required key \"%s\" (%s)", where, keys[k].name,
                        keys[k].expect);
    }
    if (out_seen)
        *out_seen = seen;
    return ctx->oom ? -ENOMEM : 0;
}

bool gw_config_list_next(gw_cfg_ctx_t *ctx, gw_cfg_list_t *it)
{
    int n = it->list ? config_setting_length(it->list) : 0;
    while (it->next < n) {
        int i = it->next++;
        const config_setting_t *g = config_setting_get_elem(it->list, (unsigned)i);
        if (it->prefix)
            snprintf(it->where, sizeof it->where, "%s.%s[%d]", it->prefix, it->name, i);
        else
            snprintf(it->where, sizeof it->where, "%s[%d]", it->name, i);
        if (config_setting_type(g) == CONFIG_TYPE_GROUP) {
            it->group = g;
            it->index = i;
            return true;
        }
        if (it->phrase == GW_CFG_LIST_EXPECTED)
            gw_config_error(ctx, g, "%s is %s, expected a group %s", it->where,
                            gw_config_type_desc(g), it->shape);
        else
            gw_config_error(ctx, g, "%s must be a group %s, got %s", it->where, it->shape,
                            gw_config_type_desc(g));
    }
    it->group = NULL;
    return false;
}

int gw_config_h_string(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                       void *obj)
{
    char **field = (char **)((char *)obj + k->offset);
    const char *str = config_setting_get_string(s);
    /* Settings end up in String resources, Register queries and logs, all
     * UTF-8 (LwM2M 1.1 Appendix C, RFC 7252 5.10.1). */
    if (!gw_utf8_valid((const uint8_t *)str, strlen(str))) {
        gw_config_error(ctx, s, "\"%s\" is not valid UTF-8, expected %s", k->name, k->expect);
        return 0;
    }
    char *v = strdup(str);
    if (!v) {
        ctx->oom = true;
        return -ENOMEM;
    }
    free(*field);
    *field = v;
    return 0;
}

int gw_config_h_nonempty_string(gw_cfg_ctx_t *ctx, const config_setting_t *s,
                                const gw_cfg_key_t *k, void *obj)
{
    if (!*config_setting_get_string(s)) {
        gw_config_error(ctx, s, "\"%s\" must not be empty, expected %s", k->name, k->expect);
        return 0;
    }
    return gw_config_h_string(ctx, s, k, obj);
}

int gw_config_h_int32(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                      void *obj)
{
    long long v = config_setting_get_int64(s);
    if (v < k->min || v > k->max) {
        if (k->max >= INT32_MAX)
            gw_config_error(ctx, s, "\"%s\" must be at least %lld, got %lld", k->name, k->min, v);
        else
            gw_config_error(ctx, s, "\"%s\" must be between %lld and %lld, got %lld", k->name,
                            k->min, k->max, v);
        return 0;
    }
    *(int32_t *)(void *)((char *)obj + k->offset) = (int32_t)v;
    return 0;
}

void gw_config_psk_key(gw_cfg_ctx_t *ctx, const config_setting_t *s, uint8_t *key, size_t *len)
{
    if (gw_config_parse_hex(config_setting_get_string(s), key, 64, len) < 0) {
        *len = 0;
        gw_config_error(ctx, s, "psk_key must be hex (even number of 0-9a-f digits), up to 64 "
                                "bytes");
    }
}

bool gw_config_check_endpoint(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *what,
                              const char *ep)
{
    char q[GW_CFG_QUOTE_SIZE];
    size_t len = strlen(ep);
    if (len == 0) {
        gw_config_error(ctx, s, "%s must not be empty, expected 1 to 64 printable ASCII "
                                "characters", what);
        return false;
    }
    if (len > 64) {
        gw_config_error(ctx, s, "%s %s is %zu bytes long, at most 64 are allowed", what,
                        gw_config_quote(ep, q, sizeof q), len);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)ep[i];
        if (c <= 0x20 || c >= 0x7f || c == '&' || c == '?') {
            char bad[8];
            if (c > 0x20 && c < 0x7f)
                snprintf(bad, sizeof bad, "'%c'", c);
            else if (c == ' ')
                snprintf(bad, sizeof bad, "' '");
            else
                snprintf(bad, sizeof bad, "\\x%02x", c);
            gw_config_error(ctx, s, "%s %s contains %s, expected printable ASCII without "
                                    "' ', '&' and '?'", what, gw_config_quote(ep, q, sizeof q), bad);
            return false;
        }
    }
    return true;
}
