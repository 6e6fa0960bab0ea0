/*
 * lwm2m/dm.c - the Device Management and Service Enablement interface:
 * Read, Discover, Write (replace / partial update), Write-Attributes,
 * Execute, Create and Delete, answered from the resource store.
 *
 * Every request is validated in full before the store is touched, so a
 * Write that fails half-way changes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/log.h"
#include "acl_internal.h"
#include "check.h"
#include "lwm2m_internal.h"
#include "request.h"

#define C(x) COAP_RESPONSE_CODE(x)

typedef struct dm_req {
    struct gw_reg *r;
    gw_vclient_t *vc;
    gw_lwm2m_t *m;
    const gw_registry_t *reg;
    gw_path_t path;
    int accept;
    int cf;
    const uint8_t *data;
    size_t len;
    const coap_string_t *query;
    coap_resource_t *res;
    coap_session_t *session;
    const coap_pdu_t *request;
    coap_pdu_t *response;
    char diag[160];
    gw_write_req_t *wreq; /* the devices answered: libcoap runs this request again */
    const gw_dm_body_t *body; /* its payload, or the body its Block1 blocks built */
} dm_req_t;

int gw_dm_opt_uint(const coap_pdu_t *pdu, uint16_t num, int dflt)
{
    coap_opt_iterator_t it;
    coap_opt_t *o = coap_check_option(pdu, num, &it);
    if (!o)
        return dflt;
    return (int)coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
}

int gw_dm_type_lookup(void *ctx, const gw_path_t *p, gw_type_t *out)
{
    const gw_objdef_t *o = gw_registry_find(ctx, p->id[0]);
    const gw_resdef_t *d = o && p->len >= 3 ? gw_objdef_find_res(o, p->id[2]) : NULL;
    if (!d)
        return -ENOENT;
    *out = (gw_type_t)d->type;
    return 0;
}

/* Block2 (RFC 7959) is done here rather than by libcoap's large-response
 * cache: libcoap would serve the blocks a server fetches after a block-wise
 * notification from the body of the *first* response to that token, i.e.
 * a stale value. Every block request is answered from the store as it is. */
static void respond(dm_req_t *q, int code, int cf, gw_buf_t *body)
{
    coap_pdu_set_code(q->response, (coap_pdu_code_t)code);
    if (q->body && q->body->block1 && COAP_RESPONSE_CLASS(code) == 2) {
        /* The answer to the last block of a Block1 transfer echoes it
         * (RFC 7959 2.3). */
        uint8_t b1[4];
        size_t n = coap_encode_var_safe(b1, sizeof b1, gw_block_encode(&q->body->ack));
        coap_add_option(q->response, COAP_OPTION_BLOCK1, n, b1);
    }
    if (body && cf >= 0) {
        uint8_t b[4];
        /* An absent Content-Format means "unknown" to a CoAP peer, not
         * text/plain (0): always say it. */
        coap_add_option(q->response, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(b, sizeof b, (unsigned)cf), b);
        size_t room = coap_session_max_pdu_size(q->session);
        room = room > 64 ? room - 64 : 16;
        coap_block_t req = {0, 0, 0};
        bool asked = coap_get_block(q->request, COAP_OPTION_BLOCK2, &req);
        if (!asked && body->len <= room) {
            coap_add_data(q->response, body->len, body->data ? body->data : (const uint8_t *)"");
        } else {
            unsigned szx = 6;
            while (szx > 0 && (1u << (szx + 4)) > room)
                szx--;
            if (asked && req.szx < szx)
                szx = req.szx;
            size_t bs = (size_t)1 << (szx + 4), off = (size_t)req.num * bs;
            if (asked && off >= body->len && !(off == 0 && body->len == 0)) {
                coap_pdu_set_code(q->response, C(402)); /* Bad Option: no such block */
            } else {
                size_t n = body->len - off < bs ? body->len - off : bs;
                bool more = off + n < body->len;
                unsigned v = (req.num << 4) | (more ? 0x08u : 0u) | szx;
                coap_add_option(q->response, COAP_OPTION_BLOCK2, coap_encode_var_safe(b, sizeof b, v), b);
                if (req.num == 0)
                    coap_add_option(q->response, COAP_OPTION_SIZE2,
                                    coap_encode_var_safe(b, sizeof b, (unsigned)body->len), b);
                coap_add_data(q->response, n, body->data + off);
            }
        }
        gw_buf_free(body);
    } else if (q->diag[0]) {
        /* A diagnostic payload tells the server's operator what was wrong. */
        coap_add_data(q->response, strlen(q->diag), (const uint8_t *)q->diag);
    }
}

