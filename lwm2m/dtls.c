/*
 * lwm2m/dtls.c - DTLS sessions of the registrations: PSK, Raw Public Key
 * and X.509 through libcoap's GnuTLS backend, the server authenticated
 * here, and a failed handshake explained.
 *
 * Credentials come from the registration's Security instance (/0/x, see
 * dtls.h), which the configuration or a bootstrap server filled; verify
 * is the gateway's own setting, from the client's or the server's config.
 *
 * libcoap 4.3.1 keeps one PKI setup per context (GnuTLS backend:
 * coap_dtls_context_set_pki copies it into the context): its verification
 * flags and callback apply to every session's handshake, and the key it
 * names is what the next session's credentials are built from. All the
 * gateway's clients share one context (one epoll fd), each with its own
 * server checks. So libcoap's own checks are relaxed context-wide
 * (verify_peer_cert 0) and every check is done here, per session, in the
 * CN callback libcoap calls once it has the server's certificate or key:
 * the session's app data is the registration, whose credentials say what
 * to check. After a session is created the context's setup is put back to
 * one that names no key, so no later session (a PSK one) carries another
 * client's certificate and nothing points into freed memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/log.h"
#include "lwm2m_internal.h"

enum { SEC_MODE = 2, SEC_OWN = 3, SEC_SERVER_KEY = 4, SEC_SECRET = 5, SEC_SNI = 14, SEC_USAGE = 15 };

static void set_why(struct gw_reg *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_why(struct gw_reg *r, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(r->dtls_why);
    r->dtls_why = strdup(buf);
}

static bool bytes_of(const struct gw_reg *r, uint16_t rid, uint8_t **out, size_t *out_len)
{
    gw_value_t v;
    if (gw_reg_security_get(r, rid, &v) < 0 || (v.type != GW_TYPE_OPAQUE && v.type != GW_TYPE_STRING) ||
        v.v.bytes.len == 0)
        return false;
    /* Borrowed from the store for the length of one setup: const only in
     * the store's API, never written through. */
    memcpy(out, &v.v.bytes.ptr, sizeof *out);
    *out_len = v.v.bytes.len;
    return true;
}

static int64_t int_of(const struct gw_reg *r, uint16_t rid, int64_t dflt)
{
    gw_value_t v;
    if (gw_reg_security_get(r, rid, &v) < 0)
        return dflt;
    if (v.type == GW_TYPE_INTEGER || v.type == GW_TYPE_TIME)
        return v.v.i;
    if (v.type == GW_TYPE_UNSIGNED && v.v.u <= INT64_MAX)
        return (int64_t)v.v.u;
    return dflt;
}

/* The configured credentials that apply to r: the client's own, else its
 * server's; NULL for a server only a bootstrap server named. */
static const gw_dtls_creds_t *configured(const struct gw_reg *r)
{
    return r->vc->dtls ? r->vc->dtls : r->srv->dtls;
}

int gw_dtls_creds_of_reg(const struct gw_reg *r, gw_dtls_creds_t *out, char *name, size_t name_size)
{
    const gw_dtls_creds_t *cfg = configured(r);
    memset(out, 0, sizeof *out);
    out->mode = (int)int_of(r, SEC_MODE, r->srv->security == GW_LWM2M_RPK    ? GW_DTLS_MODE_RPK
                                         : r->srv->security == GW_LWM2M_X509 ? GW_DTLS_MODE_CERT
                                         : r->srv->security == GW_LWM2M_PSK  ? GW_DTLS_MODE_PSK
                                                                             : GW_DTLS_MODE_NOSEC);
    out->verify = cfg ? cfg->verify : true;
    bytes_of(r, SEC_OWN, &out->own, &out->own_len);
    bytes_of(r, SEC_SERVER_KEY, &out->server_key, &out->server_key_len);
    bytes_of(r, SEC_SECRET, &out->secret, &out->secret_len);
    out->cert_usage = (int)int_of(r, SEC_USAGE, GW_DTLS_USAGE_PINNED);
    uint8_t *sni;
    size_t sni_len;
    const char *host = r->srv->host;
    if (bytes_of(r, SEC_SNI, &sni, &sni_len) && sni_len < name_size && !memchr(sni, '\0', sni_len)) {
        memcpy(name, sni, sni_len);
        name[sni_len] = '\0';
    } else {
        snprintf(name, name_size, "%s", host);
    }
    out->server_name = name;
    return 0;
}

