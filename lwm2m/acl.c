/*
 * lwm2m/acl.c - Access Control (object 2, LwM2M 1.1.1 Core 7.3): the
 * rights decision, its view of the store, and the hooks the request
 * dispatch calls (acl_internal.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/log.h"
#include "acl_internal.h"
#include "request.h"

#define C(x) COAP_RESPONSE_CODE(x)

/* Security (/0) resources the server count reads (Core E.1). */
enum { SEC_RID_BOOTSTRAP = 1, SEC_RID_SSID = 10 };

uint8_t gw_acl_decide(size_t n_servers, uint16_t ssid, const gw_acl_view_t *v)
{
    if (n_servers <= 1)
        return GW_ACL_ALL;
    if (!v || !v->found)
        return 0;
    if (v->has_own)
        return v->own & GW_ACL_ALL;
    /* The owner without an ACL entry of its own has every right; one with
     * an entry has what the entry says (it may have narrowed itself). */
    if (ssid != 0 && ssid == v->owner)
        return GW_ACL_ALL;
    if (v->has_default)
        return v->dflt & GW_ACL_ALL;
    return 0;
}

bool gw_acl_op_allowed(uint8_t rights, gw_acl_op_t op)
{
    switch (op) {
    case GW_ACL_OP_READ:
    case GW_ACL_OP_OBSERVE:
    case GW_ACL_OP_WRITE_ATTRS: return (rights & GW_ACL_R) != 0;
    case GW_ACL_OP_DISCOVER: return true; /* Core 7.3.2: minimum access right "-" */
    case GW_ACL_OP_WRITE: return (rights & GW_ACL_W) != 0;
    case GW_ACL_OP_EXECUTE: return (rights & GW_ACL_E) != 0;
    case GW_ACL_OP_DELETE: return (rights & GW_ACL_D) != 0;
    case GW_ACL_OP_CREATE: return (rights & GW_ACL_C) != 0;
    }
    return false;
}

static bool get_int(const gw_sclient_t *c, uint16_t iid, uint16_t rid, uint16_t riid, int64_t *out)
{
    gw_path_t p = {{GW_ACL_OID, iid, rid, riid}, (uint8_t)(riid == GW_ID_NONE ? 3 : 4)};
    gw_value_t v;
    if (gw_store_get(c, &p, &v, NULL) < 0 || v.type != GW_TYPE_INTEGER)
        return false;
    *out = v.v.i;
    return true;
}

/* An Integer or Boolean resource of any object, as an integer. */
static bool get_res(const gw_sclient_t *c, uint16_t oid, uint16_t iid, uint16_t rid, int64_t *out)
{
    gw_path_t p = {{oid, iid, rid, 0}, 3};
    gw_value_t v;
    if (gw_store_get(c, &p, &v, NULL) < 0)
        return false;
    if (v.type == GW_TYPE_INTEGER)
        *out = v.v.i;
    else if (v.type == GW_TYPE_BOOLEAN)
        *out = v.v.b;
    else
        return false;
    return true;
}

/* The /2 instance naming (oid, iid), or GW_ID_NONE. The store keeps
 * instances sorted by (oid, iid): object 2's come right after 0 and 1. */
static uint16_t find_aco(const gw_sclient_t *c, uint16_t oid, uint16_t iid)
{
    size_t n = gw_store_instance_count(c);
    for (size_t i = 0; i < n; i++) {
        uint16_t o, x;
        int64_t a, b;
        if (gw_store_instance_at(c, i, &o, &x) < 0 || o > GW_ACL_OID)
            break;
        if (o != GW_ACL_OID || x == GW_ID_NONE)
            continue;
        if (get_int(c, x, GW_ACL_RID_OBJECT, GW_ID_NONE, &a) && get_int(c, x, GW_ACL_RID_INSTANCE, GW_ID_NONE, &b) &&
            a == oid && b == iid)
            return x;
    }
    return GW_ID_NONE;
}

