/*
 * lwm2m/send.c - client-initiated Send (LwM2M 1.1 6.5: POST /dp, SenML
 * CBOR) and "nothing lost while a server is away", per server.
 *
 * Every reading a client still owes a server waits in one FIFO per client
 * and server (offline.c), oldest first, each with its own timestamp:
 * - report = "send": every change, sent to each server the client is
 *   registered with, in batches at most once per send_min_interval_s;
 * - while a registration is down (or after a Send to its server failed),
 *   what an observation of that server would have notified, and the Send
 *   readings, if that server's /1/x/6 (Notification Storing When Disabled
 *   or Offline) allows storing.
 * Only then is a FIFO mirrored on disk (one file per client and server):
 * a client that reports normally costs no I/O. A Send takes the oldest
 * readings (up to SEND_CHUNK, fewer when they would not fit one CoAP
 * message) and they leave the FIFO only on 2.04, so an error or silence
 * keeps them (at least once, never lost).
 *
 * One FIFO per server, not one shared FIFO with a position per server: a
 * server away for a day would otherwise pin every reading the others got
 * long ago, and the bound (offline_store_max) would make the servers that
 * are up lose readings because of the one that is not. The price is a copy
 * of each Send reading per server while several are up, which a Send
 * client with its servers up drains within its send_interval.
 *
 * Each server's Mute Send (/1/x/23) true: nothing is sent to it or kept for
 * it (it said it does not want the data), and what already waits for it
 * stays until it is unmuted; the other servers are not concerned. With
 * several servers, a server gets Send readings only of the object
 * instances it has the Read right on (Access Control, acl.h), as a Read by
 * it would.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../gateway/log.h"
#include "acl_internal.h"
#include "lwm2m_internal.h"
#include "offline.h"

#define SEND_CHUNK 64
/* Sends in flight per server. After an outage every client of a server has
 * a backlog at once: 1,000 Sends of a kilobyte together overflow the
 * server's receive buffer, and each one dropped waits out CoAP's
 * retransmission timeout (2-3 s, then twice that). A few dozen at a time
 * keep the pipe full without that. */
#define SEND_MAX_INFLIGHT 32
#define DEFAULT_OFFLINE_MAX 1000
#define DROP_LOG_EVERY_MS 10000

/* One client's Send and offline store towards one server (r->send). */
struct gw_send {
    struct gw_reg *r;     /* its registration (vc->regs does not move) */
    struct gw_server *srv; /* r->srv when made: the server its FIFO is for */
    gw_offline_t *q;
    bool held;            /* a Send failed: wait until the registration is confirmed */
    bool backlog;         /* holds readings kept while away (counted in srv->n_backlog) */
    bool counted;         /* its Send counts in srv->sends_inflight */
    bool waiting;         /* in the server's queue for a Send slot */
    struct gw_send *next_wait;
    size_t inflight;      /* readings at the head of q in the Send in flight */
    int64_t last_ms;      /* monotonic time of the last Send */
    gw_timer_t timer;
    uint8_t token_len;
    uint8_t token[8];
};

static void flush(struct gw_send *s, bool now);
static void wait_unlink(struct gw_send *s, struct gw_server *srv);

/* ---- module settings ---- */

/* Appends, new files and removals become durable together (offline.c). */
static void on_sync(void *ctx)
{
    gw_lwm2m_t *m = ctx;
    int rc = gw_offline_sync(m->offline_dir);
    if (rc < 0)
        gw_warn("offline store: cannot sync %s to storage: %s", m->offline_dir, strerror(-rc));
}

static void sync_soon(gw_lwm2m_t *m)
{
    if (m->offline_sync_ready && m->offline_dir && gw_offline_unsynced() &&
        !gw_timer_active(&m->offline_sync_timer))
        gw_timer_start(m->loop, &m->offline_sync_timer, GW_OFFLINE_SYNC_MS);
}