static int put_bytes(gw_vclient_t *vc, gw_type_t t, uint16_t iid, uint16_t rid, const void *p, size_t len)
{
    gw_value_t v = {.type = t};
    v.v.bytes.ptr = p;
    v.v.bytes.len = len;
    gw_path_t path = gw_path_make(0, iid, rid, GW_ID_NONE);
    return gw_store_set(vc->m->store, vc->sc, &path, &v, 0);
}

int gw_dtls_fill_security(gw_vclient_t *vc, const struct gw_server *s, uint16_t iid)
{
    const gw_dtls_creds_t *c = vc->dtls ? vc->dtls : s->dtls;
    if (!c || s->proto != COAP_PROTO_DTLS || s->bootstrap)
        return 0;
    gw_value_t mode = {.type = GW_TYPE_INTEGER};
    mode.v.i = c->mode;
    gw_path_t mp = gw_path_make(0, iid, SEC_MODE, GW_ID_NONE);
    int rc = gw_store_set(vc->m->store, vc->sc, &mp, &mode, 0);
    if (!rc && c->own_len)
        rc = put_bytes(vc, GW_TYPE_OPAQUE, iid, SEC_OWN, c->own, c->own_len);
    if (!rc && c->server_key_len)
        rc = put_bytes(vc, GW_TYPE_OPAQUE, iid, SEC_SERVER_KEY, c->server_key, c->server_key_len);
    if (!rc && c->secret_len)
        rc = put_bytes(vc, GW_TYPE_OPAQUE, iid, SEC_SECRET, c->secret, c->secret_len);
    if (!rc && c->server_name)
        rc = put_bytes(vc, GW_TYPE_STRING, iid, SEC_SNI, c->server_name, strlen(c->server_name));
    if (!rc && c->server_key_len) {
        gw_value_t v = {.type = GW_TYPE_UNSIGNED};
        v.v.u = (uint64_t)c->cert_usage;
        gw_path_t path = gw_path_make(0, iid, SEC_USAGE, GW_ID_NONE);
        rc = gw_store_set(vc->m->store, vc->sc, &path, &v, 0);
    }
    return rc;
}

int gw_accounts_secmode(gw_lwm2m_security_t sec)
{
    switch (sec) {
    case GW_LWM2M_PSK: return GW_DTLS_MODE_PSK;
    case GW_LWM2M_RPK: return GW_DTLS_MODE_RPK;
    case GW_LWM2M_X509: return GW_DTLS_MODE_CERT;
    default: return GW_DTLS_MODE_NOSEC;
    }
}

/* ---- checking the server ---- */

/* What a failure names: the configuration's setting, or for a client a
 * bootstrap server provisioned (its accounts are its /0 instances, not the
 * configuration's files) the /0 resource, so nobody looks for a ca_file
 * that does not exist. */
static const char *src(const struct gw_reg *r, const char *setting, int rid, char *buf, size_t size)
{
    if (!r->vc->bs)
        return setting;
    snprintf(buf, size, "/0/%u/%d", (unsigned)r->sec_iid, rid);
    return buf;
}

static void status_why(struct gw_reg *r, unsigned status, const char *name)
{
    if (status & GNUTLS_CERT_UNEXPECTED_OWNER) {
        char b[32];
        set_why(r, "name mismatch: the server's certificate is not for \"%s\" (%s, or the URI's host)", name,
                src(r, "server_name", SEC_SNI, b, sizeof b));
    }
    else if (status & GNUTLS_CERT_EXPIRED)
        set_why(r, "the server's certificate has expired");
    else if (status & GNUTLS_CERT_NOT_ACTIVATED)
        set_why(r, "the server's certificate is not valid yet (check the clock)");
    else if (status & GNUTLS_CERT_SIGNATURE_FAILURE)
        set_why(r, "certificate not trusted: a signature in the server's chain is wrong");
    else if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
        set_why(r, "certificate not trusted: the server's chain uses an insecure algorithm");
    else if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA | GNUTLS_CERT_INVALID)) {
        char b[32];
        set_why(r, "certificate not trusted: no CA of %s signed the server's certificate",
                src(r, "ca_file", SEC_SERVER_KEY, b, sizeof b));
    }
    else
        set_why(r, "certificate not trusted (GnuTLS status 0x%x)", status);
}

