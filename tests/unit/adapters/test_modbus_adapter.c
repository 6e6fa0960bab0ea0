/*
 * tests/unit/adapters/test_modbus_adapter.c - the Modbus adapter against a
 * libmodbus TCP server in a thread: coil bit fields read with FC01 and
 * written with FC15, Execute on them, fail_threshold reporting a device
 * unavailable and available again, and no availability change without it;
 * asynchronous writes completed on the loop, against a silent device,
 * cancelled by stop(), and read_back catching a device that does not keep
 * the value. Bit field encoding and its configuration errors are tested
 * here too.
 */
#include <errno.h>
#include <modbus.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "adapters/adapter.h"
#include "adapters/modbus/decode.h"
#include "adapters/modbus/config.h"
#include "adapters/modbus/modbus.h"
#include "gateway/log.h"
#include "gwtest.h"
#include "lwm2m/registry.h"
#include "mapping/config.h"

/* Create an adapter for the devices of cfg that use it, as the gateway
 * does (the adapter copies the keys it keeps). */
static int create_for(const gw_adapter_ops_t *ops, const gw_adapter_env_t *env, const gw_config_t *cfg,
                      gw_adapter_t **out)
{
    gw_adapter_device_t *devs = NULL;
    size_t n = 0;
    int rc = gw_config_adapter_devices(cfg, ops, &devs, &n);
    if (rc == 0)
        rc = ops->create(env, cfg->sections[gw_config_adapter_index_of(ops)], devs, n, out);
    gw_config_adapter_devices_free(&devs, n);
    return rc;
}

#define MB(c, i) ((const gw_modbus_dev_conf_t *)(c)->devices[i].part)
#define MBC(c) ((const gw_modbus_conf_t *)(c)->sections[gw_config_adapter_index_of(gw_adapter_find("modbus"))])

/* ---- a Modbus TCP server on a thread ------------------------------------ */

typedef struct server {
    int lsock, port;
    pthread_t thread;
    pthread_mutex_t mu; /* the mapping */
    modbus_mapping_t *map;
    atomic_int stop;
    bool silent;        /* under mu: requests get no answer */
    bool ignore_writes; /* under mu: writes are answered but not kept */
    int bell_on, bell_off; /* under mu: FC05 requests to coil 40 */
} server_t;

static void *serve(void *arg)
{
    server_t *s = arg;
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", 1502); /* protocol only: sockets are ours */
    uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
    int clients[8], n = 0;
    while (!s->stop && ctx) {
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(s->lsock, &rd);
        int maxfd = s->lsock;
        for (int i = 0; i < n; i++) {
            FD_SET(clients[i], &rd);
            maxfd = clients[i] > maxfd ? clients[i] : maxfd;
        }
        struct timeval tv = {0, 20000};
        if (select(maxfd + 1, &rd, NULL, NULL, &tv) <= 0)
            continue;
        if (FD_ISSET(s->lsock, &rd)) {
            int c = accept(s->lsock, NULL, NULL);
            if (c >= 0 && n < 8)
                clients[n++] = c;
            else if (c >= 0)
                close(c);
        }
        for (int i = 0; i < n; i++) {
            if (!FD_ISSET(clients[i], &rd))
                continue;
            modbus_set_socket(ctx, clients[i]);
            int rc = modbus_receive(ctx, q);
            if (rc > 0) {
                pthread_mutex_lock(&s->mu);
                uint16_t regs[100];
                uint8_t bits[100];
                memcpy(regs, s->map->tab_registers, sizeof regs);
                memcpy(bits, s->map->tab_bits, sizeof bits);
                /* MBAP header (7 bytes), then FC 5, address, 0xFF00 on / 0 off */
                if (rc >= 12 && q[7] == 5 && q[8] == 0 && q[9] == 40)
                    *(q[10] == 0xFF ? &s->bell_on : &s->bell_off) += 1;
                if (!s->silent)
                    modbus_reply(ctx, q, rc, s->map);
                if (s->ignore_writes) {
                    memcpy(s->map->tab_registers, regs, sizeof regs);
                    memcpy(s->map->tab_bits, bits, sizeof bits);
                }
                pthread_mutex_unlock(&s->mu);
            } else if (rc < 0) {
                close(clients[i]);
                clients[i--] = clients[--n];
            }
        }
    }
    for (int i = 0; i < n; i++)
        close(clients[i]);
    if (ctx)
        modbus_free(ctx);
    return NULL;
}