int gw_lwm2m_set_offline_store(gw_lwm2m_t *m, size_t max_per_client, const char *state_dir)
{
    char *dir = NULL;
    if (state_dir && !(dir = strdup(state_dir)))
        return -ENOMEM;
    if (!m->offline_sync_ready) {
        gw_timer_init(&m->offline_sync_timer, on_sync, m);
        m->offline_sync_ready = true;
    }
    free(m->offline_dir);
    m->offline_dir = dir;
    m->offline_max = max_per_client;
    m->offline_set = true;
    return 0;
}

uint64_t gw_lwm2m_offline_dropped(const gw_lwm2m_t *m) { return m->offline_dropped; }

void gw_send_module_free(gw_lwm2m_t *m)
{
    if (m->offline_sync_ready) {
        gw_timer_stop(m->loop, &m->offline_sync_timer);
        on_sync(m); /* a clean stop leaves nothing unsynced */
    }
    free(m->offline_dir);
    m->offline_dir = NULL;
}

/* ---- helpers ---- */

/* The instance of /1 that holds r's server settings (accounts.c). */
static uint16_t server_iid(const struct gw_reg *r) { return r->srv_iid; }

static bool server_flag(const struct gw_reg *r, uint16_t rid, bool dflt)
{
    gw_value_t v;
    gw_path_t p = gw_path_make(1, server_iid(r), rid, GW_ID_NONE);
    if (gw_store_get(r->vc->sc, &p, &v, NULL) == 0 && v.type == GW_TYPE_BOOLEAN)
        return v.v.b;
    return dflt;
}

static bool muted(const struct gw_reg *r) { return server_flag(r, 23, false); }
static bool storing(const struct gw_reg *r) { return server_flag(r, 6, false); }

static bool reg_up(const struct gw_reg *r)
{
    return r->session && (r->state == GW_REG_REGISTERED || r->state == GW_REG_UPDATING);
}

static bool online(const struct gw_send *s) { return !s->held && reg_up(s->r); }

/* Readings are what sensors report: the LwM2M management objects (Security,
 * Server, Access Control, Device, Connectivity Monitoring, Firmware
 * Update) change through the server or on demand, and are read, not sent. */
bool gw_reading_path(const gw_path_t *p) { return p->len >= 3 && p->id[0] > 5; }

static void mark_backlog(struct gw_send *s)
{
    if (s->backlog)
        return;
    s->backlog = true;
    s->srv->n_backlog++;
}

/* Readings left the FIFO: when the backlog is gone, the server's summary
 * of its return may be due (outage.c). */
static void backlog_check(struct gw_send *s)
{
    sync_soon(s->r->vc->m); /* a removal or rewrite to make durable */
    if (!s->backlog || gw_offline_count(s->q))
        return;
    s->backlog = false;
    if (s->srv->n_backlog)
        s->srv->n_backlog--;
    gw_server_backlog_check(s->srv);
}

static void keep(struct gw_send *s, const gw_path_t *path, const gw_value_t *v, int64_t ts_ms, bool persist)
{
    gw_vclient_t *vc = s->r->vc;
    gw_lwm2m_t *m = vc->m;
    struct gw_server *srv = s->srv;
    bool dropped = false;
    if (persist)
        mark_backlog(s);
    int rc = gw_offline_push(s->q, path, v, ts_ms, persist, &dropped);
    sync_soon(m);
    if (rc < 0) {
        char ps[32];
        gw_warn("%s: reading of %s for %s not kept: %s", vc->endpoint, gw_path_format(path, ps, sizeof ps),
                srv->uri, strerror(-rc));
        return;
    }
    if (!dropped)
        return;
    m->offline_dropped++;
    srv->offline_dropped++;
    /* One line per server every DROP_LOG_EVERY_MS: a full store drops a
     * reading per reading kept, and one server's overflow must not hide
     * another's. */
    int64_t now = gw_now_ms();
    if (srv->offline_log_ms == 0 || now - srv->offline_log_ms >= DROP_LOG_EVERY_MS) {
        srv->offline_log_ms = now;
        gw_warn("%s: offline store for %s full (%zu readings): the oldest are dropped (%llu dropped for it "
                "since start, %llu for all servers)",
                vc->endpoint, srv->uri, gw_offline_count(s->q), (unsigned long long)srv->offline_dropped,
                (unsigned long long)m->offline_dropped);
    }
}

