/*
 * lwm2m/registration.c - the Registration interface of one virtual client
 * towards one server: Register, Update, De-register, paced and retried.
 *
 * Pacing is a token bucket per server (registrations_per_second) plus a cap
 * on requests in flight, so 10,000 clients starting together reach the
 * server as a steady stream instead of a burst it would drop. A server that
 * does not answer at all (ICMP, no answer) is outage.c's business: all its
 * clients wait and one probes. Other failures of one client (an error code,
 * DTLS) back off exponentially (2 s .. 300 s) with +-25 % jitter.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/log.h"
#include "acl_internal.h"
#include "lwm2m_internal.h"
#include "request.h"

static void pump(struct gw_server *s);

const char *gw_reg_state_name(gw_reg_state_t st)
{
    static const char *names[] = {"idle",       "queued",  "registering",   "registered",
                                  "updating",   "backoff", "deregistering", "done", "away"};
    return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "?";
}

static bool is_registered(const struct gw_reg *r)
{
    return r->state == GW_REG_REGISTERED || r->state == GW_REG_UPDATING;
}

static void set_state(struct gw_reg *r, gw_reg_state_t st)
{
    gw_lwm2m_t *m = r->srv->m;
    bool was = is_registered(r);
    r->state = (uint8_t)st;
    if (st != GW_REG_IDLE && st != GW_REG_QUEUED && st != GW_REG_REGISTERING)
        r->attempted = true;
    bool now = is_registered(r);
    if (was && !now)
        m->n_registered--;
    else if (!was && now)
        m->n_registered++;
    /* One line per milestone, which operators watch for and benchmarks
     * wait on: the fleet in at start; again once the clients or their
     * registrations changed in number since the last line (a reload, a
     * bootstrap that named other servers) or after a server's outage
     * (outage.c re-arms it); not after one client's re-registration. A
     * client still bootstrapping has no registration yet: the fleet is
     * not in until it has. */
    bool all = m->n_clients && m->n_regs_total && m->n_registered == m->n_regs_total && !m->n_bootstrapping;
    if (all && (!m->all_registered || m->all_logged_clients != m->n_clients ||
                m->all_logged_regs != m->n_regs_total)) {
        gw_notice("all %zu virtual clients registered", m->n_clients);
        m->all_registered = true;
        m->all_logged_clients = m->n_clients;
        m->all_logged_regs = m->n_regs_total;
    }
}

static void on_timer(void *ctx);

bool gw_reg_is_registered(const struct gw_reg *r) { return is_registered(r); }
void gw_reg_set_state(struct gw_reg *r, gw_reg_state_t st) { set_state(r, st); }

void gw_reg_init(struct gw_reg *r, gw_vclient_t *vc, struct gw_server *srv)
{
    memset(r, 0, sizeof *r);
    r->vc = vc;
    r->srv = srv;
    r->srv_iid = r->sec_iid = (uint16_t)srv->index;
    r->state = GW_REG_IDLE;
    gw_timer_init(&r->timer, on_timer, r);
}

static void enqueue(struct gw_reg *r)
{
    struct gw_server *s = r->srv;
    if (r->queued || s->m->shutting_down)
        return;
    r->queued = true;
    r->next_queued = NULL;
    if (s->queue_tail)
        s->queue_tail->next_queued = r;
    else
        s->queue_head = r;
    s->queue_tail = r;
    pump(s);
}

static void dequeue(struct gw_reg *r)
{
    struct gw_server *s = r->srv;
    if (!r->queued)
        return;
    struct gw_reg *prev = NULL;
    for (struct gw_reg *q = s->queue_head; q; prev = q, q = q->next_queued) {
        if (q != r)
            continue;
        if (prev)
            prev->next_queued = q->next_queued;
        else
            s->queue_head = q->next_queued;
        if (s->queue_tail == q)
            s->queue_tail = prev;
        break;
    }
    r->queued = false;
    r->next_queued = NULL;
}