/* Bound but not listening: connections are refused until server_start. */
static int server_bind(server_t *s)
{
    memset(s, 0, sizeof *s);
    s->lsock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (s->lsock < 0 || bind(s->lsock, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(s->lsock, (struct sockaddr *)&sa, &len) < 0)
        return -1;
    s->port = ntohs(sa.sin_port);
    s->map = modbus_mapping_new(100, 100, 100, 100);
    pthread_mutex_init(&s->mu, NULL);
    return s->map ? 0 : -1;
}

static int server_start(server_t *s)
{
    if (listen(s->lsock, 8) < 0)
        return -1;
    return pthread_create(&s->thread, NULL, serve, s) == 0 ? 0 : -1;
}

static void server_free(server_t *s, bool started)
{
    s->stop = 1;
    if (started)
        pthread_join(s->thread, NULL);
    close(s->lsock);
    modbus_mapping_free(s->map);
    pthread_mutex_destroy(&s->mu);
}

/* ---- the adapter's environment -------------------------------------------- */

typedef struct event {
    char field[32]; /* reading field, or "+available" / "-available" */
    gw_value_t value;
} event_t;

typedef struct env {
    event_t ev[4096];
    size_t n;
} env_t;

static int on_emit(void *ctx, const gw_reading_t *r)
{
    env_t *e = ctx;
    if (e->n < sizeof e->ev / sizeof e->ev[0]) {
        snprintf(e->ev[e->n].field, sizeof e->ev[0].field, "%s", r->field);
        e->ev[e->n].value = r->value;
        if (r->value.type == GW_TYPE_STRING)
            e->ev[e->n].value.v.bytes.ptr = NULL; /* borrowed: not kept */
        e->n++;
    }
    return 0;
}

static int on_available(void *ctx, const char *key, bool up)
{
    env_t *e = ctx;
    if (strcmp(key, "modbus:plc/1") != 0)
        return -ENOENT;
    if (e->n < sizeof e->ev / sizeof e->ev[0])
        snprintf(e->ev[e->n++].field, sizeof e->ev[0].field, "%savailable", up ? "+" : "-");
    return 0;
}

/* Index of the first event at or after from matching field (and value i,
 * when want_i is set), or -1. */
static long find(const env_t *e, size_t from, const char *field, bool want_i, int64_t i)
{
    for (size_t k = from; k < e->n; k++)
        if (strcmp(e->ev[k].field, field) == 0 &&
            (!want_i || (e->ev[k].value.type == GW_TYPE_INTEGER && e->ev[k].value.v.i == i)))
            return (long)k;
    return -1;
}

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The loop the adapters under test run in (their env.loop), as in the
 * daemon: the adapter watches its own eventfd there from start to stop. */
static gw_loop_t *test_loop(void)
{
    static gw_loop_t *l;
    if (!l && gw_loop_new(&l) < 0)
        abort();
    return l;
}

/* Run the loop until an event matches, or 5 s. */
static long pump_until(const gw_adapter_ops_t *ops, gw_adapter_t *a, env_t *e, size_t from,
                       const char *field, bool want_i, int64_t i)
{
    (void)ops;
    (void)a;
    int64_t end = ms_now() + 5000;
    long k;
    while ((k = find(e, from, field, want_i, i)) < 0 && ms_now() < end)
        gw_loop_run_once(test_loop(), 50);
    return k;
}

static void diag(void *ctx, const char *file, int line, const char *msg)
{
    snprintf(ctx, 512, "%s:%d: %s", file, line, msg);
}

static int load(const char *text, char *last_diag, gw_config_t **out)
{
    char path[] = "/tmp/gw-test-modbus-adapter-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    gw_registry_t *reg = NULL;
    gw_registry_new(&reg);
    last_diag[0] = '\0';
    int rc = gw_config_load(path, reg, diag, last_diag, out);
    remove(path);
    gw_registry_free(&reg);
    return rc;
}

static int load_bus(int port, int fail_threshold, gw_config_t **out)
{
    char text[2048], d[512];
    snprintf(text, sizeof text,
             "servers = ( { uri = \"coap://127.0.0.1:5683\"; } );\n"
             "adapters = { modbus = ( { name = \"plc\"; type = \"tcp\"; host = \"127.0.0.1\";\n"
             "  port = %d; timeout_ms = 200; backoff_max_ms = 100; fail_threshold = %d; } ); };\n"
             "devices = ( { endpoint = \"a\"; adapter = \"modbus\"; bus = \"plc\"; unit_id = 1;\n"
             "  resources = ( { field = \"error_code\"; path = \"/3300/9/5700\"; } );\n"
             "  registers = (\n"
             "    { field = \"level\"; address = 3; interval = 0.05; path = \"/3300/0/5700\"; },\n"
             "    { field = \"relays\"; table = \"coil\"; type = \"u16\"; length = 10; address = 20;\n"
             "      interval = 0.05; writable = true; path = \"/3300/1/5700\"; },\n"
             "    { field = \"setpoint\"; address = 10; interval = 0.05; writable = true;\n"
             "      read_back = true; path = \"/3300/2/5700\"; },\n"
             "    { field = \"bell\"; table = \"coil\"; address = 40; writable = true; pulse_ms = 30;\n"
             "      path = \"/3300/3/5700\"; },\n"
             "    { field = \"reset\"; address = 12; writable = true; execute_value = 5;\n"
             "      path = \"/3300/4/5700\"; } ); } );\n",
             port, fail_threshold);
    int rc = load(text, d, out);
    if (rc < 0)
        fprintf(stderr, "config: %s\n", d);
    return rc;
}

GW_TEST(bit_field_decode_and_encode)
{
    gw_config_modbus_reg_t r = {.field = "x", .table = GW_MODBUS_COIL, .type = GW_MODBUS_U16,
                                .count = 10, .scale = 1};
    uint16_t w[GW_MODBUS_MAX_FIELD_BITS] = {1, 0, 1, 0, 0, 1, 0, 1, 0, 1};
    gw_value_t v;
    CHECK_EQ_INT(gw_modbus_decode(&r, w, 10, &v, NULL, 0), 0);
    CHECK_EQ_INT(v.type, GW_TYPE_INTEGER);
    CHECK_EQ_INT(v.v.i, 0x2A5); /* first coil = least significant bit */
    uint16_t back[GW_MODBUS_MAX_FIELD_BITS];
    CHECK_EQ_INT(gw_modbus_encode(&r, 0x2A5, back, GW_MODBUS_MAX_FIELD_BITS), 0);
    CHECK(memcmp(back, w, 10 * sizeof w[0]) == 0);
    CHECK_EQ_INT(gw_modbus_encode(&r, 1024, back, GW_MODBUS_MAX_FIELD_BITS), -ERANGE);
    CHECK_EQ_INT(gw_modbus_encode(&r, -1, back, GW_MODBUS_MAX_FIELD_BITS), -ERANGE);
    CHECK_EQ_INT(gw_modbus_encode(&r, 5, back, 9), -EINVAL); /* room for 10 words */
    r.count = 17; /* wider than u16 */
    CHECK_EQ_INT(gw_modbus_decode(&r, w, 17, &v, NULL, 0), -EINVAL);
    CHECK_EQ_INT(gw_modbus_encode(&r, 1, back, GW_MODBUS_MAX_FIELD_BITS), -EINVAL);
    /* 64 coils all on: above INT64_MAX, so UNSIGNED */
    r = (gw_config_modbus_reg_t){.field = "x", .table = GW_MODBUS_DISCRETE, .type = GW_MODBUS_U64,
                                 .count = 64, .scale = 1};
    for (int i = 0; i < 64; i++)
        w[i] = 1;
    CHECK_EQ_INT(gw_modbus_decode(&r, w, 64, &v, NULL, 0), 0);
    CHECK_EQ_INT(v.type, GW_TYPE_UNSIGNED);
    CHECK(v.v.u == UINT64_MAX);
    r.scale = 0.5;
    w[63] = 0;
    CHECK_EQ_INT(gw_modbus_decode(&r, w, 64, &v, NULL, 0), 0);
    CHECK_EQ_INT(v.type, GW_TYPE_FLOAT);
    CHECK_NEAR(v.v.f, 0.5 * 9223372036854775807.0, 1e3);
}

#define HEAD                                                                                      \
    "servers = ( { uri = \"coap://127.0.0.1:5683\"; } );\n"                                       \
    "adapters = { modbus = ( { name = \"plc\"; type = \"tcp\"; host = \"127.0.0.1\"; } ); };\n"   \
    "devices = ( { endpoint = \"a\"; adapter = \"modbus\"; bus = \"plc\"; unit_id = 1;\n"

GW_TEST(bit_field_and_fail_threshold_config)
{
    char d[512];
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load(HEAD " registers = ( { field = \"r\"; table = \"coil\"; type = \"u32\";\n"
                           "  length = 12; address = 4; writable = true; path = \"/3300/0/5700\"; } ); } );\n",
                      d, &c),
                 0);
    if (c) {
        CHECK_EQ_INT(MB(c, 0)->registers[0].count, 12);
        CHECK_EQ_INT(MB(c, 0)->registers[0].type, GW_MODBUS_U32);
        CHECK_EQ_INT(MBC(c)->buses[0].fail_threshold, 0); /* default: never deregister */
    }
    gw_config_free(&c);
    CHECK_EQ_INT(load(HEAD " registers = ( { field = \"r\"; table = \"coil\"; type = \"u16\";\n"
                           "  address = 0; path = \"/3300/0/5700\"; } ); } );\n",
                      d, &c),
                 0);
    if (c)
        CHECK_EQ_INT(MB(c, 0)->registers[0].count, 16); /* the type's width */
    gw_config_free(&c);
    CHECK_EQ_INT(load(HEAD " registers = ( { field = \"r\"; table = \"coil\"; type = \"u16\";\n"
                           "  length = 17; address = 4; path = \"/3300/0/5700\"; } ); } );\n",
                      d, &c),
                 -EINVAL);
    CHECK(strstr(d, ":5: a u16 bit field has length = 1..16 (bits), got 17") != NULL);
    CHECK_EQ_INT(load(HEAD " registers = ( { field = \"r\"; table = \"discrete\"; type = \"s16\";\n"
                           "  address = 4; path = \"/3300/0/5700\"; } ); } );\n",
                      d, &c),
                 -EINVAL);
    CHECK(strstr(d, "type \"s16\" does not fit table \"discrete\"") != NULL);
    CHECK_EQ_INT(load(HEAD " registers = ( { field = \"r\"; table = \"coil\"; length = 3;\n"
                           "  address = 4; path = \"/3300/0/5700\"; } ); } );\n",
                      d, &c),
                 -EINVAL);
    CHECK(strstr(d, "length is only for type = \"string\" and coil bit fields") != NULL);
    CHECK_EQ_INT(load("servers = ( { uri = \"coap://127.0.0.1:5683\"; } );\n"
                      "adapters = { modbus = ( { name = \"plc\"; type = \"tcp\"; host = \"h\";\n"
                      "  fail_threshold = -1; } ); };\n",
                      d, &c),
                 -EINVAL);
    CHECK(strstr(d, ":3: ") != NULL && strstr(d, "fail_threshold") != NULL);
    CHECK(c == NULL);
}

