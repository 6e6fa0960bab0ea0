/*
 * adapters/payload/js_config.c - a JS codec's configuration: where its
 * script comes from, its limits, and the fields it declares. The script is
 * compiled here, so --check refuses one the engine cannot run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload_internal.h"

/* A script is a codec, not a program: 1 MiB is far beyond any real one. */
#define MAX_SCRIPT (1024 * 1024)

enum { C_TYPE, C_SCRIPT, C_SOURCE, C_FIELDS, C_TIMEOUT, C_MEMORY, C_FPORT, C_N };
enum { F_NAME, F_UNIT, F_PATH, F_WRITABLE, F_N };

static const gw_cfg_key_t js_keys[] = {
    {"type", GW_CFG_STRING, "\"lpp\", \"layout\" or \"js\"", true, NULL, C_TYPE, 0, 0},
    {"script", GW_CFG_STRING, "a string (file of the codec, relative to this file's directory)",
     false, NULL, C_SCRIPT, 0, 0},
    {"source", GW_CFG_STRING, "a string (the codec's JavaScript text)", false, NULL, C_SOURCE, 0, 0},
    {"fields", GW_CFG_LIST | GW_CFG_ARRAY,
     "a list of field names or groups { name = \"temperature\"; unit = \"Cel\"; }", false, NULL,
     C_FIELDS, 0, 0},
    {"timeout_ms", GW_CFG_INT, "an integer (milliseconds per call, 1..10000)", false, NULL,
     C_TIMEOUT, 1, 10000},
    {"memory_kb", GW_CFG_INT, "an integer (KiB of the codec's heap, 256..262144)", false, NULL,
     C_MEMORY, 256, 262144},
    {"downlink_fport", GW_CFG_INT, "an integer (FPort of downlinks, 1..223)", false, NULL, C_FPORT,
     1, 223},
};

static const gw_cfg_key_t field_keys[] = {
    {"name", GW_CFG_STRING, "a string (a name decodeUplink's data produces, e.g. \"wind.speed\")",
     true, NULL, F_NAME, 0, 0},
    {"unit", GW_CFG_STRING, "a string (unit of the values, e.g. \"Cel\")", false, NULL, F_UNIT, 0, 0},
    {"path", GW_CFG_STRING, "a string (resource path such as \"/3303/0/5700\")", false, NULL,
     F_PATH, 0, 0},
    {"writable", GW_CFG_BOOL, "true or false (LwM2M writes go to encodeDownlink)", false, NULL,
     F_WRITABLE, 0, 0},
};

/* The script file: relative to the directory of the file that names it. */
static int read_script(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *where, char **out,
                       char **out_origin)
{
    const char *name = config_setting_get_string(s);
    const char *src = config_setting_source_file(s);
    char path[4096];
    const char *slash = src ? strrchr(src, '/') : NULL;
    if (name[0] != '/' && slash)
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - src), src, name);
    else
        snprintf(path, sizeof path, "%s", name);
    char q[GW_CFG_QUOTE_SIZE];
    FILE *f = fopen(path, "rb");
    if (!f) {
        gw_config_error(ctx, s, "%s: cannot open script %s (%m), expected a readable JavaScript "
                        "file", where, gw_config_quote(path, q, sizeof q));
        return 0;
    }
    char *buf = malloc(MAX_SCRIPT + 1);
    size_t n = buf ? fread(buf, 1, MAX_SCRIPT + 1, f) : 0;
    bool err = ferror(f);
    fclose(f);
    if (!buf)
        return -ENOMEM;
    if (err || n > MAX_SCRIPT || memchr(buf, '\0', n)) {
        gw_config_error(ctx, s, "%s: script %s is %s, expected a JavaScript text file of at most "
                        "1 MiB", where, gw_config_quote(path, q, sizeof q),
                        err ? "unreadable" : n > MAX_SCRIPT ? "too large" : "binary");
        free(buf);
        return 0;
    }
    buf[n] = '\0';
    *out = buf;
    if (!(*out_origin = strdup(path)))
        return -ENOMEM;
    return 0;
}

