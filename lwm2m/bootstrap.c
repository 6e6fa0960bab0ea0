/*
 * lwm2m/bootstrap.c - the Bootstrap interface of a virtual client (LwM2M
 * 1.1.1 Core 5.2, 6.1; Transport 6.x): Bootstrap-Request, then the
 * bootstrap server's Bootstrap-Write, -Read, -Discover and -Delete on the
 * same session, and Bootstrap-Finish, after which the client registers
 * with the servers its /0 and /1 instances now name (accounts.c) and the
 * instances are persisted (prov_file.c).
 *
 * The bootstrap session is a struct gw_reg of its own whose server is
 * m->bs_server; requests arriving on it come here (gw_dm_handle), never to
 * the device-management handlers, and a management server's session never
 * reaches this file. The session stays open after Finish, so the
 * bootstrap server may start another bootstrap on it (server-initiated).
 * A client that registered from its persisted file opens that session once
 * a registration succeeded (gw_bs_registered): registrations are paced, so
 * 10,000 clients do not open 10,000 DTLS handshakes with the bootstrap
 * server at once. Its cost is one UDP socket and one libcoap session per
 * client.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/log.h"
#include "check.h"
#include "lwm2m_internal.h"
#include "request.h"

#define C(x) COAP_RESPONSE_CODE(x)
/* Core 6.1.7 (1.1): a Bootstrap-Finish is expected within EXCHANGE_LIFETIME
 * (247 s with RFC 7252's defaults) of the last bootstrap request;
 * bootstrap_server.finish_timeout changes it (m->bs_finish_timeout_s). */
#define BS_FINISH_TIMEOUT_S 247

typedef enum { BS_IDLE = 0, BS_REQUESTING, BS_WAITING, BS_DONE, BS_BACKOFF } bs_state_t;

struct gw_bs {
    struct gw_reg reg;     /* the bootstrap session: srv = m->bs_server */
    uint8_t state;         /* bs_state_t */
    bool server_initiated; /* the bootstrap server began without a Request */
    uint32_t backoff_s;
    gw_timer_t timer;      /* Finish timeout (WAITING) or the next Request (BACKOFF) */
};

static const char *bs_uri(const gw_vclient_t *vc) { return vc->m->bs_server->uri; }

static bool busy(uint8_t st) { return st == BS_REQUESTING || st == BS_WAITING || st == BS_BACKOFF; }

/* Every state change goes here: m->n_bootstrapping counts the clients
 * with no accounts to register with yet ("all registered" waits for them). */
static void bs_set(gw_vclient_t *vc, bs_state_t st)
{
    struct gw_bs *bs = vc->bs;
    if (busy(bs->state) && !busy((uint8_t)st))
        vc->m->n_bootstrapping--;
    else if (!busy(bs->state) && busy((uint8_t)st))
        vc->m->n_bootstrapping++;
    bs->state = (uint8_t)st;
}

static void on_bs_timer(void *ctx);

int gw_lwm2m_set_bootstrap(gw_lwm2m_t *m, const gw_lwm2m_server_opts_t *bs, bool all, const char *state_dir)
{
    struct gw_server *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int rc = gw_server_init(m, s, 0, bs);
    if (rc < 0) {
        gw_server_fini(s);
        free(s);
        return rc;
    }
    s->bootstrap = true;
    if (asprintf(&m->prov_dir, "%s/provisioned", state_dir ? state_dir : ".") < 0) {
        m->prov_dir = NULL;
        gw_server_fini(s);
        free(s);
        return -ENOMEM;
    }
    m->bs_server = s;
    m->bootstrap_all = all;
    m->bs_finish_timeout_s = bs->finish_timeout_s > 0 ? bs->finish_timeout_s : BS_FINISH_TIMEOUT_S;
    return 0;
}

void gw_lwm2m_bootstrap_free(gw_lwm2m_t *m)
{
    if (m->bs_server) {
        gw_server_fini(m->bs_server);
        free(m->bs_server);
        m->bs_server = NULL;
    }
    free(m->prov_dir);
    m->prov_dir = NULL;
}

/* The /0 instance of the bootstrap account, GW_ID_NONE when there is none
 * (the configured credentials then apply). */