void gw_reg_start(struct gw_reg *r)
{
    if (r->state == GW_REG_REGISTERING && r->dereg_after) {
        r->dereg_after = false; /* still registering: simply keep it */
        return;
    }
    if (r->state != GW_REG_IDLE && r->state != GW_REG_DONE)
        return;
    if (r->disabled) /* /1/x/4: registers again when its Disable Timeout ends */
        return;
    r->links_dirty = true;
    if (r->srv->away) { /* registers with the others when the server is back */
        set_state(r, GW_REG_AWAY);
        gw_reg_order_failed(r);
        return;
    }
    set_state(r, GW_REG_QUEUED);
    enqueue(r);
}

void gw_reg_request_update(struct gw_reg *r, bool with_links)
{
    if (with_links)
        r->links_dirty = true;
    if (r->state == GW_REG_REGISTERED) {
        gw_timer_stop(r->srv->m->loop, &r->timer);
        enqueue(r);
    }
    /* Registering/updating now: the next Update (or the Register in
     * flight, which already carries the new list if it was built after
     * the change) picks the flag up when its answer arrives. */
}

void gw_reg_stop(struct gw_reg *r)
{
    gw_block_tx_free(&r->tx);
    gw_timer_stop(r->srv->m->loop, &r->timer);
    r->delay_pending = false;
    dequeue(r);
    if (r->inflight) {
        r->inflight = false;
        r->srv->inflight--;
        pump(r->srv);
    }
    if (is_registered(r))
        set_state(r, GW_REG_IDLE);
}

void gw_reg_enqueue(struct gw_reg *r) { enqueue(r); }

void gw_reg_quiet(struct gw_reg *r)
{
    gw_block_tx_free(&r->tx);
    gw_timer_stop(r->srv->m->loop, &r->timer);
    dequeue(r);
    if (r->inflight) {
        r->inflight = false;
        r->srv->inflight--;
    }
    r->token_len = 0;
}

static void op_finished(struct gw_reg *r)
{
    gw_block_tx_free(&r->tx);
    if (r->inflight) {
        r->inflight = false;
        r->srv->inflight--;
    }
    r->token_len = 0;
    pump(r->srv);
}

static void backoff(struct gw_reg *r, const char *why)
{
    gw_lwm2m_t *m = r->srv->m;
    if (r->dereg_after) {
        r->dereg_after = false;
        set_state(r, GW_REG_DONE);
        gw_lwm2m_dereg_done(m);
        return;
    }
    if (r->backoff_s == 0)
        r->backoff_s = GW_BACKOFF_MIN_S;
    else if (r->backoff_s < GW_BACKOFF_MAX_S)
        r->backoff_s = r->backoff_s * 2 > GW_BACKOFF_MAX_S ? GW_BACKOFF_MAX_S : r->backoff_s * 2;
    /* +-25 % jitter */
    int64_t ms = (int64_t)r->backoff_s * 1000;
    ms = ms * 3 / 4 + (int64_t)(gw_lwm2m_random(m) % (uint32_t)(ms / 2 + 1));
    gw_warn("%s: registration with %s failed (%s); retrying in %.1f s", r->vc->endpoint, r->srv->uri,
            why, (double)ms / 1000.0);
    set_state(r, GW_REG_BACKOFF);
    free(r->location);
    r->location = NULL;
    gw_timer_start(m->loop, &r->timer, ms);
}

static int32_t current_lifetime(const struct gw_reg *r)
{
    gw_value_t v;
    gw_path_t p = gw_path_make(1, r->srv_iid, 1, GW_ID_NONE);
    if (gw_store_get(r->vc->sc, &p, &v, NULL) == 0 && v.type == GW_TYPE_INTEGER && v.v.i > 0 &&
        v.v.i <= INT32_MAX)
        return (int32_t)v.v.i;
    return r->srv->lifetime;
}

static void schedule_update(struct gw_reg *r)
{
    gw_lwm2m_t *m = r->srv->m;
    /* Update at 80-90 % of the lifetime: early enough to survive one lost
     * exchange (~45 s of CoAP retransmissions with default parameters is
     * covered for lifetimes over 5 minutes), spread so a fleet registered
     * together does not update together. */
    int64_t lt_ms = (int64_t)r->lifetime * 1000;
    int64_t ms = lt_ms * 8 / 10 - (int64_t)(gw_lwm2m_random(m) % (uint32_t)(lt_ms / 10 + 1));
    if (lt_ms > 120000 && lt_ms - ms < 60000)
        ms = lt_ms - 60000;
    if (ms < 500)
        ms = 500;
    gw_timer_start(m->loop, &r->timer, ms);
}