static int fail(dm_req_t *q, int code, const char *fmt, const char *detail)
{
    snprintf(q->diag, sizeof q->diag, fmt, detail ? detail : "");
    return code;
}

/* Object exists, instance exists, resource defined: the answer code for a
 * path that is missing, or 0. */
static int check_path(dm_req_t *q, const gw_objdef_t **out_o, const gw_resdef_t **out_d)
{
    const gw_path_t *p = &q->path;
    const gw_objdef_t *o = gw_registry_find(q->reg, p->id[0]);
    const gw_resdef_t *d = NULL;
    *out_o = o;
    *out_d = NULL;
    if (!o)
        return fail(q, C(404), "object %s not supported", NULL);
    /* A supported object answers even with no instance left (an empty
     * Read, a Discover of the object alone). */
    if (p->len == 1 && !gw_store_object_supported(q->vc->sc, p->id[0]))
        return fail(q, C(404), "object not supported by this client%s", NULL);
    if (p->len >= 2 && !gw_store_instance_exists(q->vc->sc, p->id[0], p->id[1]))
        return fail(q, C(404), "no such object instance%s", NULL);
    if (p->len >= 3) {
        d = gw_objdef_find_res(o, p->id[2]);
        if (!d)
            return fail(q, C(404), "resource not defined in this object%s", NULL);
        if (p->len == 4 && !d->multiple)
            return fail(q, C(404), "resource is single-instance%s", NULL);
    }
    *out_d = d;
    return 0;
}

static bool single_value_path(const gw_path_t *p, const gw_resdef_t *d)
{
    return p->len == 4 || (p->len == 3 && d && !d->multiple);
}

/* Encode what a Read of q->path answers into out; 0 or a CoAP code. */
static int read_body(dm_req_t *q, gw_buf_t *out, int *out_cf)
{
    const gw_objdef_t *o;
    const gw_resdef_t *d;
    gw_record_t *recs = NULL;
    size_t n = 0, k = 0;
    int code = check_path(q, &o, &d);
    if (code)
        return code;
    if (d && !(d->ops & GW_OP_R))
        return fail(q, C(405), "resource is not readable%s", NULL);
    int cf = q->accept;
    if (cf < 0)
        cf = single_value_path(&q->path, d) ? (d->type == GW_TYPE_OPAQUE ? GW_CF_OPAQUE : GW_CF_TEXT)
                                           : q->r->srv->content_format; /* the server's preferred */
    if (cf != GW_CF_TEXT && cf != GW_CF_OPAQUE && cf != GW_CF_LWM2M_TLV && cf != GW_CF_SENML_JSON &&
        cf != GW_CF_SENML_CBOR)
        return fail(q, C(406), "Accept not supported: use 0, 42, 110, 112 or 11542%s", NULL);
    if ((cf == GW_CF_TEXT || cf == GW_CF_OPAQUE) && !single_value_path(&q->path, d))
        return fail(q, C(406), "text/plain and opaque carry one resource value only%s", NULL);
    if (cf == GW_CF_OPAQUE && d->type != GW_TYPE_OPAQUE)
        return fail(q, C(406), "application/octet-stream is only for Opaque resources%s", NULL);
    if (q->m->refresh)
        q->m->refresh(q->m->refresh_ctx, q->vc, &q->path);
    if (gw_store_read(q->vc->sc, &q->path, &recs, &n) < 0 || (q->path.len >= 3 && n == 0)) {
        free(recs);
        return fail(q, C(404), "resource has no value%s", NULL);
    }
    /* Drop what the server may not read (write-only resources, and on an
     * object the instances Access Control keeps from it). A request below
     * an object was checked before it came here; a notification was not:
     * rights may have changed since the Observe (Core 7.3.2.5: no Notify
     * of what the server may not read; the 4.01 ends the observation). */
    bool acl = gw_acl_active(q->r);
    if (acl && q->path.len >= 2 && !gw_acl_may(q->r, q->path.id[0], q->path.id[1], GW_ACL_OP_READ)) {
        free(recs);
        return fail(q, C(401), "no Read right on this instance (Access Control object)%s", NULL);
    }
    acl = acl && q->path.len == 1;
    size_t refused = 0;
    for (size_t i = 0; i < n; i++) {
        const gw_objdef_t *ro = gw_registry_find(q->reg, recs[i].path.id[0]);
        const gw_resdef_t *rd = ro ? gw_objdef_find_res(ro, recs[i].path.id[2]) : NULL;
        if (acl && !gw_acl_may(q->r, recs[i].path.id[0], recs[i].path.id[1], GW_ACL_OP_READ))
            refused++;
        else if (rd && (rd->ops & GW_OP_R))
            recs[k++] = recs[i];
    }
    if (refused && k == 0) {
        free(recs);
        return fail(q, C(401), "no Read right on any instance of this object%s", NULL);
    }
    if (cf == GW_CF_TEXT && k == 1)
        code = gw_text_encode(&recs[0], out);
    else if (cf == GW_CF_OPAQUE && k == 1)
        code = gw_opaque_encode(&recs[0], out);
    else
        code = gw_codec_encode(cf, &q->path, recs, k, out);
    free(recs);
    if (code < 0) {
        gw_buf_free(out);
        return fail(q, C(500), "cannot encode the value%s", NULL);
    }
    *out_cf = cf;
    return 0;
}