/* ---- per client and server ---- */

static void on_timer(void *ctx) { flush(ctx, false); }

static int file_of(const struct gw_reg *r, char **out)
{
    gw_lwm2m_t *m = r->vc->m;
    *out = NULL;
    if (!m->offline_dir)
        return 0;
    return gw_offline_file_name_server(m->offline_dir, r->vc->endpoint, gw_reg_ssid(r), out);
}

static void lane_free(struct gw_send **ps)
{
    struct gw_send *s = *ps;
    if (!s)
        return;
    struct gw_server *srv = s->srv;
    if (s->backlog && srv->n_backlog) {
        srv->n_backlog--;
        gw_server_backlog_check(srv);
    }
    if (s->waiting)
        wait_unlink(s, srv);
    if (s->counted) {
        s->counted = false;
        srv->sends_inflight--;
    }
    gw_timer_stop(s->r->vc->m->loop, &s->timer);
    gw_offline_free(&s->q);
    free(s);
    *ps = NULL;
}

/* r's Send state, made (and its file loaded) when missing. NULL when out
 * of memory (logged). */
static struct gw_send *lane(struct gw_reg *r)
{
    if (r->send && r->send->srv == r->srv)
        return r->send;
    lane_free(&r->send); /* made for a server r no longer talks to */
    gw_lwm2m_t *m = r->vc->m;
    char *file = NULL;
    struct gw_send *s = calloc(1, sizeof *s);
    int rc = s ? file_of(r, &file) : -ENOMEM;
    if (!rc)
        rc = gw_offline_new(m->offline_set ? m->offline_max : DEFAULT_OFFLINE_MAX, file, gw_reg_ssid(r), &s->q);
    free(file);
    if (rc < 0) {
        gw_warn("%s: no offline store for %s: %s", r->vc->endpoint, r->srv->uri, strerror(-rc));
        free(s);
        return NULL;
    }
    s->r = r;
    s->srv = r->srv;
    gw_timer_init(&s->timer, on_timer, s);
    r->send = s;
    if (gw_offline_count(s->q))
        mark_backlog(s); /* loaded from an earlier run: delivered without waiting for send_interval */
    return s;
}

/* Does r's server have readings of this client on disk (an earlier run)? */
static bool kept_on_disk(const struct gw_reg *r)
{
    char *file = NULL;
    bool kept = file_of(r, &file) == 0 && file && access(file, F_OK) == 0;
    free(file);
    return kept;
}

/* Version 1 kept one file per client, for the first server: it becomes
 * that server's file (a rename, so a crash never leaves the readings in
 * both or neither), or is merged into it when that one exists too. */
static void take_over_v1(gw_vclient_t *vc)
{
    gw_lwm2m_t *m = vc->m;
    char *old = NULL, *file = NULL;
    if (!m->offline_dir || !vc->n_regs || gw_offline_file_name(m->offline_dir, vc->endpoint, &old) < 0 ||
        access(old, F_OK) != 0)
        goto out;
    struct gw_reg *r = &vc->regs[0];
    if (file_of(r, &file) < 0 || !file)
        goto out;
    if (access(file, F_OK) != 0) {
        if (rename(old, file) == 0)
            gw_info("offline store: %s taken over as %s (the readings of %s)", old, file, r->srv->uri);
        else
            gw_warn("offline store: cannot rename %s to %s: %s; its readings are not loaded", old, file,
                    strerror(errno));
        goto out;
    }
    struct gw_send *s = lane(r);
    int n = s ? gw_offline_merge(s->q, old) : -ENOMEM;
    if (n >= 0)
        gw_info("offline store: %d readings of %s added to %s (the readings of %s)", n, old, file, r->srv->uri);
    else
        gw_warn("offline store: %s not merged into %s: %s; left in place", old, file, strerror(-n));
out:
    free(old);
    free(file);
}

/* Most clients never need this state (they report through observations
 * and their servers stay up): it costs a few hundred bytes per client and
 * server, so it is made when a client reports with Send, has readings kept
 * for that server from an earlier run, or first has to keep a reading
 * while that server is away. */
