/*
 * lwm2m/accounts.c - a client's Security (/0) and Server (/1) instances as
 * the source of its connection settings (LwM2M 1.1.1 Core E.1, E.2).
 *
 * A server account is a /1 instance and the /0 instance whose Short Server
 * ID (/0/x/10) matches its /1/x/0, not marked Bootstrap-Server (/0/x/1).
 * Configured servers get both instances at client creation (same instance
 * id as the server's place in the list); a bootstrap server writes them.
 * The bootstrap account is a /0 instance alone (Bootstrap-Server true, no
 * Short Server ID): no /1 instance, so no management server sees it.
 * Registrations follow their instances: URI and security mode pick the
 * struct gw_server (one per distinct URI and mode, so pacing and the
 * outage view stay shared by every client of that server), the client's
 * own credentials come from its /0 instance, lifetime, binding and periods
 * from its /1 instance.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/log.h"
#include "lwm2m_internal.h"
#include "uri.h"

enum {
    SEC_URI = 0,
    SEC_BOOTSTRAP = 1,
    SEC_MODE = 2,
    SEC_IDENTITY = 3,
    SEC_SERVER_KEY = 4,
    SEC_SECRET = 5,
    SEC_SSID = 10,
    SRV_SSID = 0,
    SRV_LIFETIME = 1,
};

static gw_path_t path3(uint16_t oid, uint16_t iid, uint16_t rid) { return gw_path_make(oid, iid, rid, GW_ID_NONE); }

static int set_int(gw_vclient_t *vc, uint16_t oid, uint16_t iid, uint16_t rid, int64_t v)
{
    gw_value_t val = {.type = GW_TYPE_INTEGER};
    val.v.i = v;
    gw_path_t p = path3(oid, iid, rid);
    return gw_store_set(vc->m->store, vc->sc, &p, &val, 0);
}

static int set_bool(gw_vclient_t *vc, uint16_t oid, uint16_t iid, uint16_t rid, bool v)
{
    gw_value_t val = {.type = GW_TYPE_BOOLEAN};
    val.v.b = v;
    gw_path_t p = path3(oid, iid, rid);
    return gw_store_set(vc->m->store, vc->sc, &p, &val, 0);
}

static int set_bytes(gw_vclient_t *vc, gw_type_t t, uint16_t oid, uint16_t iid, uint16_t rid, const void *b,
                     size_t len)
{
    gw_value_t val = {.type = t};
    val.v.bytes.ptr = b;
    val.v.bytes.len = len;
    gw_path_t p = path3(oid, iid, rid);
    return gw_store_set(vc->m->store, vc->sc, &p, &val, 0);
}

size_t gw_accounts_expand_identity(const char *pattern, const char *endpoint, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = pattern; *p && n + 1 < size;) {
        if (strncmp(p, "{endpoint}", 10) == 0) {
            for (const char *e = endpoint; *e && n + 1 < size; e++)
                out[n++] = *e;
            p += 10;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return n;
}

static int add_security(gw_vclient_t *vc, const struct gw_server *s, uint16_t iid)
{
    int rc = gw_store_instance_create(vc->m->store, vc->sc, 0, iid);
    if (rc < 0)
        return rc;
    rc = set_bytes(vc, GW_TYPE_STRING, 0, iid, SEC_URI, s->uri, strlen(s->uri));
    if (!rc)
        rc = set_bool(vc, 0, iid, SEC_BOOTSTRAP, s->bootstrap);
    if (!rc)
        rc = set_int(vc, 0, iid, SEC_MODE, gw_accounts_secmode(s->security));
    if (!rc && !s->bootstrap)
        rc = set_int(vc, 0, iid, SEC_SSID, s->ssid);
    if (!rc && s->security == GW_LWM2M_PSK) {
        char identity[256];
        size_t n = gw_accounts_expand_identity(vc->psk_identity ? vc->psk_identity : s->psk_identity,
                                               vc->endpoint, identity, sizeof identity);
        rc = set_bytes(vc, GW_TYPE_OPAQUE, 0, iid, SEC_IDENTITY, identity, n);
        if (!rc && vc->psk_key)
            rc = set_bytes(vc, GW_TYPE_OPAQUE, 0, iid, SEC_SECRET, vc->psk_key, vc->psk_key_len);
        else if (!rc)
            rc = set_bytes(vc, GW_TYPE_OPAQUE, 0, iid, SEC_SECRET, s->psk_key, s->psk_key_len);
    }
    if (!rc) /* RPK and X.509 credentials, the client's own or the server's (dtls.c) */
        rc = gw_dtls_fill_security(vc, s, iid);
    return rc;
}