int gw_acl_lookup(const gw_sclient_t *c, uint16_t oid, uint16_t iid, uint16_t ssid, gw_acl_view_t *out,
                  uint16_t *out_aco_iid)
{
    int64_t v;
    memset(out, 0, sizeof *out);
    uint16_t x = find_aco(c, oid, iid);
    if (out_aco_iid)
        *out_aco_iid = x;
    if (x == GW_ID_NONE)
        return -ENOENT;
    out->found = true;
    if (get_int(c, x, GW_ACL_RID_OWNER, GW_ID_NONE, &v) && v > 0 && v <= 65535)
        out->owner = (uint16_t)v;
    if (ssid != GW_ACL_DEFAULT_SSID && get_int(c, x, GW_ACL_RID_ACL, ssid, &v)) {
        out->has_own = true;
        out->own = (uint8_t)(v & GW_ACL_ALL);
    }
    if (get_int(c, x, GW_ACL_RID_ACL, GW_ACL_DEFAULT_SSID, &v)) {
        out->has_default = true;
        out->dflt = (uint8_t)(v & GW_ACL_ALL);
    }
    return 0;
}

static int set_int(gw_store_t *s, gw_sclient_t *c, const gw_path_t *p, int64_t x)
{
    gw_value_t v = {.type = GW_TYPE_INTEGER};
    v.v.i = x;
    return gw_store_set(s, c, p, &v, 0);
}

int gw_acl_instance_add(gw_store_t *s, gw_sclient_t *c, uint16_t oid, uint16_t iid, uint16_t owner,
                        const uint16_t *ssid, const uint8_t *rights, size_t n, uint16_t *out_iid)
{
    if (oid == 0 || oid == GW_ACL_OID || oid == GW_ID_NONE || owner == 0 || (n && (!ssid || !rights)))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (rights[i] > GW_ACL_ALL || ssid[i] == GW_ID_NONE)
            return -EINVAL;
    if (find_aco(c, oid, iid) != GW_ID_NONE)
        return -EEXIST;
    uint16_t x = gw_store_instance_free_id(c, GW_ACL_OID);
    if (x == GW_ID_NONE)
        return -ENOMEM;
    int rc = gw_store_instance_create(s, c, GW_ACL_OID, x);
    if (rc < 0)
        return rc;
    rc = set_int(s, c, &(gw_path_t){{GW_ACL_OID, x, GW_ACL_RID_OBJECT, 0}, 3}, oid);
    if (!rc)
        rc = set_int(s, c, &(gw_path_t){{GW_ACL_OID, x, GW_ACL_RID_INSTANCE, 0}, 3}, iid);
    if (!rc)
        rc = set_int(s, c, &(gw_path_t){{GW_ACL_OID, x, GW_ACL_RID_OWNER, 0}, 3}, owner);
    for (size_t i = 0; !rc && i < n; i++)
        rc = set_int(s, c, &(gw_path_t){{GW_ACL_OID, x, GW_ACL_RID_ACL, ssid[i]}, 4}, rights[i]);
    if (rc) {
        gw_store_instance_delete(s, c, GW_ACL_OID, x);
        return rc;
    }
    if (out_iid)
        *out_iid = x;
    return 0;
}

int gw_acl_value_check(const gw_path_t *path, const gw_value_t *v, char *why, size_t why_size)
{
    if (path->len < 3 || path->id[0] != GW_ACL_OID || v->type != GW_TYPE_INTEGER)
        return 0;
    if (path->id[2] == GW_ACL_RID_OBJECT && v->v.i == GW_ACL_OID) {
        snprintf(why, why_size, "an Access Control instance cannot govern another (Object ID 2), "
                                "expected the id of the object it governs");
        return -EINVAL;
    }
    if (path->id[2] == GW_ACL_RID_OWNER && v->v.i == 0) {
        snprintf(why, why_size, "Access Control Owner must be a Short Server ID 1..65534, or 65535 "
                                "(changed by bootstrap only), got 0");
        return -EINVAL;
    }
    return 0;
}

