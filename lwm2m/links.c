/*
 * lwm2m/links.c - CoRE link-format (RFC 6690) as LwM2M uses it: the
 * registration payload and Discover answers with attributes.
 */
#include <errno.h>
#include <string.h>

#include "links.h"
#include "lwm2m_internal.h"

/* Object versions LwM2M 1.1.1 gives the core objects (TS Core Appendix E);
 * every other object defaults to 1.0. A Register or Discover link carries
 * ver only when the version differs from this default (6.2.1.1): servers
 * without a model of the newer version then still use theirs. */
static const struct {
    uint16_t oid;
    const char *version;
} enabler_default[] = {
    {0, "1.1"}, {1, "1.1"}, {2, "1.0"}, {3, "1.1"}, {4, "1.2"},
    {5, "1.0"}, {6, "1.0"}, {7, "1.0"}, {21, "1.0"},
};

/* The gateway's own code fills Server (client.c: /1 resources 0-3, 6, 7,
 * 23) and Device (devices.c, exec.c: /3 0-22, error codes 0-8) as LwM2M
 * 1.1 defines them. The registry holds the newest definitions (Server 1.2
 * needs LwM2M 1.2; Device 1.2 only widens /3/x/11 to 0-32), so their
 * registry version is not the one implemented. */
static const char *implemented_version(const gw_objdef_t *o)
{
    if (o->id == 1 || o->id == 3)
        return "1.1";
    return o->version ? o->version : "1.0";
}

/* The ver attribute a link to object o carries, NULL for none. */
static const char *advertised_version(const gw_objdef_t *o)
{
    const char *v = implemented_version(o);
    const char *def = "1.0";
    for (size_t i = 0; i < sizeof enabler_default / sizeof enabler_default[0]; i++)
        if (enabler_default[i].oid == o->id)
            def = enabler_default[i].version;
    return strcmp(v, def) != 0 ? v : NULL;
}

int gw_lwm2m_registration_links(const gw_sclient_t *c, const gw_registry_t *reg, int content_format,
                                gw_buf_t *out)
{
    return gw_links_registration(c, reg, content_format, NULL, NULL, out);
}