int gw_dm_read_encode(struct gw_reg *r, const gw_path_t *path, int accept, gw_buf_t *out, int *out_cf)
{
    dm_req_t q;
    memset(&q, 0, sizeof q);
    q.r = r;
    q.vc = r->vc;
    q.m = r->vc->m;
    q.reg = gw_store_registry(q.m->store);
    q.path = *path;
    q.accept = accept;
    return read_body(&q, out, out_cf);
}

static int do_read(dm_req_t *q)
{
    gw_buf_t out = {0};
    int cf = -1;
    int code = read_body(q, &out, &cf);
    if (code)
        return code;
    int observe = gw_dm_opt_uint(q->request, COAP_OPTION_OBSERVE, -1);
    if (observe == 0) {
        coap_bin_const_t tok = coap_pdu_get_token(q->request);
        uint32_t seq;
        if (gw_obs_start(q->r, &q->path, tok.s, tok.length, q->accept, &seq) == 0) {
            uint8_t ob[4];
            coap_add_option(q->response, COAP_OPTION_OBSERVE, coap_encode_var_safe(ob, sizeof ob, seq), ob);
        }
    } else if (observe == 1) {
        coap_bin_const_t tok = coap_pdu_get_token(q->request);
        gw_obs_cancel(q->r, tok.s, tok.length, "cancelled by the server (Observe 1)");
    }
    respond(q, C(205), cf, &out);
    return 0;
}

static int do_discover(dm_req_t *q)
{
    const gw_objdef_t *o;
    const gw_resdef_t *d;
    gw_buf_t out = {0};
    int code = check_path(q, &o, &d);
    if (code)
        return code;
    if (q->m->refresh)
        q->m->refresh(q->m->refresh_ctx, q->vc, &q->path);
    /* No Access Control filter: Discover needs no right (Core 7.3.2). */
    int rc = gw_links_discover_filtered(q->vc->sc, gw_reg_ssid(q->r), q->reg, &q->path, NULL, q->r, &out);
    if (rc < 0) {
        gw_buf_free(&out);
        return rc == -ENOENT ? fail(q, C(404), "nothing at this path%s", NULL)
                             : fail(q, C(500), "out of memory%s", NULL);
    }
    respond(q, C(205), GW_CF_LINK, &out);
    return 0;
}

