/*
 * lwm2m/composite.c - composite operations of LwM2M 1.1 (Core 6.3.x,
 * 6.4.x): Read-Composite and Observe-Composite (FETCH with a SenML list of
 * paths) and Write-Composite (iPATCH with SenML records holding values).
 *
 * The rules are those of dm.c's Read and Write, applied per path:
 * - Read-Composite answers what the client has: a path that does not exist
 *   (or names nothing readable) is left out of the pack rather than failing
 *   the whole request, as LwM2M 1.1 asks;
 * - Write-Composite validates every record before the store is touched, so
 *   a bad record changes nothing; values routed to devices are checked by
 *   their adapters first too, then written all at once (dm_write.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/log.h"
#include "acl_internal.h"
#include "check.h"
#include "lwm2m_internal.h"

#define C(x) COAP_RESPONSE_CODE(x)

typedef struct comp_req {
    struct gw_reg *r;
    const gw_registry_t *reg;
    char *diag;
    size_t diag_size;
} comp_req_t;

static int fail(comp_req_t *q, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(comp_req_t *q, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->diag, q->diag_size, fmt, ap);
    va_end(ap);
    return code;
}

static bool senml_cf(int cf)
{
    return cf == GW_CF_SENML_JSON || cf == GW_CF_SENML_CBOR;
}

static int cmp_rec(const void *a, const void *b)
{
    return gw_path_cmp(&((const gw_record_t *)a)->path, &((const gw_record_t *)b)->path);
}

static bool readable(const gw_registry_t *reg, const gw_path_t *p)
{
    const gw_objdef_t *o = gw_registry_find(reg, p->id[0]);
    const gw_resdef_t *d = o && p->len >= 3 ? gw_objdef_find_res(o, p->id[2]) : NULL;
    return d && (d->ops & GW_OP_R);
}

/* Not for a server's reading: Security (0) and OSCORE (21) hold keys. */
static bool hidden(uint16_t oid)
{
    return oid == 0 || oid == 21;
}

/* Appends the readable values at or below path to *recs; a path that names
 * nothing adds nothing; the root ("/", LwM2M 1.1 6.3.x: the TS's own
 * example of a Read-Composite) names every object. 0 or -ENOMEM. */
static int collect(const struct gw_reg *r, const gw_registry_t *reg, const gw_path_t *path, gw_record_t **recs,
                   size_t *n, size_t *cap)
{
    gw_vclient_t *vc = r->vc;
    bool acl = gw_acl_active(r);
    const gw_objdef_t *o = path->len ? gw_registry_find(reg, path->id[0]) : NULL;
    gw_record_t *got = NULL;
    size_t n_got = 0;
    if (path->len && (!o || hidden(path->id[0])))
        return 0;
    if (path->len >= 3) {
        const gw_resdef_t *d = gw_objdef_find_res(o, path->id[2]);
        if (!d || (path->len == 4 && !d->multiple))
            return 0;
    }
    int rc = gw_store_read(vc->sc, path, &got, &n_got);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n_got; i++) {
        if (hidden(got[i].path.id[0]) || !readable(reg, &got[i].path))
            continue;
        /* A member the server may not read is left out, as one that does
         * not exist is: the others are still answered (Access Control). */
        if (acl && !gw_acl_may(r, got[i].path.id[0], got[i].path.id[1], GW_ACL_OP_READ))
            continue;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            gw_record_t *nr = realloc(*recs, nc * sizeof *nr);
            if (!nr) {
                free(got);
                return -ENOMEM;
            }
            *recs = nr;
            *cap = nc;
        }
        (*recs)[(*n)++] = got[i];
    }
    free(got);
    return 0;
}

