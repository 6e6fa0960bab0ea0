/* Unit tests for gateway/ reload with a fake adapter: the reload matrix
 * (device unchanged / changed / added / removed, the adapter's section
 * changed, a reconfigure that fails), availability across reload, and
 * run-time fields that keep their instance.
 *
 * This program defines the adapter table itself (gw_adapters[] and
 * gw_adapter_find), so the linker takes these instead of
 * adapters/adapters.c from the library: the gateway runs with the fake
 * adapter only. The LwM2M server is a closed loopback port; nothing here
 * waits for it. */
#include "gwtest.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "gateway/gateway_internal.h"
#include "gateway/log.h"

/* ---- the fake adapter's configuration ----------------------------------- */

typedef struct fake_part {
    int rate;
} fake_part_t;

typedef struct fake_section {
    int mode;
} fake_section_t;

static int h_rate(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)ctx, (void)k;
    ((fake_part_t *)obj)->rate = config_setting_get_int(s);
    return 0;
}

static const gw_cfg_key_t fake_keys[] = {
    {"rate", GW_CFG_INT, "an integer", false, h_rate, 0, 0, 0},
};

static int parse_section(gw_cfg_ctx_t *ctx, const config_setting_t *s, void **out)
{
    (void)ctx;
    if (!s)
        return 0;
    fake_section_t *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    config_setting_lookup_int(s, "mode", &f->mode);
    *out = f;
    return 0;
}

static void free_section(void *s) { free(s); }

static uint64_t section_fp(const void *s)
{
    return s ? (uint64_t)((const fake_section_t *)s)->mode + 1 : 0;
}

static int new_part(void **out)
{
    *out = calloc(1, sizeof(fake_part_t));
    return *out ? 0 : -ENOMEM;
}

static int merge_part(const void *base, const void *over, void **out)
{
    fake_part_t *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    if (base)
        *p = *(const fake_part_t *)base;
    if (over && ((const fake_part_t *)over)->rate)
        p->rate = ((const fake_part_t *)over)->rate;
    *out = p;
    return 0;
}

static int finish_part(gw_cfg_ctx_t *ctx, const void *section, void *part, gw_adapter_conf_dev_t *dev)
{
    (void)ctx, (void)section, (void)part, (void)dev;
    return 0;
}

/* Every device declares its temperature: /3303/0 from the start. */
static int declare(const void *part, gw_field_decl_t **out, size_t *out_n)
{
    (void)part;
    return gw_field_decl_add(out, out_n, "temperature", &(gw_path_t){{0}, 0}, NULL, false, 0);
}

static uint64_t part_fp(const void *part)
{
    return part ? (uint64_t)((const fake_part_t *)part)->rate + 1 : 0;
}

static void free_part(void *part) { free(part); }

static const gw_adapter_conf_ops_t fake_conf = {
    .keys = fake_keys,
    .n_keys = 1,
    .keys_text = "rate",
    .parse_section = parse_section,
    .free_section = free_section,
    .section_fingerprint = section_fp,
    .new_part = new_part,
    .merge_part = merge_part,
    .finish_part = finish_part,
    .declare = declare,
    .part_fingerprint = part_fp,
    .free_part = free_part,
    .field_noun = "fake field",
};

/* ---- the fake adapter: devices with a state the tests look at ---------- */

typedef struct fdev {
    char *key;
    int rate;
    int polls; /* state that a restart would lose */
    bool down;
} fdev_t;

struct gw_adapter {
    gw_adapter_env_t env;
    fdev_t *devs;
    size_t n;
};

static struct {
    int create, start, stop, destroy, reconf;
    int reconf_rc;                 /* what the next reconfigure returns */
    gw_adapter_change_kind_t kinds[8];
    char keys[8][64];
    size_t n_changes;
    gw_adapter_t *live;
} fk;

