/*
 * lwm2m/observe.c - Observe/Notify (RFC 7641, LwM2M 1.1 Information
 * Reporting) for every virtual client, driven by store changes and by the
 * loop's timer heap.
 *
 * Rules (LwM2M 1.1 5.1.2 and 6.4):
 * - the attributes in force at an observed path are those written on it
 *   and on the levels above it (object, object instance, resource,
 *   resource instance), the nearest level winning per attribute; pmin and
 *   pmax default to the server's /1/x/2 and /1/x/3 (attrs.c);
 * - a change notifies at once when pmin has passed since the last
 *   notification, else once when pmin ends, with the value of that moment
 *   (changes coalesce: never a backlog);
 * - pmax forces a notification even without change;
 * - on a single numeric value (a resource, or a resource instance), gt/lt
 *   notify when the value crosses them and st when it moved by at least
 *   st, both judged against the last *notified* value; other changes of
 *   that value are not notified;
 * - epmin: a change that comes less than epmin after the last evaluation
 *   of the criteria is judged when epmin ends, with the value then; epmax:
 *   the value is sampled again (the refresh hook, e.g. /3/0/13 Current
 *   Time) and judged at least every epmax;
 * - Observe-Composite (6.4.3): every member path keeps the attributes in
 *   force at it, and one notification carries all members. A member's
 *   change (as its gt/lt/st judge it) notifies once its own pmin has
 *   passed; the smallest pmax among members forces one; a notification
 *   resets every member's clock, as each member's value went out in it.
 *   So a member's pmin holds back only notifications its own changes
 *   cause, never those of another member: pmin bounds how often a path's
 *   changes are reported, and taking the largest pmin for the set would
 *   delay members that ask for none;
 * - notifications are NON, with a CON at least every 24 h (RFC 7641 4.5)
 *   or always with confirmable_notifications; a CON that is not
 *   acknowledged, or a Reset, cancels the observation; a notification
 *   other than 2.05 (the path was deleted) ends it.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/log.h"
#include "acl_internal.h"
#include "attrs.h"
#include "lwm2m_internal.h"

#define CON_EVERY_MS (24LL * 3600 * 1000)

static void on_timer(void *ctx);

static void obs_path_str(const struct gw_obs *o, char *buf, size_t size)
{
    if (o->composite)
        snprintf(buf, size, "a composite of %u paths", (unsigned)o->n_members);
    else
        gw_path_format(&o->members[0].path, buf, size);
}

/* The server's default period (/1/x/2 or /1/x/3), 0 when unset. */
static int32_t server_default(const struct gw_reg *r, uint16_t rid)
{
    gw_value_t v;
    gw_path_t p = {{1, r->srv_iid, rid, GW_ID_NONE}, 3};
    if (gw_store_get(r->vc->sc, &p, &v, NULL) == 0 && v.type == GW_TYPE_INTEGER && v.v.i >= 0 &&
        v.v.i <= INT32_MAX)
        return (int32_t)v.v.i;
    return 0;
}

/* Does path name one value (a single resource or a resource instance)? */
static bool single_value(const struct gw_reg *r, const gw_path_t *p)
{
    if (p->len == 4)
        return true;
    if (p->len != 3)
        return false;
    const gw_objdef_t *od = gw_registry_find(gw_store_registry(r->vc->m->store), p->id[0]);
    const gw_resdef_t *rd = od ? gw_objdef_find_res(od, p->id[2]) : NULL;
    return rd && !rd->multiple;
}

static void effective(const struct gw_obs *o, const struct gw_obs_member *mb, gw_notify_attrs_t *e)
{
    const gw_sclient_t *c = o->r->vc->sc;
    uint16_t ssid = gw_reg_ssid(o->r); /* only this server's attributes (Core 5.1.2) */
    gw_attrs_t at[4];
    const gw_attrs_t *levels[4] = {NULL, NULL, NULL, NULL};
    for (uint8_t len = 1; len <= mb->path.len && len <= 4; len++) {
        gw_path_t p = mb->path;
        p.len = len;
        if (gw_store_attrs_get(c, ssid, &p, &at[len - 1]) == 0)
            levels[len - 1] = &at[len - 1];
    }
    gw_attrs_inherit(levels, mb->path.len, server_default(o->r, 2), server_default(o->r, 3),
                     single_value(o->r, &mb->path), e);
}

