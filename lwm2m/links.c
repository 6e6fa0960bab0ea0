/*
 * lwm2m/links.c - CoRE link-format (RFC 6690) as LwM2M uses it: the
 * registration payload and Discover answers with attributes.
 */
#include <errno.h>
#include <string.h>

#include "lwm2m_internal.h"

int gw_lwm2m_registration_links(const gw_sclient_t *c, const gw_registry_t *reg, gw_buf_t *out)
{
    /* ct names the preferred format for payloads the server has not asked
     * a format for; TLV is what every LwM2M 1.x server decodes. */
    int rc = gw_buf_appendf(out, "</>;rt=\"oma.lwm2m\";ct=%d", GW_CF_LWM2M_TLV);
    size_t n = gw_store_instance_count(c);
    int last_oid = -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint16_t oid, iid;
        if (gw_store_instance_at(c, i, &oid, &iid) < 0)
            break;
        /* Security (0) and OSCORE (21) must not be listed (LwM2M 1.1 6.2.1). */
        if (oid == 0 || oid == 21)
            continue;
        if (oid != last_oid) {
            const gw_objdef_t *o = gw_registry_find(reg, oid);
            if (o && o->version && strcmp(o->version, "1.0") != 0)
                rc = gw_buf_appendf(out, ",</%u>;ver=%s", oid, o->version);
            else if (iid == GW_ID_NONE) /* a supported object with no instance is still listed */
                rc = gw_buf_appendf(out, ",</%u>", oid);
            last_oid = oid;
        }
        if (rc == 0 && iid != GW_ID_NONE) /* GW_ID_NONE: the object's own entry (store.h) */
            rc = gw_buf_appendf(out, ",</%u/%u>", oid, iid);
    }
    return rc;
}

static int append_num(gw_buf_t *out, const char *name, double v)
{
    gw_value_t val = {.type = GW_TYPE_FLOAT};
    val.v.f = v;
    int rc = gw_buf_appendf(out, ";%s=", name);
    return rc ? rc : gw_value_to_text(&val, out);
}

int gw_links_append_attrs(const gw_attrs_t *a, gw_buf_t *out)
{
    int rc = 0;
    if (!rc && (a->set & GW_ATTR_PMIN))
        rc = gw_buf_appendf(out, ";pmin=%d", (int)a->pmin);
    if (!rc && (a->set & GW_ATTR_PMAX))
        rc = gw_buf_appendf(out, ";pmax=%d", (int)a->pmax);
    if (!rc && (a->set & GW_ATTR_GT))
        rc = append_num(out, "gt", a->gt);
    if (!rc && (a->set & GW_ATTR_LT))
        rc = append_num(out, "lt", a->lt);
    if (!rc && (a->set & GW_ATTR_ST))
        rc = append_num(out, "st", a->st);
    if (!rc && (a->set & GW_ATTR_EPMIN))
        rc = gw_buf_appendf(out, ";epmin=%d", (int)a->epmin);
    if (!rc && (a->set & GW_ATTR_EPMAX))
        rc = gw_buf_appendf(out, ";epmax=%d", (int)a->epmax);
    return rc;
}

static int link(gw_buf_t *out, const gw_sclient_t *c, const gw_path_t *p, int dim)
{
    char s[32];
    gw_attrs_t a;
    int rc = gw_buf_appendf(out, "%s<%s>", out->len ? "," : "", gw_path_format(p, s, sizeof s));
    if (!rc && dim >= 0)
        rc = gw_buf_appendf(out, ";dim=%d", dim);
    if (!rc && gw_store_attrs_get(c, p, &a) == 0)
        rc = gw_links_append_attrs(&a, out);
    return rc;
}

/* Resources of one instance that exist: those with a value, and the
 * executable ones the gateway implements. */
static int discover_instance(const gw_sclient_t *c, const gw_objdef_t *o, uint16_t iid,
                             const gw_record_t *recs, size_t n, gw_buf_t *out)
{
    int rc = link(out, c, &(gw_path_t){{o->id, iid, 0, 0}, 2}, -1);
    for (uint16_t k = 0; k < o->n_res && rc == 0; k++) {
        const gw_resdef_t *d = &o->res[k];
        gw_path_t rp = {{o->id, iid, d->id, 0}, 3};
        if (d->ops & GW_OP_E) {
            if (gw_exec_available(c, &rp))
                rc = link(out, c, &rp, -1);
            continue;
        }
        int count = 0;
        for (size_t i = 0; i < n; i++)
            if (recs[i].path.id[1] == iid && recs[i].path.id[2] == d->id)
                count++;
        if (count)
            rc = link(out, c, &rp, d->multiple ? count : -1);
    }
    return rc;
}

int gw_links_discover(const gw_sclient_t *c, const gw_registry_t *reg, const gw_path_t *path,
                      gw_buf_t *out)
{
    const gw_objdef_t *o = gw_registry_find(reg, path->id[0]);
    gw_record_t *recs = NULL;
    size_t n = 0;
    int rc;
    if (!o)
        return -ENOENT;
    if (path->len >= 3) {
        const gw_resdef_t *d = gw_objdef_find_res(o, path->id[2]);
        if (!d)
            return -ENOENT;
        if (d->ops & GW_OP_E)
            return gw_exec_available(c, path) && path->len == 3 ? link(out, c, path, -1) : -ENOENT;
    }
    rc = gw_store_read(c, path, &recs, &n);
    if (rc < 0)
        return rc;
    if (path->len == 1) {
        rc = link(out, c, path, -1);
        if (!rc && o->version && strcmp(o->version, "1.0") != 0)
            rc = gw_buf_appendf(out, ";ver=%s", o->version);
        size_t ni = gw_store_instance_count(c);
        for (size_t i = 0; i < ni && rc == 0; i++) {
            uint16_t oid, iid;
            gw_store_instance_at(c, i, &oid, &iid);
            if (oid == o->id && iid != GW_ID_NONE)
                rc = discover_instance(c, o, iid, recs, n, out);
        }
    } else if (path->len == 2) {
        rc = discover_instance(c, o, path->id[1], recs, n, out);
    } else {
        const gw_resdef_t *d = gw_objdef_find_res(o, path->id[2]);
        rc = link(out, c, path, d->multiple && path->len == 3 ? (int)n : -1);
        if (d->multiple && path->len == 3)
            for (size_t i = 0; i < n && rc == 0; i++)
                rc = link(out, c, &recs[i].path, -1);
    }
    free(recs);
    return rc;
}
