/* Unit tests for adapters/simulated and adapters/static: a fake clock drives
 * the simulated adapter, nothing sleeps. */
#include "gwtest.h"

#include "adapters/simulated/simulated.h"

#include <errno.h>

typedef struct rec {
    char key[48];
    char field[32];
    double v;
    int64_t ts;
    const char *unit;
} rec_t;

enum { MAXREC = 20000 };
static rec_t recs[MAXREC];
static size_t n_recs;
static int64_t fake_now;

static int64_t fake_clock(void *ctx)
{
    CHECK(ctx == &fake_now);
    return fake_now;
}

static int record(void *ctx, const gw_reading_t *r)
{
    CHECK(ctx == recs);
    CHECK(r->value.type == GW_TYPE_FLOAT);
    if (n_recs < MAXREC) {
        rec_t *x = &recs[n_recs++];
        snprintf(x->key, sizeof x->key, "%s", r->device_key);
        snprintf(x->field, sizeof x->field, "%s", r->field);
        x->v = r->value.v.f;
        x->ts = r->ts_ms;
        x->unit = r->unit;
    }
    return 0;
}

static const gw_adapter_env_t env = {.loop = NULL, .emit = record, .emit_ctx = recs};

static gw_config_sim_t sims[5] = {
    {.field = "temperature", .wave = "sine", .min = 18, .max = 24, .period_s = 60, .interval_s = 5},
    {.field = "humidity", .wave = "random_walk", .min = 30, .max = 70, .period_s = 60, .interval_s = 2},
    {.field = "power", .wave = "sawtooth", .min = 0, .max = 100, .period_s = 10, .interval_s = 1,
     .unit = "W"},
    {.field = "on_off", .wave = "square", .min = 0, .max = 1, .period_s = 4, .interval_s = 0.5},
    {.field = "voltage", .wave = "constant", .min = 230, .max = 230, .period_s = 60, .interval_s = 10},
};

static sim_part_t part5 = {.sims = sims, .n_sims = 5}, part2 = {.sims = sims, .n_sims = 2};

/* The simulated adapter's devices, as the gateway hands them over. */
static gw_adapter_device_t sdevs[2] = {
    {.key = "simulated:boiler-1", .endpoint = "boiler-1", .conf = &part5},
    {.key = "simulated:room-2", .endpoint = "ep2", .conf = &part2},
};
static gw_adapter_device_t stdevs[1] = {{.key = "static:plain", .endpoint = "plain"}};

static gw_adapter_t *start_sim(void)
{
    const gw_adapter_ops_t *ops = gw_adapter_find("simulated");
    CHECK(ops != NULL);
    gw_adapter_t *a = NULL;
    CHECK_EQ_INT(ops->create(&env, NULL, sdevs, 2, &a), 0);
    gw_sim_set_clock(a, fake_clock, fake_clock, &fake_now);
    fake_now = 1000000;
    n_recs = 0;
    CHECK_EQ_INT(ops->start(a), 0);
    return a;
}

/* Run the adapter the way its loop timer does: jump to each deadline. */
static void run_until(const gw_adapter_ops_t *ops, gw_adapter_t *a, int64_t end)
{
    (void)ops;
    for (;;) {
        int64_t d = gw_sim_next_due_ms(a);
        CHECK(d >= 0);
        if (d > end)
            break;
        if (d > fake_now)
            fake_now = d;
        CHECK_EQ_INT(gw_sim_run_due(a), 0);
        CHECK(gw_sim_next_due_ms(a) > fake_now);
    }
    fake_now = end;
}

GW_TEST(test_table)
{
    CHECK(gw_adapter_find("static") == gw_adapters[0]);
    CHECK(gw_adapter_find("simulated") == gw_adapters[1]);
    CHECK(gw_adapter_find("modbus") == gw_adapters[2]);
    CHECK(gw_adapter_find("ble") == gw_adapters[3]);
    CHECK(gw_adapter_find("lora") == gw_adapters[4]);
    CHECK(gw_adapters[5] == NULL);
    CHECK(gw_adapter_find("zigbee") == NULL);
    CHECK(gw_adapter_find(NULL) == NULL);
}