static coap_pdu_t *new_request(struct gw_reg *r, coap_pdu_code_t code)
{
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, code, coap_new_message_id(r->session),
                                    coap_session_max_pdu_size(r->session));
    if (!pdu)
        return NULL;
    size_t len = 0;
    coap_session_new_token(r->session, &len, r->token);
    r->token_len = (uint8_t)len;
    if (!coap_add_token(pdu, len, r->token)) {
        coap_delete_pdu(pdu);
        return NULL;
    }
    return pdu;
}

static int add_query_text(coap_pdu_t *pdu, const char *text)
{
    size_t len = strlen(text);
    return coap_add_option(pdu, COAP_OPTION_URI_QUERY, len, (const uint8_t *)text) ? 0 : -ENOMEM;
}

/* "name=value" as one Uri-Query option. */
static int add_query(coap_pdu_t *pdu, const char *name, const char *value)
{
    char buf[160];
    int len = snprintf(buf, sizeof buf, "%s=%s", name, value);
    if (len < 0 || (size_t)len >= sizeof buf)
        return -EINVAL;
    return add_query_text(pdu, buf);
}

static int add_query_num(coap_pdu_t *pdu, const char *name, long n)
{
    char v[24];
    snprintf(v, sizeof v, "%ld", n);
    return add_query(pdu, name, v);
}

static int add_location_path(coap_pdu_t *pdu, const char *location)
{
    const char *p = location;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n && !coap_add_option(pdu, COAP_OPTION_URI_PATH, n, (const uint8_t *)p))
            return -ENOMEM;
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

/* Payload last: libcoap refuses options once data is in the PDU. A list
 * too long for one datagram goes block-wise (block_tx.c): *pdu becomes
 * its first block. On failure *pdu is freed and NULL. */
static int attach_links(struct gw_reg *r, coap_pdu_t **pdu)
{
    gw_buf_t links = {0};
    /* Every server hears of every instance, whatever Access Control grants
     * it: the list is "the Object Instances available on the LwM2M Client"
     * (Core 5.3.1), and Discover needs no right either (7.3.2). */
    int rc = gw_links_registration(r->vc->sc, gw_store_registry(r->srv->m->store), r->srv->content_format,
                                   NULL, r, &links);
    if (rc < 0) {
        gw_buf_free(&links);
        coap_delete_pdu(*pdu);
        *pdu = NULL;
        return rc;
    }
    gw_block_tx_free(&r->tx);
    *pdu = gw_block_tx_start(r->session, *pdu, links.data, links.len, &r->tx, r->token, &r->token_len);
    if (!*pdu)
        return -ENOMEM;
    r->links_dirty = false;
    return 0;
}

static int add_link_format(coap_pdu_t *pdu)
{
    uint8_t cf[4];
    return coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
                           coap_encode_var_safe(cf, sizeof cf, COAP_MEDIATYPE_APPLICATION_LINK_FORMAT), cf)
               ? 0
               : -ENOMEM;
}

static int send_pdu(struct gw_reg *r, coap_pdu_t *pdu)
{
    gw_reg_touch(r);
    int64_t prev_tx = r->last_tx_ms;
    r->last_tx_ms = r->op_sent_ms = gw_now_ms();
    if (coap_send(r->session, pdu) == COAP_INVALID_MID) {
        /* On a connected UDP socket the server's ICMP error is often
         * reported by the next send(), not by a read: it names the
         * datagram sent before. */
        r->drop_session = true;
        r->last_tx_ms = r->op_sent_ms = prev_tx;
        return -ECONNREFUSED;
    }
    if (!r->inflight) {
        r->inflight = true;
        r->srv->inflight++;
    }
    return 0;
}