static uint16_t bs_security_iid(const gw_vclient_t *vc)
{
    size_t n = gw_store_instance_count(vc->sc);
    for (size_t i = 0; i < n; i++) {
        uint16_t oid, iid;
        gw_value_t v;
        if (gw_store_instance_at(vc->sc, i, &oid, &iid) < 0 || oid != 0)
            continue;
        gw_path_t p = gw_path_make(0, iid, 1, GW_ID_NONE);
        if (gw_store_get(vc->sc, &p, &v, NULL) == 0 && v.type == GW_TYPE_BOOLEAN && v.v.b)
            return iid;
    }
    return GW_ID_NONE;
}

int gw_bs_client_new(gw_vclient_t *vc, bool bootstrap)
{
    if (!bootstrap || !vc->m->bs_server)
        return 0;
    struct gw_bs *bs = calloc(1, sizeof *bs);
    if (!bs)
        return -ENOMEM;
    vc->bs = bs;
    gw_reg_init(&bs->reg, vc, vc->m->bs_server);
    gw_timer_init(&bs->timer, on_bs_timer, vc);
    /* The bootstrap account from the configuration, as /0/0 (no /1
     * instance: Core E.2 has none for a bootstrap server); a bootstrap
     * server may overwrite it. */
    return gw_accounts_add_bootstrap(vc, vc->m->bs_server, 0);
}

void gw_bs_client_free(gw_vclient_t *vc)
{
    struct gw_bs *bs = vc->bs;
    if (!bs)
        return;
    gw_timer_stop(vc->m->loop, &bs->timer);
    bs_set(vc, BS_IDLE);
    gw_reg_release_session(&bs->reg);
    free(bs);
    vc->bs = NULL;
}

/* ---- the client's side: Request, retries, registering ---- */

static void retry_later(gw_vclient_t *vc, const char *why)
{
    struct gw_bs *bs = vc->bs;
    gw_lwm2m_t *m = vc->m;
    bs->backoff_s = bs->backoff_s ? bs->backoff_s * 2 : GW_BACKOFF_MIN_S;
    if (bs->backoff_s > GW_BACKOFF_MAX_S)
        bs->backoff_s = GW_BACKOFF_MAX_S;
    int64_t ms = (int64_t)bs->backoff_s * 1000;
    ms = ms * 3 / 4 + (int64_t)(gw_lwm2m_random(m) % (uint32_t)(ms / 2 + 1));
    gw_warn("%s: bootstrap with %s failed (%s); trying again in %.1f s", vc->endpoint, bs_uri(vc), why,
            (double)ms / 1000.0);
    bs->reg.token_len = 0;
    bs_set(vc, BS_BACKOFF);
    gw_timer_start(m->loop, &bs->timer, ms);
}

static int add_query(coap_pdu_t *pdu, const char *name, const char *value)
{
    char buf[160];
    int n = snprintf(buf, sizeof buf, "%s=%s", name, value);
    if (n < 0 || (size_t)n >= sizeof buf)
        return -EINVAL;
    return coap_add_option(pdu, COAP_OPTION_URI_QUERY, (size_t)n, (const uint8_t *)buf) ? 0 : -ENOMEM;
}

static void send_request(gw_vclient_t *vc)
{
    struct gw_bs *bs = vc->bs;
    struct gw_reg *r = &bs->reg;
    r->sec_iid = bs_security_iid(vc);
    r->drop_session = true; /* a fresh DTLS session with the credentials as they are now */
    int rc = gw_reg_ensure_session(r);
    if (rc < 0) {
        retry_later(vc, rc == -EHOSTUNREACH ? "address not resolved" : "no session");
        return;
    }
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, coap_new_message_id(r->session),
                                    coap_session_max_pdu_size(r->session));
    size_t tl = 0;
    if (pdu) {
        coap_session_new_token(r->session, &tl, r->token);
        r->token_len = (uint8_t)tl;
    }
    if (!pdu || !coap_add_token(pdu, tl, r->token) ||
        !coap_add_option(pdu, COAP_OPTION_URI_PATH, 2, (const uint8_t *)"bs") ||
        add_query(pdu, "ep", vc->endpoint) < 0) {
        coap_delete_pdu(pdu);
        retry_later(vc, "out of memory");
        return;
    }
    if (coap_send(r->session, pdu) == COAP_INVALID_MID) {
        r->drop_session = true;
        retry_later(vc, "cannot send");
        return;
    }
    bs_set(vc, BS_REQUESTING);
    bs->server_initiated = false;
    gw_info("%s: Bootstrap-Request sent to %s", vc->endpoint, bs_uri(vc));
}

