/*
 * mapping/config.c - loading the configuration file: reading it, the top
 * level, the gateway group and the servers list. Devices are in
 * config_device.c, the key-table machinery in config_keys.c.
 *
 * Validation runs in phases so that every problem is found in one pass:
 * gateway and servers first (objects_dir must be known before device
 * resources can be checked against the registry), then devices, then checks
 * across entries. Messages are sorted by line before they are emitted.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lwm2m/codec.h"
#include "../lwm2m/uri.h"
#include "config_internal.h"

#define GW_DEFAULT_STATE_DIR "/var/lib/lwm2m-gateway"
#define GW_DEFAULT_OBJECTS_DIR "/etc/lwm2m-gateway/objects"
/* A configuration is a few kilobytes; this only stops a wrong path such as a
 * log file from being slurped. */
#define GW_CONFIG_MAX_SIZE (16u << 20)

int gw_config_parse_hex(const char *hex, uint8_t *out, size_t max, size_t *out_len)
{
    if (!hex || !out)
        return -EINVAL;
    size_t len = strlen(hex);
    if (len == 0 || len % 2 || len / 2 > max)
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char)hex[i]))
            return -EINVAL;
    for (size_t i = 0; i < len / 2; i++) {
        char pair[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
        out[i] = (uint8_t)strtoul(pair, NULL, 16);
    }
    if (out_len)
        *out_len = len / 2;
    return 0;
}

/* ---- reading the file ------------------------------------------------ */

int gw_config_read_fd(gw_cfg_ctx_t *ctx, const char *name, int fd, const struct stat *st,
                      char **out_text)
{
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    *out_text = NULL;
    if (st->st_size > (off_t)GW_CONFIG_MAX_SIZE)
        goto too_big;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            char *t = realloc(text, cap + 1);
            if (!t) {
                rc = -ENOMEM;
                goto out;
            }
            text = t;
        }
        ssize_t got = read(fd, text + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            gw_config_error_file(ctx, name, 0, "cannot read configuration file: %s, expected a "
                                               "readable file", strerror(errno));
            rc = -EIO;
            goto out;
        }
        len += (size_t)got;
        if (len > GW_CONFIG_MAX_SIZE)
            goto too_big;
        if (got == 0)
            break;
    }
    text[len] = '\0';
    if (memchr(text, '\0', len)) {
        int line = 1;
        for (const char *p = text; *p; p++)
            line += *p == '\n';
        gw_config_error_file(ctx, name, line, "file contains a NUL byte, expected a text file");
    }
    goto out;
too_big:
    gw_config_error_file(ctx, name, 0, "configuration file is larger than %u bytes, expected a "
                                       "text file in libconfig syntax", GW_CONFIG_MAX_SIZE);
    rc = -EIO;
out:
    close(fd);
    if (rc < 0) {
        free(text);
        text = NULL;
    }
    *out_text = text;
    return rc;
}

/* The main file: a regular file only, so that a FIFO or a device given by
 * mistake is an error instead of a read that waits forever (at --check, or
 * in the middle of a reload, which would stop the whole daemon). */
static int read_main(gw_cfg_ctx_t *ctx, const char *file, char **out_text, struct stat *out_st)
{
    int fd;
    int e = gw_config_open_regular(file, &fd, out_st);
    if (e == 1) {
        gw_config_error_at(ctx, 0, "configuration file is %s, expected a regular file",
                           gw_config_file_type(out_st->st_mode));
        return -EIO;
    }
    if (e < 0) {
        gw_config_error_at(ctx, 0, "cannot open configuration file: %s", strerror(-e));
        return e == -ENOENT ? -ENOENT : -EIO;
    }
    return gw_config_read_fd(ctx, file, fd, out_st, out_text);
}

/* libconfig 1.5 silently wraps integers that do not fit in 32 bits unless
 * they carry the "L" suffix (5000000000 reads as 705032704). That would turn
 * a counter or a timestamp into a wrong value without a word, so integer
 * literals are checked in the text before libconfig parses it. Strings and
 * comments are skipped; names never start with a digit. */