/* LwM2M 1.1: queue mode is the Q in the binding. */
static int add_binding(struct gw_reg *r, coap_pdu_t *pdu)
{
    char b[16];
    const char *base = r->srv->binding;
    gw_value_t v;
    /* /1/x/7 as configured or provisioned (checked on every write). */
    gw_path_t p = gw_path_make(1, r->srv_iid, 7, GW_ID_NONE);
    char own[8];
    if (gw_store_get(r->vc->sc, &p, &v, NULL) == 0 && v.type == GW_TYPE_STRING && v.v.bytes.len &&
        v.v.bytes.len < sizeof own) {
        memcpy(own, v.v.bytes.ptr, v.v.bytes.len);
        own[v.v.bytes.len] = '\0';
        base = own;
    }
    snprintf(b, sizeof b, "%s%s", base, r->vc->queue_mode && !strchr(base, 'Q') ? "Q" : "");
    return add_query(pdu, "b", b);
}

static int send_register(struct gw_reg *r)
{
    int rc = gw_reg_ensure_session(r);
    if (rc < 0)
        return rc;
    coap_pdu_t *pdu = new_request(r, COAP_REQUEST_CODE_POST);
    if (!pdu)
        return -ENOMEM;
    r->lifetime = current_lifetime(r);
    if (!coap_add_option(pdu, COAP_OPTION_URI_PATH, 2, (const uint8_t *)"rd") || add_link_format(pdu) < 0 ||
        add_query(pdu, "ep", r->vc->endpoint) < 0 || add_query_num(pdu, "lt", r->lifetime) < 0 ||
        add_query(pdu, "lwm2m", "1.1") < 0 || add_binding(r, pdu) < 0) {
        coap_delete_pdu(pdu);
        return -ENOMEM;
    }
    if (attach_links(r, &pdu) < 0)
        return -ENOMEM;
    rc = send_pdu(r, pdu);
    if (rc == 0) {
        set_state(r, GW_REG_REGISTERING);
        gw_debug("%s: Register sent to %s", r->vc->endpoint, r->srv->uri);
    }
    return rc;
}

static int send_update(struct gw_reg *r)
{
    coap_pdu_t *pdu = new_request(r, COAP_REQUEST_CODE_POST);
    if (!pdu)
        return -ENOMEM;
    int32_t lt = current_lifetime(r);
    int rc = add_location_path(pdu, r->location);
    if (rc == 0 && lt != r->lifetime) {
        rc = add_query_num(pdu, "lt", lt);
        r->lifetime = lt;
    }
    if (rc == 0 && r->links_dirty)
        rc = add_link_format(pdu);
    if (rc < 0) {
        coap_delete_pdu(pdu);
        return rc;
    }
    if (r->links_dirty && (rc = attach_links(r, &pdu)) < 0)
        return rc;
    rc = send_pdu(r, pdu);
    if (rc == 0) {
        set_state(r, GW_REG_UPDATING);
        gw_debug("%s: Update sent to %s", r->vc->endpoint, r->srv->uri);
    }
    return rc;
}

int gw_reg_send_register(struct gw_reg *r)
{
    int rc = send_register(r);
    if (rc < 0)
        gw_reg_quiet(r);
    return rc;
}

static void send_op(struct gw_reg *r)
{
    int rc;
    if (r->srv->away) { /* the probe alone tries an unreachable server */
        gw_reg_suspend(r);
        return;
    }
    bool registering = r->state != GW_REG_REGISTERED;
    if (!registering)
        rc = send_update(r);
    else
        rc = send_register(r);
    bool order_failed = rc < 0 && registering && !gw_reg_follows_sequence(r);
    if (rc == -ECONNREFUSED && !r->srv->m->shutting_down && !r->dereg_after) {
        gw_reg_lost_server(r, "cannot send: ICMP error");
    } else if (rc < 0) {
        op_finished(r);
        backoff(r, rc == -EHOSTUNREACH ? "server address not resolved" : "cannot send");
    }
    if (order_failed)
        gw_reg_order_failed(r);
}

static void pace_refill(struct gw_server *s)
{
    if (s->rps <= 0)
        return;
    int64_t now = gw_now_ms();
    s->tokens += (double)(now - s->tokens_at_ms) * s->rps / 1000.0;
    /* A bucket of one second's worth: pacing, not bursting. */
    if (s->tokens > s->rps)
        s->tokens = s->rps;
    s->tokens_at_ms = now;
}