static int fake_add(gw_adapter_t *a, const gw_adapter_device_t *d)
{
    fdev_t *v = realloc(a->devs, (a->n + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    a->devs = v;
    a->devs[a->n] = (fdev_t){.key = strdup(d->key), .rate = ((const fake_part_t *)d->conf)->rate};
    return a->devs[a->n++].key ? 0 : -ENOMEM;
}

static fdev_t *fake_find(gw_adapter_t *a, const char *key)
{
    for (size_t i = 0; a && i < a->n; i++)
        if (strcmp(a->devs[i].key, key) == 0)
            return &a->devs[i];
    return NULL;
}

static int fake_create(const gw_adapter_env_t *env, const void *section, const gw_adapter_device_t *devs,
                       size_t n, gw_adapter_t **out)
{
    (void)section;
    gw_adapter_t *a = calloc(1, sizeof *a);
    CHECK(a != NULL);
    a->env = *env;
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(fake_add(a, &devs[i]), 0);
    fk.create++;
    fk.live = a;
    *out = a;
    return 0;
}

static int fake_reconfigure(gw_adapter_t *a, const gw_adapter_change_t *ch, size_t n)
{
    fk.reconf++;
    fk.n_changes = n;
    for (size_t i = 0; i < n && i < 8; i++) {
        fk.kinds[i] = ch[i].kind;
        snprintf(fk.keys[i], sizeof fk.keys[i], "%s", ch[i].dev.key);
    }
    if (fk.reconf_rc)
        return fk.reconf_rc;
    for (size_t i = 0; i < n; i++) {
        fdev_t *d = fake_find(a, ch[i].dev.key);
        if (ch[i].kind == GW_ADAPTER_ADDED) {
            CHECK(d == NULL);
            CHECK_EQ_INT(fake_add(a, &ch[i].dev), 0);
        } else if (ch[i].kind == GW_ADAPTER_REMOVED) {
            CHECK(d != NULL);
            free(d->key);
            *d = a->devs[--a->n];
        } else {
            CHECK(d != NULL);
            d->rate = ((const fake_part_t *)ch[i].dev.conf)->rate;
        }
    }
    return 0;
}

static int fake_start(gw_adapter_t *a)
{
    (void)a;
    fk.start++;
    return 0;
}

static void fake_stop(gw_adapter_t *a)
{
    (void)a;
    fk.stop++;
}

static void fake_destroy(gw_adapter_t **ap)
{
    gw_adapter_t *a = *ap;
    for (size_t i = 0; i < a->n; i++)
        free(a->devs[i].key);
    free(a->devs);
    free(a);
    *ap = NULL;
    fk.destroy++;
    fk.live = NULL;
}

static const gw_adapter_ops_t fake_ops = {
    .name = "fake",
    .conf = &fake_conf,
    .create = fake_create,
    .reconfigure = fake_reconfigure,
    .start = fake_start,
    .stop = fake_stop,
    .destroy = fake_destroy,
};

const gw_adapter_ops_t *const gw_adapters[] = {&fake_ops, NULL};

const gw_adapter_ops_t *gw_adapter_find(const char *name)
{
    return name && strcmp(name, "fake") == 0 ? &fake_ops : NULL;
}

/* The fake device key reports a reading of field. */
static int emit(const char *key, const char *field, double v)
{
    CHECK(fk.live != NULL);
    if (!fk.live)
        return -ENOENT;
    gw_reading_t r = {.device_key = key, .field = field, .value = {.type = GW_TYPE_FLOAT, .v.f = v}};
    return fk.live->env.emit(fk.live->env.emit_ctx, &r);
}

static void set_down(const char *key, bool down)
{
    fdev_t *d = fake_find(fk.live, key);
    CHECK(d != NULL);
    if (!d)
        return;
    d->down = down;
    CHECK_EQ_INT(fk.live->env.set_available(fk.live->env.emit_ctx, key, !down), 0);
}

/* ---- the gateway around it --------------------------------------------- */

static char dir[64], file[96];

typedef struct gw_fixture {
    gw_registry_t *reg;
    gw_loop_t *loop;
    gw_gateway_t *g;
} fixture_t;

static const char *DEV_A = "{ endpoint = \"a\"; adapter = \"fake\"; rate = 1; }";
static const char *DEV_B = "{ endpoint = \"b\"; adapter = \"fake\"; rate = 1; }";
static const char *DEV_C = "{ endpoint = \"c\"; adapter = \"fake\"; rate = 1; }";

static void write_conf(int mode, const char *d1, const char *d2, const char *d3)
{
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fprintf(f,
            "gateway = { name = \"gw\"; state_dir = \"%s\"; };\n"
            "servers = ( { uri = \"coap://127.0.0.1:9\"; lifetime = 60; } );\n"
            "adapters = { fake = { mode = %d; }; };\n"
            "devices = ( %s%s%s%s%s );\n",
            dir, mode, d1, d2 ? ", " : "", d2 ? d2 : "", d3 ? ", " : "", d3 ? d3 : "");
    fclose(f);
}

static void diag(void *ctx, const char *f, int line, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "  config %s:%d: %s\n", f, line, msg);
    CHECK(0);
}

static void start(fixture_t *x)
{
    memset(&fk, 0, sizeof fk);
    snprintf(dir, sizeof dir, "/tmp/gwreloadXXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(file, sizeof file, "%s/gw.conf", dir);
    write_conf(1, DEV_A, DEV_B, DEV_C);
    CHECK_EQ_INT(gw_registry_new(&x->reg), 0);
    CHECK_EQ_INT(gw_loop_new(&x->loop), 0);
    gw_config_t *cfg = NULL;
    CHECK_EQ_INT(gw_config_load(file, x->reg, diag, NULL, &cfg), 0);
    CHECK_EQ_INT(gw_gateway_new(cfg, x->reg, x->loop, NULL, &x->g), 0);
    CHECK_EQ_INT(gw_gateway_start(x->g), 0);
    CHECK_EQ_INT(fk.create, 1);
    CHECK_EQ_INT(fk.start, 1);
}

static void finish(fixture_t *x)
{
    gw_gateway_free(&x->g);
    gw_loop_free(&x->loop);
    gw_registry_free(&x->reg);
    unlink(file);
    char path[128];
    snprintf(path, sizeof path, "%s/offline", dir);
    rmdir(path);
    rmdir(dir);
}

static gw_device_t *device(fixture_t *x, const char *ep)
{
    for (size_t i = 0; i < x->g->n_devices; i++)
        if (strcmp(x->g->devices[i].cfg->endpoint, ep) == 0)
            return &x->g->devices[i];
    return NULL;
}

static size_t instances(fixture_t *x, const char *ep)
{
    gw_device_t *d = device(x, ep);
    CHECK(d != NULL);
    return d ? gw_store_instance_count(gw_vclient_store(d->vc)) : 0;
}

static bool has(fixture_t *x, const char *ep, uint16_t oid, uint16_t iid)
{
    gw_device_t *d = device(x, ep);
    return d && gw_store_instance_exists(gw_vclient_store(d->vc), oid, iid);
}

static void reload(fixture_t *x)
{
    CHECK_EQ_INT(gw_gateway_reload(x->g, file), 0);
}

/* ---- the tests ---------------------------------------------------------- */

GW_TEST(test_unchanged_file_touches_nothing)
{
    fixture_t x = {0};
    start(&x);
    CHECK(has(&x, "a", 3303, 0));
    fake_find(fk.live, "fake:a")->polls = 42;
    gw_vclient_t *vc = device(&x, "a")->vc;
    size_t n = instances(&x, "a");
    reload(&x);
    CHECK_EQ_INT(fk.create, 1);
    CHECK_EQ_INT(fk.stop, 0);
    CHECK_EQ_INT(fk.reconf, 0);
    CHECK_EQ_INT(fake_find(fk.live, "fake:a")->polls, 42);
    CHECK(device(&x, "a")->vc == vc);
    CHECK_EQ_INT(instances(&x, "a"), n);
    CHECK_EQ_INT(emit("fake:a", "temperature", 21.5), 0);
    CHECK(!has(&x, "a", 3303, 1));
    finish(&x);
}

GW_TEST(test_changed_added_removed_reconfigure_and_keep_the_rest)
{
    fixture_t x = {0};
    start(&x);
    fake_find(fk.live, "fake:a")->polls = 7;
    fake_find(fk.live, "fake:b")->polls = 8;
    /* b changed, c removed, d added */
    write_conf(1, DEV_A, "{ endpoint = \"b\"; adapter = \"fake\"; rate = 5; }",
               "{ endpoint = \"d\"; adapter = \"fake\"; rate = 1; }");
    reload(&x);
    CHECK_EQ_INT(fk.create, 1);
    CHECK_EQ_INT(fk.stop, 0);
    CHECK_EQ_INT(fk.reconf, 1);
    CHECK_EQ_INT(fk.n_changes, 3);
    int seen = 0;
    for (size_t i = 0; i < fk.n_changes; i++) {
        if (fk.kinds[i] == GW_ADAPTER_REMOVED && strcmp(fk.keys[i], "fake:c") == 0)
            seen |= 1;
        if (fk.kinds[i] == GW_ADAPTER_CHANGED && strcmp(fk.keys[i], "fake:b") == 0)
            seen |= 2;
        if (fk.kinds[i] == GW_ADAPTER_ADDED && strcmp(fk.keys[i], "fake:d") == 0)
            seen |= 4;
    }
    CHECK_EQ_INT(seen, 7);
    CHECK_EQ_INT(fake_find(fk.live, "fake:a")->polls, 7);
    CHECK_EQ_INT(fake_find(fk.live, "fake:b")->polls, 8); /* changed: the adapter's to keep */
    CHECK_EQ_INT(fake_find(fk.live, "fake:b")->rate, 5);
    CHECK(fake_find(fk.live, "fake:c") == NULL);
    CHECK(device(&x, "c") == NULL);
    CHECK(device(&x, "d") != NULL && has(&x, "d", 3303, 0));
    CHECK_EQ_INT(emit("fake:d", "temperature", 20), 0);
    CHECK_EQ_INT(emit("fake:b", "temperature", 20), 0);
    CHECK_EQ_INT(emit("fake:c", "temperature", 20), -ENOENT);
    finish(&x);
}

GW_TEST(test_section_change_restarts_and_reasserts_availability)
{
    fixture_t x = {0};
    start(&x);
    set_down("fake:b", true);
    CHECK(device(&x, "b")->unavailable);
    write_conf(2, DEV_A, DEV_B, DEV_C);
    reload(&x);
    CHECK_EQ_INT(fk.stop, 1);
    CHECK_EQ_INT(fk.destroy, 1);
    CHECK_EQ_INT(fk.create, 2);
    CHECK_EQ_INT(fk.start, 2);
    CHECK_EQ_INT(fk.reconf, 0);
    /* The new instance knows nothing of b's failure: b is registered again
     * until the adapter says otherwise. */
    CHECK(!device(&x, "b")->unavailable);
    CHECK_EQ_INT(fake_find(fk.live, "fake:a")->polls, 0);
    finish(&x);
}

GW_TEST(test_reconfigure_keeps_availability)
{
    fixture_t x = {0};
    start(&x);
    set_down("fake:b", true);
    write_conf(1, "{ endpoint = \"a\"; adapter = \"fake\"; rate = 3; }", DEV_B, DEV_C);
    reload(&x);
    CHECK_EQ_INT(fk.reconf, 1);
    CHECK_EQ_INT(fk.stop, 0);
    CHECK(device(&x, "b")->unavailable);
    CHECK(fake_find(fk.live, "fake:b")->down);
    /* unchanged file again: still down, nothing called */
    reload(&x);
    CHECK_EQ_INT(fk.reconf, 1);
    CHECK(device(&x, "b")->unavailable);
    set_down("fake:b", false);
    CHECK(!device(&x, "b")->unavailable);
    finish(&x);
}

GW_TEST(test_failed_reconfigure_restarts_and_reasserts)
{
    fixture_t x = {0};
    start(&x);
    set_down("fake:c", true);
    fk.reconf_rc = -EINVAL;
    write_conf(1, "{ endpoint = \"a\"; adapter = \"fake\"; rate = 3; }", DEV_B, DEV_C);
    reload(&x);
    CHECK_EQ_INT(fk.reconf, 1);
    CHECK_EQ_INT(fk.stop, 1);
    CHECK_EQ_INT(fk.create, 2);
    CHECK(!device(&x, "c")->unavailable);
    CHECK_EQ_INT(fake_find(fk.live, "fake:a")->rate, 3);
    finish(&x);
}

GW_TEST(test_last_device_gone_stops_the_adapter_first_one_starts_it)
{
    fixture_t x = {0};
    start(&x);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "gateway = { name = \"gw\"; state_dir = \"%s\"; };\n"
                   "servers = ( { uri = \"coap://127.0.0.1:9\"; lifetime = 60; } );\n"
                   "devices = ( );\n", dir);
        fclose(f);
    }
    reload(&x);
    CHECK_EQ_INT(fk.destroy, 1);
    CHECK(fk.live == NULL);
    write_conf(1, DEV_A, NULL, NULL);
    reload(&x);
    CHECK_EQ_INT(fk.create, 2);
    CHECK(fk.live != NULL && fk.live->n == 1);
    finish(&x);
}