static void check_int_literals(gw_cfg_ctx_t *ctx, const char *t)
{
    int line = 1;
    const char *p = t;
    while (*p) {
        char c = *p;
        if (c == '\n') {
            line++;
            p++;
        } else if (c == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                if (*p == '\n')
                    line++;
            }
            if (*p)
                p++;
        } else if (c == '#' || (c == '/' && p[1] == '/')) {
            while (*p && *p != '\n')
                p++;
        } else if (c == '/' && p[1] == '*') {
            for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
                line += *p == '\n';
            if (*p)
                p += 2;
        } else if (isalpha((unsigned char)c) || c == '*' || c == '_' || c == '@') {
            for (p++; isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '*'; p++)
                ;
        } else if (isdigit((unsigned char)c)) {
            bool neg = p > t && p[-1] == '-';
            bool hex = c == '0' && (p[1] == 'x' || p[1] == 'X');
            const char *start = p;
            p += hex ? 2 : 0;
            while (hex ? isxdigit((unsigned char)*p) : isdigit((unsigned char)*p))
                p++;
            bool fraction = start > t && start[-1] == '.';
            if (!hex && (fraction || *p == '.' || *p == 'e' || *p == 'E')) {
                /* A float: skip its fraction and exponent. */
                while (isdigit((unsigned char)*p) || *p == '.' || *p == 'e' || *p == 'E' ||
                       ((*p == '+' || *p == '-') && (p[-1] == 'e' || p[-1] == 'E')))
                    p++;
                continue;
            }
            bool l = *p == 'L';
            errno = 0;
            unsigned long long v = strtoull(start, NULL, hex ? 16 : 10);
            bool overflow = errno == ERANGE;
            unsigned long long lim32 = hex ? 0xFFFFFFFFull : neg ? 2147483648ull : 2147483647ull;
            unsigned long long lim64 = hex ? ~0ull : neg ? 9223372036854775808ull
                                                         : 9223372036854775807ull;
            int len = (int)(p - start);
            if (!l && !overflow && v > lim32) {
                gw_config_error_at(ctx, line,
                                   "integer %s%.*s does not fit in 32 bits, expected the "
                                   "64-bit form %s%.*sL",
                                   neg ? "-" : "", len, start, neg ? "-" : "", len, start);
            } else if (overflow || v > lim64) {
                gw_config_error_at(ctx, line,
                                   "integer %s%.*s is out of range, expected a value that fits "
                                   "in 64 bits (with the L suffix)",
                                   neg ? "-" : "", len > 40 ? 40 : len, start);
            }
            while (*p == 'L')
                p++;
        } else {
            p++;
        }
    }
}

/* ---- gateway --------------------------------------------------------- */

static int h_gateway_name(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                          void *obj)
{
    if (!gw_config_check_endpoint(ctx, s, "gateway name", config_setting_get_string(s)))
        return 0;
    return gw_config_h_string(ctx, s, k, obj);
}

static int h_objects_dir(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                         void *obj)
{
    ctx->objects_dir_s = s;
    return gw_config_h_nonempty_string(ctx, s, k, obj);
}

static int h_state_dir(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                       void *obj)
{
    gw_config_t *c = obj;
    char buf[4096];
    const char *file = gw_config_shown_file(ctx, config_setting_source_file(s), buf, sizeof buf);
    c->state_dir_line = (int)config_setting_source_line(s);
    free(c->state_dir_file);
    c->state_dir_file = NULL;
    if (file && strcmp(file, ctx->file) != 0 && !(c->state_dir_file = strdup(file)))
        return -ENOMEM;
    int rc = gw_config_h_nonempty_string(ctx, s, k, obj);
    /* Whether it can be created or written depends on who runs the
     * gateway (gw_config_state_dir, at --check and at start); a path that
     * is already something else than a directory is wrong for anyone. */
    struct stat st;
    char q[GW_CFG_QUOTE_SIZE];
    if (rc == 0 && c->state_dir && stat(c->state_dir, &st) == 0 && !S_ISDIR(st.st_mode))
        gw_config_error(ctx, s, "state_dir %s is %s, expected a directory (it is created when "
                                "missing)", gw_config_quote(c->state_dir, q, sizeof q),
                        gw_config_file_type(st.st_mode));
    return rc;
}

static int h_endpoint_pattern(gw_cfg_ctx_t *ctx, const config_setting_t *s,
                              const gw_cfg_key_t *k, void *obj)
{
    if (!gw_config_check_pattern(ctx, s, config_setting_get_string(s)))
        return 0;
    return gw_config_h_string(ctx, s, k, obj);
}

static int h_refuse_keys(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)ctx, (void)k;
    ((gw_config_t *)obj)->refuse_readable_keys = config_setting_get_bool(s) != 0;
    return 0;
}

static int h_bootstrap_all(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)ctx, (void)k;
    ((gw_config_t *)obj)->bootstrap_all = config_setting_get_bool(s) != 0;
    return 0;
}

