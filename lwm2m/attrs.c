/*
 * lwm2m/attrs.c - notification attribute logic (see attrs.h).
 */
#include <math.h>

#include "attrs.h"

void gw_attrs_inherit(const gw_attrs_t *const *levels, size_t n, int32_t dflt_pmin, int32_t dflt_pmax,
                      bool single_value, gw_notify_attrs_t *out)
{
    *out = (gw_notify_attrs_t){.pmin = dflt_pmin, .pmax = dflt_pmax};
    /* From the object down: a deeper level overrides what it sets. */
    for (size_t i = 0; i < n && i < 4; i++) {
        const gw_attrs_t *a = levels[i];
        if (!a)
            continue;
        if (a->set & GW_ATTR_PMIN)
            out->pmin = a->pmin;
        if (a->set & GW_ATTR_PMAX)
            out->pmax = a->pmax;
        if (a->set & GW_ATTR_EPMIN)
            out->epmin = a->epmin;
        if (a->set & GW_ATTR_EPMAX)
            out->epmax = a->epmax;
        if (a->set & GW_ATTR_GT)
            out->has_gt = true, out->gt = a->gt;
        if (a->set & GW_ATTR_LT)
            out->has_lt = true, out->lt = a->lt;
        if (a->set & GW_ATTR_ST)
            out->has_st = true, out->st = a->st;
    }
    if (!single_value)
        out->has_gt = out->has_lt = out->has_st = false;
    if (out->pmin < 0)
        out->pmin = 0;
    if (out->pmax < 0 || (out->pmax > 0 && out->pmax < out->pmin))
        out->pmax = 0;
    if (out->epmin < 0)
        out->epmin = 0;
    if (out->epmax < 0 || (out->epmax > 0 && out->epmax <= out->epmin))
        out->epmax = 0;
}

bool gw_attrs_value_triggers(const gw_notify_attrs_t *a, bool has_last, double last, double x)
{
    if (!a->has_gt && !a->has_lt && !a->has_st)
        return true;
    if (!has_last)
        return true;
    /* "crossing": judged against the last notified value, so a value that
     * wanders on one side of gt without crossing back stays silent. */
    if (a->has_gt && ((last > a->gt) != (x > a->gt)))
        return true;
    if (a->has_lt && ((last < a->lt) != (x < a->lt)))
        return true;
    if (a->has_st && fabs(x - last) >= a->st)
        return true;
    return false;
}

int64_t gw_attrs_due(const gw_notify_attrs_t *a, int64_t last_ms, bool pending)
{
    int64_t due = -1;
    if (pending)
        due = last_ms + (int64_t)a->pmin * 1000;
    if (a->pmax > 0)
        due = gw_attrs_earliest(due, last_ms + (int64_t)a->pmax * 1000);
    return due;
}

int64_t gw_attrs_eval_due(const gw_notify_attrs_t *a, int64_t last_eval_ms, bool deferred)
{
    int64_t due = -1;
    if (deferred)
        due = last_eval_ms + (int64_t)a->epmin * 1000;
    if (a->epmax > 0)
        due = gw_attrs_earliest(due, last_eval_ms + (int64_t)a->epmax * 1000);
    return due;
}
