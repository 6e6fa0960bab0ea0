/*
 * lwm2m/dm_write.c - the one path by which a Write, an instance Write with
 * several values, a Write-Composite or an Execute reaches the devices
 * behind a virtual client (the write hook, i.e. the sensors' adapters).
 *
 * Two steps. First every value of the request is checked by the hook
 * without device traffic (GW_WRITE_CHECK: routed or not, and whether the
 * adapter takes that value); one refusal answers the request and nothing
 * is written anywhere. Then every routed write is started at once
 * (GW_WRITE_START) and the request is held with libcoap's async API (the
 * server gets an empty ACK, then a separate response). Each write completes
 * through gw_lwm2m_write_complete, possibly before its start returns (an
 * adapter with nothing to wait for); when the last one has completed,
 * libcoap runs the handler again, which finds the results here and
 * answers. The loop never waits for a device, so a silent unit delays only
 * the request that writes to it.
 *
 * The answer is the worst result of the request's writes (5.00 > 5.03 >
 * 4.05 > 4.00 > success), coded by gw_lwm2m_write_code. A write that fails
 * at its device cannot be undone at the others: the answer names the
 * failed path and lists the paths whose devices took their values; those
 * values are stored (the store mirrors the devices), nothing else is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m_internal.h"

#define C(x) COAP_RESPONSE_CODE(x)

enum {
    W_UNROUTED = 0, /* the store alone keeps this value */
    W_CHECKED,      /* routed and accepted by its adapter; not started */
    W_STARTED,      /* under way at its device */
    W_DONE,         /* rc holds the result */
};

static void unlink_req(gw_write_req_t *q)
{
    if (!q->r)
        return;
    for (gw_write_req_t **pp = &q->r->writes; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    q->next = NULL;
}

void gw_dm_write_req_free(gw_write_req_t **qp)
{
    gw_write_req_t *q = *qp;
    if (!q)
        return;
    unlink_req(q);
    free(q->body);
    free(q);
    *qp = NULL;
}

void gw_lwm2m_write_complete(gw_write_token_t *t, int rc)
{
    gw_write_req_t *q = t->req;
    t->rc = rc;
    t->state = W_DONE;
    q->pending--;
    /* Completed inside its start: gw_dm_route sees it when it has started
     * the rest, and answers without waiting if nothing is left. */
    if (q->pending || q->dispatching)
        return;
    if (!q->r) { /* the client went away, or the request could not be held */
        free(q->body);
        free(q);
        return;
    }
    if (q->async)
        coap_async_trigger(q->async); /* the handler runs again and answers */
}

void gw_dm_orphan_writes(struct gw_reg *r)
{
    while (r->writes) {
        gw_write_req_t *q = r->writes;
        r->writes = q->next;
        q->next = NULL;
        if (q->async && r->session)
            coap_free_async(r->session, q->async);
        q->async = NULL;
        q->r = NULL; /* freed by the last gw_lwm2m_write_complete */
        if (!q->pending) {
            free(q->body);
            free(q);
        }
    }
}

gw_write_req_t *gw_dm_write_held(coap_session_t *session, const coap_pdu_t *request)
{
    coap_async_t *as = coap_find_async(session, coap_pdu_get_token(request));
    return as ? coap_async_get_app_data(as) : NULL;
}

int gw_dm_write_resumed(coap_session_t *session, const coap_pdu_t *request, gw_write_req_t **out)
{
    *out = NULL;
    gw_write_req_t *q = gw_dm_write_held(session, request);
    if (!q)
        return 0;
    if (q->pending || q->dispatching)
        return 1; /* a repeat of the request (a CoAP retransmission) meanwhile */
    /* libcoap removes a triggered async itself when this handler returns
     * (coap_async(3)). */
    q->async = NULL;
    unlink_req(q);
    q->r = NULL;
    *out = q;
    return 0;
}

/* How bad a result is, for "the worst of the results". */
static int severity(int code)
{
    return code == C(500) ? 4 : code == C(503) ? 3 : code == C(405) ? 2 : code ? 1 : 0;
}

/* The answer of a request whose writes have all completed (or of one
 * refused before any started, with only the refused member marked). */
static int finish(gw_dm_route_t *c, gw_write_req_t *q, const gw_record_t *recs, size_t n, bool *out_keep)
{
    size_t worst = n;
    int worst_code = 0;
    for (size_t i = 0; i < n; i++) {
        if (q->w[i].state != W_DONE || q->w[i].rc >= 0 || q->w[i].rc == -ENOENT)
            continue;
        int code = gw_lwm2m_write_code(q->w[i].rc, c->execute, NULL, NULL, 0);
        if (severity(code) > severity(worst_code)) {
            worst_code = code;
            worst = i;
        }
    }
    if (worst == n) {
        for (size_t i = 0; i < n; i++)
            out_keep[i] = true;
        gw_dm_write_req_free(&q);
        return 0;
    }
    char what[160], ps[32];
    int code = gw_lwm2m_write_code(q->w[worst].rc, c->execute, q->reason, what, sizeof what);
    gw_path_format(&recs[worst].path, ps, sizeof ps);
    int len = (n > 1 || c->composite) ? snprintf(c->diag, c->diag_size, "%s: %s", ps, what)
                                      : snprintf(c->diag, c->diag_size, "%s", what);
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        out_keep[i] = q->w[i].state == W_DONE && q->w[i].rc == 0;
        if (!out_keep[i] || len < 0 || (size_t)len >= c->diag_size)
            continue;
        gw_path_format(&recs[i].path, ps, sizeof ps);
        len += snprintf(c->diag + len, c->diag_size - (size_t)len, "%s%s", any ? ", " : "; written: ", ps);
        any = true;
    }
    gw_dm_write_req_free(&q);
    return code;
}

