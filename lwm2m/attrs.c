/*
 * lwm2m/attrs.c - notification attribute logic (see attrs.h).
 */
#include <math.h>

#include "attrs.h"

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
    if (a->pmax > 0) {
        int64_t p = last_ms + (int64_t)a->pmax * 1000;
        if (due < 0 || p < due)
            due = p;
    }
    return due;
}