GW_TEST(test_intervals_and_bounds)
{
    const gw_adapter_ops_t *ops = gw_adapter_find("simulated");
    gw_adapter_t *a = start_sim();
    int64_t start = fake_now;
    /* nothing is due before the first deadline */
    CHECK(gw_sim_next_due_ms(a) >= start && gw_sim_next_due_ms(a) < start + 10000);
    run_until(ops, a, start + 600000); /* ten minutes */
    size_t per[2][5] = {{0}};
    int64_t last[2][5];
    memset(last, 0, sizeof last);
    static const int64_t interval[5] = {5000, 2000, 1000, 500, 10000};
    for (size_t i = 0; i < n_recs; i++) {
        rec_t *r = &recs[i];
        int d = strcmp(r->key, "simulated:boiler-1") == 0 ? 0 : 1;
        CHECK(d == 0 || strcmp(r->key, "simulated:room-2") == 0);
        int f = -1;
        for (int k = 0; k < 5; k++)
            if (strcmp(r->field, sims[k].field) == 0)
                f = k;
        CHECK(f >= 0);
        if (f < 0)
            continue;
        CHECK(r->v >= sims[f].min && r->v <= sims[f].max);
        if (last[d][f])
            CHECK_EQ_INT(r->ts - last[d][f], interval[f]);
        last[d][f] = r->ts;
        per[d][f]++;
        if (f == 3)
            CHECK(r->v == 0 || r->v == 1);
        if (f == 4)
            CHECK(r->v == 230);
        if (f == 2)
            CHECK(r->unit && strcmp(r->unit, "W") == 0);
    }
    for (int f = 0; f < 5; f++) {
        long want = (long)(600000 / interval[f]);
        CHECK(labs((long)per[0][f] - want) <= 1);
    }
    CHECK(labs((long)per[1][0] - 120) <= 1);
    CHECK(labs((long)per[1][1] - 300) <= 1);
    CHECK_EQ_INT(per[1][2], 0);
    ops->stop(a);
    CHECK_EQ_INT(gw_sim_next_due_ms(a), -1);
    ops->destroy(&a);
    CHECK(a == NULL);
}

GW_TEST(test_sawtooth_and_square_shape)
{
    /* the waves themselves, phase 0 */
    CHECK_NEAR(gw_sim_wave_at(GW_SIM_SAWTOOTH, 0, 100, 10, 0, 0), 0, 1e-9);
    CHECK_NEAR(gw_sim_wave_at(GW_SIM_SAWTOOTH, 0, 100, 10, 0, 2.5), 25, 1e-9);
    CHECK_NEAR(gw_sim_wave_at(GW_SIM_SAWTOOTH, 0, 100, 10, 0, 12.5), 25, 1e-9);
    CHECK_NEAR(gw_sim_wave_at(GW_SIM_SQUARE, 0, 1, 4, 0, 1), 1, 1e-12);
    CHECK_NEAR(gw_sim_wave_at(GW_SIM_SQUARE, 0, 1, 4, 0, 3), 0, 1e-12);
    CHECK_NEAR(gw_sim_wave_at(GW_SIM_SINE, 18, 24, 60, 0, 15), 24, 1e-9);
    CHECK_NEAR(gw_sim_wave_at(GW_SIM_SINE, 18, 24, 60, 0, 45), 18, 1e-9);
    CHECK_NEAR(gw_sim_wave_at(GW_SIM_CONSTANT, 10, 20, 60, 0.3, 7), 15, 1e-12);
    for (double t = 0; t < 200; t += 0.37)
        for (int w = GW_SIM_SINE; w <= GW_SIM_CONSTANT; w++) {
            double v = gw_sim_wave_at((gw_sim_wave_t)w, -3, 7, 13, 0.42, t);
            CHECK(v >= -3 && v <= 7);
        }
    gw_sim_wave_t w;
    CHECK_EQ_INT(gw_sim_wave_parse(NULL, &w), 0);
    CHECK_EQ_INT(w, GW_SIM_SINE);
    CHECK_EQ_INT(gw_sim_wave_parse("random_walk", &w), 0);
    CHECK_EQ_INT(w, GW_SIM_RANDOM_WALK);
    CHECK_EQ_INT(gw_sim_wave_parse("triangle", &w), -EINVAL);
}