/* /0 (but the bootstrap account), /1 and /2 emptied. */
static void delete_object(gw_vclient_t *vc, uint16_t oid)
{
    uint16_t keep = oid == 0 ? bs_security_iid(vc) : GW_ID_NONE;
    for (size_t i = gw_store_instance_count(vc->sc); i-- > 0;) {
        uint16_t o, iid;
        if (gw_store_instance_at(vc->sc, i, &o, &iid) < 0 || o != oid || iid == keep)
            continue;
        gw_store_instance_delete(vc->m->store, vc->sc, oid, iid);
    }
}

/* Every registration ends (De-register sent best effort) and forgets its
 * session: the accounts are about to change. */
static void drop_registrations(gw_vclient_t *vc)
{
    for (size_t i = 0; i < vc->n_regs; i++) {
        struct gw_reg *r = &vc->regs[i];
        gw_obs_drop_all(r);
        gw_reg_deregister(r);
    }
    gw_vclient_regs_release(vc);
}

static void start_registrations(gw_vclient_t *vc)
{
    if (gw_accounts_apply(vc) <= 0)
        return;
    gw_vclient_regs_start(vc);
}

static void begin_bootstrap(gw_vclient_t *vc)
{
    drop_registrations(vc);
    vc->bs->backoff_s = 0;
    send_request(vc);
}

void gw_bs_start(gw_vclient_t *vc)
{
    struct gw_bs *bs = vc->bs;
    if (bs->state != BS_IDLE)
        return;
    int rc = gw_prov_load(vc->m->prov_dir, vc);
    char why[160];
    if (rc == 1 && gw_accounts_check(vc, why, sizeof why) > 0) {
        gw_info("%s: registering from its persisted provisioning (no bootstrap)", vc->endpoint);
        bs_set(vc, BS_DONE);
        start_registrations(vc);
        return;
    }
    if (rc == 1)
        gw_warn("%s: persisted provisioning is not usable (%s): bootstrapping again", vc->endpoint, why);
    if (rc != 0) { /* what was loaded of a refused file goes */
        delete_object(vc, 0);
        delete_object(vc, 1);
        delete_object(vc, 2);
    }
    begin_bootstrap(vc);
}

bool gw_bs_registration_failed(struct gw_reg *r)
{
    gw_vclient_t *vc = r->vc;
    if (!vc->bs || vc->m->shutting_down)
        return false;
    /* /1/x/16 Bootstrap on Registration Failure, default true (Core E.2). */
    gw_value_t v;
    gw_path_t p = gw_path_make(1, r->srv_iid, 16, GW_ID_NONE);
    if (gw_store_get(vc->sc, &p, &v, NULL) == 0 && v.type == GW_TYPE_BOOLEAN && !v.v.b)
        return false;
    gw_notice("%s: registration with %s failed for good: bootstrapping again", vc->endpoint, r->srv->uri);
    bs_set(vc, BS_IDLE);
    begin_bootstrap(vc);
    return true;
}

static void on_bs_timer(void *ctx)
{
    gw_vclient_t *vc = ctx;
    struct gw_bs *bs = vc->bs;
    if (bs->state == BS_WAITING) {
        char why[64];
        snprintf(why, sizeof why, "no Bootstrap-Finish within %d s", (int)vc->m->bs_finish_timeout_s);
        retry_later(vc, why);
    } else if (bs->state == BS_BACKOFF) {
        send_request(vc);
    }
}