static bool numeric(const gw_value_t *v, double *out)
{
    switch (v->type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME: *out = (double)v->v.i; return true;
    case GW_TYPE_UNSIGNED: *out = (double)v->v.u; return true;
    case GW_TYPE_FLOAT: *out = v->v.f; return true;
    default: return false;
    }
}

static bool has_criteria(const gw_notify_attrs_t *e)
{
    return e->has_gt || e->has_lt || e->has_st;
}

/* The member's next moment: a notification (pmin/pmax) or an evaluation
 * (epmin/epmax); -1 when none. */
static int64_t member_due(const struct gw_obs *o, const struct gw_obs_member *mb, const gw_notify_attrs_t *e)
{
    return gw_attrs_earliest(gw_attrs_due(e, o->last_ms, mb->pending),
                             gw_attrs_eval_due(e, mb->last_eval_ms, mb->deferred));
}

static void rearm(struct gw_obs *o)
{
    gw_loop_t *loop = o->r->srv->m->loop;
    int64_t due = -1;
    for (size_t i = 0; i < o->n_members; i++) {
        gw_notify_attrs_t e;
        effective(o, &o->members[i], &e);
        due = gw_attrs_earliest(due, member_due(o, &o->members[i], &e));
    }
    if (due < 0)
        gw_timer_stop(loop, &o->timer);
    else
        gw_timer_start_at(loop, &o->timer, due);
}

static void unlink_obs(struct gw_obs *o)
{
    struct gw_reg *r = o->r;
    for (struct gw_obs **pp = &r->obs; *pp; pp = &(*pp)->next) {
        if (*pp == o) {
            *pp = o->next;
            break;
        }
    }
    gw_timer_stop(r->srv->m->loop, &o->timer);
    free(o);
}

static void remember_number(struct gw_obs *o, struct gw_obs_member *mb)
{
    gw_value_t v;
    double x;
    mb->has_last = false;
    if (mb->path.len >= 3 && gw_store_get(o->r->vc->sc, &mb->path, &v, NULL) == 0 && numeric(&v, &x)) {
        mb->last_num = x;
        mb->has_last = true;
    }
}

/* Judge a change of the member's value v (NULL: take the stored one) and
 * mark it pending when the criteria hold. */
static void judge(struct gw_obs *o, struct gw_obs_member *mb, const gw_notify_attrs_t *e, const gw_value_t *v,
                  int64_t now)
{
    gw_value_t stored;
    double x;
    mb->last_eval_ms = now;
    mb->deferred = false;
    if (mb->pending)
        return; /* goes out at pmin with the value of that moment */
    if (has_criteria(e)) {
        if (!v && gw_store_get(o->r->vc->sc, &mb->path, &stored, NULL) == 0)
            v = &stored;
        if (v && numeric(v, &x) && !gw_attrs_value_triggers(e, mb->has_last, mb->last_num, x))
            return;
    }
    mb->pending = true;
}


/* Every member's value went out (or was kept) now. */
static void notified(struct gw_obs *o, int64_t now)
{
    o->prev_ms = o->last_ms;
    o->last_ms = now;
    /* The readings' timestamps are wall clock: comparing them with a
     * monotonic time converted would be off by a millisecond either way. */
    o->prev_wall_ms = o->last_wall_ms;
    o->last_wall_ms = gw_wall_ms();
    for (size_t i = 0; i < o->n_members; i++) {
        o->members[i].pending = false;
        remember_number(o, &o->members[i]);
    }
}

/* Build and send one notification with the current value. Returns 0, or a
 * negative errno when the observation ended (it is then freed). */