static const gw_cfg_key_t gateway_keys[] = {
    {"name", GW_CFG_STRING, "a string (the gateway's own endpoint name)", false, h_gateway_name,
     offsetof(gw_config_t, name), 0, 0},
    {"state_dir", GW_CFG_STRING, "a string (a directory path)", false, h_state_dir,
     offsetof(gw_config_t, state_dir), 0, 0},
    {"objects_dir", GW_CFG_STRING, "a string (a directory of DDF .xml files)", false,
     h_objects_dir, offsetof(gw_config_t, objects_dir), 0, 0},
    {"offline_store_max", GW_CFG_INT, "an integer (readings kept per client while offline)", false,
     gw_config_h_int32, offsetof(gw_config_t, offline_store_max), 0, 10000000},
    {"endpoint_pattern", GW_CFG_STRING,
     "a string with {gateway}, {adapter}, {address}, {template} placeholders", false,
     h_endpoint_pattern, offsetof(gw_config_t, endpoint_pattern), 0, 0},
    {"refuse_readable_keys", GW_CFG_BOOL, "true or false", false, h_refuse_keys, 0, 0, 0},
    {"bootstrap_all", GW_CFG_BOOL, "true or false", false, h_bootstrap_all, 0, 0, 0},
    {"access", GW_CFG_LIST, "a list of groups ( { object = ...; instance = ...; owner = ...; acl = { ... }; }, ... )",
     false, gw_config_h_gateway_access, 0, 0, 0},
    {"access_owner", GW_CFG_INT, "an integer (the short_server_id owning every instance no access entry names)",
     false, gw_config_h_gateway_access_owner, 0, 1, 65534},
};

static int h_gateway(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                     void *obj)
{
    (void)k;
    return gw_config_walk(ctx, s, "gateway", gateway_keys,
                          sizeof gateway_keys / sizeof gateway_keys[0], obj, NULL);
}

/* ---- servers --------------------------------------------------------- */

/* The URI check a bootstrap server's /0/x/0 gets too (lwm2m/uri.h).
 * Returns 0 (coap), 1 (coaps) or -1 after reporting. */
static int check_uri(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *uri)
{
    char q[GW_CFG_QUOTE_SIZE], why[128];
    int rc = gw_uri_check(uri, strlen(uri), why, sizeof why);
    if (rc < 0) {
        gw_config_error(ctx, s, "uri %s %s", gw_config_quote(uri, q, sizeof q), why);
        return -1;
    }
    return rc;
}

static int h_uri(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                 void *obj)
{
    if (check_uri(ctx, s, config_setting_get_string(s)) < 0)
        return 0;
    return gw_config_h_string(ctx, s, k, obj);
}

static int h_security(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                      void *obj)
{
    (void)k;
    gw_config_server_t *srv = obj;
    const char *v = config_setting_get_string(s);
    char q[GW_CFG_QUOTE_SIZE];
    if (strcmp(v, "nosec") == 0)
        srv->security = GW_SEC_NOSEC;
    else if (strcmp(v, "psk") == 0)
        srv->security = GW_SEC_PSK;
    else if (strcmp(v, "rpk") == 0)
        srv->security = GW_SEC_RPK;
    else if (strcmp(v, "x509") == 0)
        srv->security = GW_SEC_X509;
    else
        gw_config_error(ctx, s, "security must be \"nosec\", \"psk\", \"rpk\" or \"x509\", got %s",
                        gw_config_quote(v, q, sizeof q));
    gw_config_dtls_security(&srv->dtls, srv->security == GW_SEC_RPK    ? GW_DTLS_MODE_RPK
                                        : srv->security == GW_SEC_X509 ? GW_DTLS_MODE_CERT
                                        : srv->security == GW_SEC_PSK  ? GW_DTLS_MODE_PSK
                                                                       : GW_DTLS_MODE_NOSEC,
                            s);
    return 0;
}

static int h_server_psk_key(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                            void *obj)
{
    (void)k;
    gw_config_server_t *srv = obj;
    gw_config_psk_key(ctx, s, srv->psk_key, &srv->psk_key_len);
    return 0;
}

static int h_short_server_id(gw_cfg_ctx_t *ctx, const config_setting_t *s,
                             const gw_cfg_key_t *k, void *obj)
{
    gw_config_server_t *srv = obj;
    long long v = config_setting_get_int64(s);
    if (v < k->min || v > k->max) {
        gw_config_error(ctx, s, "\"short_server_id\" must be between 1 and 65534, got %lld", v);
        return 0;
    }
    srv->short_server_id = (uint16_t)v;
    return 0;
}