static int decode(dm_req_t *q, const gw_path_t *base, gw_decoded_t *dec)
{
    int cf = q->cf;
    if (cf < 0) {
        const gw_objdef_t *o = gw_registry_find(q->reg, base->id[0]);
        const gw_resdef_t *d = o && base->len >= 3 ? gw_objdef_find_res(o, base->id[2]) : NULL;
        if (!single_value_path(base, d))
            return fail(q, C(400), "Content-Format missing%s", NULL);
        cf = GW_CF_TEXT;
    }
    int rc = gw_codec_decode(cf, base, q->data, q->len, gw_dm_type_lookup, (void *)q->reg, dec);
    if (rc == -EPROTONOSUPPORT)
        return fail(q, C(415), "Content-Format not supported: use 0, 42, 110, 112 or 11542%s", NULL);
    if (rc == -ENOENT)
        return fail(q, C(404), "%s", dec->error);
    if (rc < 0)
        return fail(q, C(400), "%s", dec->error[0] ? dec->error : "malformed payload");
    return 0;
}

/* Check that every record may be written at q->path; 0 or a code. */
static int validate_records(dm_req_t *q, const gw_decoded_t *dec, bool create)
{
    for (size_t i = 0; i < dec->n; i++) {
        const gw_record_t *rec = &dec->recs[i];
        /* Every refusal names the record: a payload holds many. */
        char ps[32];
        gw_path_format(&rec->path, ps, sizeof ps);
        if (rec->path.len < 3 || !gw_path_has_prefix(&rec->path, &q->path))
            return fail(q, C(400), "%s: payload names a path outside the request or not a resource", ps);
        const gw_objdef_t *o = gw_registry_find(q->reg, rec->path.id[0]);
        const gw_resdef_t *d = o ? gw_objdef_find_res(o, rec->path.id[2]) : NULL;
        if (!d)
            return fail(q, C(404), "%s: resource not defined in this object", ps);
        if (!create && !(d->ops & GW_OP_W))
            return fail(q, C(405), "%s: resource is not writable", ps);
        if (d->ops & GW_OP_E)
            return fail(q, C(405), "%s: resource is executable, not writable", ps);
        if ((d->multiple && rec->path.len != 4) || (!d->multiple && rec->path.len != 3)) {
            char m[80];
            snprintf(m, sizeof m, "%s: %s", ps,
                     d->multiple ? "multiple-instance resources need instances" : "a single resource has no instances");
            return fail(q, C(400), "%s", m);
        }
        if (rec->value.type == GW_TYPE_NONE)
            return fail(q, C(400), "%s: no value (expected \"v\", \"vs\", \"vb\", \"vd\" or \"vlo\" in SenML)", ps);
        if (rec->value.type != (gw_type_t)d->type)
            return fail(q, C(400), "%s: value of the wrong type", ps);
        char why[sizeof q->diag];
        if (gw_value_check_res(d, &rec->path, &rec->value, why, sizeof why) < 0)
            return fail(q, C(400), "%s", why);
    }
    return 0;
}

int gw_lwm2m_write_code(int rc, bool execute, const char *reason, char *out_diag, size_t size)
{
    int code;
    const char *what;
    switch (rc) {
    case -ERANGE:
    case -EDOM:
    case -EINVAL:
        /* The gateway refused the value itself: the server sent it. */
        code = C(400);
        what = execute ? "bad Execute for this resource" : "the value does not fit this resource";
        break;
    case -EPERM:
    case -ENOTSUP:
        code = C(405);
        what = execute ? "the device cannot execute this resource"
                       : "the device does not accept writes to this resource";
        break;
    case -ETIMEDOUT:
    case -ENOTCONN:
    case -ECANCELED:
    case -EAGAIN:
        code = C(503);
        what = "the device does not answer now; try again later";
        break;
    default:
        code = C(500);
        what = execute ? "the device did not execute it" : "the device did not accept the value";
        break;
    }
    if (out_diag && size)
        snprintf(out_diag, size, "%s%s%s", what, reason && reason[0] ? ": " : "", reason ? reason : "");
    return code;
}

/* Hand each written value to where it really lives (a sensor's adapter)
 * before the store keeps it (gw_dm_route): a device that refuses makes the
 * Write fail, and a device that fails leaves only the values other devices
 * took in the store. */