static int write_wait(const gw_adapter_ops_t *ops, gw_adapter_t *a, const char *key, const char *field,
                      const gw_value_t *v, const char *args);

GW_TEST(fail_threshold_reports_unavailable_then_available_and_fc15_writes)
{
    server_t s;
    CHECK_EQ_INT(server_bind(&s), 0);
    gw_config_t *cfg = NULL;
    CHECK_EQ_INT(load_bus(s.port, 3, &cfg), 0);
    if (!cfg) {
        server_free(&s, false);
        return;
    }
    static env_t e;
    memset(&e, 0, sizeof e);
    const gw_adapter_ops_t *ops = gw_adapter_find("modbus");
    gw_adapter_env_t env = {.loop = test_loop(), .emit = on_emit, .emit_ctx = &e, .set_available = on_available};
    gw_adapter_t *a = NULL;
    CHECK_EQ_INT(create_for(ops, &env, cfg, &a), 0);
    CHECK_EQ_INT(ops->start(a), 0);
    bool started = false;

    /* Refused connections: error code 7 at once, unavailable at the third. */
    long fault = pump_until(ops, a, &e, 0, "error_code", true, 7);
    long down = pump_until(ops, a, &e, 0, "-available", false, 0);
    CHECK(fault >= 0 && down > fault);
    gw_modbus_stats_t st;
    gw_modbus_get_stats(a, &st);
    CHECK(st.io_errors >= 3);
    CHECK(find(&e, 0, "+available", false, 0) < 0);

    /* The server comes up: available again before the first value. */
    s.map->tab_registers[3] = 4321;
    for (int i = 0; i < 10; i++)
        s.map->tab_bits[20 + i] = (uint8_t)((0x2A5 >> i) & 1);
    CHECK_EQ_INT(server_start(&s), 0);
    started = true;
    long up = pump_until(ops, a, &e, (size_t)down, "+available", false, 0);
    long level = pump_until(ops, a, &e, (size_t)down, "level", true, 4321);
    long relays = pump_until(ops, a, &e, (size_t)down, "relays", true, 0x2A5);
    long ok = pump_until(ops, a, &e, (size_t)down, "error_code", true, 0);
    CHECK(up > down && level > up && relays > up && ok > up);
    CHECK_EQ_INT((long)e.n > 0 && find(&e, (size_t)up + 1, "-available", false, 0) < 0, 1);

    /* FC15: the ten coils change together, and the next poll reads them. */
    gw_value_t v = {.type = GW_TYPE_INTEGER, .v.i = 0x15A};
    size_t mark = e.n;
    CHECK_EQ_INT(write_wait(ops, a, "modbus:plc/1", "relays", &v, NULL), 0);
    pthread_mutex_lock(&s.mu);
    int bits = 0;
    for (int i = 0; i < 10; i++)
        bits |= s.map->tab_bits[20 + i] << i;
    pthread_mutex_unlock(&s.mu);
    CHECK_EQ_INT(bits, 0x15A);
    CHECK(pump_until(ops, a, &e, mark, "relays", true, 0x15A) >= 0);
    v.v.i = 1024; /* does not fit ten bits */
    CHECK_EQ_INT(write_wait(ops, a, "modbus:plc/1", "relays", &v, NULL), -ERANGE);
    /* Execute: all on, then all off with "0". */
    CHECK_EQ_INT(write_wait(ops, a, "modbus:plc/1", "relays", NULL, NULL), 0);
    CHECK(pump_until(ops, a, &e, mark, "relays", true, 0x3FF) >= 0);
    CHECK_EQ_INT(write_wait(ops, a, "modbus:plc/1", "relays", NULL, "0"), 0);
    pthread_mutex_lock(&s.mu);
    CHECK_EQ_INT(s.map->tab_bits[20] + s.map->tab_bits[29], 0);
    CHECK_EQ_INT(s.map->tab_bits[30], 0); /* the coil after the field is untouched */
    pthread_mutex_unlock(&s.mu);
    gw_modbus_get_stats(a, &st);
    CHECK_EQ_INT(st.writes, 3);

    ops->stop(a);
    ops->destroy(&a);
    CHECK(a == NULL);
    server_free(&s, started);
    gw_config_free(&cfg);
}