static int h_binding(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                     void *obj)
{
    const char *v = config_setting_get_string(s);
    char q[GW_CFG_QUOTE_SIZE];
    /* LwM2M 1.1 binding letters, each at most once. */
    bool ok = *v != '\0';
    for (const char *p = v; *p && ok; p++)
        ok = strchr("UTSNQ", *p) && !strchr(p + 1, *p);
    if (!ok) {
        gw_config_error(ctx, s, "binding must be letters from U, T, S, N, Q (e.g. \"U\" or "
                                "\"UQ\"), got %s", gw_config_quote(v, q, sizeof q));
        return 0;
    }
    return gw_config_h_string(ctx, s, k, obj);
}

static int h_con_notifications(gw_cfg_ctx_t *ctx, const config_setting_t *s,
                               const gw_cfg_key_t *k, void *obj)
{
    (void)ctx, (void)k;
    ((gw_config_server_t *)obj)->confirmable_notifications = config_setting_get_bool(s) != 0;
    return 0;
}

/* The names a user knows the formats by, and the codes Register sends. */
static const struct {
    const char *name;
    int cf;
} content_formats[] = {
    {"tlv", GW_CF_LWM2M_TLV},
    {"senml-json", GW_CF_SENML_JSON},
    {"senml-cbor", GW_CF_SENML_CBOR},
};

static int h_content_format(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                            void *obj)
{
    (void)k;
    const char *v = config_setting_get_string(s);
    char q[GW_CFG_QUOTE_SIZE];
    for (size_t i = 0; i < sizeof content_formats / sizeof content_formats[0]; i++)
        if (strcmp(v, content_formats[i].name) == 0) {
            ((gw_config_server_t *)obj)->content_format = content_formats[i].cf;
            return 0;
        }
    gw_config_error(ctx, s, "content_format must be \"tlv\", \"senml-json\" or \"senml-cbor\", "
                            "got %s", gw_config_quote(v, q, sizeof q));
    return 0;
}

#define SRV(f) offsetof(gw_config_server_t, f)
static const gw_cfg_key_t server_keys[] = {
    {"uri", GW_CFG_STRING, "coap://host[:port] or coaps://host[:port]", true, h_uri, SRV(uri),
     0, 0},
    {"lifetime", GW_CFG_INT, "an integer (seconds)", false, gw_config_h_int32, SRV(lifetime), 1,
     INT32_MAX},
    {"security", GW_CFG_STRING, "\"nosec\", \"psk\", \"rpk\" or \"x509\"", false, h_security, 0, 0, 0},
    GW_CFG_DTLS_KEYS(SRV(dtls)),
    {"psk_identity", GW_CFG_STRING, "a string (\"{endpoint}\" expands to the endpoint)", false,
     gw_config_h_nonempty_string, SRV(psk_identity), 0, 0},
    {"psk_key", GW_CFG_STRING, "a string of hex digits", false, h_server_psk_key, 0, 0, 0},
    {"registrations_per_second", GW_CFG_INT, "an integer (0 = no pacing)", false,
     gw_config_h_int32, SRV(registrations_per_second), 0, INT32_MAX},
    {"short_server_id", GW_CFG_INT, "an integer (1 to 65534)", false, h_short_server_id, 0, 1,
     65534},
    {"default_pmin", GW_CFG_INT, "an integer (seconds)", false, gw_config_h_int32,
     SRV(default_pmin), 0, INT32_MAX},
    {"default_pmax", GW_CFG_INT, "an integer (seconds, 0 = none)", false, gw_config_h_int32,
     SRV(default_pmax), 0, INT32_MAX},
    {"binding", GW_CFG_STRING, "a string (binding letters, e.g. \"U\")", false, h_binding,
     SRV(binding), 0, 0},
    {"confirmable_notifications", GW_CFG_BOOL, "true or false", false, h_con_notifications, 0, 0,
     0},
    {"content_format", GW_CFG_STRING, "\"tlv\", \"senml-json\" or \"senml-cbor\"", false,
     h_content_format, 0, 0, 0},
};
#undef SRV
#define N_SERVER_KEYS (sizeof server_keys / sizeof server_keys[0])

static int server_defaults(gw_config_server_t *srv, size_t index)
{
    srv->lifetime = 300;
    srv->security = GW_SEC_NOSEC;
    srv->registrations_per_second = 50;
    srv->short_server_id = (uint16_t)(1 + index);
    srv->content_format = GW_CF_LWM2M_TLV;
    srv->psk_identity = strdup("{endpoint}");
    srv->binding = strdup("U");
    return srv->psk_identity && srv->binding ? 0 : -ENOMEM;
}