static bool check_chain(struct gw_reg *r, gnutls_session_t gs, const gw_dtls_creds_t *c)
{
    unsigned n_peer = 0;
    const gnutls_datum_t *peer = gnutls_certificate_get_peers(gs, &n_peer);
    gnutls_x509_trust_list_t tl = NULL;
    gnutls_x509_crt_t chain[16];
    unsigned n_chain = 0;
    bool ok = false;
    if (!peer || n_peer == 0) {
        set_why(r, "the server sent no certificate");
        return false;
    }
    if (gnutls_x509_trust_list_init(&tl, 0) < 0)
        goto out;
    for (size_t off = 0; off < c->server_key_len;) {
        size_t l = gw_der_seq_len(c->server_key + off, c->server_key_len - off);
        gnutls_x509_crt_t ca;
        gnutls_datum_t d = {c->server_key + off, (unsigned)l};
        if (!l || gnutls_x509_crt_init(&ca) < 0)
            break;
        if (gnutls_x509_crt_import(ca, &d, GNUTLS_X509_FMT_DER) < 0 ||
            gnutls_x509_trust_list_add_cas(tl, &ca, 1, 0) != 1)
            gnutls_x509_crt_deinit(ca); /* added ones belong to the list */
        off += l;
    }
    for (; n_chain < n_peer && n_chain < 16; n_chain++)
        if (gnutls_x509_crt_init(&chain[n_chain]) < 0 ||
            gnutls_x509_crt_import(chain[n_chain], &peer[n_chain], GNUTLS_X509_FMT_DER) < 0) {
            set_why(r, "the server's certificate cannot be read");
            n_chain++;
            goto out;
        }
    gnutls_typed_vdata_st data = {GNUTLS_DT_DNS_HOSTNAME, (unsigned char *)c->server_name, 0};
    unsigned status = 0;
    if (gnutls_x509_trust_list_verify_crt2(tl, chain, n_chain, &data, 1, 0, &status, NULL) < 0) {
        set_why(r, "certificate not trusted: its chain cannot be verified");
        goto out;
    }
    if (status)
        status_why(r, status, c->server_name);
    ok = status == 0;
out:
    for (unsigned i = 0; i < n_chain; i++)
        gnutls_x509_crt_deinit(chain[i]);
    if (tl)
        gnutls_x509_trust_list_deinit(tl, 1);
    return ok;
}

/* libcoap's CN callback (coap_dtls_cn_callback_t): 1 accepts the server,
 * 0 ends the handshake with an alert. */
static int check_server(const char *cn, const uint8_t *der, size_t der_len_, coap_session_t *session,
                        unsigned depth, int validated, void *arg)
{
    (void)cn, (void)depth, (void)validated, (void)arg;
    struct gw_reg *r = coap_session_get_app_data(session);
    gnutls_session_t gs = coap_session_get_tls(session, NULL);
    if (!r || !gs)
        return 0;
    char name[256], b[32];
    gw_dtls_creds_t c;
    gw_dtls_creds_of_reg(r, &c, name, sizeof name);
    gnutls_certificate_type_t type = gnutls_certificate_type_get2(gs, GNUTLS_CTYPE_PEERS);
    if (c.mode == GW_DTLS_MODE_RPK) {
        if (type != GNUTLS_CRT_RAWPK) {
            set_why(r, "the server sent a certificate, expected a raw public key (security \"rpk\")");
            return 0;
        }
        if (!c.verify)
            return 1;
        if (!c.server_key || c.server_key_len != der_len_ || memcmp(c.server_key, der, der_len_) != 0) {
            set_why(r, "the server's public key is not the one pinned (%s)",
                    src(r, "server_cert_file", SEC_SERVER_KEY, b, sizeof b));
            return 0;
        }
        return 1;
    }
    if (c.mode != GW_DTLS_MODE_CERT) {
        set_why(r, "the server asked for a certificate exchange, expected %s", gw_dtls_mode_name(c.mode));
        return 0;
    }
    if (type != GNUTLS_CRT_X509) {
        set_why(r, "the server sent a raw public key, expected a certificate (security \"x509\")");
        return 0;
    }
    if (!c.verify)
        return 1;
    if (!c.server_key) {
        set_why(r, "certificate not trusted: %s", r->vc->bs ? "/0/x/4 is empty: nothing to check it against"
                                                          : "no ca_file or server_cert_file to check it against");
        return 0;
    }
    if (c.cert_usage == GW_DTLS_USAGE_PINNED) {
        if (c.server_key_len != der_len_ || memcmp(c.server_key, der, der_len_) != 0) {
            set_why(r, "certificate not trusted: the server's certificate is not %s's",
                    src(r, "server_cert_file", SEC_SERVER_KEY, b, sizeof b));
            return 0;
        }
        return 1;
    }
    return check_chain(r, gs, &c) ? 1 : 0;
}