GW_TEST(test_random_walk_reproducible)
{
    uint64_t a = gw_sim_seed("simulated:x"), b = gw_sim_seed("simulated:x");
    CHECK(a == b);
    CHECK(a != gw_sim_seed("simulated:y"));
    double va = 50, vb = 50, prev = 50;
    for (int i = 0; i < 100000; i++) {
        va = gw_sim_walk_step(va, 0, 100, &a);
        vb = gw_sim_walk_step(vb, 0, 100, &b);
        CHECK(va == vb);
        CHECK(va >= 0 && va <= 100);
        CHECK(fabs(va - prev) <= 5.0 + 1e-9);
        prev = va;
    }
    /* the same config gives the same readings */
    const gw_adapter_ops_t *ops = gw_adapter_find("simulated");
    gw_adapter_t *x = start_sim();
    run_until(ops, x, fake_now + 60000);
    size_t n1 = n_recs;
    static rec_t first[MAXREC];
    memcpy(first, recs, n1 * sizeof(*recs));
    ops->destroy(&x);
    x = start_sim();
    run_until(ops, x, fake_now + 60000);
    CHECK_EQ_INT(n_recs, n1);
    for (size_t i = 0; i < n1 && i < n_recs; i++) {
        CHECK(first[i].v == recs[i].v);
        CHECK_EQ_STR(first[i].field, recs[i].field);
    }
    ops->destroy(&x);
}

/* A write as the gateway makes it: checked, then started; these adapters
 * have nothing to wait for, so done has run when write_async returns. */
static void on_write_done(void *ctx, int rc)
{
    int *got = ctx;
    *got = rc;
}

static int write_now(const gw_adapter_ops_t *ops, gw_adapter_t *a, const char *key, const char *field,
                     const gw_value_t *v, const char *args)
{
    int rc = ops->write_check(a, key, field, v, args);
    if (rc < 0)
        return rc;
    int got = 1;
    rc = ops->write_async(a, key, field, v, args, on_write_done, &got);
    if (rc < 0)
        return rc;
    CHECK(got != 1); /* done ran inside write_async */
    return got;
}

GW_TEST(test_write)
{
    const gw_adapter_ops_t *ops = gw_adapter_find("simulated");
    gw_adapter_t *a = start_sim();
    gw_value_t v = {.type = GW_TYPE_FLOAT, .v.f = 66};
    CHECK_EQ_INT(write_now(ops, a, "simulated:boiler-1", "humidity", &v, NULL), 0);
    /* the random walk continues from the written value */
    int64_t end = fake_now + 2000;
    run_until(ops, a, end);
    double got = -1;
    for (size_t i = 0; i < n_recs; i++)
        if (strcmp(recs[i].key, "simulated:boiler-1") == 0 && strcmp(recs[i].field, "humidity") == 0)
            got = recs[i].v;
    CHECK(got >= 64 && got <= 68);
    /* A writable field without a generator: the store alone keeps it.
     * Which fields are writable is the configuration's, checked by the
     * gateway before a write reaches the adapter. */
    CHECK_EQ_INT(write_now(ops, a, "simulated:boiler-1", "setpoint", &v, NULL), 0);
    CHECK_EQ_INT(write_now(ops, a, "simulated:nobody", "humidity", &v, NULL), -ENOENT);
    CHECK_EQ_INT(write_now(ops, a, "simulated:boiler-1", "humidity", NULL, ""), -ENOTSUP);
    gw_value_t s = {.type = GW_TYPE_STRING};
    CHECK_EQ_INT(write_now(ops, a, "simulated:boiler-1", "humidity", &s, NULL), -EINVAL);
    ops->destroy(&a);
}