int gw_composite_read_encode(struct gw_reg *r, const gw_path_t *paths, size_t n, int cf, gw_buf_t *out,
                             int *out_cf)
{
    gw_vclient_t *vc = r->vc;
    gw_lwm2m_t *m = vc->m;
    const gw_registry_t *reg = gw_store_registry(m->store);
    const gw_path_t root = {{0, 0, 0, 0}, 0};
    gw_record_t *recs = NULL;
    size_t n_recs = 0, cap = 0, k = 0;
    int rc = 0;
    if (!senml_cf(cf))
        return C(406);
    /* Every refresh first: the records below borrow the store's strings,
     * which a refresh of a later path could replace. */
    if (m->refresh)
        for (size_t i = 0; i < n; i++)
            if (paths[i].len == 0 || (!hidden(paths[i].id[0]) && gw_registry_find(reg, paths[i].id[0])))
                m->refresh(m->refresh_ctx, vc, &paths[i]);
    for (size_t i = 0; i < n && !rc; i++)
        rc = collect(r, reg, &paths[i], &recs, &n_recs, &cap);
    if (rc) {
        free(recs);
        return C(500);
    }
    /* Overlapping paths (/3/0 and /3/0/0) name a value once. */
    if (n_recs)
        qsort(recs, n_recs, sizeof *recs, cmp_rec);
    for (size_t i = 0; i < n_recs; i++)
        if (k == 0 || gw_path_cmp(&recs[k - 1].path, &recs[i].path) != 0)
            recs[k++] = recs[i];
    rc = gw_codec_encode(cf, &root, recs, k, out);
    free(recs);
    if (rc < 0) {
        gw_buf_free(out);
        return C(500);
    }
    *out_cf = cf;
    return 0;
}

/* The paths a FETCH names; *out_paths is allocated. 0 or a CoAP code. */
static int request_paths(comp_req_t *q, int cf, const uint8_t *payload, size_t len, gw_path_t **out_paths,
                         size_t *out_n)
{
    const gw_path_t root = {{0, 0, 0, 0}, 0};
    gw_decoded_t dec = {0};
    int code = 0;
    *out_paths = NULL;
    *out_n = 0;
    int rc = gw_codec_decode(cf, &root, payload, len, gw_dm_type_lookup, (void *)q->reg, &dec);
    if (rc == -ENOMEM) {
        code = fail(q, C(500), "out of memory");
        goto out;
    }
    if (rc < 0) {
        code = fail(q, C(400), "%s", dec.error[0] ? dec.error : "malformed payload");
        goto out;
    }
    if (dec.n == 0) {
        code = fail(q, C(400), "Read-Composite names no path");
        goto out;
    }
    gw_path_t *paths = malloc(dec.n * sizeof *paths);
    if (!paths) {
        code = fail(q, C(500), "out of memory");
        goto out;
    }
    for (size_t i = 0; i < dec.n; i++) {
        char ps[32];
        gw_path_format(&dec.recs[i].path, ps, sizeof ps);
        if (dec.recs[i].value.type != GW_TYPE_NONE)
            code = fail(q, C(400), "%s: Read-Composite names paths without values", ps);
        else if (dec.recs[i].path.id[0] == 0)
            code = fail(q, C(401), "%s: the Security object is not accessible", ps);
        if (code) {
            free(paths);
            goto out;
        }
        paths[i] = dec.recs[i].path;
    }
    *out_paths = paths;
    *out_n = dec.n;
out:
    gw_decoded_free(&dec);
    return code;
}