size_t gw_acl_server_accounts(const gw_sclient_t *c)
{
    /* Instances are sorted by (oid, iid): /0 and /1 come first, so this
     * stops after a handful (a client has one pair per server). */
    size_t n = 0, total = gw_store_instance_count(c);
    for (size_t i = 0; i < total; i++) {
        uint16_t o, x;
        int64_t ssid;
        if (gw_store_instance_at(c, i, &o, &x) < 0 || o > 1)
            break;
        if (o != 1 || !get_res(c, 1, x, 0, &ssid) || ssid < 1 || ssid > 65534)
            continue;
        for (size_t j = 0; j < total; j++) {
            uint16_t so, si;
            int64_t s_ssid, bs;
            if (gw_store_instance_at(c, j, &so, &si) < 0 || so > 0)
                break;
            if (get_res(c, 0, si, SEC_RID_BOOTSTRAP, &bs) && bs)
                continue;
            if (get_res(c, 0, si, SEC_RID_SSID, &s_ssid) && s_ssid == ssid) {
                n++;
                break;
            }
        }
    }
    return n;
}

int gw_acl_fill_owner(gw_store_t *s, gw_sclient_t *c, uint16_t owner, size_t *out_added)
{
    const gw_registry_t *reg = gw_store_registry(s);
    size_t added = 0;
    int rc = 0;
    if (out_added)
        *out_added = 0;
    if (owner == 0 || owner == GW_ID_NONE)
        return -EINVAL;
    /* The walk's indexes shift as /2 instances are added (they sort before
     * every object but 0 and 1): collect first, then add. */
    size_t total = gw_store_instance_count(c);
    uint32_t *wanted = calloc(total ? 2 * total : 1, sizeof *wanted);
    size_t n = 0;
    if (!wanted)
        return -ENOMEM;
    uint16_t last_oid = GW_ID_NONE;
    for (size_t i = 0; i < total; i++) {
        uint16_t o, x;
        if (gw_store_instance_at(c, i, &o, &x) < 0 || o == 0 || o == GW_ACL_OID)
            continue;
        wanted[n++] = (uint32_t)o << 16 | x;
        /* Create on an object that can have more instances (Core
         * 7.3.1.2.1: its Access Control instance is the bootstrap's,
         * owner MAX_ID, one ACL entry with C per server allowed). */
        const gw_objdef_t *od = reg ? gw_registry_find(reg, o) : NULL;
        if (o != last_oid && o != 1 && od && od->multiple)
            wanted[n++] = (uint32_t)o << 16 | GW_ACL_MAX_ID;
        last_oid = o;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint16_t o = (uint16_t)(wanted[i] >> 16), x = (uint16_t)wanted[i];
        if (find_aco(c, o, x) != GW_ID_NONE)
            continue;
        int64_t ssid;
        if (x == GW_ACL_MAX_ID) {
            uint8_t cr = GW_ACL_C;
            rc = gw_acl_instance_add(s, c, o, x, GW_ACL_MAX_ID, &owner, &cr, 1, NULL);
        } else if (o == 1 && get_res(c, 1, x, 0, &ssid) && ssid >= 1 && ssid <= 65534) {
            /* Each server manages its own account (lifetime, binding...). */
            rc = gw_acl_instance_add(s, c, o, x, (uint16_t)ssid, NULL, NULL, 0, NULL);
        } else {
            rc = gw_acl_instance_add(s, c, o, x, owner, NULL, NULL, 0, NULL);
        }
        if (rc == 0)
            added++;
    }
    free(wanted);
    if (out_added)
        *out_added = added;
    return rc;
}

/* ---- hooks of the request dispatch ---- */

bool gw_acl_active(const struct gw_reg *r)
{
    return gw_acl_server_accounts(r->vc->sc) > 1;
}

uint8_t gw_acl_rights(const struct gw_reg *r, uint16_t oid, uint16_t iid)
{
    const gw_sclient_t *c = r->vc->sc;
    size_t n = gw_acl_server_accounts(c);
    if (n <= 1)
        return GW_ACL_ALL;
    uint16_t ssid = gw_reg_ssid(r);
    if (oid == GW_ACL_OID) {
        /* Core 7.3.1.2.2: only its owner manages an Access Control
         * instance; the instance itself is no secret to the servers it
         * speaks of. */
        int64_t owner = 0;
        bool own = get_int(c, iid, GW_ACL_RID_OWNER, GW_ID_NONE, &owner) && owner == ssid &&
                   owner != GW_ACL_MAX_ID;
        return (uint8_t)(GW_ACL_R | (own ? GW_ACL_W : 0));
    }
    gw_acl_view_t v;
    if (gw_acl_lookup(c, oid, iid, ssid, &v, NULL) == -ENOENT && r->vc->acl_owner) {
        /* access_owner: an instance that appeared after the client's /2
         * instances were made (a field first seen at run time) is the
         * owner's, as the one gw_acl_fill_owner would have made. */
        v.found = true;
        v.owner = r->vc->acl_owner;
    }
    return gw_acl_decide(n, ssid, &v);
}