int gw_send_client_new(gw_vclient_t *vc, const gw_vclient_opts_t *opts)
{
    vc->report_send = opts && opts->report_send;
    vc->send_interval_s = opts && opts->send_min_interval_s > 0 ? opts->send_min_interval_s : 0;
    take_over_v1(vc);
    for (size_t i = 0; i < vc->n_regs; i++) {
        struct gw_reg *r = &vc->regs[i];
        if (!r->send && (vc->report_send || kept_on_disk(r)) && !lane(r)) {
            gw_send_client_free(vc); /* the caller's cleanup does not see the regs */
            return -ENOMEM;
        }
    }
    return 0;
}

void gw_send_reg_drop(struct gw_reg *r)
{
    lane_free(&r->send);
    gw_at_risk_free(r);
}

void gw_send_client_free(gw_vclient_t *vc)
{
    for (size_t i = 0; i < vc->n_regs; i++)
        lane_free(&vc->regs[i].send);
}

/* ---- sending ---- */

static int add_cf(coap_pdu_t *pdu)
{
    uint8_t b[4];
    return coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(b, sizeof b, GW_CF_SENML_CBOR), b)
               ? 0
               : -ENOMEM;
}

/* The oldest readings that fit one message, encoded. */
static int encode_chunk(struct gw_send *s, size_t room, gw_buf_t *out, size_t *out_n)
{
    gw_record_t recs[SEND_CHUNK];
    gw_path_t root = {{0}, 0};
    size_t n;
    gw_offline_peek(s->q, SEND_CHUNK, recs, &n);
    while (n) {
        out->len = 0;
        int rc = gw_senml_cbor_encode(&root, recs, n, out);
        if (rc < 0)
            return rc;
        if (out->len <= room)
            break;
        n = n > 1 ? n / 2 : 0;
    }
    *out_n = n;
    return n ? 0 : -EMSGSIZE;
}

static int send_chunk(struct gw_send *s)
{
    struct gw_reg *r = s->r;
    gw_buf_t body = {0};
    size_t n = 0;
    size_t max = coap_session_max_pdu_size(r->session);
    /* Room for the header, token, Uri-Path "dp", Content-Format. */
    int rc = encode_chunk(s, max > 32 ? max - 32 : 0, &body, &n);
    if (rc == -EMSGSIZE) {
        gw_warn("%s: a reading does not fit one Send message to %s; dropped", r->vc->endpoint, r->srv->uri);
        gw_offline_consume(s->q, 1);
        goto out;
    }
    if (rc < 0)
        goto out;
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, coap_new_message_id(r->session), max);
    if (!pdu) {
        rc = -ENOMEM;
        goto out;
    }
    size_t tl = 0;
    coap_session_new_token(r->session, &tl, s->token);
    s->token_len = (uint8_t)tl;
    if (!coap_add_token(pdu, tl, s->token) || !coap_add_option(pdu, COAP_OPTION_URI_PATH, 2, (const uint8_t *)"dp") ||
        add_cf(pdu) < 0 || !coap_add_data(pdu, body.len, body.data)) {
        coap_delete_pdu(pdu);
        rc = -ENOMEM;
        goto out;
    }
    gw_reg_touch(r);
    if (coap_send(r->session, pdu) == COAP_INVALID_MID) {
        rc = -EIO;
        goto out;
    }
    s->inflight = n;
    s->last_ms = gw_now_ms();
    r->last_tx_ms = s->last_ms;
    gw_debug("%s: Send of %zu readings to %s", r->vc->endpoint, n, r->srv->uri);
out:
    gw_buf_free(&body);
    return rc;
}

static void wait_unlink(struct gw_send *s, struct gw_server *srv)
{
    struct gw_send *prev = NULL;
    for (struct gw_send *w = srv->send_wait_head; w; prev = w, w = w->next_wait) {
        if (w != s)
            continue;
        if (prev)
            prev->next_wait = w->next_wait;
        else
            srv->send_wait_head = w->next_wait;
        if (srv->send_wait_tail == w)
            srv->send_wait_tail = prev;
        break;
    }
    s->waiting = false;
    s->next_wait = NULL;
}

