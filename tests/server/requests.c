/*
 * tests/server/requests.c - stdin commands and the requests the test server
 * sends to registered clients (Read, Write, Execute, Observe, ... and the
 * bench_read load generator).
 *
 * Command lines are JSON objects; "req" (any JSON value) is echoed in the
 * event that answers it. Requests leave on the server-side session libcoap
 * created for the client's Register, i.e. from the listening socket, which
 * is what a client whose UDP socket is connected to the server expects.
 *
 * Pending requests are keyed by token (hash map). Each has its own deadline
 * besides libcoap's retransmission limit, so a test sees
 * {"error":"timeout"} in a bounded time even with RFC 7252's 93 s limit.
 */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum ts_kind { TS_ONE, TS_OBSERVE, TS_BENCH };

typedef struct ts_pending {
    char key[20];              /* token as hex: the map key */
    uint8_t token[8];
    enum ts_kind kind;
    cJSON *req;                /* echoed tag, owned */
    cJSON *cancel_req;         /* set while an observe is being cancelled */
    char *ep;
    char *path;
    coap_session_t *session;   /* referenced: a forgotten client may still answer */
    uint64_t start_us;
    uint64_t deadline_us;      /* 0 = none (an established observation) */
    int got_first;
    struct ts_pending *prev, *next;
} ts_pending_t;

typedef struct ts_bench {
    int active;
    cJSON *req;
    char *path;
    int accept;
    uint64_t timeout_us;
    size_t count, issued, done, ok, failed, inflight, parallel, rr;
    uint32_t *lat_us;
    size_t n_lat;
    uint64_t start_us;
} ts_bench_t;

struct ts_requests {
    ts_map_t by_token;
    ts_pending_t *head, *tail;
    uint64_t next_token;
    ts_bench_t bench;
};

static ts_server_t *ts_rq_srv; /* handlers get no user pointer in libcoap 4.3.1 */

static void ts_bench_pump(ts_server_t *s);

/* ---- pending list ------------------------------------------------------- */

static void ts_pending_free(ts_server_t *s, ts_pending_t *p)
{
    struct ts_requests *rq = s->rq;
    ts_map_del(&rq->by_token, p->key);
    if (p->prev)
        p->prev->next = p->next;
    else
        rq->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        rq->tail = p->prev;
    cJSON_Delete(p->req);
    cJSON_Delete(p->cancel_req);
    free(p->ep);
    free(p->path);
    if (p->session)
        coap_session_release(p->session);
    free(p);
}

static cJSON *ts_reply(const cJSON *req, const char *event)
{
    cJSON *ev = ts_event(event);
    cJSON_AddItemToObject(ev, "req", req ? cJSON_Duplicate(req, 1) : cJSON_CreateNull());
    return ev;
}

static void ts_reply_error(const cJSON *req, const char *error)
{
    cJSON *ev = ts_reply(req, "response");
    cJSON_AddStringToObject(ev, "error", error);
    ts_emit(ev);
}

static void ts_bench_done_one(ts_server_t *s, int ok, uint64_t start_us)
{
    ts_bench_t *b = &s->rq->bench;
    b->inflight--;
    b->done++;
    if (ok) {
        b->ok++;
        uint64_t d = ts_mono_us() - start_us;
        b->lat_us[b->n_lat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    } else {
        b->failed++;
    }
}

/* Ends a request that will get no (more) answer. */
static void ts_pending_fail(ts_server_t *s, ts_pending_t *p, const char *error)
{
    if (p->kind == TS_BENCH) {
        ts_bench_done_one(s, 0, p->start_us);
    } else {
        ts_reply_error(p->cancel_req ? p->cancel_req : p->req, error);
    }
    int bench = p->kind == TS_BENCH;
    ts_pending_free(s, p);
    if (bench)
        ts_bench_pump(s);
}

int ts_requests_tick(ts_server_t *s)
{
    uint64_t now = ts_mono_us(), next = now + 1000000;
    ts_pending_t *p = s->rq->head, *n;
    for (; p; p = n) {
        n = p->next;
        if (!p->deadline_us)
            continue;
        if (p->deadline_us <= now) {
            /* the pump may add entries at the tail and free none but p */
            ts_pending_fail(s, p, "timeout");
            continue;
        }
        if (p->deadline_us < next)
            next = p->deadline_us;
    }
    return (int)((next - now + 999) / 1000);
}

/* ---- building and sending requests ------------------------------------- */

typedef struct ts_reqspec {
    coap_pdu_code_t code;
    coap_pdu_type_t type;
    const char *path;
    const char *query;         /* "a=1&b=2" or NULL */
    int accept;                /* -1 = none */
    int cf;                    /* -1 = none */
    int observe;               /* -1 = none */
    uint8_t *payload;          /* malloc'd, ownership passes to ts_send_req */
    size_t plen;
    const cJSON *options;      /* raw: [[number, value], ...] */
} ts_reqspec_t;

static void ts_release_payload(coap_session_t *session, void *app_ptr)
{
    (void)session;
    free(app_ptr);
}

static int ts_add_uint_opt(coap_optlist_t **ol, uint16_t num, unsigned v)
{
    uint8_t buf[4];
    unsigned len = coap_encode_var_safe(buf, sizeof(buf), v);
    return coap_insert_optlist(ol, coap_new_optlist(num, len, buf)) ? 0 : -ENOMEM;
}

/* Splits s on sep into options num; empty segments are skipped. */
static int ts_add_split(coap_optlist_t **ol, uint16_t num, const char *s, char sep)
{
    while (s && *s) {
        const char *e = strchr(s, sep);
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l && !coap_insert_optlist(ol, coap_new_optlist(num, l, (const uint8_t *)s)))
            return -ENOMEM;
        s = e ? e + 1 : NULL;
    }
    return 0;
}