GW_TEST(without_fail_threshold_the_device_stays_available)
{
    server_t s;
    CHECK_EQ_INT(server_bind(&s), 0);
    gw_config_t *cfg = NULL;
    CHECK_EQ_INT(load_bus(s.port, 0, &cfg), 0);
    if (!cfg) {
        server_free(&s, false);
        return;
    }
    static env_t e;
    memset(&e, 0, sizeof e);
    const gw_adapter_ops_t *ops = gw_adapter_find("modbus");
    gw_adapter_env_t env = {.loop = test_loop(), .emit = on_emit, .emit_ctx = &e, .set_available = on_available};
    gw_adapter_t *a = NULL;
    CHECK_EQ_INT(create_for(ops, &env, cfg, &a), 0);
    CHECK_EQ_INT(ops->start(a), 0);
    CHECK(pump_until(ops, a, &e, 0, "error_code", true, 7) >= 0);
    gw_modbus_stats_t st;
    int64_t end = ms_now() + 5000;
    do {
        gw_loop_run_once(test_loop(), 50);
        gw_modbus_get_stats(a, &st);
    } while (st.io_errors < 5 && ms_now() < end);
    CHECK(st.io_errors >= 5);
    CHECK(find(&e, 0, "-available", false, 0) < 0);
    /* the error code is reported once, not per failure */
    long first = find(&e, 0, "error_code", false, 0);
    CHECK(first >= 0 && find(&e, (size_t)first + 1, "error_code", false, 0) < 0);
    ops->stop(a);
    ops->destroy(&a);
    server_free(&s, false);
    gw_config_free(&cfg);
}

