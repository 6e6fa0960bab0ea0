/*
 * Notification attribute logic: tables of reading sequences and the
 * notifications they must produce, run through a model of the observe
 * engine built on the same pure functions (lwm2m/attrs.c).
 */
#include "gwtest.h"
#include "lwm2m/attrs.h"

#define MAXN 32

typedef struct { int64_t t; double v; } ev_t;

typedef struct {
    const char *name;
    gw_notify_attrs_t a;
    double initial;          /* value sent in the Observe response at t=0 */
    ev_t in[MAXN];           /* readings, t ascending, terminated by t < 0 */
    int64_t until;           /* simulate to this time */
    ev_t out[MAXN];          /* expected notifications, terminated by t < 0 */
} case_t;

/* The engine: a change (that triggers) marks pending; a notification goes
 * out at gw_attrs_due (pmin hold-off, or pmax) with the value of that
 * moment; readings at the same ms as a due time are applied first. */
static int run(const case_t *c, ev_t *got)
{
    int n = 0, i = 0;
    int64_t last = 0, now = 0;
    bool pending = false;
    double cur = c->initial, last_num = c->initial;
    for (;;) {
        int64_t due = gw_attrs_due(&c->a, last, pending);
        int64_t next_in = c->in[i].t >= 0 ? c->in[i].t : -1;
        if (next_in >= 0 && (due < 0 || next_in <= due)) {
            now = c->in[i].t;
            cur = c->in[i++].v;
            if (cur != last_num || c->a.has_gt || c->a.has_lt || c->a.has_st)
                if (gw_attrs_value_triggers(&c->a, true, last_num, cur) && cur != last_num)
                    pending = true;
            continue;
        }
        if (due < 0 || due > c->until)
            break;
        /* a due time already past fires at once, i.e. now */
        got[n].t = due < now ? now : due;
        now = got[n].t;
        got[n].v = cur;
        n++;
        last = got[n - 1].t;
        last_num = cur;
        pending = false;
        if (n >= MAXN)
            break;
    }
    return n;
}

#define END {-1, 0}
static const case_t table[] = {
    {"every change, pmin 0", {0}, 1, {{100, 2}, {200, 3}, END}, 10000, {{100, 2}, {200, 3}, END}},
    {"pmin coalesces to the latest", {.pmin = 2}, 1,
     {{100, 2}, {500, 3}, {900, 4}, {2500, 5}, END}, 10000, {{2000, 4}, {4000, 5}, END}},
    {"pmax without change", {.pmax = 3}, 7, {END}, 10000, {{3000, 7}, {6000, 7}, {9000, 7}, END}},
    {"pmax restarts after a change", {.pmax = 3}, 7, {{1000, 8}, END}, 5000, {{1000, 8}, {4000, 8}, END}},
    {"gt: only crossings", {.has_gt = true, .gt = 20}, 18,
     {{100, 19}, {200, 21}, {300, 25}, {400, 19}, {500, 18}, END}, 10000, {{200, 21}, {400, 19}, END}},
    {"lt: only crossings", {.has_lt = true, .lt = 10}, 12,
     {{100, 11}, {200, 9}, {300, 5}, {400, 10}, END}, 10000, {{200, 9}, {400, 10}, END}},
    {"st: steps from the last notified", {.has_st = true, .st = 2}, 10,
     {{100, 11}, {200, 11.5}, {300, 12}, {400, 13}, {500, 14.5}, END}, 10000, {{300, 12}, {500, 14.5}, END}},
    {"gt with pmin", {.has_gt = true, .gt = 20, .pmin = 1}, 18,
     {{100, 21}, {200, 19}, {300, 22}, END}, 10000, {{1000, 22}, END}},
};

GW_TEST(test_attribute_tables)
{
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
        const case_t *c = &table[k];
        ev_t got[MAXN];
        int n = run(c, got);
        int want = 0;
        while (c->out[want].t >= 0)
            want++;
        if (n != want)
            fprintf(stderr, "  case \"%s\": %d notifications, expected %d\n", c->name, n, want);
        CHECK_EQ_INT(n, want);
        for (int i = 0; i < n && i < want; i++) {
            if (got[i].t != c->out[i].t || got[i].v != c->out[i].v)
                fprintf(stderr, "  case \"%s\" #%d: (%lld, %g), expected (%lld, %g)\n", c->name, i,
                        (long long)got[i].t, got[i].v, (long long)c->out[i].t, c->out[i].v);
            CHECK(got[i].t == c->out[i].t && got[i].v == c->out[i].v);
        }
    }
}

GW_TEST(test_triggers_first_value_and_no_attributes)
{
    gw_notify_attrs_t a = {.has_gt = true, .gt = 5};
    CHECK(gw_attrs_value_triggers(&a, false, 0, 1));     /* nothing notified yet */
    CHECK(!gw_attrs_value_triggers(&a, true, 1, 2));
    CHECK(gw_attrs_value_triggers(&a, true, 1, 6));
    CHECK(gw_attrs_value_triggers(&a, true, 6, 5));      /* back to <= gt is a crossing */
    gw_notify_attrs_t none = {0};
    CHECK(gw_attrs_value_triggers(&none, true, 1, 1.5));
}

GW_TEST(test_due_times)
{
    gw_notify_attrs_t a = {.pmin = 2, .pmax = 10};
    CHECK_EQ_INT(gw_attrs_due(&a, 1000, false), 11000);
    CHECK_EQ_INT(gw_attrs_due(&a, 1000, true), 3000);
    gw_notify_attrs_t b = {0};
    CHECK_EQ_INT(gw_attrs_due(&b, 1000, false), -1);
    CHECK_EQ_INT(gw_attrs_due(&b, 1000, true), 1000);
}