/* Checks that need several keys of one server. */
static void check_server(gw_cfg_ctx_t *ctx, const config_setting_t *g, gw_config_server_t *srv,
                         uint64_t seen)
{
    const config_setting_t *sec = config_setting_get_member(g, "security");
    const config_setting_t *at = sec ? sec : g;
    if (srv->uri) {
        bool coaps = strncmp(srv->uri, "coaps://", 8) == 0;
        if (coaps && srv->security == GW_SEC_NOSEC)
            gw_config_error(ctx, at, "uri \"coaps://...\" needs security = \"psk\", \"rpk\" or "
                                     "\"x509\", got \"nosec\"");
        else if (!coaps && srv->security != GW_SEC_NOSEC)
            gw_config_error(ctx, at, "uri \"coap://...\" is unencrypted and needs security = "
                                     "\"nosec\"; use coaps:// for \"%s\"",
                            srv->security == GW_SEC_PSK ? "psk" : srv->security == GW_SEC_RPK ? "rpk" : "x509");
    }
    if (gw_config_dtls_finish(ctx, g, &srv->dtls, -1) < 0)
        ctx->oom = true;
    if (srv->security == GW_SEC_PSK &&
        !(seen & gw_config_key_bit(server_keys, N_SERVER_KEYS, "psk_key")) &&
        !config_setting_get_member(g, "psk_key"))
        gw_config_error(ctx, at, "security \"psk\" needs psk_key (hex, up to 64 bytes)");
    const config_setting_t *pmax = config_setting_get_member(g, "default_pmax");
    if (srv->default_pmax != 0 && srv->default_pmax < srv->default_pmin)
        gw_config_error(ctx, pmax, "default_pmax (%d) must be 0 or at least default_pmin (%d)",
                        (int)srv->default_pmax, (int)srv->default_pmin);
}

static int h_servers(gw_cfg_ctx_t *ctx, const config_setting_t *list, const gw_cfg_key_t *k,
                     void *obj)
{
    (void)k;
    gw_config_t *c = obj;
    int n = config_setting_length(list);
    if (n == 0) {
        gw_config_error(ctx, list, "servers is empty, expected at least one server with a uri");
        return 0;
    }
    c->servers = calloc((size_t)n, sizeof *c->servers);
    if (!c->servers)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        gw_config_server_t *srv = &c->servers[c->n_servers];
        char where[32];
        snprintf(where, sizeof where, "servers[%d]", i);
        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
            gw_config_error(ctx, g, "%s must be a group { uri = ...; }, got %s", where,
                            gw_config_type_desc(g));
            continue;
        }
        c->n_servers++;
        srv->line = (int)config_setting_source_line(g);
        if (server_defaults(srv, (size_t)i) < 0)
            return -ENOMEM;
        uint64_t seen = 0;
        int rc = gw_config_walk(ctx, g, where, server_keys, N_SERVER_KEYS, srv, &seen);
        if (rc < 0)
            return rc;
        check_server(ctx, g, srv, seen);
        for (size_t j = 0; j + 1 < c->n_servers; j++) {
            const gw_config_server_t *o = &c->servers[j];
            if (o->short_server_id == srv->short_server_id)
                gw_config_error(ctx, g, "duplicate short_server_id %u (first used at line %d)",
                                srv->short_server_id, o->line);
            if (o->uri && srv->uri && strcmp(o->uri, srv->uri) == 0)
                gw_config_error(ctx, g, "duplicate server uri \"%s\" (first defined at line %d)",
                                srv->uri, o->line);
        }
    }
    return 0;
}

/* ---- bootstrap server ------------------------------------------------ */

/* The keys of a server that mean something for a bootstrap server: where it
 * is and how the session is secured (LwM2M 1.1.1 Core 5.2.2). */
#define BSK(f) offsetof(gw_config_server_t, f)
static const gw_cfg_key_t bootstrap_keys[] = {
    {"uri", GW_CFG_STRING, "coap://host[:port] or coaps://host[:port]", true, h_uri, BSK(uri), 0, 0},
    {"security", GW_CFG_STRING, "\"nosec\" or \"psk\"", false, h_security, 0, 0, 0},
    {"psk_identity", GW_CFG_STRING, "a string (\"{endpoint}\" expands to the endpoint)", false,
     gw_config_h_nonempty_string, BSK(psk_identity), 0, 0},
    {"psk_key", GW_CFG_STRING, "a string of hex digits", false, h_server_psk_key, 0, 0, 0},
    {"finish_timeout", GW_CFG_INT, "an integer (seconds, 1..86400)", false, gw_config_h_int32,
     BSK(finish_timeout), 1, 86400},
};
#undef BSK

