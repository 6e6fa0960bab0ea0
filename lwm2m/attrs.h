/*
 * lwm2m/attrs.h - the notification attribute logic of LwM2M 1.1 (Core
 * 5.1.2: pmin, pmax, gt, lt, st, epmin, epmax), as pure functions so that
 * it is tested by tables of readings.
 */
#ifndef GW_LWM2M_ATTRS_H
#define GW_LWM2M_ATTRS_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* Attributes in force for one observed path, after inheritance. */
typedef struct gw_notify_attrs {
    int32_t pmin, pmax;   /* seconds; pmax 0 = none */
    int32_t epmin, epmax; /* seconds; 0 = none */
    bool has_gt, has_lt, has_st;
    double gt, lt, st;
} gw_notify_attrs_t;

/*
 * The attributes in force at an observed path (LwM2M 1.1 5.1.2):
 * levels[0..n-1] are the attributes written on the path's object, object
 * instance, resource and resource instance, as deep as the path goes (n =
 * its length, 0..4; NULL where none are written; borrowed). Per attribute
 * the deepest level that has it wins; pmin and pmax fall back to the
 * server's defaults dflt_pmin/dflt_pmax (/1/x/2, /1/x/3; 0 = none).
 * gt/lt/st judge one value, so they apply only when single_value (the path
 * names a single resource or a resource instance). A pmax below pmin, or an
 * epmax not above epmin, is ignored (0), as 5.1.2 says (pmax >= pmin,
 * epmax > epmin).
 */
void gw_attrs_inherit(const gw_attrs_t *const *levels, size_t n, int32_t dflt_pmin, int32_t dflt_pmax,
                      bool single_value, gw_notify_attrs_t *out);

/* Does a new numeric value x trigger a notification, given the last
 * notified value (has_last false: nothing notified yet)? Without gt/lt/st
 * every change does. gt/lt trigger when x and last lie on different sides
 * of the threshold, st when |x - last| >= st. */
bool gw_attrs_value_triggers(const gw_notify_attrs_t *a, bool has_last, double last, double x);

/* When the next notification is due (absolute ms), given the time of the
 * last one and whether a change is waiting: a waiting change at
 * last + pmin, else (or if earlier) last + pmax; -1 when nothing is due. */
int64_t gw_attrs_due(const gw_notify_attrs_t *a, int64_t last_ms, bool pending);

/* When the next evaluation of the notification criteria is due (absolute
 * ms), given the time of the last one: a change that came less than epmin
 * after it (deferred) is judged at last + epmin; with epmax the value is
 * sampled again at last + epmax at the latest. -1 when none is due. */
int64_t gw_attrs_eval_due(const gw_notify_attrs_t *a, int64_t last_eval_ms, bool deferred);

/* The earlier of two due times, -1 standing for "none". */
static inline int64_t gw_attrs_earliest(int64_t a, int64_t b)
{
    return a < 0 ? b : (b < 0 || a < b ? a : b);
}

#endif