static int ts_add_raw_opts(coap_optlist_t **ol, const cJSON *opts)
{
    const cJSON *o;
    cJSON_ArrayForEach(o, opts)
    {
        const cJSON *num = cJSON_GetArrayItem(o, 0), *val = cJSON_GetArrayItem(o, 1);
        if (!cJSON_IsNumber(num) || num->valuedouble < 0 || num->valuedouble > 65535)
            return -EINVAL;
        uint16_t n = (uint16_t)num->valuedouble;
        if (!val) {
            if (!coap_insert_optlist(ol, coap_new_optlist(n, 0, NULL)))
                return -ENOMEM;
        } else if (cJSON_IsNumber(val)) {
            if (ts_add_uint_opt(ol, n, (unsigned)val->valuedouble) < 0)
                return -ENOMEM;
        } else if (cJSON_IsString(val)) {
            if (!coap_insert_optlist(ol, coap_new_optlist(n, strlen(val->valuestring),
                                                          (uint8_t *)val->valuestring)))
                return -ENOMEM;
        } else if (cJSON_IsString(cJSON_GetObjectItem(val, "hex"))) {
            uint8_t *b;
            size_t bl;
            if (ts_unhex(cJSON_GetObjectItem(val, "hex")->valuestring, &b, &bl) < 0)
                return -EINVAL;
            coap_optlist_t *x = coap_new_optlist(n, bl, b);
            free(b);
            if (!coap_insert_optlist(ol, x))
                return -ENOMEM;
        } else {
            return -EINVAL;
        }
    }
    return 0;
}

/* Sends spec to session. Returns the pending entry (already in the map) or
 * NULL with *out_err set. spec->payload is always consumed. */