static int h_bootstrap_server(gw_cfg_ctx_t *ctx, const config_setting_t *g, const gw_cfg_key_t *k, void *obj)
{
    (void)k;
    gw_config_t *c = obj;
    c->bootstrap_server = calloc(1, sizeof *c->bootstrap_server);
    if (!c->bootstrap_server || server_defaults(c->bootstrap_server, 0) < 0)
        return -ENOMEM;
    gw_config_server_t *srv = c->bootstrap_server;
    srv->line = (int)config_setting_source_line(g);
    srv->finish_timeout = 247; /* Core 6.1.7: EXCHANGE_LIFETIME with RFC 7252's defaults */
    uint64_t seen = 0;
    int rc = gw_config_walk(ctx, g, "bootstrap_server", bootstrap_keys,
                            sizeof bootstrap_keys / sizeof bootstrap_keys[0], srv, &seen);
    if (rc < 0)
        return rc;
    const config_setting_t *sec = config_setting_get_member(g, "security");
    const config_setting_t *at = sec ? sec : g;
    if (srv->uri) {
        bool coaps = strncmp(srv->uri, "coaps://", 8) == 0;
        if (coaps != (srv->security == GW_SEC_PSK))
            gw_config_error(ctx, at, "bootstrap_server: uri \"%s\" needs security = \"%s\"", srv->uri,
                            coaps ? "psk" : "nosec");
    }
    if (srv->security == GW_SEC_PSK && !config_setting_get_member(g, "psk_key"))
        gw_config_error(ctx, at, "bootstrap_server: security \"psk\" needs psk_key (hex, up to 64 bytes)");
    return 0;
}

/* ---- top level ------------------------------------------------------- */

static int h_defer(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                           void *obj)
{
    /* Templates and devices need the registry with objects_dir loaded:
     * parsed later. */
    (void)ctx, (void)s, (void)k, (void)obj;
    return 0;
}

static const gw_cfg_key_t top_keys[] = {
    {"gateway", GW_CFG_GROUP, "a group { name = ...; }", false, h_gateway, 0, 0, 0},
    {"servers", GW_CFG_LIST, "a list of groups ( { uri = ...; }, ... )", false, h_servers, 0, 0,
     0},
    {"bootstrap_server", GW_CFG_GROUP, "a group { uri = ...; } (the LwM2M bootstrap server)", false,
     h_bootstrap_server, 0, 0, 0},
    {"devices", GW_CFG_LIST, "a list of groups ( { endpoint = ...; adapter = ...; }, ... )",
     false, h_defer, 0, 0, 0},
    {"templates", GW_CFG_LIST, "a list of groups ( { name = ...; adapter = ...; }, ... )", false,
     h_defer, 0, 0, 0},
    {"adapters", GW_CFG_GROUP, "a group { <adapter> = ...; } of the adapters' own settings",
     false, gw_config_h_adapters, 0, 0, 0},
    {"mqtt", GW_CFG_GROUP, "a group { uri = ...; } (the MQTT mirror)", false, gw_config_h_mqtt, 0, 0, 0},
};

static int set_defaults(gw_config_t *c, const char *file)
{
    char host[256];
    if (gethostname(host, sizeof host) < 0 || !host[0])
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    /* The hostname is only a default: cut to the 64 bytes an endpoint may
     * have rather than fail on an unusually long one. */
    host[64] = '\0';
    c->file = strdup(file);
    c->name = strdup(host);
    c->state_dir = strdup(GW_DEFAULT_STATE_DIR);
    c->objects_dir = strdup(GW_DEFAULT_OBJECTS_DIR);
    c->endpoint_pattern = strdup("{gateway}-{adapter}-{address}");
    c->offline_store_max = 1000;
    while (gw_adapters[c->n_sections])
        c->n_sections++;
    c->sections = calloc(c->n_sections ? c->n_sections : 1, sizeof *c->sections);
    c->section_fps = calloc(c->n_sections ? c->n_sections : 1, sizeof *c->section_fps);
    if (!c->sections || !c->section_fps)
        return -ENOMEM;
    return c->file && c->name && c->state_dir && c->objects_dir && c->endpoint_pattern ? 0
                                                                                     : -ENOMEM;
}