static int add_server(gw_vclient_t *vc, const struct gw_server *s, uint16_t iid, bool queue_mode)
{
    int rc = gw_store_instance_create(vc->m->store, vc->sc, 1, iid);
    if (rc < 0)
        return rc;
    rc = set_int(vc, 1, iid, SRV_SSID, s->ssid);
    if (!rc)
        rc = set_int(vc, 1, iid, SRV_LIFETIME, s->lifetime);
    if (!rc && s->default_pmin > 0)
        rc = set_int(vc, 1, iid, 2, s->default_pmin);
    if (!rc && s->default_pmax > 0)
        rc = set_int(vc, 1, iid, 3, s->default_pmax);
    if (!rc) /* 6: Notification Storing When Disabled or Offline (send.c) */
        rc = set_bool(vc, 1, iid, 6, true);
    if (!rc) /* 23: Mute Send */
        rc = set_bool(vc, 1, iid, 23, false);
    char binding[16];
    snprintf(binding, sizeof binding, "%s%s", s->binding, queue_mode && !strchr(s->binding, 'Q') ? "Q" : "");
    if (!rc)
        rc = set_bytes(vc, GW_TYPE_STRING, 1, iid, 7, binding, strlen(binding));
    return rc;
}

/* Instances made from the configuration are alike in every client of a
 * server (the PSK identity aside, when it names the endpoint), so the
 * store keeps one array of their values for all of them until a server or
 * bootstrap server writes one client's (store.h). A failure to share only
 * costs memory: the client keeps its own copy. */
static void share(gw_vclient_t *vc, uint16_t oid, uint16_t iid)
{
    (void)gw_store_instance_share(vc->m->store, vc->sc, oid, iid);
}

int gw_accounts_add_config(gw_vclient_t *vc, const struct gw_server *s, uint16_t iid, bool queue_mode)
{
    int rc = add_security(vc, s, iid);
    if (!rc)
        rc = add_server(vc, s, iid, queue_mode);
    if (!rc) {
        share(vc, 0, iid);
        share(vc, 1, iid);
    }
    return rc;
}

int gw_accounts_add_bootstrap(gw_vclient_t *vc, const struct gw_server *s, uint16_t iid)
{
    if (!s->bootstrap)
        return -EINVAL;
    int rc = add_security(vc, s, iid);
    if (!rc)
        share(vc, 0, iid);
    return rc;
}

/* ---- accounts as /0 and /1 say ---- */

typedef struct account {
    uint16_t srv_iid, sec_iid;
    int mode;
    char uri[256];
} account_t;

static bool get(const gw_vclient_t *vc, uint16_t oid, uint16_t iid, uint16_t rid, gw_value_t *out)
{
    gw_path_t p = path3(oid, iid, rid);
    return gw_store_get(vc->sc, &p, out, NULL) == 0;
}

static bool get_int(const gw_vclient_t *vc, uint16_t oid, uint16_t iid, uint16_t rid, int64_t *out)
{
    gw_value_t v;
    if (!get(vc, oid, iid, rid, &v))
        return false;
    if (v.type == GW_TYPE_INTEGER || v.type == GW_TYPE_TIME)
        *out = v.v.i;
    else if (v.type == GW_TYPE_UNSIGNED && v.v.u <= INT64_MAX)
        *out = (int64_t)v.v.u;
    else
        return false;
    return true;
}

static void bytes_of(const gw_vclient_t *vc, uint16_t iid, uint16_t rid, uint8_t **out, size_t *out_len)
{
    gw_value_t v;
    *out = NULL;
    *out_len = 0;
    if (!get(vc, 0, iid, rid, &v) || (v.type != GW_TYPE_OPAQUE && v.type != GW_TYPE_STRING))
        return;
    /* Borrowed from the store for one check, never written through. */
    memcpy(out, &v.v.bytes.ptr, sizeof *out);
    *out_len = v.v.bytes.len;
}

static const char *const res_name[6] = {"", "", "Security Mode", "Public Key or Identity", "Server Public Key",
                                        "Secret Key"};
static const char *const mode_name[4] = {"PSK", "RPK", "Certificate", "NoSec"};

/* What the security modes need (Core E.1 and Transport 5.2): the URI's
 * scheme, and the credentials checked as the configuration's are
 * (gw_dtls_creds_check), so no session is set up with keys that do not
 * parse (libcoap 4.3.1 leaks its GnuTLS session when that setup fails). */