/* A field that appears only at run time (pressure: in the default map, not
 * declared) keeps the instance it was given, across an unchanged reload
 * and across a change of its device (whose instances are built again). */
GW_TEST(test_runtime_field_keeps_its_instance)
{
    fixture_t x = {0};
    start(&x);
    CHECK(!has(&x, "a", 3315, 0));
    CHECK_EQ_INT(emit("fake:a", "pressure", 1013), 0);
    CHECK(has(&x, "a", 3315, 0));
    size_t n = instances(&x, "a");
    reload(&x);
    CHECK_EQ_INT(emit("fake:a", "pressure", 1014), 0);
    CHECK(has(&x, "a", 3315, 0));
    CHECK(!has(&x, "a", 3315, 1));
    CHECK_EQ_INT(instances(&x, "a"), n);
    write_conf(1, "{ endpoint = \"a\"; adapter = \"fake\"; rate = 9; }", DEV_B, DEV_C);
    reload(&x);
    CHECK(has(&x, "a", 3315, 0));
    CHECK_EQ_INT(emit("fake:a", "pressure", 1015), 0);
    CHECK(!has(&x, "a", 3315, 1));
    CHECK_EQ_INT(instances(&x, "a"), n);
    gw_value_t v;
    gw_device_t *d = device(&x, "a");
    CHECK(d && gw_store_get(gw_vclient_store(d->vc), &(gw_path_t){{3315, 0, 5700, 0}, 3}, &v, NULL) == 0);
    CHECK(d && v.type == GW_TYPE_FLOAT && v.v.f == 1015);
    finish(&x);
}

GW_TEST_MAIN(test_unchanged_file_touches_nothing, test_changed_added_removed_reconfigure_and_keep_the_rest,
             test_section_change_restarts_and_reasserts_availability, test_reconfigure_keeps_availability,
             test_failed_reconfigure_restarts_and_reasserts, test_last_device_gone_stops_the_adapter_first_one_starts_it,
             test_runtime_field_keeps_its_instance)
