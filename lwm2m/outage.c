/*
 * lwm2m/outage.c - one view of a server's reachability for all the virtual
 * clients registered with it.
 *
 * Any sign that the server is gone (an ICMP error on any client's session, a
 * Register, Update, Send or confirmable notification left unanswered) stops
 * every client of that server at once: its session is given up (pending
 * messages cancelled, so nothing stale reaches a restarted server), and what
 * its observations would have notified is kept in the offline store (send.c).
 * One client at a time then probes with a Register; the first answer brings
 * all of them back, paced by the server's token bucket, and the backlog goes
 * out with Send.
 *
 * Why one view and not each client's own backoff: after an outage each
 * client's delay had grown to a minute or more, so a fleet took that long
 * to notice the server was back, and each retry logged a line. The probe
 * interval follows the outage's length instead (a fifteenth of it, at least
 * 2 s, at most 300 s): a 60 s outage is noticed within about 4 s, a day-long
 * one costs one small Register every 5 minutes. Logging is one line when the
 * server goes, one per probe, and two when it is back, whatever the number
 * of clients.
 */
#include <stdio.h>
#include <string.h>

#include "../gateway/log.h"
#include "lwm2m_internal.h"

#define PROBE_FIRST_MS 1000
#define PROBE_MIN_MS 2000
#define PROBE_MAX_MS ((int64_t)GW_BACKOFF_MAX_S * 1000)

static void on_probe(void *ctx);

void gw_server_outage_init(struct gw_server *s) { gw_timer_init(&s->probe_timer, on_probe, s); }

void gw_server_outage_fini(struct gw_server *s)
{
    if (s->m)
        gw_timer_stop(s->m->loop, &s->probe_timer);
}

void gw_server_unreachable(struct gw_server *s, int64_t sent_ms, const char *why)
{
    if (s->m->shutting_down || s->away)
        return;
    if (!s->away_pending || sent_ms < s->dead_ms)
        s->dead_ms = sent_ms;
    if (!s->away_pending)
        s->away_why = why;
    s->away_pending = true;
}

void gw_reg_icmp(struct gw_reg *r)
{
    struct gw_server *s = r->srv;
    if (gw_reg_follows_sequence(r))
        return; /* its Register's NACK counts an attempt of its sequence */
    if (!s->away) {
        gw_server_unreachable(s, r->last_tx_ms, "ICMP error");
        return;
    }
    if (r == s->probe && r->state == GW_REG_REGISTERING) {
        /* libcoap 4.3.1 would go on retransmitting the probe's Register:
         * the next probe is a new one, from a new socket. */
        s->probe = NULL;
        gw_reg_quiet(r);
        gw_reg_release_session(r);
        gw_reg_set_state(r, GW_REG_AWAY);
    }
}

void gw_reg_suspend(struct gw_reg *r)
{
    struct gw_server *s = r->srv;
    switch ((gw_reg_state_t)r->state) {
    case GW_REG_QUEUED:
    case GW_REG_REGISTERING:
    case GW_REG_REGISTERED:
    case GW_REG_UPDATING:
    case GW_REG_BACKOFF:
        break;
    default:
        return;
    }
    if (gw_reg_follows_sequence(r))
        return; /* its own attempts, on its sequence's timers */
    bool was_up = gw_reg_is_registered(r);
    gw_reg_quiet(r);
    if (was_up)
        gw_send_reg_suspended(r, s->dead_ms);
    else
        gw_reg_order_failed(r); /* its server went away in its turn: for /1/x/13..15 a failed Register */
    gw_reg_release_session(r);
    if (r->returning) {
        r->returning = false;
        s->n_returning--;
    }
    if (r == s->probe)
        s->probe = NULL;
    r->backoff_s = 0;
    gw_reg_set_state(r, GW_REG_AWAY);
}

void gw_reg_lost_server(struct gw_reg *r, const char *why)
{
    struct gw_server *s = r->srv;
    if (s->away) {
        gw_debug("%s: %s still unreachable (%s)", r->vc->endpoint, s->uri, why);
        if (!gw_reg_is_registered(r))
            gw_reg_order_failed(r);
        if (r == s->probe)
            s->probe = NULL;
        gw_reg_quiet(r);
        gw_reg_release_session(r);
        gw_reg_set_state(r, GW_REG_AWAY);
        return;
    }
    gw_server_unreachable(s, r->op_sent_ms, why);
    gw_reg_suspend(r);
}

/* Every registration of s in turn (O(clients); once per outage or probe). */
#define FOR_EACH_REG(m, s, r)                                                                    \
    for (size_t b_ = 0; b_ < (m)->n_buckets; b_++)                                               \
        for (struct gw_vclient *vc_ = (m)->buckets[b_]; vc_; vc_ = vc_->hnext)                  \
            for (struct gw_reg *r = gw_vclient_reg_of(vc_, (s)); r; \
                 r = NULL)