static int mode_usable(const gw_vclient_t *vc, uint16_t sec_iid, int mode, int scheme, char *why, size_t size)
{
    if (mode < GW_SECMODE_PSK || mode > GW_SECMODE_NOSEC) {
        snprintf(why, size, "/0/%u: security mode %d is not supported (0 PSK, 1 RPK, 2 Certificate and 3 NoSec are)",
                 sec_iid, mode);
        return -EINVAL;
    }
    if (mode == GW_SECMODE_NOSEC ? scheme != 0 : scheme != 1) {
        snprintf(why, size, "/0/%u: security mode %d (%s) needs a %s URI", sec_iid, mode, mode_name[mode],
                 mode == GW_SECMODE_NOSEC ? "coap://" : "coaps://");
        return -EINVAL;
    }
    if (mode != GW_SECMODE_NOSEC && !coap_dtls_is_supported()) {
        snprintf(why, size, "/0/%u: this libcoap has no DTLS support", sec_iid);
        return -EINVAL;
    }
    gw_dtls_creds_t c = {.mode = mode};
    int64_t usage;
    bytes_of(vc, sec_iid, SEC_IDENTITY, &c.own, &c.own_len);
    bytes_of(vc, sec_iid, SEC_SERVER_KEY, &c.server_key, &c.server_key_len);
    bytes_of(vc, sec_iid, SEC_SECRET, &c.secret, &c.secret_len);
    c.cert_usage = get_int(vc, 0, sec_iid, 15, &usage) ? (int)usage : GW_DTLS_USAGE_PINNED;
    char text[192];
    int res = 0, rc = gw_dtls_creds_check(&c, &res, text, sizeof text);
    if (rc == -ENOMEM) {
        snprintf(why, size, "/0/%u: out of memory checking its keys", sec_iid);
        return rc;
    }
    if (rc < 0) {
        snprintf(why, size, "/0/%u/%d (%s, %s) %s", sec_iid, res, res_name[res >= 2 && res <= 5 ? res : 0],
                 mode_name[mode], text);
        return -EINVAL;
    }
    return 0;
}

/* The usable accounts, /1 instances in instance order; why tells the last
 * reason one was not usable. */
static size_t walk(const gw_vclient_t *vc, account_t *out, size_t cap, char *why, size_t size)
{
    size_t n = 0, total = gw_store_instance_count(vc->sc);
    snprintf(why, size, "no Server object instance (/1)");
    for (size_t i = 0; i < total && n < cap; i++) {
        uint16_t oid, iid;
        int64_t ssid = -1, mode = -1;
        if (gw_store_instance_at(vc->sc, i, &oid, &iid) < 0 || oid != 1)
            continue;
        if (!get_int(vc, 1, iid, SRV_SSID, &ssid) || ssid < 1 || ssid > 65534) {
            snprintf(why, size, "/1/%u: no Short Server ID (/1/%u/0, 1..65534)", iid, iid);
            continue;
        }
        int64_t lt;
        if (get_int(vc, 1, iid, SRV_LIFETIME, &lt) && (lt < 1 || lt > INT32_MAX)) {
            snprintf(why, size, "/1/%u: lifetime %lld out of 1..2147483647", iid, (long long)lt);
            continue;
        }
        bool found = false;
        for (size_t j = 0; j < total && !found; j++) {
            uint16_t so, si;
            int64_t s_ssid = -1;
            gw_value_t bs, uri;
            if (gw_store_instance_at(vc->sc, j, &so, &si) < 0 || so != 0)
                continue;
            if (get(vc, 0, si, SEC_BOOTSTRAP, &bs) && bs.type == GW_TYPE_BOOLEAN && bs.v.b)
                continue;
            if (!get_int(vc, 0, si, SEC_SSID, &s_ssid) || s_ssid != ssid)
                continue;
            found = true;
            if (!get(vc, 0, si, SEC_URI, &uri) || uri.type != GW_TYPE_STRING || uri.v.bytes.len == 0 ||
                uri.v.bytes.len >= sizeof out[n].uri) {
                snprintf(why, size, "/0/%u: no usable Server URI (/0/%u/0)", si, si);
                break;
            }
            memcpy(out[n].uri, uri.v.bytes.ptr, uri.v.bytes.len);
            out[n].uri[uri.v.bytes.len] = '\0';
            char uwhy[96];
            int scheme = gw_uri_check((const char *)uri.v.bytes.ptr, uri.v.bytes.len, uwhy, sizeof uwhy);
            if (scheme < 0) {
                snprintf(why, size, "/0/%u/0: Server URI \"%s\" %s", si, out[n].uri, uwhy);
                break;
            }
            if (!get_int(vc, 0, si, SEC_MODE, &mode)) {
                snprintf(why, size, "/0/%u: no Security Mode (/0/%u/2)", si, si);
                break;
            }
            if (mode_usable(vc, si, (int)mode, scheme, why, size) < 0)
                break;
            out[n].srv_iid = iid;
            out[n].sec_iid = si;
            out[n].mode = (int)mode;
            n++;
        }
        if (!found)
            snprintf(why, size, "/1/%u: no Security instance (/0) with Short Server ID %lld", iid, (long long)ssid);
    }
    return n;
}