coap_response_t gw_bs_on_response(struct gw_reg *r, const coap_pdu_t *received)
{
    gw_vclient_t *vc = r->vc;
    struct gw_bs *bs = vc->bs;
    coap_bin_const_t tok = coap_pdu_get_token(received);
    if (!bs || bs->state != BS_REQUESTING || r->token_len == 0 || tok.length != r->token_len ||
        memcmp(tok.s, r->token, tok.length) != 0)
        return COAP_RESPONSE_OK;
    r->token_len = 0;
    coap_pdu_code_t code = coap_pdu_get_code(received);
    if (code == C(204)) {
        bs_set(vc, BS_WAITING);
        gw_info("%s: Bootstrap-Request accepted by %s; waiting for its writes and Bootstrap-Finish",
                vc->endpoint, bs_uri(vc));
        gw_timer_start(vc->m->loop, &bs->timer, (int64_t)vc->m->bs_finish_timeout_s * 1000);
    } else {
        char why[48];
        snprintf(why, sizeof why, "Bootstrap-Request answered %d.%02d", COAP_RESPONSE_CLASS(code), code & 31);
        retry_later(vc, why);
    }
    return COAP_RESPONSE_OK;
}

void gw_bs_registered(struct gw_reg *r)
{
    gw_vclient_t *vc = r->vc;
    struct gw_bs *bs = vc->bs;
    if (!bs || bs->state != BS_DONE || vc->m->shutting_down)
        return;
    /* A DTLS session whose handshake failed or that the server closed is
     * disconnected (state NONE): a new one. */
    if (bs->reg.session && !bs->reg.drop_session &&
        coap_session_get_state(bs->reg.session) != COAP_SESSION_STATE_NONE)
        return;
    bs->reg.drop_session = bs->reg.session != NULL;
    bs->reg.sec_iid = bs_security_iid(vc);
    bs->reg.token_len = 0;
    if (gw_reg_ensure_session(&bs->reg) < 0)
        return; /* said by gw_reg_ensure_session; tried again at the next Update */
    char local[64] = "?";
    const coap_address_t *a = coap_session_get_addr_local(bs->reg.session);
    size_t n = a ? coap_print_addr(a, (unsigned char *)local, sizeof local - 1) : 0;
    local[n] = '\0';
    gw_info("%s: bootstrap session to %s open from %s (server-initiated bootstrap possible)", vc->endpoint,
            bs_uri(vc), n ? local : "?");
}

void gw_bs_accounts_written(gw_vclient_t *vc)
{
    /* DONE: its accounts are the bootstrap server's (or its file's); in
     * the middle of a bootstrap the Finish persists them. */
    if (vc->bs && vc->bs->state == BS_DONE)
        gw_prov_save(vc->m->prov_dir, vc->endpoint, vc->sc);
}

void gw_bs_on_nack(struct gw_reg *r, coap_nack_reason_t reason)
{
    gw_vclient_t *vc = r->vc;
    if (!vc->bs || vc->bs->state != BS_REQUESTING || r->token_len == 0)
        return;
    r->drop_session = true;
    retry_later(vc, reason == COAP_NACK_TOO_MANY_RETRIES ? "no answer"
                    : reason == COAP_NACK_TLS_FAILED     ? "DTLS handshake failed"
                    : reason == COAP_NACK_RST            ? "reset by the server"
                                                         : "not deliverable (ICMP error?)");
}

/* ---- the bootstrap server's requests ---- */

typedef struct bs_req {
    gw_vclient_t *vc;
    const gw_registry_t *reg;
    gw_path_t path;
    char diag[160];
} bs_req_t;

static int refuse(bs_req_t *q, int code, const char *fmt, const char *arg)
{
    snprintf(q->diag, sizeof q->diag, fmt, arg ? arg : "");
    return code;
}

static void answer(coap_pdu_t *response, int code, const char *diag, int cf, gw_buf_t *body)
{
    coap_pdu_set_code(response, (coap_pdu_code_t)code);
    if (body && cf >= 0) {
        uint8_t b[4];
        coap_add_option(response, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(b, sizeof b, (unsigned)cf), b);
        coap_add_data(response, body->len, body->data ? body->data : (const uint8_t *)"");
    } else if (diag && diag[0]) {
        coap_add_data(response, strlen(diag), (const uint8_t *)diag);
    }
}

