/*
 * lwm2m/observe.c - Observe/Notify (RFC 7641, LwM2M 1.1 Information
 * Reporting) for every virtual client, driven by store changes and by the
 * loop's timer heap.
 *
 * Rules (LwM2M 1.1 5.1.2 and 6.4):
 * - attributes pmin/pmax/gt/lt/st are looked up on the resource, then its
 *   instance, then its object, the nearest level winning per attribute;
 *   pmin/pmax default to the server's /1/x/2 and /1/x/3;
 * - a change notifies at once when pmin has passed since the last
 *   notification, else once when pmin ends, with the value of that moment
 *   (changes coalesce: never a backlog);
 * - pmax forces a notification even without change;
 * - on a numeric resource, gt/lt notify when the value crosses them and st
 *   when it moved by at least st, both judged against the last *notified*
 *   value; other changes of that resource are not notified;
 * - notifications are NON, with a CON at least every 24 h (RFC 7641 4.5)
 *   or always with confirmable_notifications; a CON that is not
 *   acknowledged, or a Reset, cancels the observation.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/log.h"
#include "attrs.h"
#include "lwm2m_internal.h"

#define CON_EVERY_MS (24LL * 3600 * 1000)

typedef gw_notify_attrs_t eff_attrs_t;

static void on_timer(void *ctx);

static void obs_path_str(const struct gw_obs *o, char *buf, size_t size)
{
    gw_path_format(&o->path, buf, size);
}

/* Nearest level wins, per attribute. */
static void effective(const struct gw_obs *o, eff_attrs_t *e)
{
    struct gw_reg *r = o->r;
    gw_sclient_t *c = r->vc->sc;
    gw_value_t v;
    memset(e, 0, sizeof *e);
    if (gw_store_get(c, &(gw_path_t){{1, (uint16_t)r->srv->index, 2, 0}, 3}, &v, NULL) == 0 &&
        v.type == GW_TYPE_INTEGER && v.v.i >= 0 && v.v.i <= INT32_MAX)
        e->pmin = (int32_t)v.v.i;
    if (gw_store_get(c, &(gw_path_t){{1, (uint16_t)r->srv->index, 3, 0}, 3}, &v, NULL) == 0 &&
        v.type == GW_TYPE_INTEGER && v.v.i >= 0 && v.v.i <= INT32_MAX)
        e->pmax = (int32_t)v.v.i;
    for (uint8_t len = 1; len <= o->path.len && len <= 3; len++) {
        gw_path_t p = o->path;
        gw_attrs_t a;
        p.len = len;
        if (gw_store_attrs_get(c, &p, &a) < 0)
            continue;
        if (a.set & GW_ATTR_PMIN)
            e->pmin = a.pmin;
        if (a.set & GW_ATTR_PMAX)
            e->pmax = a.pmax;
        if (a.set & GW_ATTR_GT)
            e->has_gt = true, e->gt = a.gt;
        if (a.set & GW_ATTR_LT)
            e->has_lt = true, e->lt = a.lt;
        if (a.set & GW_ATTR_ST)
            e->has_st = true, e->st = a.st;
    }
    if (o->path.len < 3)
        e->has_gt = e->has_lt = e->has_st = false; /* numeric conditions are per resource */
    if (e->pmax > 0 && e->pmax < e->pmin)
        e->pmax = 0; /* LwM2M 1.1: pmax below pmin is ignored */
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

static void rearm(struct gw_obs *o)
{
    gw_loop_t *loop = o->r->srv->m->loop;
    eff_attrs_t e;
    effective(o, &e);
    int64_t due = gw_attrs_due(&e, o->last_ms, o->pending);
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

static void remember_number(struct gw_obs *o)
{
    gw_value_t v;
    double x;
    o->has_last = false;
    if (o->path.len >= 3 && gw_store_get(o->r->vc->sc, &o->path, &v, NULL) == 0 && numeric(&v, &x)) {
        o->last_num = x;
        o->has_last = true;
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
        /* Not registered right now: what changed goes to the offline
         * store (send.c), delivered with Send once registered again. */
        if (o->pending)
            gw_send_keep_observed(o);
        o->pending = false;
        o->last_ms = gw_now_ms();
        rearm(o);
        return 0;
    }
    int code = o->n_paths ? gw_composite_read_encode(r, o->paths, o->n_paths, o->accept, &body, &cf)
                          : gw_dm_read_encode(r, &o->path, o->accept, &body, &cf);
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
    coap_mid_t mid = coap_send(r->session, pdu);
    if (mid == COAP_INVALID_MID)
        gw_debug("%s: notification not sent", r->vc->endpoint);
    o->has_non_mid = !con && mid != COAP_INVALID_MID;
    o->non_mid = (uint16_t)mid;
    o->last_ms = now;
    if (con)
        o->last_con_ms = now;
    o->pending = false;
    if (code) {
        /* A non-2.05 notification ends the observation (RFC 7641 4.2). */
        obs_path_str(o, ps, sizeof ps);
        gw_info("%s: observation of %s ended (%d.%02d)", r->vc->endpoint, ps, code >> 5, code & 31);
        unlink_obs(o);
        (void)m;
        return -ENOENT;
    }
    remember_number(o);
    rearm(o);
    return 0;
}

static void on_timer(void *ctx)
{
    struct gw_obs *o = ctx;
    eff_attrs_t e;
    effective(o, &e);
    int64_t now = gw_now_ms();
    bool pmax_due = e.pmax > 0 && now >= o->last_ms + (int64_t)e.pmax * 1000;
    bool pmin_over = now >= o->last_ms + (int64_t)e.pmin * 1000;
    if ((o->pending && pmin_over) || pmax_due)
        notify(o);
    else
        rearm(o);
}

/* Fill the parts every observation has and put it in r's list. */
static void obs_link(struct gw_obs *o, struct gw_reg *r, const uint8_t *token, size_t token_len, int accept)
{
    o->r = r;
    o->accept = accept;
    o->token_len = (uint8_t)token_len;
    memcpy(o->token, token, token_len);
    o->last_ms = gw_now_ms();
    o->last_con_ms = o->last_ms;
    o->seq = 2; /* the first notification after the 2.05 carries 3 */
    gw_timer_init(&o->timer, on_timer, o);
    o->next = r->obs;
    r->obs = o;
}

int gw_obs_start(struct gw_reg *r, const gw_path_t *path, const uint8_t *token, size_t token_len,
                 int accept, uint32_t *out_seq)
{
    if (token_len > 8)
        return -EINVAL;
    gw_obs_cancel(r, token, token_len, NULL); /* same token: the new one replaces it */
    struct gw_obs *o = calloc(1, sizeof *o);
    if (!o)
        return -ENOMEM;
    o->path = *path;
    obs_link(o, r, token, token_len, accept);
    remember_number(o);
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
}

size_t gw_obs_count(const struct gw_reg *r)
{
    size_t n = 0;
    for (const struct gw_obs *o = r->obs; o; o = o->next)
        n++;
    return n;
}

void gw_obs_value_changed(gw_vclient_t *vc, const gw_path_t *path, const gw_value_t *v)
{
    for (size_t i = 0; i < vc->n_regs; i++) {
        for (struct gw_obs *o = vc->regs[i].obs; o; o = o->next) {
            if (o->pending || !gw_obs_covers(o, path))
                continue;
            eff_attrs_t e;
            effective(o, &e);
            double x;
            if ((e.has_gt || e.has_lt || e.has_st) && numeric(v, &x) &&
                !gw_attrs_value_triggers(&e, o->has_last, o->last_num, x))
                continue;
            /* Not sent from here: one reading sets several resources of an
             * instance (value, min, max, timestamp), and an observation of
             * the instance should carry them in one notification. The timer
             * fires on the next loop turn at the earliest (or when pmin
             * ends) and sends what the store holds then. */
            o->pending = true;
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
    gw_obs_cancel(r, tok.s, tok.length,
                  reason == COAP_NACK_RST ? "cancelled by a Reset from the server"
                                          : "cancelled: a confirmable notification was not acknowledged");
}

/* ---- Observe-Composite (LwM2M 1.1 6.4.x) --------------------------------
 *
 * One notification carries every member path, so the set has one schedule.
 * Its attributes are those of the deepest level holding every member, cut
 * at the object instance: /3303/0 for /3303/0/5700 + /3303/0/5701, /3303
 * for members in two of its instances, and for members in different
 * objects only the server's defaults (/1/x/2, /1/x/3). This is the plain
 * reading of "attributes of the object level": a pmin written on one
 * member resource would hold back the others it does not concern, and the
 * smallest pmin among members would ignore what was written on the rest.
 * gt/lt/st judge one resource's value and cannot gate a notification of a
 * set, so they do not apply (path never has 3 levels). */

int gw_obs_start_composite(struct gw_reg *r, const gw_path_t *paths, size_t n, const uint8_t *token,
                           size_t token_len, int accept, uint32_t *out_seq)
{
    if (token_len > 8 || n == 0 || n > GW_OBS_MAX_PATHS)
        return -EINVAL;
    gw_obs_cancel(r, token, token_len, NULL); /* same token: the new one replaces it */
    struct gw_obs *o = calloc(1, sizeof *o + n * sizeof o->paths[0]);
    if (!o)
        return -ENOMEM;
    gw_path_t common = paths[0];
    if (common.len > 2)
        common.len = 2;
    for (size_t i = 1; i < n; i++)
        while (common.len && !gw_path_has_prefix(&paths[i], &common))
            common.len--;
    o->path = common;
    memcpy(o->paths, paths, n * sizeof o->paths[0]);
    o->n_paths = (uint16_t)n;
    obs_link(o, r, token, token_len, accept);
    rearm(o);
    *out_seq = o->seq;
    gw_debug("%s: %s observes a composite of %zu paths", r->vc->endpoint, r->srv->uri, n);
    return 0;
}

bool gw_obs_covers(const struct gw_obs *o, const gw_path_t *path)
{
    if (!o->n_paths)
        return gw_path_has_prefix(path, &o->path);
    for (size_t i = 0; i < o->n_paths; i++)
        if (gw_path_has_prefix(path, &o->paths[i]))
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