int gw_accounts_check(const gw_vclient_t *vc, char *why, size_t size)
{
    account_t acc[GW_BS_MAX_ACCOUNTS];
    size_t n = walk(vc, acc, GW_BS_MAX_ACCOUNTS, why, size);
    return n ? (int)n : -EINVAL;
}

struct gw_server *gw_server_get(gw_lwm2m_t *m, const char *uri, int secmode, char *why, size_t size)
{
    gw_lwm2m_security_t sec = secmode == GW_SECMODE_PSK    ? GW_LWM2M_PSK
                              : secmode == GW_SECMODE_RPK  ? GW_LWM2M_RPK
                              : secmode == GW_SECMODE_CERT ? GW_LWM2M_X509
                                                           : GW_LWM2M_NOSEC;
    for (size_t i = 0; i < m->n_servers; i++)
        if (!m->servers[i].bootstrap && m->servers[i].security == sec && strcmp(m->servers[i].uri, uri) == 0)
            return &m->servers[i];
    if (m->n_servers >= m->cap_servers) {
        snprintf(why, size, "no room for server %s: at most %d servers beyond the configuration", uri,
                 GW_MAX_DYN_SERVERS);
        return NULL;
    }
    /* A server only a bootstrap server names: the configuration's first
     * server (if any) lends its pacing; the rest comes from /1. */
    gw_lwm2m_server_opts_t o = {.uri = uri, .security = sec, .registrations_per_second = 50};
    if (m->n_config_servers)
        o.registrations_per_second = m->servers[0].rps;
    struct gw_server *s = &m->servers[m->n_servers];
    int rc = gw_server_init(m, s, m->n_servers, &o);
    if (rc < 0) {
        gw_server_fini(s);
        memset(s, 0, sizeof *s);
        snprintf(why, size, "server %s cannot be set up (%s)", uri, strerror(-rc));
        return NULL;
    }
    s->dynamic = true;
    m->n_servers++;
    gw_info("server %s added (named by a bootstrap server)", uri);
    return s;
}

int gw_accounts_apply(gw_vclient_t *vc)
{
    gw_lwm2m_t *m = vc->m;
    account_t acc[GW_BS_MAX_ACCOUNTS];
    char why[160];
    size_t cap = vc->cap_regs < GW_BS_MAX_ACCOUNTS ? vc->cap_regs : GW_BS_MAX_ACCOUNTS;
    size_t n = walk(vc, acc, cap, why, sizeof why);
    size_t k = 0;
    m->n_regs_total -= vc->n_regs;
    for (size_t i = 0; i < vc->n_regs; i++) {
        gw_send_reg_drop(&vc->regs[i]); /* gw_reg_init below wipes r->send */
        free(vc->regs[i].location);
    }
    vc->n_regs = 0;
    for (size_t i = 0; i < n; i++) {
        struct gw_server *s = gw_server_get(m, acc[i].uri, acc[i].mode, why, sizeof why);
        if (!s) {
            gw_warn("%s: %s", vc->endpoint, why);
            continue;
        }
        gw_reg_init(&vc->regs[k], vc, s);
        vc->regs[k].srv_iid = acc[i].srv_iid;
        vc->regs[k].sec_iid = acc[i].sec_iid;
        k++;
    }
    vc->n_regs = k;
    m->n_regs_total += k;
    /* Attributes of a server whose account went stay out of a later server
     * given the same Short Server ID. */
    uint16_t ssids[GW_BS_MAX_ACCOUNTS];
    for (size_t i = 0; i < k; i++)
        ssids[i] = gw_reg_ssid(&vc->regs[i]);
    gw_store_attrs_keep_servers(vc->sc, ssids, k);
    if (k == 0) {
        gw_warn("%s: no usable server account: %s", vc->endpoint, why);
        return -EINVAL;
    }
    return (int)k;
}

int gw_reg_security_get(const struct gw_reg *r, uint16_t rid, gw_value_t *out)
{
    return get(r->vc, 0, r->sec_iid, rid, out) ? 0 : -ENOENT;
}

int64_t gw_reg_server_int(const struct gw_reg *r, uint16_t rid, int64_t dflt)
{
    int64_t v;
    return get_int(r->vc, 1, r->srv_iid, rid, &v) ? v : dflt;
}

uint16_t gw_reg_ssid(const struct gw_reg *r)
{
    int64_t v = gw_reg_server_int(r, SRV_SSID, r->srv->ssid);
    return v >= 1 && v <= 65534 ? (uint16_t)v : r->srv->ssid;
}

struct gw_reg *gw_vclient_reg_of(const gw_vclient_t *vc, const struct gw_server *s)
{
    for (size_t i = 0; i < vc->n_regs; i++)
        if (vc->regs[i].srv == s)
            return (struct gw_reg *)&vc->regs[i];
    return NULL;
}