static void load_objects(gw_cfg_ctx_t *ctx)
{
    gw_config_t *c = ctx->cfg;
    char q[GW_CFG_QUOTE_SIZE];
    struct stat st;
    gw_config_quote(c->objects_dir, q, sizeof q);
    /* The directory is checked here so a wrong one is reported at the line
     * that names it; the files in it are the registry's to report. */
    if (stat(c->objects_dir, &st) < 0) {
        /* The default directory exists only once the package is installed,
         * so its absence is normal (also when a file names it); another
         * configured one was meant. */
        bool is_default = strcmp(c->objects_dir, GW_DEFAULT_OBJECTS_DIR) == 0;
        if (errno == ENOENT && is_default)
            return;
        if (ctx->objects_dir_s)
            gw_config_error(ctx, ctx->objects_dir_s, "objects_dir %s %s, expected a directory "
                                                     "of DDF .xml files", q,
                            errno == ENOENT ? "does not exist" : strerror(errno));
        else if (errno != ENOENT)
            gw_config_error_at(ctx, 0, "objects_dir %s (the default): %s, expected a directory "
                                       "of DDF .xml files or none", q, strerror(errno));
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (ctx->objects_dir_s)
            gw_config_error(ctx, ctx->objects_dir_s, "objects_dir %s is %s, expected a directory "
                                                     "of DDF .xml files", q,
                            gw_config_file_type(st.st_mode));
        else
            gw_config_error_at(ctx, 0, "objects_dir %s (the default) is %s, expected a directory "
                                       "of DDF .xml files or none", q,
                               gw_config_file_type(st.st_mode));
        return;
    }
    if (access(c->objects_dir, R_OK | X_OK) < 0) {
        if (ctx->objects_dir_s)
            gw_config_error(ctx, ctx->objects_dir_s, "objects_dir %s cannot be read: %s, "
                                                     "expected a readable directory", q,
                            strerror(errno));
        else
            gw_config_error_at(ctx, 0, "objects_dir %s (the default) cannot be read: %s, "
                                       "expected a readable directory", q, strerror(errno));
        return;
    }
    /* A bad DDF file is reported by the registry, at its own file and
     * line, through the forwarder, which counts it. */
    if (gw_registry_load_dir(ctx->reg, c->objects_dir, gw_config_diag_forward, ctx) == -ENOMEM)
        ctx->oom = true;
}

/* libconfig's parse errors, said the way the rest of the messages are. */
static void parse_error_text(const char *etext, char *msg, size_t size)
{
    if (!etext)
        etext = "parse error";
    if (strcmp(etext, "syntax error") == 0)
        snprintf(msg, size, "syntax error, expected libconfig syntax: name = value; groups { }, "
                            "lists ( ), arrays [ ], strings in double quotes");
    else if (strcmp(etext, "duplicate setting name") == 0)
        snprintf(msg, size, "duplicate setting name: this name is already set in the same "
                            "group, expected each setting once per group");
    else if (strcmp(etext, "cannot open include file") == 0)
        snprintf(msg, size, "cannot open include file, expected a readable file");
    else if (strcmp(etext, "include file nesting too deep") == 0)
        snprintf(msg, size, "include file nesting too deep (an include loop?), expected at most "
                            "10 levels");
    else
        snprintf(msg, size, "%s", etext);
}