int gw_dm_route(gw_dm_route_t *c, const gw_record_t *recs, size_t n, bool *out_keep)
{
    gw_vclient_t *vc = c->r->vc;
    gw_lwm2m_t *m = vc->m;
    gw_write_req_t *q = c->resumed;
    c->resumed = NULL;
    for (size_t i = 0; i < n; i++)
        out_keep[i] = false;
    if (q) { /* the rerun: every write has completed */
        if (q->n != n) {
            gw_dm_write_req_free(&q);
            snprintf(c->diag, c->diag_size, "the request changed while its devices answered");
            return C(500);
        }
        return finish(c, q, recs, n, out_keep);
    }
    if (!m->write_hook || n == 0) {
        for (size_t i = 0; i < n; i++)
            out_keep[i] = true;
        return 0;
    }
    q = calloc(1, sizeof *q + n * sizeof q->w[0]);
    if (!q) {
        snprintf(c->diag, c->diag_size, "out of memory");
        return C(500);
    }
    q->n = n;
    size_t routed = 0;
    for (size_t i = 0; i < n; i++) {
        c->diag[0] = '\0';
        const gw_value_t *v = c->execute ? NULL : &recs[i].value;
        int rc = m->write_hook(m->write_ctx, vc, &recs[i].path, v, c->args, c->args_len, GW_WRITE_CHECK, NULL,
                               c->diag, c->diag_size);
        if (rc == -ENOENT)
            continue;
        if (rc < 0) { /* nothing has been sent anywhere */
            snprintf(q->reason, sizeof q->reason, "%s", c->diag);
            q->w[i].state = W_DONE;
            q->w[i].rc = rc;
            return finish(c, q, recs, n, out_keep);
        }
        q->w[i].state = W_CHECKED;
        routed++;
    }
    if (!routed) {
        gw_dm_write_req_free(&q);
        for (size_t i = 0; i < n; i++)
            out_keep[i] = true;
        return 0;
    }
    q->r = c->r;
    q->next = c->r->writes;
    c->r->writes = q;
    q->dispatching = true;
    for (size_t i = 0; i < n; i++) {
        gw_write_token_t *t = &q->w[i];
        if (t->state != W_CHECKED)
            continue;
        t->req = q;
        t->state = W_STARTED;
        q->pending++;
        c->diag[0] = '\0';
        const gw_value_t *v = c->execute ? NULL : &recs[i].value;
        int rc = m->write_hook(m->write_ctx, vc, &recs[i].path, v, c->args, c->args_len, GW_WRITE_START, t,
                               c->diag, c->diag_size);
        if (rc == -EINPROGRESS)
            continue;
        q->pending--;
        t->state = rc == -ENOENT ? W_UNROUTED : W_DONE;
        t->rc = rc;
        if (rc < 0 && rc != -ENOENT) {
            /* The request fails: the rest would only be written in vain. */
            snprintf(q->reason, sizeof q->reason, "%s", c->diag);
            break;
        }
    }
    q->dispatching = false;
    c->diag[0] = '\0';
    if (!q->pending)
        return finish(c, q, recs, n, out_keep);
    q->async = coap_register_async(c->session, c->request, 0);
    if (!q->async) {
        /* The writes go on; their completions free q. */
        unlink_req(q);
        q->r = NULL;
        snprintf(c->diag, c->diag_size, "out of memory");
        return C(500);
    }
    coap_async_set_app_data(q->async, q);
    return GW_DM_WAITING;
}
