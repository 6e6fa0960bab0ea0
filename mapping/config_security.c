/*
 * mapping/config_security.c - the DTLS keys of servers, devices and
 * templates beyond PSK: security = "rpk" | "x509", cert_file, key_file,
 * server_cert_file, ca_file, verify, server_name (docs/configuration.md).
 *
 * The walk only notes the keys (their meaning depends on each other and on
 * security, which may come later in the group); gw_config_dtls_finish then
 * checks the combination and reads the files, each problem at the line of
 * the key it concerns, so --check and a reload report a missing, unreadable
 * or wrong file as file:line before any handshake is tried.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

enum { F_CERT, F_KEY, F_SERVER_CERT, F_CA, AT_SECURITY = 4, AT_VERIFY = 5 };
enum {
    GIVEN_CERT = 1u << F_CERT,
    GIVEN_KEY = 1u << F_KEY,
    GIVEN_SERVER_CERT = 1u << F_SERVER_CERT,
    GIVEN_CA = 1u << F_CA,
    GIVEN_VERIFY = 1u << 4,
    GIVEN_NAME = 1u << 5,
    GIVEN_SECURITY = 1u << 6,
};
static const char *const file_key[4] = {"cert_file", "key_file", "server_cert_file", "ca_file"};

static gw_config_dtls_t *dtls_of(void *obj, const gw_cfg_key_t *k)
{
    return (gw_config_dtls_t *)((char *)obj + k->offset);
}

int gw_config_h_dtls_file(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    gw_config_dtls_t *d = dtls_of(obj, k);
    const char *v = config_setting_get_string(s);
    int i = 0;
    while (i < 4 && strcmp(k->name, file_key[i]) != 0)
        i++;
    if (i == 4)
        return -EINVAL;
    if (!*v) {
        gw_config_error(ctx, s, "\"%s\" must not be empty, expected the path of a PEM or DER file",
                        k->name);
        return 0;
    }
    free(d->path[i]);
    /* A relative path is taken from the main file's directory, as @include's. */
    if (ctx->include_dir && v[0] != '/') {
        if (asprintf(&d->path[i], "%s/%s", ctx->include_dir, v) < 0)
            d->path[i] = NULL;
    } else {
        d->path[i] = strdup(v);
    }
    if (!d->path[i])
        return -ENOMEM;
    d->at[i] = s;
    d->given |= 1u << i;
    return 0;
}

int gw_config_h_dtls_verify(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)ctx;
    gw_config_dtls_t *d = dtls_of(obj, k);
    d->creds.verify = config_setting_get_bool(s) != 0;
    d->at[AT_VERIFY] = s;
    d->given |= GIVEN_VERIFY;
    return 0;
}

