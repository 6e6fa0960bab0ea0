/*
 * lwm2m/attrs.h - the notification attribute logic of LwM2M 1.1 (5.1.2),
 * as pure functions so that it is tested by tables of readings.
 */
#ifndef GW_LWM2M_ATTRS_H
#define GW_LWM2M_ATTRS_H

#include <stdbool.h>
#include <stdint.h>

/* Attributes in force for one observation, after inheritance. */
typedef struct gw_notify_attrs {
    int32_t pmin, pmax; /* seconds; pmax 0 = none */
    bool has_gt, has_lt, has_st;
    double gt, lt, st;
} gw_notify_attrs_t;

/* Does a new numeric value x trigger a notification, given the last
 * notified value (has_last false: nothing notified yet)? Without gt/lt/st
 * every change does. gt/lt trigger when x and last lie on different sides
 * of the threshold, st when |x - last| >= st. */
bool gw_attrs_value_triggers(const gw_notify_attrs_t *a, bool has_last, double last, double x);

/* When the next notification is due (absolute ms), given the time of the
 * last one and whether a change is waiting: a waiting change at
 * last + pmin, else (or if earlier) last + pmax; -1 when nothing is due. */
int64_t gw_attrs_due(const gw_notify_attrs_t *a, int64_t last_ms, bool pending);

#endif