bool gw_acl_may(const struct gw_reg *r, uint16_t oid, uint16_t iid, gw_acl_op_t op)
{
    return gw_acl_op_allowed(gw_acl_rights(r, oid, iid), op);
}

static const char *op_name(gw_acl_op_t op)
{
    static const char *const names[] = {"Read", "Observe", "Write-Attributes", "Discover",
                                        "Write", "Execute", "Delete", "Create"};
    return names[op];
}

int gw_acl_request(const struct gw_reg *r, int method, const gw_path_t *path, bool discover,
                   bool write_attrs, char *diag, size_t diag_size)
{
    gw_acl_op_t op;
    uint16_t iid = path->len >= 2 ? path->id[1] : GW_ACL_MAX_ID;
    if (!gw_acl_active(r) || path->len == 0)
        return 0;
    switch (method) {
    case GW_REQ_GET:
        if (path->len == 1)
            return 0; /* instances filtered by the handler */
        op = discover ? GW_ACL_OP_DISCOVER : GW_ACL_OP_READ;
        break;
    case GW_REQ_PUT:
        if (write_attrs && path->len == 1)
            return 0;
        op = write_attrs ? GW_ACL_OP_WRITE_ATTRS : GW_ACL_OP_WRITE;
        break;
    case GW_REQ_POST:
        op = path->len == 1 ? GW_ACL_OP_CREATE : path->len == 2 ? GW_ACL_OP_WRITE : GW_ACL_OP_EXECUTE;
        break;
    case GW_REQ_DELETE: op = GW_ACL_OP_DELETE; break;
    default: return 0; /* composite: member by member */
    }
    if (gw_acl_may(r, path->id[0], iid, op))
        return 0;
    char ps[32];
    gw_path_format(path, ps, sizeof ps);
    if (op == GW_ACL_OP_CREATE)
        snprintf(diag, diag_size, "%s: server %u may not Create here (no C right in the Access Control "
                                  "instance of /%u/65535)", ps, gw_reg_ssid(r), path->id[0]);
    else
        snprintf(diag, diag_size, "%s: server %u has no %s right on /%u/%u (Access Control object)", ps,
                 gw_reg_ssid(r), op_name(op), path->id[0], iid);
    return C(401);
}

int gw_acl_created(struct gw_reg *r, uint16_t oid, uint16_t iid)
{
    gw_vclient_t *vc = r->vc;
    if (!gw_acl_active(r) || oid == GW_ACL_OID)
        return 0;
    /* An Access Control instance left by a deleted instance of the same id
     * (written by bootstrap, say) would hand the new one old rights. */
    gw_acl_removed(vc, oid, iid);
    int rc = gw_acl_instance_add(vc->m->store, vc->sc, oid, iid, gw_reg_ssid(r), NULL, NULL, 0, NULL);
    if (rc < 0)
        gw_err("%s: cannot make the Access Control instance of /%u/%u: %s", vc->endpoint, oid, iid,
               strerror(-rc));
    return rc;
}

void gw_acl_removed(gw_vclient_t *vc, uint16_t oid, uint16_t iid)
{
    uint16_t x;
    if (oid == GW_ACL_OID)
        return;
    /* At most one names an instance when the client made them; a bootstrap
     * server may have written more. */
    while ((x = find_aco(vc->sc, oid, iid)) != GW_ID_NONE) {
        gw_store_instance_delete(vc->m->store, vc->sc, GW_ACL_OID, x);
        gw_obs_path_removed(vc, &(gw_path_t){{GW_ACL_OID, x, 0, 0}, 2});
    }
}

void gw_vclient_set_access_owner(gw_vclient_t *vc, uint16_t ssid)
{
    vc->acl_owner = ssid == GW_ID_NONE ? 0 : ssid;
}