/* s's Send is answered, failed or abandoned: its slot goes to the next
 * client waiting for one of this server. */
static void send_over(struct gw_send *s)
{
    struct gw_server *srv = s->srv;
    s->inflight = 0;
    s->token_len = 0;
    if (!s->counted)
        return;
    s->counted = false;
    srv->sends_inflight--;
    while (srv->send_wait_head && srv->sends_inflight < SEND_MAX_INFLIGHT) {
        struct gw_send *w = srv->send_wait_head;
        wait_unlink(w, srv);
        flush(w, true);
    }
}

/* now: deliver without waiting for the interval (a backlog). */
static void flush(struct gw_send *s, bool now)
{
    struct gw_reg *r = s->r;
    gw_loop_t *loop = r->vc->m->loop;
    if (s->inflight || s->srv != r->srv || !online(s) || muted(r) || gw_offline_count(s->q) == 0)
        return;
    int64_t due = s->last_ms + (int64_t)r->vc->send_interval_s * 1000;
    if (!now && s->last_ms && gw_now_ms() < due) {
        if (!gw_timer_active(&s->timer))
            gw_timer_start_at(loop, &s->timer, due);
        return;
    }
    gw_timer_stop(loop, &s->timer);
    struct gw_server *srv = s->srv;
    if (srv->sends_inflight >= SEND_MAX_INFLIGHT) {
        if (!s->waiting) {
            s->waiting = true;
            s->next_wait = NULL;
            if (srv->send_wait_tail)
                srv->send_wait_tail->next_wait = s;
            else
                srv->send_wait_head = s;
            srv->send_wait_tail = s;
        }
        return;
    }
    int rc = send_chunk(s);
    if (rc == 0) {
        s->counted = true;
        srv->sends_inflight++;
    }
    if (rc == -EIO && storing(r)) {
        /* send() refused: an ICMP error of an earlier datagram (see
         * observe.c). The readings wait for the server's return. */
        mark_backlog(s);
        gw_offline_persist(s->q);
        gw_server_unreachable(srv, r->last_tx_ms, "cannot send: ICMP error");
    } else if (rc < 0) {
        gw_timer_start(loop, &s->timer, 1000); /* out of memory or sockets: try again soon */
    }
}

/* The Send failed: its readings stay, on disk from now on, unless the
 * server said not to store (then they go, like a notification would). */
static void send_failed(struct gw_send *s, const char *why)
{
    struct gw_reg *r = s->r;
    size_t n = s->inflight;
    send_over(s);
    if (!storing(r)) {
        gw_warn("%s: Send of %zu readings to %s failed (%s); dropped (/1/%u/6 is false)", r->vc->endpoint, n,
                r->srv->uri, why, server_iid(r));
        gw_offline_consume(s->q, n);
        backlog_check(s);
        return;
    }
    mark_backlog(s);
    gw_warn("%s: Send of %zu readings to %s failed (%s); %zu readings kept until the registration is confirmed",
            r->vc->endpoint, n, r->srv->uri, why, gw_offline_count(s->q));
    s->held = true;
    gw_offline_persist(s->q);
    /* An Update finds out whether the server still knows this client;
     * its answer (or a new registration) resumes delivery. */
    gw_reg_request_update(r, false);
}

/* r's Send whose token this is, or NULL. */
static struct gw_send *send_of(const struct gw_reg *r, const coap_pdu_t *pdu)
{
    struct gw_send *s = r->send;
    if (!s || !pdu || !s->token_len || s->srv != r->srv)
        return NULL;
    coap_bin_const_t tok = coap_pdu_get_token(pdu);
    if (tok.length != s->token_len || memcmp(tok.s, s->token, tok.length) != 0)
        return NULL;
    return s;
}