static int apply_records(dm_req_t *q, const gw_decoded_t *dec, bool replace)
{
    gw_store_t *s = q->m->store;
    bool *keep = calloc(dec->n ? dec->n : 1, sizeof *keep);
    if (!keep)
        return fail(q, C(500), "out of memory%s", NULL);
    gw_dm_route_t rt = {.r = q->r, .session = q->session, .request = q->request, .resumed = q->wreq,
                        .diag = q->diag, .diag_size = sizeof q->diag};
    q->wreq = NULL;
    int code = gw_dm_route(&rt, dec->recs, dec->n, keep);
    if (code) {
        for (size_t i = 0; code != GW_DM_WAITING && i < dec->n; i++)
            if (keep[i])
                gw_store_set(s, q->vc->sc, &dec->recs[i].path, &dec->recs[i].value, 0);
        free(keep);
        return code;
    }
    free(keep);
    if (replace && q->path.len < 4) {
        /* Replace: a multiple resource in the payload loses the instances
         * the payload does not list. Records are sorted, so the instances
         * of one resource are adjacent. A Write on one resource instance
         * replaces that instance alone, its siblings stay. */
        gw_path_t last = {{0, 0, 0, 0}, 0};
        for (size_t i = 0; i < dec->n; i++) {
            const gw_record_t *rec = &dec->recs[i];
            if (rec->path.len != 4)
                continue;
            gw_path_t res = {{rec->path.id[0], rec->path.id[1], rec->path.id[2], 0}, 3};
            if (last.len && gw_path_cmp(&res, &last) == 0)
                continue;
            gw_store_unset(s, q->vc->sc, &res);
            last = res;
        }
    }
    bool accounts = false;
    for (size_t i = 0; i < dec->n; i++) {
        int rc = gw_store_set(s, q->vc->sc, &dec->recs[i].path, &dec->recs[i].value, 0);
        if (rc < 0)
            return fail(q, C(500), "store refused the value%s", NULL);
        accounts |= dec->recs[i].path.id[0] == 1 || dec->recs[i].path.id[0] == 2;
        if (dec->recs[i].path.id[0] == 1 && dec->recs[i].path.id[2] == 1)
            for (size_t k = 0; k < q->vc->n_regs; k++)
                if (q->vc->regs[k].srv_iid == dec->recs[i].path.id[1])
                    gw_reg_request_update(&q->vc->regs[k], false);
    }
    if (accounts)
        gw_bs_accounts_written(q->vc);
    return 0;
}

static int do_write(dm_req_t *q, bool replace)
{
    const gw_objdef_t *o;
    const gw_resdef_t *d;
    gw_decoded_t dec = {0};
    int code;
    if (q->path.len < 2)
        return fail(q, C(405), "Write needs an object instance or resource path%s", NULL);
    if ((code = check_path(q, &o, &d)))
        return code;
    if (d && !(d->ops & GW_OP_W))
        return fail(q, C(405), "resource is not writable%s", NULL);
    if ((code = decode(q, &q->path, &dec)) == 0 && (code = validate_records(q, &dec, false)) == 0) {
        if (dec.n == 0 && q->path.len >= 3 && !(d && d->multiple))
            code = fail(q, C(400), "no value in payload%s", NULL);
        else
            code = apply_records(q, &dec, replace || q->path.len >= 3);
    }
    gw_decoded_free(&dec);
    if (code == GW_DM_WAITING)
        return code; /* answered when the devices have */
    if (code == 0 && replace && q->path.len == 3 && d->multiple && dec.n == 0)
        gw_store_unset(q->m->store, q->vc->sc, &q->path);
    if (code == 0)
        respond(q, C(204), -1, NULL);
    return code;
}