static bool writable_object(uint16_t oid) { return oid <= 2; }

/* Bootstrap-Write (PUT): created as needed, values replaced, whatever the
 * resource's operations (the bootstrap server writes what no management
 * server may). Validated in full before anything is stored. */
static int bs_write(bs_req_t *q, int cf, const uint8_t *data, size_t len)
{
    gw_decoded_t dec = {0};
    int code = 0;
    if (q->path.len == 0 || !writable_object(q->path.id[0]))
        return refuse(q, C(405), "Bootstrap-Write takes /0, /1 and /2 only%s", NULL);
    if (cf < 0) {
        if (q->path.len < 3)
            return refuse(q, C(400), "Content-Format missing%s", NULL);
        cf = GW_CF_TEXT;
    }
    int rc = gw_codec_decode(cf, &q->path, data, len, gw_dm_type_lookup, (void *)q->reg, &dec);
    if (rc == -EPROTONOSUPPORT)
        code = refuse(q, C(415), "Content-Format not supported%s", NULL);
    else if (rc < 0)
        code = refuse(q, C(400), "%s", dec.error[0] ? dec.error : "malformed payload");
    for (size_t i = 0; !code && i < dec.n; i++) {
        const gw_record_t *rec = &dec.recs[i];
        char ps[32], why[120];
        gw_path_format(&rec->path, ps, sizeof ps);
        const gw_objdef_t *o = gw_registry_find(q->reg, rec->path.id[0]);
        const gw_resdef_t *d = o && rec->path.len >= 3 ? gw_objdef_find_res(o, rec->path.id[2]) : NULL;
        if (!d || !gw_path_has_prefix(&rec->path, &q->path) || (d->ops & GW_OP_E))
            code = refuse(q, C(400), "%s: not a writable resource of the request's path", ps);
        else if (d->multiple != (rec->path.len == 4) || rec->value.type != (gw_type_t)d->type)
            code = refuse(q, C(400), "%s: wrong shape or type for this resource", ps);
        else if (gw_value_check_res(d, &rec->path, &rec->value, why, sizeof why) < 0)
            code = refuse(q, C(400), "%s", why);
    }
    gw_store_t *s = q->vc->m->store;
    for (size_t i = 0; !code && i < dec.n; i++) {
        const gw_path_t *p = &dec.recs[i].path;
        if (!gw_store_instance_exists(q->vc->sc, p->id[0], p->id[1]) &&
            gw_store_instance_create(s, q->vc->sc, p->id[0], p->id[1]) < 0)
            code = refuse(q, C(500), "cannot create the instance%s", NULL);
        else if (gw_store_set(s, q->vc->sc, p, &dec.recs[i].value, 0) < 0)
            code = refuse(q, C(500), "value refused by the store%s", NULL);
    }
    char ps[32];
    if (!code)
        gw_info("%s: Bootstrap-Write %s (%zu values)", q->vc->endpoint, gw_path_format(&q->path, ps, sizeof ps),
                dec.n);
    gw_decoded_free(&dec);
    return code ? code : C(204);
}

/* Bootstrap-Delete: "/" and /0, /1, /2 and their instances; the bootstrap
 * account (/0 with Bootstrap-Server true) stays (Core 5.2.7.5). */
static int bs_delete(bs_req_t *q)
{
    gw_vclient_t *vc = q->vc;
    const gw_path_t *p = &q->path;
    char ps[32];
    if (p->len == 0) {
        for (uint16_t oid = 0; oid <= 2; oid++)
            delete_object(vc, oid);
    } else if (p->len == 1 && writable_object(p->id[0])) {
        delete_object(vc, p->id[0]);
    } else if (p->len == 2 && writable_object(p->id[0])) {
        if (p->id[0] == 0 && p->id[1] == bs_security_iid(vc))
            return refuse(q, C(400), "the Bootstrap-Server account cannot be deleted%s", NULL);
        if (gw_store_instance_exists(vc->sc, p->id[0], p->id[1]))
            gw_store_instance_delete(vc->m->store, vc->sc, p->id[0], p->id[1]);
    } else {
        return refuse(q, C(400), "Bootstrap-Delete takes /, /0, /1, /2 or an instance of them%s", NULL);
    }
    gw_info("%s: Bootstrap-Delete %s", vc->endpoint, gw_path_format(p, ps, sizeof ps));
    return C(202);
}