int gw_config_h_dtls_name(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    gw_config_dtls_t *d = dtls_of(obj, k);
    const char *v = config_setting_get_string(s);
    char q[GW_CFG_QUOTE_SIZE];
    bool ok = *v && strlen(v) < 256;
    for (const char *p = v; *p && ok; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             strchr("-._:", *p);
    if (!ok) {
        gw_config_error(ctx, s, "server_name %s is not a host name, expected e.g. \"lwm2m.example.com\"",
                        gw_config_quote(v, q, sizeof q));
        return 0;
    }
    free(d->creds.server_name);
    if (!(d->creds.server_name = strdup(v)))
        return -ENOMEM;
    d->given |= GIVEN_NAME;
    return 0;
}

void gw_config_dtls_security(gw_config_dtls_t *d, int mode, const config_setting_t *s)
{
    d->creds.mode = mode;
    d->at[AT_SECURITY] = s;
    d->line = (int)config_setting_source_line(s);
    d->given |= GIVEN_SECURITY;
}

int gw_config_h_dtls_security(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    gw_config_dtls_t *d = dtls_of(obj, k);
    const char *v = config_setting_get_string(s);
    char q[GW_CFG_QUOTE_SIZE];
    int mode = strcmp(v, "psk") == 0    ? GW_DTLS_MODE_PSK
               : strcmp(v, "rpk") == 0  ? GW_DTLS_MODE_RPK
               : strcmp(v, "x509") == 0 ? GW_DTLS_MODE_CERT
                                        : -1;
    if (mode < 0) {
        gw_config_error(ctx, s, "security must be \"psk\", \"rpk\" or \"x509\", got %s",
                        gw_config_quote(v, q, sizeof q));
        return 0;
    }
    gw_config_dtls_security(d, mode, s);
    return 0;
}

static const config_setting_t *at(const gw_config_dtls_t *d, int i, const config_setting_t *dflt)
{
    return d->at[i] ? d->at[i] : dflt;
}

static bool load(gw_cfg_ctx_t *ctx, gw_config_dtls_t *d, int i, gw_dtls_file_t kind, uint8_t **out,
                 size_t *out_len)
{
    char why[256], q[GW_CFG_QUOTE_SIZE];
    int rc = gw_dtls_load_file(d->path[i], kind, out, out_len, why, sizeof why);
    if (rc == -ENOMEM) {
        ctx->oom = true;
        return false;
    }
    if (rc < 0) {
        gw_config_error(ctx, d->at[i], "%s %s %s", file_key[i],
                        gw_config_quote(config_setting_get_string(d->at[i]), q, sizeof q), why);
        return false;
    }
    return true;
}

int gw_config_dtls_finish(gw_cfg_ctx_t *ctx, const config_setting_t *group, gw_config_dtls_t *d, int mode)
{
    const config_setting_t *sec = at(d, AT_SECURITY, group);
    gw_dtls_creds_t *c = &d->creds;
    if (!(d->given & GIVEN_VERIFY))
        c->verify = true;
    if (mode < 0)
        mode = (d->given & GIVEN_SECURITY) ? c->mode : GW_DTLS_MODE_PSK;
    c->mode = mode;
    if (mode != GW_DTLS_MODE_RPK && mode != GW_DTLS_MODE_CERT) {
        for (int i = 0; i < 4; i++)
            if (d->given & (1u << i))
                gw_config_error(ctx, d->at[i], "%s is for security \"rpk\" or \"x509\", this one uses \"%s\"",
                                file_key[i], gw_dtls_mode_name(mode));
        return ctx->oom ? -ENOMEM : 0;
    }
    bool rpk = mode == GW_DTLS_MODE_RPK;
    const char *sname = rpk ? "\"rpk\"" : "\"x509\"";
    int errors = ctx->errors;
    if (!(d->given & GIVEN_KEY))
        gw_config_error(ctx, sec, "security %s needs key_file (the client's private key, PEM or DER)", sname);
    if (!rpk && !(d->given & GIVEN_CERT))
        gw_config_error(ctx, sec, "security \"x509\" needs cert_file (the client's certificate, PEM or DER)");
    if (rpk && (d->given & GIVEN_CA))
        gw_config_error(ctx, d->at[F_CA], "ca_file does not apply to security \"rpk\" (a raw public key has "
                                          "no CA), expected server_cert_file with the server's public key");
    if (!rpk && (d->given & GIVEN_CA) && (d->given & GIVEN_SERVER_CERT))
        gw_config_error(ctx, d->at[F_SERVER_CERT], "server_cert_file and ca_file are both set, expected one: "
                                                   "the server's own certificate, or the CA that signed it");
    if (c->verify && !(d->given & (GIVEN_SERVER_CERT | GIVEN_CA)))
        gw_config_error(ctx, sec, rpk ? "security \"rpk\" needs server_cert_file (the server's public key) to "
                                        "authenticate the server, or verify = false"
                                      : "security \"x509\" needs ca_file (the CA that signed the server's "
                                        "certificate) or server_cert_file, or verify = false");
    if (ctx->errors != errors)
        return ctx->oom ? -ENOMEM : 0;
    /* Every file is read, so one run names every bad one; the checks
     * across them only when all could be read. */
    bool key = load(ctx, d, F_KEY, GW_DTLS_FILE_KEY, &c->secret, &c->secret_len);
    bool own = (d->given & GIVEN_CERT) &&
               load(ctx, d, F_CERT, rpk ? GW_DTLS_FILE_PUBKEY : GW_DTLS_FILE_CERT, &c->own, &c->own_len);
    if (d->given & GIVEN_SERVER_CERT) {
        if (load(ctx, d, F_SERVER_CERT, rpk ? GW_DTLS_FILE_PUBKEY : GW_DTLS_FILE_CERT, &c->server_key,
                 &c->server_key_len))
            c->cert_usage = GW_DTLS_USAGE_PINNED;
    } else if (d->given & GIVEN_CA) {
        if (load(ctx, d, F_CA, GW_DTLS_FILE_CAS, &c->server_key, &c->server_key_len))
            c->cert_usage = GW_DTLS_USAGE_CA;
    }
    if (key && !(d->key_file = strdup(d->path[F_KEY])))
        ctx->oom = true;
    if (key && !(d->given & GIVEN_CERT) &&
        gw_dtls_public_of_key(c->secret, c->secret_len, &c->own, &c->own_len) < 0) {
        gw_config_error(ctx, d->at[F_KEY], "key_file: no public key can be derived from it, expected an "
                                           "RSA or EC private key");
    } else if (key && (own || !(d->given & GIVEN_CERT)) && ctx->errors == errors) {
        /* The check a bootstrap server's /0 instance gets at Finish
         * (gw_dtls_creds_check), each fault at its key's line. */
        char why[256];
        int res = 0, rc = gw_dtls_creds_check(c, &res, why, sizeof why);
        if (rc == -ENOMEM) {
            ctx->oom = true;
        } else if (rc < 0) {
            int f = res == 3 ? ((d->given & GIVEN_CERT) ? F_CERT : F_KEY)
                    : res == 4 ? ((d->given & GIVEN_SERVER_CERT) ? F_SERVER_CERT : F_CA)
                               : F_KEY;
            gw_config_error(ctx, at(d, f, sec), "%s %s", file_key[f], why);
        }
    }
    d->set = ctx->errors == errors;
    for (int i = 0; i < 4; i++) {
        free(d->path[i]);
        d->path[i] = NULL;
    }
    memset(d->at, 0, sizeof d->at);
    return ctx->oom ? -ENOMEM : 0;
}

bool gw_config_dtls_given(const gw_config_dtls_t *d)
{
    return d->given != 0;
}

void gw_config_dtls_free(gw_config_dtls_t *d)
{
    gw_dtls_creds_free(&d->creds);
    free(d->key_file);
    for (int i = 0; i < 4; i++)
        free(d->path[i]);
    memset(d, 0, sizeof *d);
}

int gw_config_dtls_copy(gw_config_dtls_t *dst, const gw_config_dtls_t *src)
{
    memset(dst, 0, sizeof *dst);
    dst->set = src->set;
    dst->given = src->given;
    dst->line = src->line;
    if (gw_dtls_creds_copy(&dst->creds, &src->creds) < 0 ||
        (src->key_file && !(dst->key_file = strdup(src->key_file)))) {
        gw_config_dtls_free(dst);
        return -ENOMEM;
    }
    return 0;
}

bool gw_config_dtls_equal(const gw_config_dtls_t *a, const gw_config_dtls_t *b)
{
    const gw_dtls_creds_t *x = &a->creds, *y = &b->creds;
#define SAME(p, n) (x->n == y->n && (!x->n || memcmp(x->p, y->p, x->n) == 0))
    return a->set == b->set && x->mode == y->mode && x->verify == y->verify && x->cert_usage == y->cert_usage &&
           SAME(own, own_len) && SAME(server_key, server_key_len) && SAME(secret, secret_len) &&
           (x->server_name ? y->server_name && strcmp(x->server_name, y->server_name) == 0 : !y->server_name);
#undef SAME
}