static int notify(struct gw_obs *o)
{
    struct gw_reg *r = o->r;
    gw_lwm2m_t *m = r->srv->m;
    gw_buf_t body = {0};
    int cf = -1;
    char ps[32];
    if (!r->session || (r->state != GW_REG_REGISTERED && r->state != GW_REG_UPDATING)) {
        /* Not registered right now: each change already went to the
         * offline store as it came (send.c), once per reading however many
         * observations cover it. */
        notified(o, gw_now_ms());
        rearm(o);
        return 0;
    }
    int code;
    if (o->composite) {
        gw_path_t paths[GW_OBS_MAX_PATHS];
        for (size_t i = 0; i < o->n_members; i++)
            paths[i] = o->members[i].path;
        code = gw_composite_read_encode(r, paths, o->n_members, o->accept, &body, &cf);
    } else {
        code = gw_dm_read_encode(r, &o->members[0].path, o->accept, &body, &cf);
    }
    int64_t now = gw_now_ms();
    bool con = r->srv->confirmable_notifications || now - o->last_con_ms >= CON_EVERY_MS;
    coap_pdu_t *pdu = coap_pdu_init(con ? COAP_MESSAGE_CON : COAP_MESSAGE_NON,
                                    code ? (coap_pdu_code_t)code : COAP_RESPONSE_CODE(205),
                                    coap_new_message_id(r->session), coap_session_max_pdu_size(r->session));
    if (!pdu || !coap_add_token(pdu, o->token_len, o->token)) {
        coap_delete_pdu(pdu);
        gw_buf_free(&body);
        return 0;
    }
    o->seq = (o->seq + 1) & 0xFFFFFF;
    uint8_t ob[4], cb[4];
    if (!code) {
        coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(ob, sizeof ob, o->seq), ob);
        coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(cb, sizeof cb, (unsigned)cf), cb);
        size_t room = coap_session_max_pdu_size(r->session);
        room = room > 64 ? room - 64 : 0; /* header, token and options */
        if (body.len > room && room >= 16) {
            /* Too big for one datagram: send the first block (RFC 7959 2.6);
             * the server fetches the rest with GET Block2, which the DM
             * handler answers block by block from the store. */
            unsigned szx = 6; /* 1024 bytes */
            while (szx > 0 && (1u << (szx + 4)) > room)
                szx--;
            uint8_t bb[4];
            unsigned blk = (0u << 4) | 0x08u | szx; /* num 0, more, size */
            coap_add_option(pdu, COAP_OPTION_BLOCK2, coap_encode_var_safe(bb, sizeof bb, blk), bb);
            coap_add_option(pdu, COAP_OPTION_SIZE2, coap_encode_var_safe(bb, sizeof bb, (unsigned)body.len), bb);
            coap_add_data(pdu, (size_t)1 << (szx + 4), body.data);
        } else if (!coap_add_data(pdu, body.len, body.data ? body.data : (const uint8_t *)"")) {
            gw_warn("%s: notification of %s could not be built (%zu bytes)", r->vc->endpoint,
                    (obs_path_str(o, ps, sizeof ps), ps), body.len);
        }
    }
    gw_buf_free(&body);
    int64_t prev_tx = r->last_tx_ms;
    r->last_tx_ms = now;
    coap_mid_t mid = coap_send(r->session, pdu);
    if (mid == COAP_INVALID_MID) {
        /* send() on a connected UDP socket reports the ICMP error an
         * earlier datagram caused (libcoap logs "coap_network_send"): the
         * server is away, and this notification's values are kept. */
        gw_debug("%s: notification not sent", r->vc->endpoint);
        gw_server_unreachable(r->srv, prev_tx, "cannot send: ICMP error");
    }
    o->has_non_mid = !con && mid != COAP_INVALID_MID;
    if (o->has_non_mid && !code)
        gw_at_risk_note(r, o, now); /* before notified(): o->last_wall_ms is the previous one */
    o->non_mid = (uint16_t)mid;
    if (con)
        o->last_con_ms = now;
    if (code) {
        /* A non-2.05 notification ends the observation (RFC 7641 4.2). */
        obs_path_str(o, ps, sizeof ps);
        gw_info("%s: observation of %s ended (%d.%02d)", r->vc->endpoint, ps, code >> 5, code & 31);
        unlink_obs(o);
        (void)m;
        return -ENOENT;
    }
    notified(o, now);
    rearm(o);
    return 0;
}