static ts_pending_t *ts_send_req(ts_server_t *s, coap_session_t *session, const char *ep,
                                 ts_reqspec_t *spec, enum ts_kind kind, const cJSON *req,
                                 uint64_t timeout_us, const char **out_err)
{
    struct ts_requests *rq = s->rq;
    coap_optlist_t *ol = NULL;
    coap_pdu_t *pdu = NULL;
    ts_pending_t *p = calloc(1, sizeof(*p));
    uint64_t t = rq->next_token++;

    *out_err = "out of memory";
    if (!p)
        goto fail;
    for (int i = 0; i < 8; i++)
        p->token[i] = (uint8_t)(t >> (56 - 8 * i));
    char *hex = ts_hex(p->token, 8);
    if (!hex)
        goto fail;
    snprintf(p->key, sizeof(p->key), "%s", hex);
    free(hex);
    p->kind = kind;
    p->ep = strdup(ep);
    p->path = strdup(spec->path);
    p->req = req ? cJSON_Duplicate(req, 1) : NULL;
    if (!p->ep || !p->path)
        goto fail;

    pdu = coap_pdu_init(spec->type, spec->code, coap_new_message_id(session),
                        coap_session_max_pdu_size(session));
    if (!pdu || !coap_add_token(pdu, 8, p->token))
        goto fail;
    if ((spec->observe >= 0 && ts_add_uint_opt(&ol, COAP_OPTION_OBSERVE, (unsigned)spec->observe)) ||
        ts_add_split(&ol, COAP_OPTION_URI_PATH, spec->path, '/') ||
        (spec->cf >= 0 && ts_add_uint_opt(&ol, COAP_OPTION_CONTENT_FORMAT, (unsigned)spec->cf)) ||
        ts_add_split(&ol, COAP_OPTION_URI_QUERY, spec->query, '&') ||
        (spec->accept >= 0 && ts_add_uint_opt(&ol, COAP_OPTION_ACCEPT, (unsigned)spec->accept)))
        goto fail;
    if (spec->options && ts_add_raw_opts(&ol, spec->options) < 0) {
        *out_err = "bad options";
        goto fail;
    }
    if (ol && !coap_add_optlist_pdu(pdu, &ol))
        goto fail;
    if (spec->plen) {
        /* libcoap sends Block1 itself when the body exceeds one PDU */
        uint8_t *pl = spec->payload;
        spec->payload = NULL;
        if (!coap_add_data_large_request(session, pdu, spec->plen, pl, ts_release_payload, pl))
            goto fail;
    }
    if (ts_map_put(&rq->by_token, p->key, p) < 0)
        goto fail;
    p->session = coap_session_reference(session);
    p->start_us = ts_mono_us();
    p->deadline_us = p->start_us + timeout_us;
    p->prev = rq->tail;
    if (rq->tail)
        rq->tail->next = p;
    else
        rq->head = p;
    rq->tail = p;
    coap_delete_optlist(ol);
    free(spec->payload);
    spec->payload = NULL;
    if (coap_send(session, pdu) == COAP_INVALID_MID) {
        /* coap_send() consumed the pdu either way */
        *out_err = "send failed";
        ts_pending_free(s, p);
        return NULL;
    }
    return p;
fail:
    coap_delete_optlist(ol);
    if (pdu)
        coap_delete_pdu(pdu);
    free(spec->payload);
    spec->payload = NULL;
    if (p) {
        cJSON_Delete(p->req);
        free(p->ep);
        free(p->path);
        free(p);
    }
    return NULL;
}

/* ---- responses --------------------------------------------------------- */

static cJSON *ts_response_event(const char *name, const ts_pending_t *p, const cJSON *req,
                                const coap_pdu_t *rcvd)
{
    cJSON *ev = ts_reply(req, name);
    coap_opt_iterator_t it;
    coap_opt_t *o;
    char code[8];
    const uint8_t *data = NULL;
    size_t len = 0, off = 0, total = 0;

    ts_code_str(coap_pdu_get_code(rcvd), code);
    cJSON_AddStringToObject(ev, "code", code);
    cJSON_AddStringToObject(ev, "ep", p->ep);
    if ((o = coap_check_option(rcvd, COAP_OPTION_CONTENT_FORMAT, &it)))
        cJSON_AddNumberToObject(ev, "cf",
                                coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o)));
    if ((o = coap_check_option(rcvd, COAP_OPTION_OBSERVE, &it)))
        cJSON_AddNumberToObject(ev, "observe",
                                coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o)));
    {
        coap_opt_filter_t f;
        char loc[256];
        size_t l = 0;
        coap_option_filter_clear(&f);
        coap_option_filter_set(&f, COAP_OPTION_LOCATION_PATH);
        coap_option_iterator_init(rcvd, &it, &f);
        while ((o = coap_option_next(&it)) && l + coap_opt_length(o) + 2 < sizeof(loc)) {
            loc[l++] = '/';
            memcpy(loc + l, coap_opt_value(o), coap_opt_length(o));
            l += coap_opt_length(o);
        }
        if (l) {
            loc[l] = '\0';
            cJSON_AddStringToObject(ev, "location", loc);
        }
    }
    if (!coap_get_data_large(rcvd, &len, &data, &off, &total))
        len = 0;
    ts_add_payload(ev, data, len);
    return ev;
}