static int do_write_attributes(dm_req_t *q)
{
    const gw_objdef_t *o;
    const gw_resdef_t *d;
    gw_attrs_t a = {0};
    int code;
    if (q->path.len == 0)
        return fail(q, C(405), "Write-Attributes needs an object path%s", NULL);
    if ((code = check_path(q, &o, &d)))
        return code;
    if (q->path.len >= 3 && !gw_store_has(q->vc->sc, &q->path))
        return fail(q, C(404), "resource has no value%s", NULL);
    /* Each server's attributes are its own (Core 5.1.2). */
    uint16_t ssid = gw_reg_ssid(q->r);
    gw_store_attrs_get(q->vc->sc, ssid, &q->path, &a);
    /* gt, lt and st need a numeric resource (check_path found d for 3+ levels). */
    bool numeric = q->path.len >= 3 && (!d || d->type == GW_TYPE_INTEGER || d->type == GW_TYPE_FLOAT ||
                                        d->type == GW_TYPE_UNSIGNED);
    char qwhy[sizeof q->diag];
    if (gw_req_attrs_parse(q->query->s, q->query->length, numeric, &a, qwhy, sizeof qwhy) < 0)
        return fail(q, C(400), "%s", qwhy);
    /* Judged on the whole set this path will hold, old values included. */
    char why[sizeof q->diag];
    if (gw_attrs_check(&a, why, sizeof why) < 0)
        return fail(q, C(400), "%s", why);
    if (gw_store_attrs_set(q->m->store, q->vc->sc, ssid, &q->path, &a) < 0)
        return fail(q, C(500), "out of memory%s", NULL);
    gw_obs_attrs_changed(q->vc);
    respond(q, C(204), -1, NULL);
    return 0;
}

static int do_execute(dm_req_t *q)
{
    const gw_objdef_t *o;
    const gw_resdef_t *d;
    int code;
    if (q->path.len != 3)
        return fail(q, C(405), "Execute needs a resource path%s", NULL);
    if ((code = check_path(q, &o, &d)))
        return code;
    if (!(d->ops & GW_OP_E))
        return fail(q, C(405), "resource is not executable%s", NULL);
    int check = q->m->write_hook ? q->m->write_hook(q->m->write_ctx, q->vc, &q->path, NULL, q->data, q->len,
                                                    GW_WRITE_CHECK, NULL, q->diag, sizeof q->diag)
                                 : -ENOENT;
    bool routed = check != -ENOENT;
    if (!routed && !gw_exec_available(q->vc->sc, &q->path))
        return fail(q, C(404), "this client does not provide that executable resource%s", NULL);
    if (gw_exec_args_validate(q->data, q->len) < 0)
        return fail(q, C(400), "bad Execute arguments; expected e.g. 0='abc',1 (each digit once)%s", NULL);
    if (routed) {
        /* The device executes it: the request waits for it, the loop does
         * not (gw_dm_route). */
        gw_record_t rec = {.path = q->path};
        bool keep;
        gw_dm_route_t rt = {.r = q->r, .session = q->session, .request = q->request, .resumed = q->wreq,
                            .execute = true, .args = q->data, .args_len = q->len, .diag = q->diag,
                            .diag_size = sizeof q->diag};
        q->wreq = NULL;
        code = gw_dm_route(&rt, &rec, 1, &keep);
        if (code == 0)
            respond(q, C(204), -1, NULL);
        return code;
    }
    code = gw_exec_run(q->r, &q->path, q->data, q->len);
    if (code == C(204))
        respond(q, C(204), -1, NULL);
    return code == C(204) ? 0 : code;
}