static void pump(struct gw_server *s)
{
    pace_refill(s);
    while (s->queue_head && s->inflight < GW_REG_MAX_INFLIGHT) {
        if (s->rps > 0 && s->tokens < 1.0)
            break;
        struct gw_reg *r = s->queue_head;
        s->queue_head = r->next_queued;
        if (!s->queue_head)
            s->queue_tail = NULL;
        r->queued = false;
        r->next_queued = NULL;
        if (s->rps > 0)
            s->tokens -= 1.0;
        send_op(r);
    }
    if (s->queue_head && s->rps > 0 && s->tokens < 1.0 && s->inflight < GW_REG_MAX_INFLIGHT) {
        int64_t wait = (int64_t)((1.0 - s->tokens) * 1000.0 / s->rps) + 1;
        gw_timer_start(s->m->loop, &s->pace_timer, wait);
    }
}

static void on_pace_timer(void *ctx) { pump(ctx); }

void gw_reg_touch(struct gw_reg *r) { r->last_activity_ms = gw_now_ms(); }

void gw_reg_new_data(struct gw_reg *r)
{
    if (!r->vc->queue_mode || r->state != GW_REG_REGISTERED)
        return;
    if (gw_now_ms() - r->last_activity_ms > (int64_t)r->vc->queue_time_s * 1000)
        gw_reg_request_update(r, false);
}

void gw_server_pace_init(struct gw_server *s)
{
    s->tokens = s->rps > 0 ? 1.0 : 0.0;
    s->tokens_at_ms = gw_now_ms();
    gw_timer_init(&s->pace_timer, on_pace_timer, s);
}

static void on_timer(void *ctx)
{
    struct gw_reg *r = ctx;
    if (gw_reg_delay_over(r))
        return;
    if (r->disabled) {
        r->disabled = false;
        gw_info("%s: Disable Timeout with %s over: registering again", r->vc->endpoint, r->srv->uri);
        if (r->state == GW_REG_DEREGISTERING) /* never answered: count it done */
            set_state(r, GW_REG_DONE);
        gw_reg_start(r);
        return;
    }
    if (r->state == GW_REG_REGISTERED || r->state == GW_REG_BACKOFF)
        enqueue(r);
}

void gw_reg_disable(struct gw_reg *r, int64_t timeout_s)
{
    gw_lwm2m_t *m = r->srv->m;
    gw_obs_drop_all(r);
    int rc = gw_reg_deregister(r);
    if (rc < 0 && r->state != GW_REG_REGISTERING) {
        gw_reg_stop(r);
        set_state(r, GW_REG_DONE);
    }
    r->disabled = true;
    gw_notice("%s: disabled by %s for %lld s (/1/%u/4)", r->vc->endpoint, r->srv->uri, (long long)timeout_s,
              r->srv_iid);
    gw_timer_start(m->loop, &r->timer, timeout_s * 1000);
}

int gw_reg_deregister(struct gw_reg *r)
{
    gw_timer_stop(r->srv->m->loop, &r->timer);
    dequeue(r);
    if (r->state == GW_REG_REGISTERING && r->session) {
        /* The server may already hold this registration: wait for the
         * answer and de-register right after it. */
        r->dereg_after = true;
        return 0;
    }
    if (!is_registered(r) || !r->location || !r->session) {
        if (r->state != GW_REG_DEREGISTERING)
            set_state(r, GW_REG_DONE);
        return -ENOTCONN;
    }
    coap_pdu_t *pdu = new_request(r, COAP_REQUEST_CODE_DELETE);
    if (!pdu || add_location_path(pdu, r->location) < 0) {
        coap_delete_pdu(pdu);
        set_state(r, GW_REG_DONE);
        return -ENOMEM;
    }
    gw_block_tx_free(&r->tx);
    if (r->inflight) { /* an Update in flight is superseded */
        r->inflight = false;
        r->srv->inflight--;
    }
    if (coap_send(r->session, pdu) == COAP_INVALID_MID) {
        set_state(r, GW_REG_DONE);
        return -EIO;
    }
    set_state(r, GW_REG_DEREGISTERING);
    return 0;
}

/* Where Update and De-register go. Kept as text that add_location_path
 * splits again, so a location that would not come back as the same
 * options (cut short, a '/' or NUL inside one) is refused rather than
 * used: the Update would reach another resource. 0, -EINVAL, -ENOSPC,
 * -ENOMEM. */