static coap_response_t ts_on_response(coap_session_t *session, const coap_pdu_t *sent,
                                      const coap_pdu_t *rcvd, const coap_mid_t mid)
{
    ts_server_t *s = ts_rq_srv;
    coap_bin_const_t tok = coap_pdu_get_token(rcvd);
    coap_opt_iterator_t it;
    char *key;
    ts_pending_t *p;
    (void)session;
    (void)sent;
    (void)mid;

    if (tok.length != 8)
        return COAP_RESPONSE_FAIL;
    key = ts_hex(tok.s, tok.length);
    p = key ? ts_map_get(&s->rq->by_token, key) : NULL;
    free(key);
    if (!p)
        return COAP_RESPONSE_FAIL; /* RST tells a client to drop a stale observation */

    int has_obs = coap_check_option(rcvd, COAP_OPTION_OBSERVE, &it) != NULL;
    unsigned code = coap_pdu_get_code(rcvd);
    switch (p->kind) {
    case TS_BENCH: {
        uint64_t start = p->start_us;
        ts_pending_free(s, p);
        ts_bench_done_one(s, code == COAP_RESPONSE_CODE(205), start);
        ts_bench_pump(s);
        break;
    }
    case TS_ONE:
        ts_emit(ts_response_event("response", p, p->req, rcvd));
        ts_pending_free(s, p);
        break;
    case TS_OBSERVE:
        if (p->cancel_req && !has_obs) {
            ts_emit(ts_response_event("response", p, p->cancel_req, rcvd));
            ts_pending_free(s, p);
        } else if (!p->got_first) {
            ts_emit(ts_response_event("response", p, p->req, rcvd));
            if (!has_obs || code >= COAP_RESPONSE_CODE(400)) {
                ts_pending_free(s, p); /* the client did not accept the observation */
            } else {
                p->got_first = 1;
                p->deadline_us = 0;
            }
        } else {
            ts_emit(ts_response_event("notify", p, p->req, rcvd));
        }
        break;
    }
    return COAP_RESPONSE_OK;
}

static void ts_on_nack(coap_session_t *session, const coap_pdu_t *sent,
                       const coap_nack_reason_t reason, const coap_mid_t mid)
{
    ts_server_t *s = ts_rq_srv;
    (void)session;
    (void)mid;
    if (!sent)
        return;
    coap_bin_const_t tok = coap_pdu_get_token(sent);
    if (tok.length != 8)
        return;
    char *key = ts_hex(tok.s, tok.length);
    ts_pending_t *p = key ? ts_map_get(&s->rq->by_token, key) : NULL;
    free(key);
    if (!p)
        return;
    /* an established observation is not ended by a lost notification ACK */
    if (p->kind == TS_OBSERVE && p->got_first && !p->cancel_req)
        return;
    ts_pending_fail(s, p, reason == COAP_NACK_RST ? "reset" :
                          reason == COAP_NACK_TOO_MANY_RETRIES ? "timeout" : "nack");
}

/* ---- bench_read --------------------------------------------------------- */

static int ts_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void ts_bench_finish(ts_server_t *s)
{
    ts_bench_t *b = &s->rq->bench;
    double secs = (double)(ts_mono_us() - b->start_us) / 1e6;
    cJSON *ev = ts_reply(b->req, "bench_result");
    qsort(b->lat_us, b->n_lat, sizeof(*b->lat_us), ts_cmp_u32);
    cJSON_AddNumberToObject(ev, "ok", (double)b->ok);
    cJSON_AddNumberToObject(ev, "failed", (double)b->failed);
    cJSON_AddNumberToObject(ev, "seconds", secs);
    cJSON_AddNumberToObject(ev, "clients", (double)s->n_clients);
    cJSON_AddNumberToObject(ev, "p50_us", b->n_lat ? b->lat_us[b->n_lat / 2] : 0);
    cJSON_AddNumberToObject(ev, "p99_us", b->n_lat ? b->lat_us[b->n_lat * 99 / 100] : 0);
    cJSON_AddNumberToObject(ev, "per_second", secs > 0 ? (double)b->ok / secs : 0);
    ts_emit(ev);
    cJSON_Delete(b->req);
    free(b->path);
    free(b->lat_us);
    memset(b, 0, sizeof(*b));
}

