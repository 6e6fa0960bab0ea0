/*
 * lwm2m/at_risk.c - the readings of recent NON notifications, kept a short
 * while in case the server never read them.
 *
 * A NON notification that reached the server's socket but was still in its
 * receive buffer when the server died is gone without a trace: the kernel
 * drops the buffer and sends no ICMP error for it (only a datagram that
 * arrives after the socket closed gets one). The gateway learns of the
 * outage from the next datagram, by then the reading the lost one carried
 * has been replaced in the store by newer ones, and the store's current
 * values (all send.c can collect at that moment) no longer hold it.
 *
 * So each client keeps, per server, the readings its NON notifications
 * carried during the last GW_AT_RISK_MS (2 s: a server that reads its
 * socket at all reads it well within that), the readings whose receipt
 * nothing proves; an answered Send proves the server read every datagram
 * sent before it (one socket is read in order). When the server is
 * declared away these readings are kept again for the backlog with their
 * original timestamps, so none is lost; the price is that the server may
 * get some of them twice, each with the same value and timestamp as the
 * notification that carried it.
 *
 * Cost: a client that notifies nothing holds a NULL pointer; one that does
 * holds the readings of its last 2 s of notifications (a few dozen bytes
 * each), pruned at each notification.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m_internal.h"

struct rec {
    gw_path_t path;
    gw_value_t value; /* bytes owned (STRING, OPAQUE, CORELNK) */
    int64_t ts_ms;    /* the reading's timestamp (wall clock) */
    int64_t sent_ms;  /* monotonic: the last NON notification that carried it */
};

struct gw_at_risk {
    size_t n, cap;
    struct rec *recs;
};

static bool has_bytes(const gw_value_t *v)
{
    return v->type == GW_TYPE_STRING || v->type == GW_TYPE_OPAQUE || v->type == GW_TYPE_CORELNK;
}

static void rec_clear(struct rec *e)
{
    if (has_bytes(&e->value))
        free((void *)e->value.v.bytes.ptr);
}

/* Entries last sent before t go (a reading carried again by a later
 * notification keeps its place: the array is not ordered by sent_ms). */
static void drop_before(struct gw_at_risk *a, int64_t t)
{
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->recs[i].sent_ms < t)
            rec_clear(&a->recs[i]);
        else
            a->recs[k++] = a->recs[i];
    }
    a->n = k;
}

static struct rec *find(struct gw_at_risk *a, const gw_path_t *p, int64_t ts)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->recs[i].ts_ms == ts && gw_path_cmp(&a->recs[i].path, p) == 0)
            return &a->recs[i];
    return NULL;
}

static int add(struct gw_at_risk *a, const gw_path_t *p, const gw_value_t *v, int64_t ts, int64_t sent_ms)
{
    struct rec *e = find(a, p, ts);
    if (e) {
        /* Another observation carried it again: at risk as long as its
         * latest carrier is. */
        e->sent_ms = sent_ms;
        return 0;
    }
    if (a->n == a->cap) {
        size_t c = a->cap ? a->cap * 2 : 8;
        struct rec *n = realloc(a->recs, c * sizeof *n);
        if (!n)
            return -ENOMEM;
        a->recs = n;
        a->cap = c;
    }
    e = &a->recs[a->n];
    e->path = *p;
    e->value = *v;
    e->ts_ms = ts;
    e->sent_ms = sent_ms;
    if (has_bytes(v)) {
        uint8_t *b = malloc(v->v.bytes.len ? v->v.bytes.len : 1);
        if (!b)
            return -ENOMEM;
        if (v->v.bytes.len)
            memcpy(b, v->v.bytes.ptr, v->v.bytes.len);
        e->value.v.bytes.ptr = b;
    }
    a->n++;
    return 0;
}

void gw_at_risk_note(struct gw_reg *r, const struct gw_obs *o, int64_t now)
{
    struct gw_at_risk *a = r->at_risk;
    if (a)
        drop_before(a, now - GW_AT_RISK_MS);
    if (!a) {
        if (!(a = calloc(1, sizeof *a)))
            return;
        r->at_risk = a;
    }
    for (size_t i = 0; i < o->n_members; i++) {
        gw_record_t *recs = NULL;
        size_t k = 0;
        if (gw_store_read(r->vc->sc, &o->members[i].path, &recs, &k) < 0)
            continue;
        for (size_t j = 0; j < k; j++) {
            gw_value_t v;
            int64_t ts = 0;
            /* What changed since the observation's previous notification:
             * older values went out in one before, outside the window or
             * already noted. */
            if (!gw_reading_path(&recs[j].path) || gw_store_get(r->vc->sc, &recs[j].path, &v, &ts) < 0 ||
                ts <= o->last_wall_ms)
                continue;
            if (add(a, &recs[j].path, &v, ts, now) < 0)
                break; /* out of memory: the store's current values are still collected */
        }
        free(recs);
    }
    if (!a->n)
        gw_at_risk_free(r);
}

void gw_at_risk_proven(struct gw_reg *r, int64_t sent_ms)
{
    struct gw_at_risk *a = r->at_risk;
    if (!a)
        return;
    drop_before(a, sent_ms);
    if (!a->n)
        gw_at_risk_free(r);
}

int gw_at_risk_take(struct gw_reg *r, int64_t dead_ms, int64_t now, gw_record_t **list, size_t *n, size_t *cap)
{
    struct gw_at_risk *a = r->at_risk;
    if (!a)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct rec *e = &a->recs[i];
        /* Within the window before the failure, or sent after the datagram
         * known lost however long ago. */
        if (e->sent_ms < now - GW_AT_RISK_MS && e->sent_ms < dead_ms)
            continue;
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 16;
            gw_record_t *l = realloc(*list, c * sizeof *l);
            if (!l)
                return -ENOMEM;
            *list = l;
            *cap = c;
        }
        gw_record_t *out = &(*list)[(*n)++];
        memset(out, 0, sizeof *out);
        out->path = e->path;
        out->value = e->value; /* borrowed until gw_at_risk_free */
        out->time = (double)e->ts_ms;
    }
    return 0;
}

void gw_at_risk_free(struct gw_reg *r)
{
    struct gw_at_risk *a = r->at_risk;
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        rec_clear(&a->recs[i]);
    free(a->recs);
    free(a);
    r->at_risk = NULL;
}