/* Bootstrap-Discover (Core 5.2.7.3): every object instance, /0 with its
 * ssid (server accounts) and uri, /1 with its ssid; no values. */
static int bs_discover(bs_req_t *q, gw_buf_t *out)
{
    gw_vclient_t *vc = q->vc;
    if (q->path.len > 1)
        return refuse(q, C(400), "Bootstrap-Discover takes / or an object%s", NULL);
    if (q->path.len == 1 && !gw_registry_find(q->reg, q->path.id[0]))
        return refuse(q, C(404), "object not supported%s", NULL);
    int rc = gw_buf_appendf(out, "</>;lwm2m=1.1");
    size_t n = gw_store_instance_count(vc->sc);
    for (size_t i = 0; !rc && i < n; i++) {
        uint16_t oid, iid;
        gw_value_t v;
        if (gw_store_instance_at(vc->sc, i, &oid, &iid) < 0 || oid == 21 ||
            (q->path.len == 1 && oid != q->path.id[0]))
            continue;
        if (iid == GW_ID_NONE) {
            rc = gw_buf_appendf(out, ",</%u>", oid);
            continue;
        }
        rc = gw_buf_appendf(out, ",</%u/%u>", oid, iid);
        gw_path_t p = gw_path_make(oid, iid, oid == 0 ? 10 : 0, GW_ID_NONE);
        if (!rc && oid <= 1 && gw_store_get(vc->sc, &p, &v, NULL) == 0 && v.type == GW_TYPE_INTEGER)
            rc = gw_buf_appendf(out, ";ssid=%lld", (long long)v.v.i);
        p.id[2] = 0;
        if (!rc && oid == 0 && gw_store_get(vc->sc, &p, &v, NULL) == 0 && v.type == GW_TYPE_STRING)
            rc = gw_buf_appendf(out, ";uri=\"%.*s\"", (int)v.v.bytes.len, (const char *)v.v.bytes.ptr);
    }
    return rc ? refuse(q, C(500), "out of memory%s", NULL) : 0;
}

/* Bootstrap-Read (1.1): the Server and Access Control objects only, never
 * Security (its keys). */
static int bs_read(bs_req_t *q, int accept, gw_buf_t *out, int *out_cf)
{
    gw_record_t *recs = NULL;
    size_t n = 0;
    if (q->path.len == 0 || (q->path.id[0] != 1 && q->path.id[0] != 2))
        return refuse(q, C(401), "Bootstrap-Read takes /1 and /2 only%s", NULL);
    if (q->path.len >= 2 && !gw_store_instance_exists(q->vc->sc, q->path.id[0], q->path.id[1]))
        return refuse(q, C(404), "no such object instance%s", NULL);
    int cf = accept >= 0 ? accept : GW_CF_LWM2M_TLV;
    if (cf != GW_CF_LWM2M_TLV && cf != GW_CF_SENML_JSON && cf != GW_CF_SENML_CBOR)
        return refuse(q, C(406), "Accept not supported: use 110, 112 or 11542%s", NULL);
    if (gw_store_read(q->vc->sc, &q->path, &recs, &n) < 0)
        return refuse(q, C(404), "nothing at this path%s", NULL);
    int rc = gw_codec_encode(cf, &q->path, recs, n, out);
    free(recs);
    if (rc < 0)
        return refuse(q, C(500), "cannot encode%s", NULL);
    *out_cf = cf;
    return 0;
}

/* Bootstrap-Finish: the consistency check of Core 6.1.7; 4.06 with the
 * reason when no Server account would be usable. */