static void ts_bench_pump(ts_server_t *s)
{
    ts_bench_t *b = &s->rq->bench;
    if (!b->active)
        return;
    while (b->inflight < b->parallel && b->issued < b->count) {
        if (!s->n_clients) {
            b->failed += b->count - b->issued;
            b->done += b->count - b->issued;
            b->issued = b->count;
            break;
        }
        ts_client_t *c = s->clients[b->rr++ % s->n_clients];
        ts_reqspec_t spec = {COAP_REQUEST_CODE_GET, COAP_MESSAGE_CON, b->path, NULL, b->accept,
                             -1, -1, NULL, 0, NULL};
        const char *err;
        b->issued++;
        b->inflight++;
        if (!ts_send_req(s, c->session, c->ep, &spec, TS_BENCH, NULL, b->timeout_us, &err)) {
            b->inflight--;
            b->done++;
            b->failed++;
        }
    }
    if (b->done == b->count && !b->inflight)
        ts_bench_finish(s);
}

static void ts_bench_start(ts_server_t *s, const cJSON *cmd, const cJSON *req)
{
    ts_bench_t *b = &s->rq->bench;
    const cJSON *path = cJSON_GetObjectItem(cmd, "path"), *count = cJSON_GetObjectItem(cmd, "count"),
                *par = cJSON_GetObjectItem(cmd, "parallel"), *acc = cJSON_GetObjectItem(cmd, "accept"),
                *to = cJSON_GetObjectItem(cmd, "timeout");
    if (b->active) {
        ts_reply_error(req, "a bench is already running");
        return;
    }
    if (!cJSON_IsString(path) || !cJSON_IsNumber(count) || count->valuedouble < 1 ||
        count->valuedouble > 1e8) {
        ts_reply_error(req, "bench_read needs path and count");
        return;
    }
    b->count = (size_t)count->valuedouble;
    b->lat_us = malloc(b->count * sizeof(*b->lat_us));
    b->path = strdup(path->valuestring);
    if (!b->lat_us || !b->path) {
        free(b->lat_us);
        free(b->path);
        memset(b, 0, sizeof(*b));
        ts_reply_error(req, "out of memory");
        return;
    }
    b->active = 1;
    b->req = req ? cJSON_Duplicate(req, 1) : NULL;
    b->parallel = cJSON_IsNumber(par) && par->valuedouble >= 1 ? (size_t)par->valuedouble : 100;
    b->accept = cJSON_IsNumber(acc) ? (int)acc->valuedouble : -1;
    b->timeout_us = (uint64_t)((cJSON_IsNumber(to) ? to->valuedouble : 10.0) * 1e6);
    b->start_us = ts_mono_us();
    ts_bench_pump(s);
}

/* ---- commands ----------------------------------------------------------- */

static const char *ts_str(const cJSON *cmd, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cmd, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int ts_int(const cJSON *cmd, const char *k, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cmd, k);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : dflt;
}

/* payload_hex or payload_text -> malloc'd bytes. 0 or -EINVAL. */
static int ts_cmd_payload(const cJSON *cmd, uint8_t **out, size_t *out_len)
{
    const char *h = ts_str(cmd, "payload_hex"), *t = ts_str(cmd, "payload_text");
    *out = NULL;
    *out_len = 0;
    if (h)
        return ts_unhex(h, out, out_len);
    if (t && *t) {
        *out_len = strlen(t);
        *out = malloc(*out_len);
        if (!*out)
            return -ENOMEM;
        memcpy(*out, t, *out_len);
    }
    return 0;
}

static int ts_method(const char *m, coap_pdu_code_t *out)
{
    static const struct {
        const char *name;
        coap_pdu_code_t code;
    } t[] = {{"get", COAP_REQUEST_CODE_GET},       {"post", COAP_REQUEST_CODE_POST},
             {"put", COAP_REQUEST_CODE_PUT},       {"delete", COAP_REQUEST_CODE_DELETE},
             {"fetch", COAP_REQUEST_CODE_FETCH},   {"patch", COAP_REQUEST_CODE_PATCH},
             {"ipatch", COAP_REQUEST_CODE_IPATCH}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcasecmp(m, t[i].name) == 0) {
            *out = t[i].code;
            return 0;
        }
    return -EINVAL;
}

static ts_pending_t *ts_find_observe(ts_server_t *s, const cJSON *cmd)
{
    const cJSON *oreq = cJSON_GetObjectItem(cmd, "observe_req");
    const char *ep = ts_str(cmd, "ep"), *path = ts_str(cmd, "path");
    for (ts_pending_t *p = s->rq->head; p; p = p->next) {
        if (p->kind != TS_OBSERVE || p->cancel_req)
            continue;
        if (oreq ? (p->req && cJSON_Compare(p->req, oreq, 1))
                 : (ep && path && strcmp(p->ep, ep) == 0 && strcmp(p->path, path) == 0))
            return p;
    }
    return NULL;
}