static int parse_location(struct gw_reg *r, const coap_pdu_t *pdu)
{
    coap_opt_iterator_t it;
    coap_opt_filter_t filter;
    coap_opt_t *opt;
    gw_req_seg_t segs[16];
    size_t n = 0;
    char buf[128];
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_LOCATION_PATH);
    coap_option_iterator_init(pdu, &it, &filter);
    while ((opt = coap_option_next(&it)) != NULL) {
        if (n == sizeof segs / sizeof segs[0])
            return -ENOSPC;
        segs[n++] = (gw_req_seg_t){coap_opt_value(opt), coap_opt_length(opt)};
    }
    free(r->location);
    r->location = NULL;
    int rc = gw_req_location_join(segs, n, buf, sizeof buf);
    if (rc < 0)
        return rc;
    r->location = strdup(n ? buf : "rd");
    return r->location ? 0 : -ENOMEM;
}

static void code_str(const coap_pdu_t *pdu, char *buf, size_t size)
{
    coap_pdu_code_t c = coap_pdu_get_code(pdu);
    snprintf(buf, size, "%d.%02d", COAP_RESPONSE_CLASS(c), c & 0x1f);
}

/* An Unsigned Integer resource of r's /1 instance; false when unset. */
static bool server_uint(const struct gw_reg *r, uint16_t rid, uint64_t *out)
{
    gw_value_t v;
    gw_path_t p = gw_path_make(1, r->srv_iid, rid, GW_ID_NONE);
    if (gw_store_get(r->vc->sc, &p, &v, NULL) < 0)
        return false;
    if (v.type == GW_TYPE_UNSIGNED)
        *out = v.v.u;
    else if (v.type == GW_TYPE_INTEGER && v.v.i >= 0)
        *out = (uint64_t)v.v.i;
    else
        return false;
    return true;
}

/* Core 6.2.1.1 / E.2 defaults of the communication sequence resources. */
#define SEQ_RETRY_COUNT 5        /* /1/x/17 */
#define SEQ_RETRY_TIMER_S 60     /* /1/x/18, doubled per attempt */
#define SEQ_DELAY_S 86400        /* /1/x/19; MAX_VALUE: no further sequence */
#define SEQ_COUNT 1              /* /1/x/20 */
#define SEQ_DELAY_MAX UINT32_MAX /* an Unsigned Integer's MAX_VALUE as servers write it (or above) */

static void retry_in(struct gw_reg *r, uint64_t s)
{
    gw_lwm2m_t *m = r->srv->m;
    set_state(r, GW_REG_BACKOFF);
    free(r->location);
    r->location = NULL;
    gw_timer_start(m->loop, &r->timer, (int64_t)(s > INT32_MAX ? INT32_MAX : s) * 1000);
}

/* The registration sequence of Core 6.2.1.1 where r's /1 instance sets any
 * of /1/x/17..20 (the others take their defaults): attempt k of a
 * sequence that fails waits /1/x/18 * 2^(k-1) s; after /1/x/17 attempts the
 * sequence failed, the next one starts after /1/x/19 s; after /1/x/20
 * sequences the registration failed: the client bootstraps again when it
 * may (bootstrap.c, /1/x/16), or keeps on with sequences /1/x/19 apart
 * (none when /1/x/19 is MAX_VALUE). Replaces the plain backoff and, for
 * this client, the server's outage view (a probe of that view excepted).
 * true when the failure was handled here. */
bool gw_reg_follows_sequence(const struct gw_reg *r)
{
    uint64_t v;
    if (gw_reg_is_registered(r) || r->returning)
        return false;
    for (uint16_t rid = 17; rid <= 20; rid++)
        if (server_uint(r, rid, &v))
            return true;
    return false;
}