bool gw_send_on_response(struct gw_reg *r, const coap_pdu_t *received)
{
    struct gw_send *s = send_of(r, received);
    if (!s)
        return false;
    coap_pdu_code_t code = coap_pdu_get_code(received);
    if (COAP_RESPONSE_CLASS(code) == 2) {
        bool full = s->inflight == SEND_CHUNK;
        if (s->backlog)
            s->srv->delivered += s->inflight;
        gw_at_risk_proven(r, s->last_ms);
        gw_offline_consume(s->q, s->inflight);
        send_over(s);
        backlog_check(s);
        flush(s, full || s->backlog);
    } else {
        char why[32];
        snprintf(why, sizeof why, "server answered %d.%02d", COAP_RESPONSE_CLASS(code), code & 31);
        send_failed(s, why);
    }
    return true;
}

bool gw_send_on_nack(struct gw_reg *r, const coap_pdu_t *sent, coap_nack_reason_t reason)
{
    struct gw_send *s = send_of(r, sent);
    if (!s)
        return false;
    if ((reason == COAP_NACK_ICMP_ISSUE || reason == COAP_NACK_TOO_MANY_RETRIES) && storing(r)) {
        /* The server is gone: its readings wait with every other client's
         * (outage.c), quietly, for the registration that follows its return. */
        send_over(s);
        s->held = true;
        mark_backlog(s);
        gw_offline_persist(s->q);
        gw_server_unreachable(r->srv, s->last_ms, reason == COAP_NACK_ICMP_ISSUE ? "ICMP error"
                                                                                  : "a Send was not answered");
        return true;
    }
    send_failed(s, reason == COAP_NACK_RST ? "reset by the server" : "no answer");
    return true;
}

void gw_send_registered(struct gw_reg *r, bool new_registration)
{
    struct gw_send *s = r->send;
    if (!s || s->srv != r->srv) {
        /* Readings for this server from an earlier run, or a client whose
         * accounts a bootstrap server wrote after it was made: looked for
         * once per Register, not per Update. */
        if (!new_registration || !(r->vc->report_send || kept_on_disk(r)) || !(s = lane(r)))
            return;
    }
    if (new_registration && s->inflight) {
        /* A Send of the old registration died with its session (its
         * answer can no longer arrive): its readings go again. */
        send_over(s);
    }
    s->held = false;
    flush(s, true);
}

/* ---- what to keep ---- */

/* Does an observation of r cover path? */
static bool observed(const struct gw_reg *r, const gw_path_t *path)
{
    for (const struct gw_obs *o = r->obs; o; o = o->next)
        if (gw_obs_covers(o, path))
            return true;
    return false;
}

/* The reading's own time (the store's), else now. */
static int64_t reading_time(gw_vclient_t *vc, const gw_path_t *path)
{
    int64_t ts = 0;
    gw_value_t cur;
    if (gw_store_get(vc->sc, path, &cur, &ts) < 0 || ts <= 0)
        ts = gw_wall_ms();
    return ts;
}

/* A reading for r's server: sent (report = "send"), or kept while r cannot
 * report it, each server on its own. */
static void reading_for(struct gw_reg *r, const gw_path_t *path, const gw_value_t *v, int64_t *ts)
{
    gw_vclient_t *vc = r->vc;
    struct gw_send *s = r->send;
    if (!vc->report_send) {
        /* Observed: what a notification would carry while none can go,
         * kept here, as the store changes, so once per reading. The common
         * case, a client whose server is there, costs the first test. */
        if (reg_up(r) || !r->obs || !observed(r, path) || muted(r) || !storing(r) || !(s = lane(r)))
            return;
        if (!*ts)
            *ts = reading_time(vc, path);
        keep(s, path, v, *ts, true);
        return;
    }
    if (muted(r) || !gw_acl_may(r, path->id[0], path->id[1], GW_ACL_OP_READ) || !(s = lane(r)))
        return;
    bool up = online(s);
    if (!up && !storing(r))
        return;
    if (!*ts)
        *ts = reading_time(vc, path);
    keep(s, path, v, *ts, !up);
    if (up)
        flush(s, false);
}

