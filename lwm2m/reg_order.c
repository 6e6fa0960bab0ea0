/*
 * lwm2m/reg_order.c - the order in which a client registers with its
 * servers (LwM2M 1.1.1 Core 6.2.1.1; Server object /1/x/13..15).
 *
 * /1/x/13 Registration Priority Order: the servers that set it are
 * registered with one after the other in increasing order (equal values in
 * instance order); a server without it registers at once, as if alone.
 * /1/x/14 Initial Registration Delay Timer: seconds to wait before the
 * first Register with that server, counted from the moment its turn comes
 * (the start for the first in order and for servers outside the order);
 * only until its first successful registration after bootstrapping (a
 * bootstrap makes the client's registrations anew, so the delay applies
 * again after one). /1/x/15 Registration Failure Block: when a server in
 * the order fails to register, true keeps the servers after it waiting
 * until it succeeds; false (the default) lets the next one go.
 *
 * "Fails" is the registration failing as /1/x/17..20 dictate where those
 * are set (its communication sequences exhausted, registration.c), else a
 * Register attempt that fails (the client then backs off and retries it).
 */
#include <stdio.h>

#include "../gateway/log.h"
#include "lwm2m_internal.h"

enum { RID_PRIORITY = 13, RID_DELAY = 14, RID_BLOCK = 15 };

static bool server_value(const struct gw_reg *r, uint16_t rid, gw_value_t *v)
{
    gw_path_t p = gw_path_make(1, r->srv_iid, rid, GW_ID_NONE);
    return gw_store_get(r->vc->sc, &p, v, NULL) == 0;
}

/* /1/x/13 (or /1/x/14): false when unset or not a whole number >= 0. */
static bool server_uint(const struct gw_reg *r, uint16_t rid, uint64_t *out)
{
    gw_value_t v;
    if (!server_value(r, rid, &v))
        return false;
    if (v.type == GW_TYPE_UNSIGNED)
        *out = v.v.u;
    else if (v.type == GW_TYPE_INTEGER && v.v.i >= 0)
        *out = (uint64_t)v.v.i;
    else
        return false;
    return true;
}

static bool blocks(const struct gw_reg *r)
{
    gw_value_t v;
    return server_value(r, RID_BLOCK, &v) && v.type == GW_TYPE_BOOLEAN && v.v.b;
}

/* Start r now, or once its Initial Registration Delay has passed. */
static void take_turn(struct gw_reg *r)
{
    uint64_t delay = 0;
    if (!r->registered_once && server_uint(r, RID_DELAY, &delay) && delay > 0) {
        int64_t s = delay > INT32_MAX / 1000 ? INT32_MAX / 1000 : (int64_t)delay;
        r->delay_pending = true;
        gw_info("%s: registering with %s in %lld s (/1/%u/14 Initial Registration Delay Timer)", r->vc->endpoint,
                r->srv->uri, (long long)s, r->srv_iid);
        gw_timer_start(r->srv->m->loop, &r->timer, s * 1000);
        return;
    }
    gw_reg_start(r);
}

/* The next server waiting for its turn: the lowest /1/x/13, the first in
 * instance order among equals; NULL when none waits. */
static struct gw_reg *next_held(gw_vclient_t *vc)
{
    struct gw_reg *best = NULL;
    uint64_t best_p = 0;
    for (size_t i = 0; i < vc->n_regs; i++) {
        struct gw_reg *x = &vc->regs[i];
        uint64_t p;
        if (!x->order_held || !server_uint(x, RID_PRIORITY, &p))
            continue;
        if (!best || p < best_p || (p == best_p && x->srv_iid < best->srv_iid))
            best = x, best_p = p;
    }
    return best;
}

static void pass_turn(gw_vclient_t *vc)
{
    struct gw_reg *n = next_held(vc);
    if (!n)
        return;
    n->order_held = false;
    n->order_turn = true;
    take_turn(n);
}

void gw_vclient_regs_start(gw_vclient_t *vc)
{
    size_t ordered = 0;
    for (size_t i = 0; i < vc->n_regs; i++) {
        struct gw_reg *r = &vc->regs[i];
        uint64_t p;
        r->order_turn = false;
        r->order_held = server_uint(r, RID_PRIORITY, &p);
        ordered += r->order_held;
    }
    if (ordered > 1)
        gw_debug("%s: %zu servers registered with in /1/x/13 order", vc->endpoint, ordered);
    for (size_t i = 0; i < vc->n_regs; i++)
        if (!vc->regs[i].order_held)
            take_turn(&vc->regs[i]);
    pass_turn(vc);
}

bool gw_reg_delay_over(struct gw_reg *r)
{
    if (!r->delay_pending)
        return false;
    r->delay_pending = false;
    gw_reg_start(r);
    return true;
}

void gw_reg_order_registered(struct gw_reg *r)
{
    r->registered_once = true;
    r->order_block_logged = false;
    if (!r->order_turn)
        return;
    r->order_turn = false;
    pass_turn(r->vc);
}

void gw_reg_order_failed(struct gw_reg *r)
{
    if (!r->order_turn)
        return;
    if (blocks(r)) {
        if (next_held(r->vc) && !r->order_block_logged) {
            r->order_block_logged = true;
            gw_warn("%s: registration with %s failed; the servers after it in /1/x/13 order wait until it "
                    "succeeds (/1/%u/15 Registration Failure Block)",
                    r->vc->endpoint, r->srv->uri, r->srv_iid);
        }
        return;
    }
    r->order_turn = false;
    pass_turn(r->vc);
}