/* epmin/epmax moments of one member that have come: sample the value
 * when epmax says so (through the refresh hook, whose store change comes
 * back through gw_obs_value_changed) and judge a change epmin deferred. */
static void evaluate_due(struct gw_obs *o, struct gw_obs_member *mb, const gw_notify_attrs_t *e, int64_t now)
{
    gw_lwm2m_t *m = o->r->vc->m;
    if (e->epmax > 0 && now >= mb->last_eval_ms + (int64_t)e->epmax * 1000) {
        if (m->refresh)
            m->refresh(m->refresh_ctx, o->r->vc, &mb->path);
        mb->last_eval_ms = now;
    }
    if (mb->deferred && now >= mb->last_eval_ms + (int64_t)e->epmin * 1000)
        judge(o, mb, e, NULL, now);
}

/* A plain observation of an instance or resource its server may no longer
 * read (its Access Control instance changed). */
static bool revoked(const struct gw_obs *o)
{
    const gw_path_t *p = &o->members[0].path;
    return !o->composite && p->len >= 2 && gw_acl_active(o->r) &&
           !gw_acl_may(o->r, p->id[0], p->id[1], GW_ACL_OP_READ);
}

static void on_timer(void *ctx)
{
    struct gw_obs *o = ctx;
    int64_t now = gw_now_ms();
    bool due = false;
    if (revoked(o)) {
        notify(o); /* a 4.01 without a value: the observation ends now, pmin or not */
        return;
    }
    for (size_t i = 0; i < o->n_members; i++) {
        gw_notify_attrs_t e;
        effective(o, &o->members[i], &e);
        evaluate_due(o, &o->members[i], &e, now);
    }
    for (size_t i = 0; i < o->n_members && !due; i++) {
        gw_notify_attrs_t e;
        effective(o, &o->members[i], &e);
        int64_t d = gw_attrs_due(&e, o->last_ms, o->members[i].pending);
        due = d >= 0 && now >= d;
    }
    if (due)
        notify(o);
    else
        rearm(o);
}

/* A new observation of n paths (copied), in r's list, or NULL. */
static struct gw_obs *obs_new(struct gw_reg *r, const gw_path_t *paths, size_t n, const uint8_t *token,
                              size_t token_len, int accept)
{
    struct gw_obs *o = calloc(1, sizeof *o + n * sizeof o->members[0]);
    if (!o)
        return NULL;
    o->r = r;
    o->accept = accept;
    o->token_len = (uint8_t)token_len;
    memcpy(o->token, token, token_len);
    o->last_ms = gw_now_ms();
    o->last_con_ms = o->last_ms;
    o->last_wall_ms = o->prev_wall_ms = gw_wall_ms();
    o->seq = 2; /* the first notification after the 2.05 carries 3 */
    o->n_members = (uint16_t)n;
    for (size_t i = 0; i < n; i++) {
        /* The Observe's answer read every value: that counts as the
         * first evaluation and the first notification. */
        o->members[i].path = paths[i];
        o->members[i].last_eval_ms = o->last_ms;
        remember_number(o, &o->members[i]);
    }
    gw_timer_init(&o->timer, on_timer, o);
    o->next = r->obs;
    r->obs = o;
    return o;
}

int gw_obs_start(struct gw_reg *r, const gw_path_t *path, const uint8_t *token, size_t token_len,
                 int accept, uint32_t *out_seq)
{
    if (token_len > 8)
        return -EINVAL;
    gw_obs_cancel(r, token, token_len, NULL); /* same token: the new one replaces it */
    struct gw_obs *o = obs_new(r, path, 1, token, token_len, accept);
    if (!o)
        return -ENOMEM;
    rearm(o);
    *out_seq = o->seq;
    char ps[32];
    gw_debug("%s: %s observes %s", r->vc->endpoint, r->srv->uri, gw_path_format(path, ps, sizeof ps));
    return 0;
}