static int parse_fields(gw_cfg_ctx_t *ctx, const config_setting_t *list, const char *where,
                        gw_js_conf_t *j)
{
    int n = config_setting_length(list);
    if (n <= 0)
        return 0;
    j->fields = calloc((size_t)n, sizeof(*j->fields));
    if (!j->fields)
        return -ENOMEM;
    char q[GW_CFG_QUOTE_SIZE];
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        char w[128];
        snprintf(w, sizeof w, "%s.fields[%d]", where, i);
        gw_js_decl_t *f = &j->fields[j->n_fields];
        *f = (gw_js_decl_t){.line = config_setting_source_line(e)};
        const char *name = NULL, *unit = NULL;
        if (config_setting_type(e) == CONFIG_TYPE_STRING) {
            name = config_setting_get_string(e);
        } else if (config_setting_is_group(e)) {
            const config_setting_t *s[F_N] = {0};
            int rc = gw_config_walk(ctx, e, w, field_keys, F_N, s, NULL);
            if (rc < 0)
                return rc;
            if (!s[F_NAME])
                continue;
            name = config_setting_get_string(s[F_NAME]);
            unit = s[F_UNIT] ? config_setting_get_string(s[F_UNIT]) : NULL;
            f->writable = s[F_WRITABLE] && config_setting_get_bool(s[F_WRITABLE]);
            if (s[F_PATH]) {
                const char *p = config_setting_get_string(s[F_PATH]);
                if (gw_path_parse(p, &f->path) < 0 || f->path.len < 3) {
                    gw_config_error(ctx, s[F_PATH], "%s: path %s, expected /object/instance/"
                                    "resource[/instance] such as \"/3303/0/5700\"", w,
                                    gw_config_quote(p, q, sizeof q));
                    continue;
                }
            }
        } else {
            gw_config_error(ctx, e, "%s is %s, expected a field name or a group { name = "
                            "\"temperature\"; unit = \"Cel\"; }", w, gw_config_type_desc(e));
            continue;
        }
        if (!name[0]) {
            gw_config_error(ctx, e, "%s: empty name, expected a field name", w);
            continue;
        }
        bool dup = false;
        for (size_t k = 0; k < j->n_fields; k++)
            if (strcmp(j->fields[k].name, name) == 0) {
                gw_config_error(ctx, e, "%s: field \"%s\" is listed twice (line %d), expected "
                                "each once", w, name, j->fields[k].line);
                dup = true;
            }
        if (dup)
            continue;
        if (!(f->name = strdup(name)) || (unit && !(f->unit = strdup(unit)))) {
            free(f->name);
            return -ENOMEM;
        }
        j->n_fields++;
    }
    return 0;
}

int gw_js_parse(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *where, gw_js_conf_t *j)
{
    const config_setting_t *set[C_N] = {0};
    int rc = gw_config_walk(ctx, s, where, js_keys, C_N, set, NULL);
    if (rc < 0)
        return rc;
    j->timeout_ms = GW_PAYLOAD_JS_TIMEOUT_MS;
    j->memory_kb = GW_PAYLOAD_JS_MEMORY_KB;
    j->fport = 1;
    long long v;
    if (set[C_TIMEOUT] && gw_payload_int_in(ctx, set[C_TIMEOUT], &js_keys[C_TIMEOUT], &v))
        j->timeout_ms = (unsigned)v;
    if (set[C_MEMORY] && gw_payload_int_in(ctx, set[C_MEMORY], &js_keys[C_MEMORY], &v))
        j->memory_kb = (unsigned)v;
    if (set[C_FPORT] && gw_payload_int_in(ctx, set[C_FPORT], &js_keys[C_FPORT], &v))
        j->fport = (unsigned)v;
    if (set[C_FIELDS] && (rc = parse_fields(ctx, set[C_FIELDS], where, j)) < 0)
        return rc;
    const config_setting_t *at = set[C_SCRIPT] ? set[C_SCRIPT] : set[C_SOURCE];
    if (set[C_SCRIPT] && set[C_SOURCE]) {
        gw_config_error(ctx, set[C_SOURCE], "%s has both script and source, expected one of them",
                        where);
        return 0;
    }
    if (!at) {
        gw_config_error(ctx, s, "%s: a js codec without its script, expected script = "
                        "\"codec.js\" or source = \"function decodeUplink(input) {...}\"", where);
        return 0;
    }
    if (set[C_SCRIPT]) {
        if ((rc = read_script(ctx, set[C_SCRIPT], where, &j->source, &j->origin)) < 0 || !j->source)
            return rc;
    } else if (!(j->source = strdup(config_setting_get_string(set[C_SOURCE]))) ||
               !(j->origin = strdup("(inline source)"))) {
        return -ENOMEM;
    }
    char msg[512];
    rc = gw_js_engine_new(j->source, j->origin, j->timeout_ms, j->memory_kb, &j->engine, msg,
                          sizeof msg);
    if (rc == -ENOMEM && !j->engine && strstr(msg, "out of memory"))
        return rc;
    if (rc < 0)
        gw_config_error(ctx, at, "%s: the JS codec %s cannot run: %s; expected a script defining "
                        "decodeUplink(input) and/or encodeDownlink(input)", where, j->origin, msg);
    return 0;
}

void gw_js_free(gw_js_conf_t *j)
{
    gw_js_engine_free(&j->engine);
    for (size_t i = 0; i < j->n_fields; i++) {
        free(j->fields[i].name);
        free(j->fields[i].unit);
    }
    free(j->fields);
    free(j->source);
    free(j->origin);
    *j = (gw_js_conf_t){0};
}