/* ---- sessions ---- */

/* The context-wide PKI setup (see the top): libcoap's checks relaxed,
 * every session checked by check_server, no key named. */
static void base_setup(coap_dtls_pki_t *p)
{
    memset(p, 0, sizeof *p);
    p->version = COAP_DTLS_PKI_SETUP_VERSION;
    p->verify_peer_cert = 0;
    p->validate_cn_call_back = check_server;
    p->pki_key.key_type = COAP_PKI_KEY_ASN1;
}

static coap_session_t *pki_session(struct gw_reg *r, const gw_dtls_creds_t *c, char *sni)
{
    gw_lwm2m_t *m = r->srv->m;
    coap_dtls_pki_t setup;
    base_setup(&setup);
    setup.is_rpk_not_cert = c->mode == GW_DTLS_MODE_RPK;
    setup.client_sni = sni;
    setup.pki_key.key.asn1.public_cert = c->own;
    setup.pki_key.key.asn1.public_cert_len = c->own_len;
    setup.pki_key.key.asn1.private_key = c->secret;
    setup.pki_key.key.asn1.private_key_len = c->secret_len;
    /* Not COAP_ASN1_PKEY_EC: libcoap would derive the public key from an
     * EC key in SEC1 form only; the SPKI in own is given as is. */
    setup.pki_key.key.asn1.private_key_type = COAP_ASN1_PKEY_NONE;
    coap_session_t *sess = coap_new_client_session_pki(m->ctx, NULL, &r->srv->addr, COAP_PROTO_DTLS, &setup);
    coap_dtls_pki_t base;
    base_setup(&base);
    coap_context_set_pki(m->ctx, &base);
    m->dtls_pki_used = true;
    return sess;
}

static coap_session_t *psk_session(struct gw_reg *r, const gw_dtls_creds_t *c, char *sni)
{
    gw_lwm2m_t *m = r->srv->m;
    struct gw_server *s = r->srv;
    char identity[256];
    coap_dtls_cpsk_t setup;
    memset(&setup, 0, sizeof setup);
    setup.version = COAP_DTLS_CPSK_SETUP_VERSION;
    setup.client_sni = sni;
    /* The client's /0 instance holds its credentials (configured or
     * written by a bootstrap server): it wins. */
    if (c->own && c->secret && c->own_len < sizeof identity) {
        setup.psk_info.identity.s = c->own;
        setup.psk_info.identity.length = c->own_len;
        setup.psk_info.key.s = c->secret;
        setup.psk_info.key.length = c->secret_len;
    } else {
        const char *pattern = r->vc->psk_identity ? r->vc->psk_identity : s->psk_identity;
        size_t id_len = gw_accounts_expand_identity(pattern, r->vc->endpoint, identity, sizeof identity);
        setup.psk_info.identity.s = (const uint8_t *)identity;
        setup.psk_info.identity.length = id_len;
        setup.psk_info.key.s = r->vc->psk_key ? r->vc->psk_key : s->psk_key;
        setup.psk_info.key.length = r->vc->psk_key ? r->vc->psk_key_len : s->psk_key_len;
    }
    if (m->dtls_pki_used) {
        /* Once a PKI session was made, libcoap 4.3.1 also builds
         * certificate credentials for PSK sessions, from the context's
         * setup: the keyless one, and check_server refuses a certificate
         * exchange on a PSK registration. */
        coap_dtls_pki_t base;
        base_setup(&base);
        coap_context_set_pki(m->ctx, &base);
    }
    return coap_new_client_session_psk2(m->ctx, NULL, &s->addr, COAP_PROTO_DTLS, &setup);
}