static int do_fetch(comp_req_t *q, const coap_pdu_t *request, coap_pdu_t *response, const uint8_t *payload,
                    size_t len, gw_buf_t *out_body, int *out_cf)
{
    int observe = gw_dm_opt_uint(request, COAP_OPTION_OBSERVE, -1);
    coap_bin_const_t tok = coap_pdu_get_token(request);
    /* The token alone names the observation (RFC 7641 3.6): cancel before
     * judging the rest, so a cancel with a sloppy payload still works. */
    if (observe == 1)
        gw_obs_cancel(q->r, tok.s, tok.length, "cancelled by the server (Observe 1)");
    int cf = gw_dm_opt_uint(request, COAP_OPTION_CONTENT_FORMAT, -1);
    if (cf < 0)
        return fail(q, C(400), "Content-Format missing: use 110 or 112");
    if (!senml_cf(cf))
        return fail(q, C(415), "Content-Format %d not supported for composite operations: use 110 or 112", cf);
    int accept = gw_dm_opt_uint(request, COAP_OPTION_ACCEPT, cf);
    if (!senml_cf(accept))
        return fail(q, C(406), "Accept %d not supported for composite operations: use 110 or 112", accept);
    gw_path_t *paths;
    size_t n;
    int code = request_paths(q, cf, payload, len, &paths, &n);
    if (code)
        return code;
    code = gw_composite_read_encode(q->r, paths, n, accept, out_body, out_cf);
    if (code) {
        free(paths);
        return fail(q, code, "cannot encode the values");
    }
    if (observe == 0) {
        uint32_t seq;
        /* Without the Observe option the answer is a plain 2.05: RFC 7641
         * 4.1 lets a server decline an observation this way. */
        if (n > GW_OBS_MAX_PATHS)
            gw_info("%s: Observe-Composite of %zu paths declined (at most %d)", q->r->vc->endpoint, n,
                    GW_OBS_MAX_PATHS);
        else if (gw_obs_start_composite(q->r, paths, n, tok.s, tok.length, accept, &seq) == 0) {
            uint8_t ob[4];
            coap_add_option(response, COAP_OPTION_OBSERVE, coap_encode_var_safe(ob, sizeof ob, seq), ob);
        }
    }
    free(paths);
    return C(205);
}

/* Write-Composite: LwM2M 1.1 allows it on existing instances only, with
 * values for single resources or resource instances. */
static int validate_write(comp_req_t *q, const gw_decoded_t *dec)
{
    gw_vclient_t *vc = q->r->vc;
    if (dec->n == 0)
        return fail(q, C(400), "Write-Composite without records");
    for (size_t i = 0; i < dec->n; i++) {
        const gw_record_t *rec = &dec->recs[i];
        char ps[32];
        gw_path_format(&rec->path, ps, sizeof ps);
        if (rec->value.type == GW_TYPE_NONE)
            return fail(q, C(400), "%s: Write-Composite needs a value for every record", ps);
        if (rec->path.id[0] == 0)
            return fail(q, C(401), "%s: the Security object is not accessible", ps);
        /* The decoder found the object and resource definitions (else 4.04). */
        const gw_objdef_t *o = gw_registry_find(q->reg, rec->path.id[0]);
        const gw_resdef_t *d = o ? gw_objdef_find_res(o, rec->path.id[2]) : NULL;
        if (!d)
            return fail(q, C(404), "%s: resource not defined", ps);
        if (!gw_store_instance_exists(vc->sc, rec->path.id[0], rec->path.id[1]))
            return fail(q, C(404), "%s: no such object instance", ps);
        /* All or nothing here too: one member without the Write right
         * refuses the request before anything is written. */
        if (!gw_acl_may(q->r, rec->path.id[0], rec->path.id[1], GW_ACL_OP_WRITE))
            return fail(q, C(401), "%s: server %u has no Write right on /%u/%u (Access Control object)", ps,
                        gw_reg_ssid(q->r), rec->path.id[0], rec->path.id[1]);
        if (!(d->ops & GW_OP_W) || (d->ops & GW_OP_E))
            return fail(q, C(405), "%s: resource is not writable", ps);
        if (d->multiple != (rec->path.len == 4))
            return fail(q, C(400), "%s: %s", ps,
                        d->multiple ? "multiple-instance resources need instances"
                                    : "resource is single-instance");
        if (rec->value.type != (gw_type_t)d->type)
            return fail(q, C(400), "%s: value of the wrong type", ps);
        /* All or nothing: one bad member refuses the whole request before
         * anything is stored. */
        if (gw_value_check_res(d, &rec->path, &rec->value, q->diag, q->diag_size) < 0)
            return C(400);
    }
    return 0;
}