static double secs(int64_t ms) { return (double)ms / 1000.0; }

static void go_away(struct gw_server *s)
{
    gw_lwm2m_t *m = s->m;
    size_t n = 0;
    s->away_pending = false;
    s->away = true;
    s->summary_pending = false;
    s->away_since_ms = gw_now_ms();
    s->n_returning = 0;
    s->probe = NULL;
    FOR_EACH_REG(m, s, r)
    {
        gw_reg_suspend(r);
        if (r->state == GW_REG_AWAY)
            n++;
    }
    s->m->all_registered = false; /* "all registered" again once they are back */
    gw_notice("server %s unreachable (%s): %zu clients keeping their readings until it answers", s->uri,
              s->away_why ? s->away_why : "no answer", n);
    gw_timer_start(m->loop, &s->probe_timer, PROBE_FIRST_MS);
}

void gw_server_outage_process(gw_lwm2m_t *m)
{
    for (size_t i = 0; i < m->n_servers; i++) {
        struct gw_server *s = &m->servers[i];
        if (s->away_pending && !m->shutting_down)
            go_away(s);
        s->away_pending = false;
    }
}

static void on_probe(void *ctx)
{
    struct gw_server *s = ctx;
    gw_lwm2m_t *m = s->m;
    if (!s->away || m->shutting_down)
        return;
    struct gw_reg *p = s->probe;
    if (p) {
        /* No answer within the probe interval: given up (its socket with
         * it), so no late Register reaches the server from there. */
        s->probe = NULL;
        gw_reg_quiet(p);
        gw_reg_release_session(p);
        gw_reg_set_state(p, GW_REG_AWAY);
    }
    int64_t now = gw_now_ms();
    int64_t delay = (now - s->away_since_ms) / 15;
    if (delay < PROBE_MIN_MS)
        delay = PROBE_MIN_MS;
    if (delay > PROBE_MAX_MS)
        delay = PROBE_MAX_MS;
    delay = delay * 4 / 5 + (int64_t)(gw_lwm2m_random(m) % (uint32_t)(delay * 2 / 5 + 1)); /* +-20 % */
    size_t waiting = 0;
    FOR_EACH_REG(m, s, r)
    {
        if (r->state != GW_REG_AWAY)
            continue;
        waiting++;
        if (!s->probe && !r->dereg_after) {
            s->probe = r;
            r->links_dirty = true;
            if (gw_reg_send_register(r) < 0) {
                gw_reg_set_state(r, GW_REG_AWAY);
                s->probe = NULL;
            }
        }
    }
    gw_info("server %s unreachable for %.0f s (%zu clients waiting); next try in %.1f s", s->uri,
            secs(now - s->away_since_ms), waiting, secs(delay));
    gw_timer_start(m->loop, &s->probe_timer, delay);
}

void gw_server_answered(struct gw_server *s, struct gw_reg *r)
{
    gw_lwm2m_t *m = s->m;
    if (!s->away)
        return;
    int64_t now = gw_now_ms();
    s->away = false;
    s->probe = NULL;
    gw_timer_stop(m->loop, &s->probe_timer);
    s->back_ms = now;
    s->summary_pending = true;
    s->n_reregistered = 0;
    s->delivered = 0;
    s->n_returning = 0;
    if (!r->returning && r->state == GW_REG_REGISTERING) {
        r->returning = true;
        s->n_returning++;
    }
    FOR_EACH_REG(m, s, q)
    {
        if (q->state != GW_REG_AWAY)
            continue;
        q->returning = true;
        s->n_returning++;
        q->links_dirty = true;
        gw_reg_set_state(q, GW_REG_QUEUED);
        gw_reg_enqueue(q);
    }
    gw_notice("server %s answers again after %.1f s: %zu clients registering", s->uri,
              secs(now - s->away_since_ms), s->n_returning);
}

static void summary(struct gw_server *s)
{
    if (!s->summary_pending || s->away || s->n_returning || s->n_backlog)
        return;
    s->summary_pending = false;
    gw_notice("server %s back: %zu re-registered, %llu readings delivered, %.1f s after it answered", s->uri,
              s->n_reregistered, (unsigned long long)s->delivered, secs(gw_now_ms() - s->back_ms));
}

void gw_server_returned(struct gw_reg *r, bool ok)
{
    struct gw_server *s = r->srv;
    r->returning = false;
    if (s->n_returning)
        s->n_returning--;
    if (ok)
        s->n_reregistered++;
    summary(s);
}

void gw_server_backlog_check(struct gw_server *s) { summary(s); }