static int do_create(dm_req_t *q)
{
    const gw_objdef_t *o = gw_registry_find(q->reg, q->path.id[0]);
    gw_decoded_t dec = {0};
    gw_store_t *s = q->m->store;
    int code;
    if (!o)
        return fail(q, C(404), "object not supported%s", NULL);
    if (o->id == 0 || o->id == 1 || o->id == 3 || o->id == 21)
        return fail(q, C(405), "instances of this object are managed by the gateway%s", NULL);
    if (!o->multiple && gw_store_object_exists(q->vc->sc, o->id))
        return fail(q, C(400), "single-instance object already has its instance%s", NULL);
    /* The payload holds either object instance(s) or, when the server lets
     * the client pick the id, bare resources of one new instance. */
    code = decode(q, &q->path, &dec);
    if (code) {
        gw_path_t inst = {{o->id, gw_store_instance_free_id(q->vc->sc, o->id), 0, 0}, 2};
        gw_decoded_free(&dec);
        memset(&dec, 0, sizeof dec);
        q->diag[0] = '\0';
        code = decode(q, &inst, &dec);
    }
    if (!code)
        code = validate_records(q, &dec, true);
    if (!code && dec.n == 0)
        code = fail(q, C(400), "Create needs at least one resource%s", NULL);
    uint16_t iid = code ? 0 : dec.recs[0].path.id[1];
    for (size_t i = 0; !code && i < dec.n; i++)
        if (dec.recs[i].path.id[1] != iid)
            code = fail(q, C(400), "Create makes one instance at a time%s", NULL);
    if (!code && gw_store_instance_exists(q->vc->sc, o->id, iid))
        code = fail(q, C(400), "object instance already exists%s", NULL);
    if (!code && gw_store_instance_create(s, q->vc->sc, o->id, iid) < 0)
        code = fail(q, C(500), "cannot create the instance%s", NULL);
    for (size_t i = 0; !code && i < dec.n; i++) {
        if (gw_store_set(s, q->vc->sc, &dec.recs[i].path, &dec.recs[i].value, 0) < 0) {
            gw_store_instance_delete(s, q->vc->sc, o->id, iid);
            code = fail(q, C(400), "value refused%s", NULL);
        }
    }
    gw_decoded_free(&dec);
    if (code)
        return code;
    char oid_s[8], iid_s[8];
    int ol = snprintf(oid_s, sizeof oid_s, "%u", o->id), il = snprintf(iid_s, sizeof iid_s, "%u", iid);
    coap_add_option(q->response, COAP_OPTION_LOCATION_PATH, (size_t)ol, (const uint8_t *)oid_s);
    coap_add_option(q->response, COAP_OPTION_LOCATION_PATH, (size_t)il, (const uint8_t *)iid_s);
    gw_acl_created(q->r, o->id, iid);
    respond(q, C(201), -1, NULL);
    gw_info("%s: server created /%u/%u", q->vc->endpoint, o->id, iid);
    gw_vclient_objects_changed(q->m, q->vc);
    return 0;
}

static int do_delete(dm_req_t *q)
{
    const gw_objdef_t *o;
    const gw_resdef_t *d;
    int code;
    if (q->path.len != 2)
        return fail(q, C(405), "Delete needs an object instance path%s", NULL);
    if ((code = check_path(q, &o, &d)))
        return code;
    if (o->id == 0 || o->id == 1 || o->id == 3 || o->id == 21)
        return fail(q, C(405), "instances of this object are managed by the gateway%s", NULL);
    /* The object stays supported (registered, readable, creatable) when
     * its last instance goes; kept first so that running out of memory
     * changes nothing. */
    if (gw_store_object_keep(q->m->store, q->vc->sc, q->path.id[0]) < 0)
        return fail(q, C(500), "out of memory%s", NULL);
    gw_store_instance_delete(q->m->store, q->vc->sc, q->path.id[0], q->path.id[1]);
    gw_obs_path_removed(q->vc, &q->path);
    gw_acl_removed(q->vc, q->path.id[0], q->path.id[1]);
    respond(q, C(202), -1, NULL);
    gw_info("%s: server deleted /%u/%u", q->vc->endpoint, q->path.id[0], q->path.id[1]);
    gw_vclient_objects_changed(q->m, q->vc);
    return 0;
}