/* ---- asynchronous writes ------------------------------------------------ */

typedef struct done_rec {
    int calls, rc;
    int64_t at_ms; /* when done was called */
} done_rec_t;

static void on_done(void *ctx, int rc)
{
    done_rec_t *d = ctx;
    d->calls++;
    d->rc = rc;
    d->at_ms = ms_now();
}

/* Run the loop until d is called, or max_ms; returns how many turns the
 * loop made meanwhile. */
static int pump_done(const gw_adapter_ops_t *ops, gw_adapter_t *a, const done_rec_t *d,
                     int max_ms)
{
    (void)ops;
    (void)a;
    int turns = 0;
    int64_t end = ms_now() + max_ms;
    while (!d->calls && ms_now() < end) {
        gw_loop_run_once(test_loop(), 10);
        turns++;
    }
    return turns;
}

/* A write as the gateway makes it: checked, then started, and its answer
 * taken from the loop. Returns the refusal, or what done was called with. */
static int write_wait(const gw_adapter_ops_t *ops, gw_adapter_t *a, const char *key, const char *field,
                      const gw_value_t *v, const char *args)
{
    int rc = ops->write_check(a, key, field, v, args);
    if (rc < 0)
        return rc;
    done_rec_t d = {0};
    rc = ops->write_async(a, key, field, v, args, on_done, &d);
    if (rc < 0)
        return rc;
    pump_done(ops, a, &d, 5000);
    return d.calls == 1 ? d.rc : -ETIME;
}