static bool sequence_failed(struct gw_reg *r, const char *why)
{
    uint64_t count = SEQ_RETRY_COUNT, timer = SEQ_RETRY_TIMER_S, delay = SEQ_DELAY_S, seqs = SEQ_COUNT;
    bool set = server_uint(r, 17, &count);
    set |= server_uint(r, 18, &timer);
    set |= server_uint(r, 19, &delay);
    set |= server_uint(r, 20, &seqs);
    if (!set || r->returning || r->dereg_after || r->srv->m->shutting_down)
        return false;
    count = count < 1 ? 1 : count > 255 ? 255 : count;
    seqs = seqs < 1 ? 1 : seqs > 255 ? 255 : seqs;
    op_finished(r);
    const char *ep = r->vc->endpoint;
    if (++r->reg_failures < count) {
        unsigned shift = r->reg_failures - 1u;
        uint64_t s = shift >= 31 || timer > (UINT64_C(1) << 32) ? INT32_MAX : timer << shift;
        gw_warn("%s: registration with %s failed (%s): attempt %u of %u in sequence %u of %u; next in %llu s "
                "(/1/%u/18)",
                ep, r->srv->uri, why, r->reg_failures, (unsigned)count, r->seq_failures + 1u, (unsigned)seqs,
                (unsigned long long)s, r->srv_iid);
        retry_in(r, s);
        return true;
    }
    r->reg_failures = 0;
    bool last = ++r->seq_failures >= seqs || delay >= SEQ_DELAY_MAX;
    if (!last) {
        gw_warn("%s: registration with %s failed (%s): sequence %u of %u failed; next sequence in %llu s "
                "(/1/%u/19)",
                ep, r->srv->uri, why, r->seq_failures, (unsigned)seqs, (unsigned long long)delay, r->srv_iid);
        retry_in(r, delay);
        return true;
    }
    r->seq_failures = 0;
    gw_warn("%s: registration with %s failed (%s): its communication sequences are exhausted", ep, r->srv->uri,
            why);
    gw_reg_order_failed(r);
    if (r->vc->bs && gw_bs_registration_failed(r))
        return true; /* r is gone: the client's registrations were replaced */
    if (delay >= SEQ_DELAY_MAX) {
        gw_err("%s: no further registration with %s (/1/%u/19 is MAX_VALUE): a bootstrap, a restart or a "
               "reload tries again",
               ep, r->srv->uri, r->srv_iid);
        set_state(r, GW_REG_BACKOFF);
        return true;
    }
    gw_notice("%s: registering with %s again in %llu s (/1/%u/19)", ep, r->srv->uri, (unsigned long long)delay,
              r->srv_iid);
    retry_in(r, delay);
    return true;
}

/* A Register failed. With /1/x/17..20 set, the sequence above decides.
 * Otherwise a bootstrapped client bootstraps again after 5 failures in a
 * row (the Communication Retry Count's default; bootstrap.c decides,
 * /1/x/16) and the others back off. true when the failure was handled. */
static bool register_failed(struct gw_reg *r, const char *why)
{
    if (sequence_failed(r, why))
        return true;
    gw_reg_order_failed(r);
    if (!r->vc->bs)
        return false;
    if (++r->reg_failures < SEQ_RETRY_COUNT)
        return false;
    op_finished(r);
    return gw_bs_registration_failed(r);
}