void gw_obs_cancel(struct gw_reg *r, const uint8_t *token, size_t token_len, const char *why)
{
    for (struct gw_obs *o = r->obs; o; o = o->next) {
        if (o->token_len == token_len && memcmp(o->token, token, token_len) == 0) {
            if (why) {
                char ps[32];
                obs_path_str(o, ps, sizeof ps);
                gw_info("%s: observation of %s %s", r->vc->endpoint, ps, why);
            }
            unlink_obs(o);
            return;
        }
    }
}

void gw_obs_drop_all(struct gw_reg *r)
{
    while (r->obs)
        unlink_obs(r->obs);
    gw_at_risk_free(r); /* what they notified concerns nobody now */
}

size_t gw_obs_count(const struct gw_reg *r)
{
    size_t n = 0;
    for (const struct gw_obs *o = r->obs; o; o = o->next)
        n++;
    return n;
}

/* An Access Control instance of vc changed (its owner wrote an ACL, a
 * bootstrap server or a reload rewrote it): what each server may read
 * changed. Core 7.3.2.5 forbids a Notify of what the server may not read;
 * an observation of an instance or resource it lost R on ends with a 4.01
 * that carries no value (RFC 7641 4.2: a non-2.xx notification ends it),
 * on the next loop turn rather than from inside the Write that changed
 * the rights. An observation of an object or a composite one is notified
 * at its next moment with what the server may read now. */
static void rights_changed(gw_vclient_t *vc)
{
    int64_t now = gw_now_ms();
    for (size_t i = 0; i < vc->n_regs; i++) {
        for (struct gw_obs *o = vc->regs[i].obs; o; o = o->next) {
            if (revoked(o)) {
                gw_timer_start_at(vc->m->loop, &o->timer, now);
                continue;
            }
            /* What an object or a composite shows may have grown or
             * shrunk; an instance still readable shows the same. */
            bool touched = false;
            for (size_t k = 0; k < o->n_members; k++) {
                struct gw_obs_member *mb = &o->members[k];
                if (mb->path.id[0] != GW_ACL_OID && (o->composite || mb->path.len < 2)) {
                    mb->pending = true;
                    touched = true;
                }
            }
            if (touched)
                rearm(o);
        }
    }
}

void gw_obs_value_changed(gw_vclient_t *vc, const gw_path_t *path, const gw_value_t *v)
{
    int64_t now = gw_now_ms();
    if (path->len >= 1 && path->id[0] == GW_ACL_OID)
        rights_changed(vc);
    for (size_t i = 0; i < vc->n_regs; i++) {
        for (struct gw_obs *o = vc->regs[i].obs; o; o = o->next) {
            bool touched = false;
            for (size_t k = 0; k < o->n_members; k++) {
                struct gw_obs_member *mb = &o->members[k];
                if (!gw_path_has_prefix(path, &mb->path))
                    continue;
                gw_notify_attrs_t e;
                effective(o, mb, &e);
                if (e.epmin > 0 && now < mb->last_eval_ms + (int64_t)e.epmin * 1000)
                    mb->deferred = true;
                else
                    judge(o, mb, &e, v, now);
                touched = true;
            }
            /* Not sent from here: one reading sets several resources of an
             * instance (value, min, max, timestamp), and an observation of
             * the instance should carry them in one notification. The timer
             * fires on the next loop turn at the earliest (or when pmin
             * ends) and sends what the store holds then. */
            if (touched)
                rearm(o);
        }
    }
}

void gw_obs_path_removed(gw_vclient_t *vc, const gw_path_t *path)
{
    for (size_t i = 0; i < vc->n_regs; i++) {
        for (struct gw_obs *o = vc->regs[i].obs; o; o = o->next) {
            bool touched = false;
            for (size_t k = 0; k < o->n_members; k++) {
                struct gw_obs_member *mb = &o->members[k];
                /* Below the deleted path the value is gone (a 4.04 ends a
                 * plain observation); above it, what it holds changed. */
                if (gw_path_has_prefix(path, &mb->path) || gw_path_has_prefix(&mb->path, path)) {
                    mb->pending = true;
                    touched = true;
                }
            }
            if (touched)
                rearm(o);
        }
    }
}