static void server_set(server_t *s, bool silent, bool ignore_writes)
{
    pthread_mutex_lock(&s->mu);
    s->silent = silent;
    s->ignore_writes = ignore_writes;
    pthread_mutex_unlock(&s->mu);
}

static int server_reg(server_t *s, int addr)
{
    pthread_mutex_lock(&s->mu);
    int v = s->map->tab_registers[addr];
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* A running server and an adapter that has read from it once. */
typedef struct rig {
    server_t s;
    gw_config_t *cfg;
    env_t e;
    const gw_adapter_ops_t *ops;
    gw_adapter_t *a;
} rig_t;

static int rig_up(rig_t *r)
{
    memset(r, 0, sizeof *r);
    if (server_bind(&r->s) < 0 || server_start(&r->s) < 0)
        return -1;
    if (load_bus(r->s.port, 0, &r->cfg) < 0)
        return -1;
    r->ops = gw_adapter_find("modbus");
    gw_adapter_env_t env = {.loop = test_loop(), .emit = on_emit, .emit_ctx = &r->e, .set_available = on_available};
    if (create_for(r->ops, &env, r->cfg, &r->a) < 0 || r->ops->start(r->a) < 0)
        return -1;
    return pump_until(r->ops, r->a, &r->e, 0, "level", false, 0) >= 0 ? 0 : -1;
}

static void rig_down(rig_t *r)
{
    if (r->a) {
        r->ops->stop(r->a);
        r->ops->destroy(&r->a);
    }
    server_free(&r->s, true);
    gw_config_free(&r->cfg);
}

GW_TEST(write_async_completes_on_the_loop)
{
    static rig_t r;
    CHECK_EQ_INT(rig_up(&r), 0);
    gw_value_t v = {.type = GW_TYPE_INTEGER, .v.i = 77};
    done_rec_t d = {0};
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/1", "setpoint", &v, NULL, on_done, &d), 0);
    CHECK_EQ_INT(d.calls, 0); /* only the loop completes a write */
    pump_done(r.ops, r.a, &d, 5000);
    CHECK_EQ_INT(d.calls, 1);
    CHECK_EQ_INT(d.rc, 0);
    CHECK_EQ_INT(server_reg(&r.s, 10), 77);
    /* Execute, and writes refused at once (done is then never called). */
    done_rec_t x = {0}, bad = {0};
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/1", "relays", NULL, NULL, on_done, &x), 0);
    pump_done(r.ops, r.a, &x, 5000);
    CHECK_EQ_INT(x.calls, 1);
    CHECK_EQ_INT(x.rc, 0);
    pthread_mutex_lock(&r.s.mu);
    CHECK_EQ_INT(r.s.map->tab_bits[20] + r.s.map->tab_bits[29], 2);
    pthread_mutex_unlock(&r.s.mu);
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/1", "nope", &v, NULL, on_done, &bad),
                 -ENOENT);
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/9", "setpoint", &v, NULL, on_done, &bad),
                 -ENOENT);
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/1", "level", &v, NULL, on_done, &bad),
                 -EPERM);
    v.v.i = 70000; /* not a u16 */
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/1", "setpoint", &v, NULL, on_done, &bad),
                 -ERANGE);
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/1", "setpoint", NULL, NULL, on_done, &bad),
                 -ENOTSUP);
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/1", "setpoint", &v, NULL, NULL, NULL),
                 -EINVAL);
    pump_done(r.ops, r.a, &bad, 500); /* nothing comes */
    CHECK_EQ_INT(bad.calls, 0);
    gw_modbus_stats_t st;
    gw_modbus_get_stats(r.a, &st);
    CHECK_EQ_INT(st.writes, 2);
    rig_down(&r);
}

GW_TEST(execute_pulses_a_coil_and_writes_a_configured_value)
{
    static rig_t r;
    CHECK_EQ_INT(rig_up(&r), 0);
    done_rec_t d = {0};
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/1", "bell", NULL, NULL, on_done, &d), 0);
    pump_done(r.ops, r.a, &d, 5000);
    CHECK_EQ_INT(d.calls, 1);
    CHECK_EQ_INT(d.rc, 0);
    pthread_mutex_lock(&r.s.mu);
    CHECK_EQ_INT(r.s.bell_on, 1);  /* on ... */
    CHECK_EQ_INT(r.s.bell_off, 1); /* ... then off, before the Execute is answered */
    CHECK_EQ_INT(r.s.map->tab_bits[40], 0);
    pthread_mutex_unlock(&r.s.mu);
    done_rec_t x = {0};
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/1", "reset", NULL, NULL, on_done, &x), 0);
    pump_done(r.ops, r.a, &x, 5000);
    CHECK_EQ_INT(x.calls, 1);
    CHECK_EQ_INT(x.rc, 0);
    CHECK_EQ_INT(server_reg(&r.s, 12), 5);
    rig_down(&r);
}