static void ts_cancel_observe(ts_server_t *s, const cJSON *cmd, const cJSON *req,
                              uint64_t timeout_us)
{
    ts_pending_t *p = ts_find_observe(s, cmd);
    if (!p) {
        ts_reply_error(req, "no such observation");
        return;
    }
    p->cancel_req = req ? cJSON_Duplicate(req, 1) : cJSON_CreateNull();
    p->deadline_us = ts_mono_us() + timeout_us;
    coap_binary_t tok = {8, p->token};
    /* libcoap keeps the Observe request and re-sends it with Observe 1 and
     * the original token (RFC 7641 3.6). */
    if (coap_cancel_observe(p->session, &tok, COAP_MESSAGE_CON))
        return;
    /* No libcoap observe state (e.g. no notification seen yet): send the
     * GET with Observe 1 ourselves, same token. */
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET,
                                    coap_new_message_id(p->session),
                                    coap_session_max_pdu_size(p->session));
    coap_optlist_t *ol = NULL;
    int built = pdu && coap_add_token(pdu, 8, p->token) &&
                !ts_add_uint_opt(&ol, COAP_OPTION_OBSERVE, COAP_OBSERVE_CANCEL) &&
                !ts_add_split(&ol, COAP_OPTION_URI_PATH, p->path, '/') &&
                coap_add_optlist_pdu(pdu, &ol);
    coap_delete_optlist(ol);
    if (!built) {
        if (pdu)
            coap_delete_pdu(pdu);
        ts_pending_fail(s, p, "out of memory");
        return;
    }
    if (coap_send(p->session, pdu) == COAP_INVALID_MID) /* consumes pdu */
        ts_pending_fail(s, p, "send failed");
}

static void ts_dm_request(ts_server_t *s, const char *op, const cJSON *cmd, const cJSON *req,
                          uint64_t timeout_us)
{
    const char *ep = ts_str(cmd, "ep"), *path = ts_str(cmd, "path");
    ts_client_t *c = ep ? ts_client_by_ep(s, ep) : NULL;
    ts_reqspec_t spec = {COAP_REQUEST_CODE_GET, COAP_MESSAGE_CON, path ? path : "/",
                         ts_str(cmd, "query"), ts_int(cmd, "accept", -1), ts_int(cmd, "cf", -1),
                         -1, NULL, 0, NULL};
    enum ts_kind kind = TS_ONE;
    const char *err;

    if (!c) {
        ts_reply_error(req, "unknown endpoint");
        return;
    }
    if (ts_cmd_payload(cmd, &spec.payload, &spec.plen) < 0) {
        ts_reply_error(req, "bad payload_hex");
        return;
    }
    if (strcmp(op, "read") == 0) {
        spec.code = COAP_REQUEST_CODE_GET;
    } else if (strcmp(op, "write") == 0) {
        const char *m = ts_str(cmd, "method");
        spec.code = m && strcasecmp(m, "post") == 0 ? COAP_REQUEST_CODE_POST : COAP_REQUEST_CODE_PUT;
    } else if (strcmp(op, "execute") == 0 || strcmp(op, "create") == 0) {
        spec.code = COAP_REQUEST_CODE_POST;
    } else if (strcmp(op, "delete") == 0) {
        spec.code = COAP_REQUEST_CODE_DELETE;
    } else if (strcmp(op, "discover") == 0) {
        spec.accept = COAP_MEDIATYPE_APPLICATION_LINK_FORMAT;
    } else if (strcmp(op, "write_attributes") == 0) {
        spec.code = COAP_REQUEST_CODE_PUT;
        free(spec.payload);
        spec.payload = NULL;
        spec.plen = 0;
    } else if (strcmp(op, "observe") == 0) {
        spec.observe = COAP_OBSERVE_ESTABLISH;
        kind = TS_OBSERVE;
    } else { /* raw */
        const char *m = ts_str(cmd, "method"), *type = ts_str(cmd, "type");
        if (!m || ts_method(m, &spec.code) < 0) {
            free(spec.payload);
            ts_reply_error(req, "raw needs method get|post|put|delete|fetch|patch|ipatch");
            return;
        }
        if (type && strcasecmp(type, "non") == 0)
            spec.type = COAP_MESSAGE_NON;
        spec.observe = ts_int(cmd, "observe", -1);
        spec.options = cJSON_GetObjectItem(cmd, "options");
        /* Observe 0 (e.g. Observe-Composite with FETCH): notifications follow. */
        if (spec.observe == COAP_OBSERVE_ESTABLISH)
            kind = TS_OBSERVE;
    }
    if (!ts_send_req(s, c->session, c->ep, &spec, kind, req, timeout_us, &err))
        ts_reply_error(req, err);
}