void gw_obs_attrs_changed(gw_vclient_t *vc)
{
    for (size_t i = 0; i < vc->n_regs; i++)
        for (struct gw_obs *o = vc->regs[i].obs; o; o = o->next)
            rearm(o);
}

void gw_obs_on_nack(struct gw_reg *r, const coap_pdu_t *sent, coap_nack_reason_t reason)
{
    if (!sent)
        return;
    coap_bin_const_t tok = coap_pdu_get_token(sent);
    if (reason == COAP_NACK_ICMP_ISSUE || reason == COAP_NACK_TOO_MANY_RETRIES) {
        /* Not the observer's choice but the server gone: the observation
         * stays, deciding what is kept, until the server is back (a new
         * Register ends it then, an Update keeps it). */
        int64_t sent_ms = r->last_tx_ms;
        for (struct gw_obs *o = r->obs; o; o = o->next)
            if (o->token_len == tok.length && memcmp(o->token, tok.s, tok.length) == 0)
                sent_ms = o->last_con_ms;
        gw_server_unreachable(r->srv, sent_ms, reason == COAP_NACK_ICMP_ISSUE
                                                   ? "ICMP error"
                                                   : "a confirmable notification was not acknowledged");
        return;
    }
    gw_obs_cancel(r, tok.s, tok.length,
                  reason == COAP_NACK_RST ? "cancelled by a Reset from the server"
                                          : "cancelled: a confirmable notification was not acknowledged");
}

/* ---- Observe-Composite (LwM2M 1.1 6.4.3): see the rules at the top. */

int gw_obs_start_composite(struct gw_reg *r, const gw_path_t *paths, size_t n, const uint8_t *token,
                           size_t token_len, int accept, uint32_t *out_seq)
{
    if (token_len > 8 || n == 0 || n > GW_OBS_MAX_PATHS)
        return -EINVAL;
    gw_obs_cancel(r, token, token_len, NULL); /* same token: the new one replaces it */
    struct gw_obs *o = obs_new(r, paths, n, token, token_len, accept);
    if (!o)
        return -ENOMEM;
    o->composite = true;
    rearm(o);
    *out_seq = o->seq;
    gw_debug("%s: %s observes a composite of %zu paths", r->vc->endpoint, r->srv->uri, n);
    return 0;
}

bool gw_obs_covers(const struct gw_obs *o, const gw_path_t *path)
{
    for (size_t i = 0; i < o->n_members; i++)
        if (gw_path_has_prefix(path, &o->members[i].path))
            return true;
    return false;
}

/* libcoap 4.3.1 tells of a Reset only for messages it keeps (confirmable
 * ones); for a NON notification all that is known is the message id, read
 * from its log (see client.c). Message ids are per session, so an id can
 * repeat across 10,000 clients: only an unambiguous match within the CoAP
 * exchange lifetime (247 s) is cancelled; an ambiguous one waits for the
 * next confirmable notification, which is cancelled precisely. */
void gw_obs_on_reset_mid(gw_lwm2m_t *m, uint16_t mid)
{
    int64_t now = gw_now_ms();
    struct gw_obs *hit = NULL;
    int n = 0;
    for (size_t b = 0; b < m->n_buckets; b++)
        for (struct gw_vclient *vc = m->buckets[b]; vc; vc = vc->hnext)
            for (size_t i = 0; i < vc->n_regs; i++)
                for (struct gw_obs *o = vc->regs[i].obs; o; o = o->next)
                    if (o->has_non_mid && o->non_mid == mid && now - o->last_ms < 247000) {
                        hit = o;
                        n++;
                    }
    if (n == 1)
        gw_obs_cancel(hit->r, hit->token, hit->token_len, "cancelled by a Reset from the server");
    else if (n > 1)
        gw_debug("Reset for message id 0x%04x matches %d observations; left to the next CON", mid, n);
}