GW_TEST(write_async_to_a_silent_device_fails_while_the_loop_runs)
{
    static rig_t r;
    CHECK_EQ_INT(rig_up(&r), 0);
    server_set(&r.s, true, false);
    gw_value_t v = {.type = GW_TYPE_INTEGER, .v.i = 5};
    done_rec_t d = {0};
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/1", "setpoint", &v, NULL, on_done, &d), 0);
    int64_t returned_ms = ms_now();
    /* Returned before the device could have answered: the bus needs at least
     * its 200 ms timeout to give up on it. */
    CHECK_EQ_INT(d.calls, 0);
    int turns = pump_done(r.ops, r.a, &d, 5000);
    CHECK_EQ_INT(d.calls, 1);
    CHECK(d.at_ms > returned_ms);
    CHECK_EQ_INT(d.rc, -ETIMEDOUT);
    CHECK(turns > 1); /* the loop went on while the bus waited */
    CHECK(server_reg(&r.s, 10) != 5);
    /* The same write once the device answers again. */
    server_set(&r.s, false, false);
    d = (done_rec_t){0};
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/1", "setpoint", &v, NULL, on_done, &d), 0);
    pump_done(r.ops, r.a, &d, 5000);
    CHECK_EQ_INT(d.rc, 0);
    CHECK_EQ_INT(server_reg(&r.s, 10), 5);
    rig_down(&r);
}

GW_TEST(stop_cancels_queued_writes)
{
    static rig_t r;
    CHECK_EQ_INT(rig_up(&r), 0);
    server_set(&r.s, true, false);
    gw_value_t v = {.type = GW_TYPE_INTEGER, .v.i = 9};
    done_rec_t d[3] = {{0}};
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(
            r.ops->write_async(r.a, "modbus:plc/1", "setpoint", &v, NULL, on_done, &d[i]), 0);
    r.ops->stop(r.a);
    /* The first may have reached the silent device (and timed out); the
     * worker takes one write at a time, so the others never left. */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(d[i].calls, 1);
        CHECK(d[i].rc < 0);
    }
    CHECK_EQ_INT(d[1].rc, -ECANCELED);
    CHECK_EQ_INT(d[2].rc, -ECANCELED);
    done_rec_t late = {0};
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/1", "setpoint", &v, NULL, on_done, &late),
                 -ENOTCONN);
    CHECK_EQ_INT(late.calls, 0);
    r.ops->destroy(&r.a);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(d[i].calls, 1); /* exactly once */
    rig_down(&r);
}

GW_TEST(read_back_mismatch_fails_the_write)
{
    static rig_t r;
    CHECK_EQ_INT(rig_up(&r), 0);
    server_set(&r.s, false, true);
    gw_value_t v = {.type = GW_TYPE_INTEGER, .v.i = 42};
    done_rec_t d = {0};
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/1", "setpoint", &v, NULL, on_done, &d), 0);
    pump_done(r.ops, r.a, &d, 5000);
    CHECK_EQ_INT(d.calls, 1);
    CHECK_EQ_INT(d.rc, -EIO);
    CHECK_EQ_INT(write_wait(r.ops, r.a, "modbus:plc/1", "setpoint", &v, NULL), -EIO);
    /* Without read_back the same device's answer is taken at its word. */
    CHECK_EQ_INT(write_wait(r.ops, r.a, "modbus:plc/1", "relays", &v, NULL), 0);
    server_set(&r.s, false, false);
    CHECK_EQ_INT(write_wait(r.ops, r.a, "modbus:plc/1", "setpoint", &v, NULL), 0);
    CHECK_EQ_INT(server_reg(&r.s, 10), 42);
    rig_down(&r);
}

/* Issue 8: the adapter's own refusals are told apart from a device's
 * failure (adapter.h), never reach the bus, and the range says what fits. */