void gw_send_value_changed(gw_vclient_t *vc, const gw_path_t *path, const gw_value_t *v)
{
    if (path->len >= 3 && path->id[0] == 1 && path->id[2] == 23) {
        /* A server unmuted: what waits for it may go. */
        for (size_t i = 0; i < vc->n_regs; i++) {
            struct gw_reg *r = &vc->regs[i];
            if (r->send && path->id[1] == server_iid(r) && v->type == GW_TYPE_BOOLEAN && !v->v.b)
                flush(r->send, false);
        }
        return;
    }
    if (!gw_reading_path(path))
        return;
    int64_t ts = 0; /* looked up once, for the first server that needs it */
    for (size_t i = 0; i < vc->n_regs; i++)
        reading_for(&vc->regs[i], path, v, &ts);
}

static int by_time(const void *a, const void *b)
{
    double x = ((const gw_record_t *)a)->time, y = ((const gw_record_t *)b)->time;
    return x < y ? -1 : x > y;
}

/* The same reading (path and timestamp) is in recs already. */
static bool listed(const gw_record_t *recs, size_t n, const gw_path_t *p, int64_t ts)
{
    for (size_t i = 0; i < n; i++)
        if ((int64_t)recs[i].time == ts && gw_path_cmp(&recs[i].path, p) == 0)
            return true;
    return false;
}

/* The current readings below path changed after since_ms (wall), not yet
 * in *list, appended (values borrowed from the store's records in *hold). */
static void collect(gw_vclient_t *vc, const gw_path_t *path, int64_t since_ms, gw_record_t **list, size_t *n,
                    size_t *cap)
{
    gw_record_t *recs = NULL;
    size_t k = 0;
    if (gw_store_read(vc->sc, path, &recs, &k) < 0)
        return;
    for (size_t i = 0; i < k; i++) {
        gw_value_t v;
        int64_t ts = 0;
        if (!gw_reading_path(&recs[i].path) || gw_store_get(vc->sc, &recs[i].path, &v, &ts) < 0 || ts <= since_ms ||
            listed(*list, *n, &recs[i].path, ts))
            continue;
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 16;
            gw_record_t *l = realloc(*list, c * sizeof *l);
            if (!l)
                break;
            *list = l;
            *cap = c;
        }
        gw_record_t *out = &(*list)[(*n)++];
        memset(out, 0, sizeof *out);
        out->path = recs[i].path;
        out->value = v; /* borrows the store: used before anything changes it */
        out->time = (double)ts;
    }
    free(recs);
}

void gw_send_reg_suspended(struct gw_reg *r, int64_t dead_ms)
{
    gw_vclient_t *vc = r->vc;
    struct gw_send *s = r->send && r->send->srv == r->srv ? r->send : NULL;
    if (s && s->inflight) {
        /* Its answer cannot come on a session given up: the readings go
         * again after the return. */
        send_over(s);
    }
    if (vc->report_send) {
        if (s && gw_offline_count(s->q)) {
            mark_backlog(s);
            gw_offline_persist(s->q);
        }
        gw_at_risk_free(r);
        return;
    }
    if (!r->obs || muted(r) || !storing(r) || (!s && !(s = lane(r)))) {
        gw_at_risk_free(r);
        return;
    }
    /* What each observation of this server still owed: the readings of its
     * NON notifications the server may never have read (at_risk.c: within
     * 2 s before now, or sent once it was already gone, after dead_ms), the
     * changes pending (after its last notification), and the current
     * values a notification sent after dead_ms carried. Each reading
     * (path and timestamp) once, oldest first. */
    gw_record_t *list = NULL;
    size_t n = 0, cap = 0;
    gw_at_risk_take(r, dead_ms, gw_now_ms(), &list, &n, &cap);
    for (struct gw_obs *o = r->obs; o; o = o->next) {
        int64_t since = o->last_ms >= dead_ms ? o->prev_wall_ms : o->last_wall_ms;
        for (size_t i = 0; i < o->n_members; i++)
            collect(vc, &o->members[i].path, since, &list, &n, &cap);
    }
    if (n)
        qsort(list, n, sizeof *list, by_time);
    for (size_t i = 0; i < n; i++)
        keep(s, &list[i].path, &list[i].value, (int64_t)list[i].time, true);
    free(list);
    gw_at_risk_free(r); /* after keep: list borrowed its values */
}