int gw_config_load(const char *file, gw_registry_t *reg, gw_diag_fn diag, void *diag_ctx,
                   gw_config_t **out)
{
    gw_cfg_ctx_t ctx = {.file = file, .diag = diag, .diag_ctx = diag_ctx, .reg = reg};
    config_t lc;
    char *text = NULL;
    int rc;
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!file || !reg)
        return -EINVAL;
    config_init(&lc);
    ctx.cfg = calloc(1, sizeof *ctx.cfg);
    if (!ctx.cfg || set_defaults(ctx.cfg, file) < 0) {
        rc = -ENOMEM;
        goto out;
    }
    struct stat main_st;
    rc = read_main(&ctx, file, &text, &main_st);
    if (rc < 0)
        goto out;
    check_int_literals(&ctx, text);
    /* @include paths are relative to the main file's directory (libconfig
     * takes nested ones from there too). */
    char *slash = strrchr(ctx.cfg->file, '/');
    if (slash) {
        *slash = '\0';
        ctx.include_dir = strdup(*ctx.cfg->file ? ctx.cfg->file : "/");
        *slash = '/';
        if (!ctx.include_dir) {
            rc = -ENOMEM;
            goto out;
        }
        config_set_include_dir(&lc, ctx.include_dir);
    }
    int errors_before = ctx.errors;
    rc = gw_config_check_includes(&ctx, text, &main_st);
    if (rc < 0)
        goto out;
    if (ctx.errors != errors_before) {
        /* libconfig would block on, fail at or loop through what was found */
        rc = -EINVAL;
        goto out;
    }
    if (!config_read_string(&lc, text)) {
        char buf[4096], msg[512];
        const char *efile = gw_config_shown_file(&ctx, config_error_file(&lc), buf, sizeof buf);
        ctx.errors++;
        if (diag) {
            parse_error_text(config_error_text(&lc), msg, sizeof msg);
            /* Earlier (sorted) findings first, then the fatal one. */
            gw_config_flush_diags(&ctx);
            diag(diag_ctx, efile ? efile : file, config_error_line(&lc), msg);
        }
        rc = -EINVAL;
        goto out;
    }
    const config_setting_t *root = config_root_setting(&lc);
    rc = gw_config_walk(&ctx, root, "the top level", top_keys, sizeof top_keys / sizeof top_keys[0],
                        ctx.cfg, NULL);
    if (rc < 0)
        goto out;
    if (config_setting_get_member(root, "servers") && ctx.cfg->n_servers) {
        bool any_uri = false;
        for (size_t i = 0; i < ctx.cfg->n_servers; i++)
            any_uri |= ctx.cfg->servers[i].uri != NULL;
        if (!any_uri && ctx.errors == 0)
            gw_config_error(&ctx, config_setting_get_member(root, "servers"),
                            "no server has a valid uri, expected at least one");
    }
    if (!config_setting_get_member(root, "servers") && !config_setting_get_member(root, "bootstrap_server"))
        gw_config_error(&ctx, root, "the top level is missing required key \"servers\" (a list of groups "
                                    "( { uri = ...; }, ... ), or a bootstrap_server = { uri = ...; } that provisions them)");
    load_objects(&ctx);
    const config_setting_t *templates = config_setting_get_member(root, "templates");
    if (templates && config_setting_type(templates) == CONFIG_TYPE_LIST) {
        rc = gw_config_parse_templates(&ctx, templates);
        if (rc < 0)
            goto out;
    }
    const config_setting_t *devices = config_setting_get_member(root, "devices");
    if (devices && config_setting_type(devices) == CONFIG_TYPE_LIST) {
        rc = gw_config_parse_devices(&ctx, devices);
        if (rc < 0)
            goto out;
    }
    for (size_t i = 0; i < ctx.cfg->n_devices && !ctx.cfg->bootstrap_server; i++)
        if (ctx.cfg->devices[i].bootstrap)
            gw_config_error_at(&ctx, ctx.cfg->devices[i].line,
                               "device \"%s\" has bootstrap = true but there is no bootstrap_server = { uri = ...; }",
                               ctx.cfg->devices[i].endpoint ? ctx.cfg->devices[i].endpoint : "?");
    gw_config_check_access_owners(&ctx, ctx.cfg);
    if (ctx.cfg->bootstrap_all && !ctx.cfg->bootstrap_server)
        gw_config_error(&ctx, root, "gateway.bootstrap_all = true needs a bootstrap_server = { uri = ...; }");
    /* No servers with a bootstrap_server is always usable: the gateway's
     * own endpoint then bootstraps (gateway.c), devices or not. */
    gw_config_sections_finish(&ctx);
    rc = ctx.oom ? -ENOMEM : ctx.errors ? -EINVAL : 0;
out:
    if (rc == -ENOMEM)
        ctx.oom = true;
    gw_config_free_templates(&ctx);
    gw_config_flush_diags(&ctx);
    free(ctx.include_dir);
    if (rc == -ENOMEM && diag)
        diag(diag_ctx, file, 0, "out of memory while loading the configuration");
    config_destroy(&lc);
    free(text);
    if (rc == 0)
        *out = ctx.cfg;
    else
        gw_config_free(&ctx.cfg);
    return rc;
}

void gw_config_free(gw_config_t **pc)
{
    if (!pc || !*pc)
        return;
    gw_config_t *c = *pc;
    for (size_t i = 0; i < c->n_servers; i++) {
        free(c->servers[i].uri);
        free(c->servers[i].psk_identity);
        free(c->servers[i].binding);
        gw_config_dtls_free(&c->servers[i].dtls);
    }
    free(c->servers);
    if (c->bootstrap_server) {
        free(c->bootstrap_server->uri);
        free(c->bootstrap_server->psk_identity);
        free(c->bootstrap_server->binding);
        gw_config_dtls_free(&c->bootstrap_server->dtls);
        free(c->bootstrap_server);
    }
    for (size_t i = 0; i < c->n_devices; i++)
        gw_config_free_device(&c->devices[i]);
    free(c->devices);
    gw_config_free_sections(c);
    gw_config_free_mqtt(&c->mqtt);
    gw_config_free_access(&c->self_access);
    free(c->file);
    free(c->name);
    free(c->state_dir);
    free(c->state_dir_file);
    free(c->objects_dir);
    free(c->endpoint_pattern);
    free(c);
    *pc = NULL;
}