GW_TEST(test_bad_config)
{
    const gw_adapter_ops_t *ops = gw_adapter_find("simulated");
    gw_config_sim_t bad = {.field = "t", .wave = "triangle", .min = 0, .max = 1, .interval_s = 1};
    sim_part_t p = {.sims = &bad, .n_sims = 1};
    gw_adapter_device_t d = {.key = "simulated:e", .endpoint = "e", .conf = &p};
    gw_adapter_t *a = NULL;
    CHECK_EQ_INT(ops->create(&env, NULL, &d, 1, &a), -EINVAL);
    CHECK(a == NULL);
    bad.wave = "sine";
    bad.interval_s = 0;
    CHECK_EQ_INT(ops->create(&env, NULL, &d, 1, &a), -EINVAL);
    bad.interval_s = 1;
    bad.min = 5;
    CHECK_EQ_INT(ops->create(&env, NULL, &d, 1, &a), -EINVAL);
    gw_adapter_device_t two[2] = {d, d};
    two[0].conf = two[1].conf = NULL;
    CHECK_EQ_INT(ops->create(&env, NULL, two, 2, &a), -EINVAL); /* same key twice */
}

GW_TEST(test_static)
{
    const gw_adapter_ops_t *ops = gw_adapter_find("static");
    gw_adapter_t *a = NULL;
    CHECK_EQ_INT(ops->create(&env, NULL, stdevs, 1, &a), 0);
    CHECK_EQ_INT(ops->start(a), 0);
    gw_value_t v = {.type = GW_TYPE_INTEGER, .v.i = 3};
    CHECK_EQ_INT(write_now(ops, a, "static:plain", "label", &v, NULL), 0);
    CHECK_EQ_INT(write_now(ops, a, "static:plain", "label", NULL, NULL), -ENOTSUP);
    ops->stop(a);
    ops->destroy(&a);
    CHECK(a == NULL);
}

GW_TEST(test_scale_10000)
{
    enum { N = 10000 };
    gw_adapter_device_t *d = calloc(N, sizeof(*d));
    char (*names)[24] = calloc(N, sizeof(*names));
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "simulated:s%d", i);
        d[i] = (gw_adapter_device_t){.key = names[i], .endpoint = names[i] + 10, .conf = &part2};
    }
    const gw_adapter_ops_t *ops = gw_adapter_find("simulated");
    gw_adapter_t *a = NULL;
    CHECK_EQ_INT(ops->create(&env, NULL, d, N, &a), 0);
    gw_sim_set_clock(a, fake_clock, fake_clock, &fake_now);
    fake_now = 0;
    n_recs = 0;
    CHECK_EQ_INT(ops->start(a), 0);
    /* every field is first due within its interval; a field that fell
     * behind emits once, not a burst of its missed readings */
    fake_now = 4999;
    CHECK_EQ_INT(gw_sim_run_due(a), 0);
    CHECK_EQ_INT(n_recs, 2 * N);
    CHECK(gw_sim_next_due_ms(a) >= 5000);
    ops->destroy(&a);
    free(d);
    free(names);
}

/* In the daemon the adapter keeps one timer in env.loop at its next due
 * reading: readings come from running the loop, and stop leaves no timer. */
GW_TEST(test_runs_on_loop_timer)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    gw_config_sim_t fast = {.field = "temperature", .wave = "sine", .min = 1, .max = 2,
                            .period_s = 60, .interval_s = 0.02};
    sim_part_t p = {.sims = &fast, .n_sims = 1};
    gw_adapter_device_t d = {.key = "simulated:fast", .endpoint = "fast", .conf = &p};
    gw_adapter_env_t lenv = env;
    lenv.loop = l;
    const gw_adapter_ops_t *ops = gw_adapter_find("simulated");
    gw_adapter_t *a = NULL;
    CHECK_EQ_INT(ops->create(&lenv, NULL, &d, 1, &a), 0);
    CHECK_EQ_INT(gw_loop_timer_count(l), 0); /* nothing before start */
    n_recs = 0;
    CHECK_EQ_INT(ops->start(a), 0);
    CHECK_EQ_INT(gw_loop_timer_count(l), 1);
    int64_t end = gw_now_ms() + 5000;
    while (n_recs < 5 && gw_now_ms() < end)
        CHECK_EQ_INT(gw_loop_run_once(l, 1000), 0);
    CHECK(n_recs >= 5);
    CHECK_EQ_INT(gw_loop_timer_count(l), 1);
    ops->stop(a);
    CHECK_EQ_INT(gw_loop_timer_count(l), 0);
    ops->destroy(&a);
    gw_loop_free(&l);
}