static int bs_finish(bs_req_t *q)
{
    gw_vclient_t *vc = q->vc;
    struct gw_bs *bs = vc->bs;
    char why[160];
    int n = gw_accounts_check(vc, why, sizeof why);
    if (n <= 0) {
        gw_warn("%s: Bootstrap-Finish from %s refused (4.06): %s", vc->endpoint, bs_uri(vc), why);
        return refuse(q, C(406), "%s", why);
    }
    gw_timer_stop(vc->m->loop, &bs->timer);
    bs_set(vc, BS_DONE);
    bs->backoff_s = 0;
    gw_notice("%s: bootstrap finished (%s): %d server account%s; registering", vc->endpoint,
              bs->server_initiated ? "server-initiated" : "client-initiated", n, n == 1 ? "" : "s");
    gw_prov_save(vc->m->prov_dir, vc->endpoint, vc->sc);
    drop_registrations(vc);
    start_registrations(vc);
    return C(204);
}

void gw_bs_handle(struct gw_reg *r, coap_session_t *session, const coap_pdu_t *request, coap_pdu_t *response)
{
    gw_vclient_t *vc = r->vc;
    struct gw_bs *bs = vc->bs;
    bs_req_t q = {.vc = vc, .reg = gw_store_registry(vc->m->store)};
    gw_req_seg_t segs[5];
    size_t n_segs = 0;
    bool too_many = false;
    coap_opt_iterator_t it;
    coap_opt_filter_t filter;
    coap_opt_t *opt;
    size_t len = 0;
    const uint8_t *data = NULL;
    (void)session;
    if (!bs) {
        coap_pdu_set_code(response, C(404));
        return;
    }
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_URI_PATH);
    coap_option_iterator_init(request, &it, &filter);
    while (!too_many && (opt = coap_option_next(&it)) != NULL) {
        too_many = n_segs == sizeof segs / sizeof segs[0];
        if (!too_many)
            segs[n_segs++] = (gw_req_seg_t){coap_opt_value(opt), coap_opt_length(opt)};
    }
    coap_get_data(request, &len, &data);
    int accept = gw_dm_opt_uint(request, COAP_OPTION_ACCEPT, -1);
    int cf = gw_dm_opt_uint(request, COAP_OPTION_CONTENT_FORMAT, -1);
    coap_pdu_code_t method = coap_pdu_get_code(request);
    bool finish = method == COAP_REQUEST_CODE_POST && n_segs == 1 && segs[0].len == 2 &&
                  memcmp(segs[0].p, "bs", 2) == 0;
    int code;
    gw_buf_t body = {0};
    int body_cf = -1;
    if (bs->state == BS_DONE || bs->state == BS_IDLE || bs->state == BS_BACKOFF) {
        /* Nothing asked for: the bootstrap server starts one itself. */
        gw_timer_stop(vc->m->loop, &bs->timer);
        bs->server_initiated = true;
        bs_set(vc, BS_WAITING);
        gw_notice("%s: bootstrap started by %s (server-initiated)", vc->endpoint, bs_uri(vc));
    }
    if (bs->state == BS_WAITING) /* every request restarts the Finish timeout */
        gw_timer_start(vc->m->loop, &bs->timer, (int64_t)vc->m->bs_finish_timeout_s * 1000);
    if (finish) {
        code = bs_finish(&q);
    } else if (too_many || gw_req_path_parse(segs, n_segs, &q.path) < 0) {
        code = refuse(&q, C(404), "not an LwM2M path%s", NULL);
    } else if (method == COAP_REQUEST_CODE_PUT) {
        code = bs_write(&q, cf, data, len);
    } else if (method == COAP_REQUEST_CODE_DELETE) {
        code = bs_delete(&q);
    } else if (method == COAP_REQUEST_CODE_GET && accept == GW_CF_LINK) {
        code = bs_discover(&q, &body);
        body_cf = GW_CF_LINK;
    } else if (method == COAP_REQUEST_CODE_GET) {
        code = bs_read(&q, accept, &body, &body_cf);
    } else {
        code = refuse(&q, C(405), "not a bootstrap operation%s", NULL);
    }
    if (code == 0) {
        answer(response, C(205), NULL, body_cf, &body);
    } else {
        answer(response, code, q.diag, -1, NULL);
        if (COAP_RESPONSE_CLASS(code) != 2)
            gw_debug("%s: bootstrap request -> %d.%02d %s", vc->endpoint, code >> 5, code & 31, q.diag);
    }
    gw_buf_free(&body);
}