int gw_links_registration(const gw_sclient_t *c, const gw_registry_t *reg, int content_format,
                          gw_links_filter_fn keep, void *ctx, gw_buf_t *out)
{
    /* ct on the root link names the format the client prefers for payloads
     * the server asked no format for. Absent, it means TLV; Wakaama refuses
     * a Register whose ct is 11542 (it takes only 110, 112 and 11543 there),
     * so TLV is said by leaving ct out, which every server accepts. */
    int rc = gw_buf_appendf(out, "</>;rt=\"oma.lwm2m\"");
    if (rc == 0 && content_format != GW_CF_LWM2M_TLV)
        rc = gw_buf_appendf(out, ";ct=%d", content_format);
    size_t n = gw_store_instance_count(c);
    int last_oid = -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint16_t oid, iid;
        if (gw_store_instance_at(c, i, &oid, &iid) < 0)
            break;
        /* Security (0) and OSCORE (21) must not be listed (LwM2M 1.1 6.2.1). */
        if (oid == 0 || oid == 21)
            continue;
        /* An instance the server may not touch (Access Control) is not
         * listed; its object still is, as one without instances. */
        bool hidden = keep && iid != GW_ID_NONE && !keep(ctx, oid, iid);
        if (hidden && oid != last_oid) {
            bool any = false;
            for (size_t k = i + 1; k < n && !any; k++) {
                uint16_t o2, i2;
                if (gw_store_instance_at(c, k, &o2, &i2) < 0 || o2 != oid)
                    break;
                any = i2 == GW_ID_NONE || keep(ctx, o2, i2);
            }
            if (!any) {
                const gw_objdef_t *o = gw_registry_find(reg, oid);
                const char *ver = o ? advertised_version(o) : NULL;
                rc = ver ? gw_buf_appendf(out, ",</%u>;ver=%s", oid, ver) : gw_buf_appendf(out, ",</%u>", oid);
                last_oid = oid;
            }
        }
        if (hidden)
            continue;
        if (oid != last_oid) {
            const gw_objdef_t *o = gw_registry_find(reg, oid);
            const char *ver = o ? advertised_version(o) : NULL;
            if (ver)
                rc = gw_buf_appendf(out, ",</%u>;ver=%s", oid, ver);
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

static int link(gw_buf_t *out, const gw_sclient_t *c, uint16_t ssid, const gw_path_t *p, int dim)
{
    char s[32];
    gw_attrs_t a;
    int rc = gw_buf_appendf(out, "%s<%s>", out->len ? "," : "", gw_path_format(p, s, sizeof s));
    if (!rc && dim >= 0)
        rc = gw_buf_appendf(out, ";dim=%d", dim);
    if (!rc && gw_store_attrs_get(c, ssid, p, &a) == 0)
        rc = gw_links_append_attrs(&a, out);
    return rc;
}

/* Resources of one instance that exist: those with a value, and the
 * executable ones the gateway implements. */
static int discover_instance(const gw_sclient_t *c, uint16_t ssid, const gw_objdef_t *o, uint16_t iid,
                             const gw_record_t *recs, size_t n, gw_buf_t *out)
{
    int rc = link(out, c, ssid, &(gw_path_t){{o->id, iid, 0, 0}, 2}, -1);
    for (uint16_t k = 0; k < o->n_res && rc == 0; k++) {
        const gw_resdef_t *d = &o->res[k];
        gw_path_t rp = {{o->id, iid, d->id, 0}, 3};
        if (d->ops & GW_OP_E) {
            if (gw_exec_available(c, &rp))
                rc = link(out, c, ssid, &rp, -1);
            continue;
        }
        int count = 0;
        for (size_t i = 0; i < n; i++)
            if (recs[i].path.id[1] == iid && recs[i].path.id[2] == d->id)
                count++;
        if (count)
            rc = link(out, c, ssid, &rp, d->multiple ? count : -1);
    }
    return rc;
}

int gw_links_discover(const gw_sclient_t *c, uint16_t ssid, const gw_registry_t *reg, const gw_path_t *path,
                      gw_buf_t *out)
{
    return gw_links_discover_filtered(c, ssid, reg, path, NULL, NULL, out);
}

int gw_links_discover_filtered(const gw_sclient_t *c, uint16_t ssid, const gw_registry_t *reg,
                               const gw_path_t *path, gw_links_filter_fn keep, void *ctx, gw_buf_t *out)
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
            return gw_exec_available(c, path) && path->len == 3 ? link(out, c, ssid, path, -1) : -ENOENT;
    }
    rc = gw_store_read(c, path, &recs, &n);
    if (rc < 0)
        return rc;
    if (path->len == 1) {
        rc = link(out, c, ssid, path, -1);
        const char *ver = advertised_version(o);
        if (!rc && ver)
            rc = gw_buf_appendf(out, ";ver=%s", ver);
        size_t ni = gw_store_instance_count(c);
        for (size_t i = 0; i < ni && rc == 0; i++) {
            uint16_t oid, iid;
            gw_store_instance_at(c, i, &oid, &iid);
            if (oid == o->id && iid != GW_ID_NONE && (!keep || keep(ctx, oid, iid)))
                rc = discover_instance(c, ssid, o, iid, recs, n, out);
        }
    } else if (path->len == 2) {
        rc = discover_instance(c, ssid, o, path->id[1], recs, n, out);
    } else {
        const gw_resdef_t *d = gw_objdef_find_res(o, path->id[2]);
        rc = link(out, c, ssid, path, d->multiple && path->len == 3 ? (int)n : -1);
        if (d->multiple && path->len == 3)
            for (size_t i = 0; i < n && rc == 0; i++)
                rc = link(out, c, ssid, &recs[i].path, -1);
    }
    free(recs);
    return rc;
}