/* The readings of key from index `from` on, as "field=value" lines. */
static size_t readings_of(const char *key, size_t from, char *out, size_t size)
{
    size_t n = 0, len = 0;
    out[0] = '\0';
    for (size_t i = from; i < n_recs; i++)
        if (strcmp(recs[i].key, key) == 0) {
            len += (size_t)snprintf(out + len, len < size ? size - len : 0, "%s=%.17g@%lld\n", recs[i].field,
                                    recs[i].v, (long long)recs[i].ts);
            n++;
        }
    return n;
}

/* A reconfigure removes room-2, changes nothing of boiler-1 and adds a
 * third device: boiler-1 goes on exactly as an adapter that was never
 * reconfigured (random walk, phases, due times), the added one reads. */
GW_TEST(test_reconfigure_keeps_unchanged_devices)
{
    const gw_adapter_ops_t *ops = gw_adapter_find("simulated");
    CHECK(ops->reconfigure != NULL);
    gw_adapter_t *plain = start_sim();
    gw_adapter_t *a = start_sim();
    run_until(ops, plain, 1000000 + 7000);
    fake_now = 1000000;
    run_until(ops, a, 1000000 + 7000);
    gw_adapter_change_t ch[] = {
        {.kind = GW_ADAPTER_REMOVED, .dev = {.key = "simulated:room-2", .endpoint = "ep2"}},
        {.kind = GW_ADAPTER_ADDED, .dev = {.key = "simulated:new-3", .endpoint = "ep3", .conf = &part2}},
    };
    CHECK_EQ_INT(ops->reconfigure(a, ch, 2), 0);
    /* Refused changes leave it as it was: a device it does not have, one
     * it has already. */
    gw_adapter_change_t bad[] = {{.kind = GW_ADAPTER_CHANGED, .dev = {.key = "simulated:room-2", .conf = &part2}}};
    CHECK_EQ_INT(ops->reconfigure(a, bad, 1), -EINVAL);
    bad[0] = ch[1];
    CHECK_EQ_INT(ops->reconfigure(a, bad, 1), -EINVAL);
    size_t mark = n_recs;
    run_until(ops, a, 1000000 + 30000);
    static char got[65536], want[65536];
    size_t n_got = readings_of("simulated:boiler-1", mark, got, sizeof got);
    size_t n_new = readings_of("simulated:new-3", mark, want, sizeof want);
    CHECK(readings_of("simulated:room-2", mark, want, sizeof want) == 0);
    mark = n_recs;
    fake_now = 1000000 + 7000;
    run_until(ops, plain, 1000000 + 30000);
    size_t n_want = readings_of("simulated:boiler-1", mark, want, sizeof want);
    CHECK(n_got > 20);
    CHECK_EQ_INT(n_got, n_want);
    CHECK_EQ_STR(got, want);
    CHECK(n_new >= 11); /* humidity every 2 s over 23 s, temperature every 5 s */
    ops->stop(a);
    ops->destroy(&a);
    ops->stop(plain);
    ops->destroy(&plain);
}

GW_TEST_MAIN(test_table, test_intervals_and_bounds, test_sawtooth_and_square_shape,
             test_random_walk_reproducible, test_write, test_bad_config, test_static,
             test_scale_10000, test_runs_on_loop_timer, test_reconfigure_keeps_unchanged_devices)