GW_TEST(write_refusals_are_told_apart)
{
    static rig_t r;
    CHECK_EQ_INT(rig_up(&r), 0);
    gw_value_t big = {.type = GW_TYPE_INTEGER, .v.i = 70000};
    gw_value_t ok = {.type = GW_TYPE_INTEGER, .v.i = 9};
    gw_value_t text = {.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"hot", 3}};
    done_rec_t d = {0};
    CHECK_EQ_INT(write_wait(r.ops, r.a, "modbus:plc/1", "setpoint", &ok, NULL), 0);
    CHECK_EQ_INT(write_wait(r.ops, r.a, "modbus:plc/1", "setpoint", &big, NULL), -ERANGE);
    CHECK_EQ_INT(r.ops->write_async(r.a, "modbus:plc/1", "setpoint", &big, NULL, on_done, &d), -ERANGE);
    CHECK_EQ_INT(write_wait(r.ops, r.a, "modbus:plc/1", "setpoint", &text, NULL), -EINVAL);
    CHECK_EQ_INT(write_wait(r.ops, r.a, "modbus:plc/1", "level", &ok, NULL), -EPERM);
    gw_value_t wide = {.type = GW_TYPE_INTEGER, .v.i = 1024};
    CHECK_EQ_INT(write_wait(r.ops, r.a, "modbus:plc/1", "relays", &wide, NULL), -ERANGE);
    /* between two steps: refused, not rounded to 2 */
    gw_value_t half = {.type = GW_TYPE_FLOAT, .v.f = 1.5};
    CHECK_EQ_INT(r.ops->write_check(r.a, "modbus:plc/1", "setpoint", &half, NULL), -EDOM);
    CHECK_EQ_INT(write_wait(r.ops, r.a, "modbus:plc/1", "setpoint", &half, NULL), -EDOM);
    CHECK_EQ_INT(server_reg(&r.s, 10), 9); /* the refused values never went out */
    CHECK_EQ_INT(d.calls, 0);
    double lo = -1, hi = -1;
    CHECK_EQ_INT(r.ops->write_range(r.a, "modbus:plc/1", "setpoint", &lo, &hi), 0);
    CHECK(lo == 0 && hi == 65535);
    CHECK_EQ_INT(r.ops->write_range(r.a, "modbus:plc/1", "relays", &lo, &hi), 0);
    CHECK(lo == 0 && hi == 1023);
    CHECK_EQ_INT(r.ops->write_range(r.a, "modbus:plc/1", "nothing", &lo, &hi), -ENOENT);
    double step = 0;
    CHECK_EQ_INT(r.ops->write_step(r.a, "modbus:plc/1", "setpoint", &step), 0);
    CHECK(step == 1);
    CHECK_EQ_INT(r.ops->write_step(r.a, "modbus:plc/1", "nothing", &step), -ENOENT);
    rig_down(&r);
}

/* An execute_value the register cannot hold is the file's error, with
 * file:line and the range, not a 4.00 to the server at run time. */
GW_TEST(execute_value_must_fit_config)
{
    char d[512];
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load(HEAD " registers = ( { field = \"r\"; address = 4; writable = true;\n"
                           "  type = \"s16\"; scale = 0.1; execute_value = 4000;\n"
                           "  path = \"/3300/0/5700\"; } ); } );\n",
                      d, &c),
                 -EINVAL);
    CHECK(strstr(d, ":5: ") != NULL && strstr(d, "execute_value 4000") != NULL &&
          strstr(d, "-3276.8..3276.7") != NULL);
    CHECK(c == NULL);
    CHECK_EQ_INT(load(HEAD " registers = ( { field = \"r\"; address = 4; writable = true;\n"
                           "  type = \"s16\"; scale = 0.1; execute_value = 3276.7;\n"
                           "  path = \"/3300/0/5700\"; } ); } );\n",
                      d, &c),
                 0);
    gw_config_free(&c);
}

GW_TEST(read_back_config)
{
    char d[512];
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load(HEAD " registers = ( { field = \"r\"; address = 4; read_back = true;\n"
                           "  path = \"/3300/0/5700\"; } ); } );\n",
                      d, &c),
                 -EINVAL);
    CHECK(strstr(d, ":4: ") != NULL && strstr(d, "read_back") != NULL &&
          strstr(d, "writable = true") != NULL);
    CHECK(c == NULL);
    CHECK_EQ_INT(load(HEAD " registers = ( { field = \"r\"; address = 4; read_back = true;\n"
                           "  writable = true; path = \"/3300/0/5700\"; } ); } );\n",
                      d, &c),
                 0);
    if (c)
        CHECK(MB(c, 0)->registers[0].read_back);
    gw_config_free(&c);
}

GW_TEST_MAIN(bit_field_decode_and_encode, bit_field_and_fail_threshold_config,
             fail_threshold_reports_unavailable_then_available_and_fc15_writes,
             without_fail_threshold_the_device_stays_available,
             write_async_completes_on_the_loop,
             execute_pulses_a_coil_and_writes_a_configured_value,
             write_async_to_a_silent_device_fails_while_the_loop_runs, stop_cancels_queued_writes,
             read_back_mismatch_fails_the_write, write_refusals_are_told_apart,
             execute_value_must_fit_config, read_back_config)