coap_response_t gw_reg_on_response(struct gw_reg *r, const coap_pdu_t *received)
{
    coap_bin_const_t tok = coap_pdu_get_token(received);
    if (r->token_len == 0 || tok.length != r->token_len || memcmp(tok.s, r->token, tok.length) != 0)
        return COAP_RESPONSE_OK; /* not the registration request we wait for */
    gw_server_answered(r->srv, r);
    if (r->tx) {
        /* A block of a long object list: the server asks for the next. */
        coap_pdu_t *next = NULL;
        int rc = gw_block_tx_next(r->session, &r->tx, received, r->token, &r->token_len, &next);
        if (rc == 1) {
            if (coap_send(r->session, next) != COAP_INVALID_MID)
                return COAP_RESPONSE_OK;
            r->drop_session = true; /* then treated as the failure below */
        }
    }
    coap_pdu_code_t code = coap_pdu_get_code(received);
    char cs[8];
    code_str(received, cs, sizeof cs);
    gw_lwm2m_t *m = r->srv->m;

    switch (r->state) {
    case GW_REG_REGISTERING: {
        op_finished(r);
        int loc = code == COAP_RESPONSE_CODE(201) ? parse_location(r, received) : 0;
        if (code == COAP_RESPONSE_CODE(201) && loc == 0) {
            /* A new registration starts without observations (LwM2M 1.1
             * 6.4.1: they do not survive a Register, only Updates). */
            gw_obs_drop_all(r);
            r->backoff_s = 0;
            r->reg_failures = 0;
            r->seq_failures = 0;
            set_state(r, GW_REG_REGISTERED);
            gw_log(r->returning ? LOG_DEBUG : LOG_INFO, "%s: registered with %s at /%s (lifetime %d s)",
                   r->vc->endpoint, r->srv->uri, r->location ? r->location : "?", r->lifetime);
            if (r->dereg_after) {
                r->dereg_after = false;
                if (gw_reg_deregister(r) < 0)
                    gw_lwm2m_dereg_done(m);
            } else if (r->links_dirty)
                enqueue(r);
            else
                schedule_update(r);
            gw_send_registered(r, true);
            gw_bs_registered(r);
            if (r->returning)
                gw_server_returned(r, true);
            gw_reg_order_registered(r);
        } else {
            char why[160];
            if (loc < 0)
                snprintf(why, sizeof why, "server answered %s with a Location-Path %s", cs,
                         loc == -EINVAL ? "that cannot be sent back (a '.' or '..' segment, or a NUL)"
                                        : "too long (more than 127 bytes or 16 segments)");
            else
                snprintf(why, sizeof why, "server answered %s", cs);
            if (register_failed(r, why))
                break;
            backoff(r, why);
            if (r->returning)
                gw_server_returned(r, false);
        }
        break;
    }
    case GW_REG_UPDATING:
        op_finished(r);
        if (code == COAP_RESPONSE_CODE(204)) {
            set_state(r, GW_REG_REGISTERED);
            r->backoff_s = 0;
            if (r->links_dirty)
                enqueue(r);
            else
                schedule_update(r);
            gw_send_registered(r, false);
            gw_bs_registered(r);
        } else if (code == COAP_RESPONSE_CODE(404)) {
            gw_notice("%s: %s no longer knows this registration (4.04 on Update); registering again",
                      r->vc->endpoint, r->srv->uri);
            set_state(r, GW_REG_QUEUED);
            free(r->location);
            r->location = NULL;
            r->links_dirty = true;
            enqueue(r);
        } else {
            char why[48];
            snprintf(why, sizeof why, "Update answered %s", cs);
            backoff(r, why);
        }
        break;
    case GW_REG_DEREGISTERING:
        r->token_len = 0;
        set_state(r, GW_REG_DONE);
        gw_info("%s: de-registered from %s (%s)", r->vc->endpoint, r->srv->uri, cs);
        free(r->location);
        r->location = NULL;
        gw_lwm2m_dereg_done(m);
        break;
    default:
        break;
    }
    return COAP_RESPONSE_OK;
}

void gw_reg_on_nack(struct gw_reg *r, coap_nack_reason_t reason)
{
    const char *why = reason == COAP_NACK_TOO_MANY_RETRIES ? "no answer"
                      : reason == COAP_NACK_RST            ? "reset by the server"
                      : reason == COAP_NACK_TLS_FAILED     ? gw_dtls_failure(r) /* dtls.c: why */
                      : reason == COAP_NACK_ICMP_ISSUE     ? "ICMP error (server down?)"
                                                           : "not deliverable";
    if (r->token_len == 0)
        return;
    r->drop_session = true;
    switch (r->state) {
    case GW_REG_REGISTERING:
    case GW_REG_UPDATING:
        if (r->state == GW_REG_REGISTERING && !r->dereg_after && register_failed(r, why))
            break;
        if ((reason == COAP_NACK_ICMP_ISSUE || reason == COAP_NACK_TOO_MANY_RETRIES) &&
            !r->srv->m->shutting_down && !r->dereg_after) {
            /* The server, not this client, is the problem: every client
             * of it waits, and one probe finds out when it is back. */
            gw_reg_lost_server(r, why);
            break;
        }
        op_finished(r);
        backoff(r, why);
        if (r->returning)
            gw_server_returned(r, false);
        break;
    case GW_REG_DEREGISTERING:
        r->token_len = 0;
        set_state(r, GW_REG_DONE);
        gw_warn("%s: De-register with %s not confirmed (%s)", r->vc->endpoint, r->srv->uri, why);
        gw_lwm2m_dereg_done(r->srv->m);
        break;
    default:
        break;
    }
}