static int do_ipatch(comp_req_t *q, const coap_pdu_t *request, const uint8_t *payload, size_t len,
                     gw_dm_route_t *rt)
{
    const gw_path_t root = {{0, 0, 0, 0}, 0};
    gw_vclient_t *vc = q->r->vc;
    gw_store_t *s = vc->m->store;
    gw_decoded_t dec = {0};
    bool *keep = NULL;
    int code = 0;
    int cf = gw_dm_opt_uint(request, COAP_OPTION_CONTENT_FORMAT, -1);
    if (cf < 0)
        return fail(q, C(400), "Content-Format missing: use 110 or 112");
    if (!senml_cf(cf))
        return fail(q, C(415), "Content-Format %d not supported for composite operations: use 110 or 112", cf);
    int rc = gw_codec_decode(cf, &root, payload, len, gw_dm_type_lookup, (void *)q->reg, &dec);
    if (rc == -ENOENT)
        code = fail(q, C(404), "%s", dec.error);
    else if (rc == -ENOMEM)
        code = fail(q, C(500), "out of memory");
    else if (rc < 0)
        code = fail(q, C(400), "%s", dec.error[0] ? dec.error : "malformed payload");
    else
        code = validate_write(q, &dec);
    if (!code && !(keep = calloc(dec.n, sizeof *keep)))
        code = fail(q, C(500), "out of memory");
    /* Values that live in a device go there first, all started at once;
     * the request waits for the last (gw_dm_route). All or nothing as far
     * as values go: every member is judged by its adapter (range, type,
     * writability) before any write starts. */
    if (!code && rt) {
        rt->composite = true;
        code = gw_dm_route(rt, dec.recs, dec.n, keep);
    } else if (!code) {
        for (size_t i = 0; i < dec.n; i++)
            keep[i] = true;
    }
    /* On a device's failure, the values other devices took are stored: the
     * store mirrors the devices. */
    for (size_t i = 0; code != GW_DM_WAITING && keep && i < dec.n; i++) {
        const gw_record_t *rec = &dec.recs[i];
        if (!keep[i])
            continue;
        if (gw_store_set(s, vc->sc, &rec->path, &rec->value, 0) < 0) {
            if (!code)
                code = fail(q, C(500), "store refused a value after validation");
        }
        /* A new lifetime (/1/x/1) is announced with an Update, as Write does. */
        else if (rec->path.id[0] == 1 && rec->path.id[2] == 1)
            for (size_t k = 0; k < vc->n_regs; k++)
                if (vc->regs[k].srv_iid == rec->path.id[1])
                    gw_reg_request_update(&vc->regs[k], false);
    }
    bool accounts = false;
    for (size_t i = 0; code != GW_DM_WAITING && keep && i < dec.n; i++)
        accounts |= keep[i] && (dec.recs[i].path.id[0] == 1 || dec.recs[i].path.id[0] == 2);
    if (accounts)
        gw_bs_accounts_written(vc);
    if (!code)
        gw_debug("%s: Write-Composite of %zu values", vc->endpoint, dec.n);
    free(keep);
    gw_decoded_free(&dec);
    return code ? code : C(204);
}

int gw_composite_handle(struct gw_reg *r, const coap_pdu_t *request, coap_pdu_t *response,
                        const uint8_t *payload, size_t len, gw_buf_t *out_body, int *out_cf, char *diag,
                        size_t diag_size, gw_dm_route_t *rt)
{
    comp_req_t q = {.r = r, .reg = gw_store_registry(r->vc->m->store), .diag = diag, .diag_size = diag_size};
    *out_cf = -1;
    switch (coap_pdu_get_code(request)) {
    case COAP_REQUEST_CODE_FETCH:
        return do_fetch(&q, request, response, payload, len, out_body, out_cf);
    case COAP_REQUEST_CODE_IPATCH:
        return do_ipatch(&q, request, payload, len, rt);
    default:
        return fail(&q, C(405), "composite operations use FETCH or iPATCH");
    }
}