/* LwM2M 1.1 5.1.2: attributes on object, object instance, resource and
 * resource instance; the deepest level wins per attribute. */
GW_TEST(test_inheritance_per_level)
{
    const gw_attrs_t obj = {.set = GW_ATTR_PMIN | GW_ATTR_PMAX | GW_ATTR_EPMAX, .pmin = 1, .pmax = 60, .epmax = 30};
    const gw_attrs_t inst = {.set = GW_ATTR_PMAX, .pmax = 40};
    const gw_attrs_t res = {.set = GW_ATTR_GT | GW_ATTR_ST | GW_ATTR_EPMIN, .gt = 5, .st = 1, .epmin = 2};
    const gw_attrs_t ri = {.set = GW_ATTR_PMAX | GW_ATTR_GT | GW_ATTR_LT, .pmax = 2, .gt = 9, .lt = -1};
    gw_notify_attrs_t e;

    /* nothing written: the server's defaults */
    const gw_attrs_t *none[4] = {NULL, NULL, NULL, NULL};
    gw_attrs_inherit(none, 4, 3, 90, true, &e);
    CHECK(e.pmin == 3 && e.pmax == 90 && e.epmin == 0 && e.epmax == 0 && !e.has_gt && !e.has_lt && !e.has_st);

    /* an object observation sees only the object level */
    const gw_attrs_t *l1[4] = {&obj, &inst, &res, &ri};
    gw_attrs_inherit(l1, 1, 0, 0, false, &e);
    CHECK(e.pmin == 1 && e.pmax == 60 && e.epmax == 30);

    /* instance: its pmax over the object's, the object's pmin kept */
    gw_attrs_inherit(l1, 2, 0, 0, false, &e);
    CHECK(e.pmin == 1 && e.pmax == 40 && e.epmax == 30);

    /* resource: its gt/st/epmin, the rest from above */
    gw_attrs_inherit(l1, 3, 0, 0, true, &e);
    CHECK(e.pmin == 1 && e.pmax == 40 && e.has_gt && e.gt == 5 && e.has_st && e.st == 1 && !e.has_lt);
    CHECK(e.epmin == 2 && e.epmax == 30);

    /* resource instance: its own pmax/gt/lt, st inherited from the resource */
    gw_attrs_inherit(l1, 4, 0, 0, true, &e);
    CHECK(e.pmax == 2 && e.gt == 9 && e.has_lt && e.lt == -1 && e.has_st && e.st == 1 && e.pmin == 1);

    /* a resource instance with nothing of its own takes the resource's, then
     * the instance's, then the object's */
    const gw_attrs_t *l2[4] = {&obj, NULL, &res, NULL};
    gw_attrs_inherit(l2, 4, 0, 0, true, &e);
    CHECK(e.pmin == 1 && e.pmax == 60 && e.gt == 5 && e.epmin == 2);
    const gw_attrs_t *l3[4] = {NULL, &inst, NULL, NULL};
    gw_attrs_inherit(l3, 4, 7, 0, true, &e);
    CHECK(e.pmin == 7 && e.pmax == 40);

    /* gt/lt/st judge one value: not for an instance or a multiple resource */
    gw_attrs_inherit(l1, 3, 0, 0, false, &e);
    CHECK(!e.has_gt && !e.has_lt && !e.has_st);

    /* pmax below pmin and epmax below epmin are ignored */
    const gw_attrs_t bad = {.set = GW_ATTR_PMIN | GW_ATTR_EPMIN, .pmin = 70, .epmin = 40};
    const gw_attrs_t *l4[4] = {&obj, &bad};
    gw_attrs_inherit(l4, 2, 0, 0, false, &e);
    CHECK(e.pmin == 70 && e.pmax == 0 && e.epmin == 40 && e.epmax == 0);
    /* levels may combine into pmax == pmin (kept) and epmax == epmin (not:
     * Core 5.1.2 wants epmax > epmin) */
    const gw_attrs_t eq = {.set = GW_ATTR_PMIN | GW_ATTR_EPMIN, .pmin = 60, .epmin = 30};
    const gw_attrs_t *l5[4] = {&obj, &eq};
    gw_attrs_inherit(l5, 2, 0, 0, false, &e);
    CHECK(e.pmin == 60 && e.pmax == 60 && e.epmin == 30 && e.epmax == 0);
}

GW_TEST(test_evaluation_due_times)
{
    gw_notify_attrs_t a = {.epmin = 2, .epmax = 10};
    CHECK_EQ_INT(gw_attrs_eval_due(&a, 1000, false), 11000);
    CHECK_EQ_INT(gw_attrs_eval_due(&a, 1000, true), 3000);
    gw_notify_attrs_t b = {0};
    CHECK_EQ_INT(gw_attrs_eval_due(&b, 1000, false), -1);
    CHECK_EQ_INT(gw_attrs_eval_due(&b, 1000, true), 1000);
    CHECK_EQ_INT(gw_attrs_earliest(-1, 5), 5);
    CHECK_EQ_INT(gw_attrs_earliest(7, -1), 7);
    CHECK_EQ_INT(gw_attrs_earliest(7, 5), 5);
    CHECK_EQ_INT(gw_attrs_earliest(-1, -1), -1);
}

GW_TEST_MAIN(test_attribute_tables, test_triggers_first_value_and_no_attributes, test_due_times,
             test_inheritance_per_level, test_evaluation_due_times)