void ts_requests_command(ts_server_t *s, const char *line)
{
    cJSON *cmd = cJSON_Parse(line);
    const cJSON *req = cmd ? cJSON_GetObjectItem(cmd, "req") : NULL;
    const char *op = cmd ? ts_str(cmd, "op") : NULL;
    const cJSON *to = cmd ? cJSON_GetObjectItem(cmd, "timeout") : NULL;
    uint64_t timeout_us = (uint64_t)((cJSON_IsNumber(to) && to->valuedouble > 0 ? to->valuedouble
                                                                                 : 30.0) * 1e6);

    if (!cmd || !cJSON_IsObject(cmd) || !op) {
        cJSON *ev = ts_event("error");
        cJSON_AddStringToObject(ev, "error", "command must be a JSON object with \"op\"");
        cJSON_AddStringToObject(ev, "line", line);
        ts_emit(ev);
        goto out;
    }
    static const char *const dm[] = {"read",   "write",            "execute", "create", "delete",
                                     "discover", "write_attributes", "observe", "raw"};
    for (size_t i = 0; i < sizeof(dm) / sizeof(dm[0]); i++)
        if (strcmp(op, dm[i]) == 0) {
            ts_dm_request(s, op, cmd, req, timeout_us);
            goto out;
        }
    if (strcmp(op, "cancel_observe") == 0) {
        ts_cancel_observe(s, cmd, req, timeout_us);
    } else if (strcmp(op, "forget_observe") == 0) {
        /* Drop the observation without telling the client: its next
         * notification gets a Reset (RFC 7641 3.6, the other way to cancel). */
        ts_pending_t *p = ts_find_observe(s, cmd);
        cJSON *ev = ts_reply(req, "response");
        cJSON_AddStringToObject(ev, "op", "forget_observe");
        cJSON_AddBoolToObject(ev, "ok", p != NULL);
        ts_emit(ev);
        if (p)
            ts_pending_free(s, p);
    } else if (strcmp(op, "bench_read") == 0) {
        ts_bench_start(s, cmd, req);
    } else if (strcmp(op, "clients") == 0) {
        ts_clients_list(s, req);
    } else if (strcmp(op, "forget") == 0) {
        const char *ep = ts_str(cmd, "ep");
        cJSON *ev = ts_reply(req, "response");
        cJSON_AddStringToObject(ev, "op", "forget");
        cJSON_AddBoolToObject(ev, "ok", ep && ts_client_forget(s, ep) == 0);
        ts_emit(ev);
    } else if (strcmp(op, "quit") == 0) {
        cJSON *ev = ts_reply(req, "response");
        cJSON_AddStringToObject(ev, "op", "quit");
        cJSON_AddBoolToObject(ev, "ok", 1);
        ts_emit(ev);
        s->quit = 1;
    } else {
        ts_reply_error(req, "unknown op");
    }
out:
    cJSON_Delete(cmd);
}

int ts_requests_init(ts_server_t *s)
{
    s->rq = calloc(1, sizeof(*s->rq));
    if (!s->rq)
        return -ENOMEM;
    if (ts_map_init(&s->rq->by_token) < 0) {
        free(s->rq);
        s->rq = NULL;
        return -ENOMEM;
    }
    /* a different token space per run, so a client still holding an old
     * observation from a previous server run cannot alias a new request */
    s->rq->next_token = (ts_mono_us() << 20) ^ ((uint64_t)getpid() << 44);
    ts_rq_srv = s;
    coap_register_response_handler(s->ctx, ts_on_response);
    coap_register_nack_handler(s->ctx, ts_on_nack);
    return 0;
}

void ts_requests_free(ts_server_t *s)
{
    if (!s->rq)
        return;
    while (s->rq->head)
        ts_pending_free(s, s->rq->head);
    cJSON_Delete(s->rq->bench.req);
    free(s->rq->bench.path);
    free(s->rq->bench.lat_us);
    ts_map_free(&s->rq->by_token);
    free(s->rq);
    s->rq = NULL;
}