void gw_dm_handle(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *request,
                  const coap_string_t *query, coap_pdu_t *response)
{
    dm_req_t q;
    gw_dm_body_t req_body = {0};
    memset(&q, 0, sizeof q);
    q.r = coap_session_get_app_data(session);
    q.res = res;
    q.session = session;
    q.request = request;
    q.response = response;
    q.query = query;
    q.diag[0] = '\0';
    if (!q.r || q.r->vc->m->shutting_down) {
        coap_pdu_set_code(response, C(404));
        return;
    }
    if (q.r->srv->bootstrap) { /* the bootstrap server's session: bootstrap.c alone */
        gw_bs_handle(q.r, session, request, response);
        return;
    }
    q.vc = q.r->vc;
    q.m = q.vc->m;
    gw_reg_touch(q.r);
    q.reg = gw_store_registry(q.m->store);
    q.accept = gw_dm_opt_uint(request, COAP_OPTION_ACCEPT, -1);
    q.cf = gw_dm_opt_uint(request, COAP_OPTION_CONTENT_FORMAT, -1);

    /* One Uri-Path option per segment (RFC 7252 5.10.1), parsed as such:
     * re-joined into text, a '/' or a NUL inside an option would re-split
     * or cut the path ("3", "0\0x" read as /3/0). */
    gw_req_seg_t segs[5]; /* one more than a path has, to refuse it */
    size_t n_segs = 0;
    bool too_many = false;
    coap_opt_iterator_t it;
    coap_opt_filter_t filter;
    coap_opt_t *opt;
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_URI_PATH);
    coap_option_iterator_init(request, &it, &filter);
    while (!too_many && (opt = coap_option_next(&it)) != NULL) {
        too_many = n_segs == sizeof segs / sizeof segs[0];
        if (!too_many)
            segs[n_segs++] = (gw_req_seg_t){coap_opt_value(opt), coap_opt_length(opt)};
    }
    char ps[32] = "(not a path)"; /* for the log line */
    int code;
    if (too_many || gw_req_path_parse(segs, n_segs, &q.path) < 0) {
        code = fail(&q, C(404), "not an LwM2M path%s", NULL);
        goto out;
    }
    gw_path_format(&q.path, ps, sizeof ps);
    if (q.path.len >= 1 && q.path.id[0] == 0) {
        code = fail(&q, C(401), "the Security object is not accessible%s", NULL);
        goto out;
    }
    if (gw_dm_body(q.r, session, request, response, &req_body))
        return; /* a block of a body still coming, or refused */
    q.body = &req_body;
    /* A request held for its devices (dm_write.c): a repeat of it waits
     * too; its rerun, once they have answered, carries their results. */
    if (gw_dm_write_resumed(session, request, &q.wreq)) {
        code = GW_DM_WAITING;
        goto out;
    }
    q.data = req_body.data;
    q.len = req_body.len;
    /* Access Control (acl.c): refused before the handler looks at anything. */
    code = gw_acl_request(q.r, coap_pdu_get_code(request), &q.path, q.accept == GW_CF_LINK,
                          q.len == 0 && query && query->length, q.diag, sizeof q.diag);
    if (code)
        goto out;
    switch (coap_pdu_get_code(request)) {
    case COAP_REQUEST_CODE_GET:
        if (q.path.len == 0)
            code = fail(&q, C(405), "operation not allowed on /%s", NULL);
        else
            code = q.accept == GW_CF_LINK ? do_discover(&q) : do_read(&q);
        break;
    case COAP_REQUEST_CODE_PUT:
        if (q.len == 0 && query && query->length)
            code = do_write_attributes(&q);
        else
            code = do_write(&q, true);
        break;
    case COAP_REQUEST_CODE_POST:
        if (q.path.len == 1)
            code = do_create(&q);
        else if (q.path.len == 2)
            code = q.len ? do_write(&q, false) : fail(&q, C(400), "partial update without payload%s", NULL);
        else
            code = do_execute(&q);
        break;
    case COAP_REQUEST_CODE_DELETE:
        code = do_delete(&q);
        break;
    case COAP_REQUEST_CODE_FETCH:
    case COAP_REQUEST_CODE_IPATCH: {
        gw_buf_t body = {0};
        int cf = -1;
        gw_dm_route_t rt = {.r = q.r, .session = session, .request = request, .resumed = q.wreq,
                            .diag = q.diag, .diag_size = sizeof q.diag};
        q.wreq = NULL;
        code = gw_composite_handle(q.r, request, response, q.data, q.len, &body, &cf, q.diag, sizeof q.diag,
                                   &rt);
        gw_dm_write_req_free(&rt.resumed); /* refused before its writes were looked at */
        if (code == C(205) || code == C(204)) {
            respond(&q, code, cf, body.len || cf >= 0 ? &body : NULL);
            code = 0;
        }
        gw_buf_free(&body);
        break;
    }
    default:
        code = C(405);
        break;
    }
out:
    gw_dm_write_req_free(&q.wreq); /* a rerun that did not get as far as its writes */
    gw_dm_body_done(&req_body, session, request, code == GW_DM_WAITING);
    if (code == GW_DM_WAITING) {
        /* Left without a code: libcoap acknowledges the request now and the
         * answer follows when the device has answered. */
        return;
    }
    if (code != 0) {
        respond(&q, code, -1, NULL);
        gw_debug("%s: %s -> %d.%02d %s", q.vc ? q.vc->endpoint : "?", ps, code >> 5, code & 31, q.diag);
    }
}