int gw_dtls_session(struct gw_reg *r, coap_session_t **out)
{
    char name[256];
    gw_dtls_creds_t c;
    *out = NULL;
    free(r->dtls_why);
    r->dtls_why = NULL;
    gw_dtls_creds_of_reg(r, &c, name, sizeof name);
    switch (c.mode) {
    case GW_DTLS_MODE_PSK:
        *out = psk_session(r, &c, name);
        break;
    case GW_DTLS_MODE_RPK:
    case GW_DTLS_MODE_CERT:
        if (!c.own || !c.secret) {
            set_why(r, "no %s for security \"%s\" (/0/x/3 and /0/x/5 empty)",
                    c.mode == GW_DTLS_MODE_RPK ? "key pair" : "certificate and key", gw_dtls_mode_name(c.mode));
            return -EINVAL;
        }
        {
            /* Checked before libcoap sees them: 4.3.1 leaks the GnuTLS
             * session and credentials of a setup that fails on bad keys. */
            char text[192];
            int res = 0, rc = gw_dtls_creds_check(&c, &res, text, sizeof text);
            if (rc == -ENOMEM)
                return rc;
            if (rc < 0) {
                set_why(r, "/0/x/%d %s", res, text);
                return -EINVAL;
            }
        }
        if (!c.verify && !r->dtls_unverified_logged) {
            r->dtls_unverified_logged = true;
            gw_warn("%s: %s is not authenticated (verify = false): anyone on the path can pose as it",
                    r->vc->endpoint, r->srv->uri);
        }
        *out = pki_session(r, &c, name);
        break;
    default:
        set_why(r, "security mode %d of /0/x/2 is not one DTLS can use", c.mode);
        return -EINVAL;
    }
    return *out ? 0 : -EIO;
}

/* What to check when the server refused the handshake: the client's own
 * credentials, by the names they have where they came from. */
static void hint_of(const struct gw_reg *r, int mode, char *out, size_t size)
{
    char own[32] = "", secret[32] = "";
    bool cfg = !r->vc->bs;
    src(r, "", SEC_OWN, own, sizeof own);
    src(r, "", SEC_SECRET, secret, sizeof secret);
    if (mode == GW_DTLS_MODE_PSK && cfg)
        snprintf(out, size, "check psk_identity and psk_key");
    else if (mode == GW_DTLS_MODE_PSK)
        snprintf(out, size, "check the PSK identity %s and key %s", own, secret);
    else
        snprintf(out, size, "does the server %s this client's %s (%s%s%s)?",
                 mode == GW_DTLS_MODE_RPK ? "know" : "trust", mode == GW_DTLS_MODE_RPK ? "public key" : "certificate",
                 cfg ? "cert_file" : own, cfg ? "/" : ", ", cfg ? "key_file" : secret);
}

/* libcoap logs the alert a failed handshake got or sent ("***<session>:
 * Alert '42': Bad certificate"), then reports COAP_EVENT_DTLS_ERROR for the
 * session, then the NACK: the text is kept for that event. */
static char last_alert[96];

bool gw_dtls_on_log(const char *message)
{
    const char *a = strstr(message, ": Alert '");
    if (!a)
        return false;
    const char *text = strstr(a + 9, "': ");
    snprintf(last_alert, sizeof last_alert, "%s", text ? text + 3 : a + 2);
    size_t n = strlen(last_alert);
    while (n && (last_alert[n - 1] == '\n' || last_alert[n - 1] == '\r'))
        last_alert[--n] = '\0';
    return true;
}

void gw_dtls_on_error(struct gw_reg *r)
{
    if (r->dtls_why) {
        last_alert[0] = '\0';
        return;
    }
    char name[256], hint[160];
    gw_dtls_creds_t c;
    gw_dtls_creds_of_reg(r, &c, name, sizeof name);
    hint_of(r, c.mode, hint, sizeof hint);
    if (last_alert[0])
        set_why(r, "alert \"%s\"; %s", last_alert, hint);
    else
        set_why(r, "no usable answer; %s", hint);
    last_alert[0] = '\0';
}

const char *gw_dtls_failure(struct gw_reg *r)
{
    static char buf[320];
    /* A server that refuses the client's certificate ends the handshake
     * with an alert that libcoap 4.3.1 reports as COAP_EVENT_DTLS_CLOSED,
     * not _ERROR: the reason is made here then, from the alert and the
     * registration's own mode (not a PSK hint on a certificate session). */
    if (!r->dtls_why)
        gw_dtls_on_error(r);
    snprintf(buf, sizeof buf, "DTLS handshake failed: %s", r->dtls_why ? r->dtls_why : "no reason known");
    return buf;
}

void gw_dtls_reg_free(struct gw_reg *r)
{
    free(r->dtls_why);
    r->dtls_why = NULL;
}
