/*
 * tests/unit/adapters/test_modbus_adapter.c - the Modbus adapter against a
 * libmodbus TCP server in a thread: coil bit fields read with FC01 and
 * written with FC15, Execute on them, fail_threshold reporting a device
 * unavailable and available again, and no availability change without it.
 * Bit field encoding and its configuration errors are tested here too.
 */
#include <errno.h>
#include <modbus.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "adapters/adapter.h"
#include "adapters/modbus/decode.h"
#include "adapters/modbus/modbus.h"
#include "gateway/log.h"
#include "gwtest.h"
#include "lwm2m/registry.h"
#include "mapping/config.h"

/* ---- a Modbus TCP server on a thread ------------------------------------ */

typedef struct server {
    int lsock, port;
    pthread_t thread;
    pthread_mutex_t mu; /* the mapping */
    modbus_mapping_t *map;
    volatile int stop;
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
                modbus_reply(ctx, q, rc, s->map);
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

/* Run the adapter's part of the loop until an event matches, or 5 s. */
static long pump_until(const gw_adapter_ops_t *ops, gw_adapter_t *a, env_t *e, size_t from,
                       const char *field, bool want_i, int64_t i)
{
    int fd;
    ops->fds(a, &fd, 1);
    int64_t end = ms_now() + 5000;
    long k;
    while ((k = find(e, from, field, want_i, i)) < 0 && ms_now() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0)
            ops->process(a, fd);
    }
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
             "      interval = 0.05; writable = true; path = \"/3300/1/5700\"; } ); } );\n",
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
        CHECK_EQ_INT(c->devices[0].registers[0].count, 12);
        CHECK_EQ_INT(c->devices[0].registers[0].type, GW_MODBUS_U32);
        CHECK_EQ_INT(c->buses[0].fail_threshold, 0); /* default: never deregister */
    }
    gw_config_free(&c);
    CHECK_EQ_INT(load(HEAD " registers = ( { field = \"r\"; table = \"coil\"; type = \"u16\";\n"
                           "  address = 0; path = \"/3300/0/5700\"; } ); } );\n",
                      d, &c),
                 0);
    if (c)
        CHECK_EQ_INT(c->devices[0].registers[0].count, 16); /* the type's width */
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
    gw_adapter_env_t env = {.emit = on_emit, .emit_ctx = &e, .set_available = on_available};
    gw_adapter_t *a = NULL;
    CHECK_EQ_INT(ops->create(&env, cfg, &a), 0);
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
    CHECK_EQ_INT(ops->write(a, "modbus:plc/1", "relays", &v, NULL), 0);
    pthread_mutex_lock(&s.mu);
    int bits = 0;
    for (int i = 0; i < 10; i++)
        bits |= s.map->tab_bits[20 + i] << i;
    pthread_mutex_unlock(&s.mu);
    CHECK_EQ_INT(bits, 0x15A);
    CHECK(pump_until(ops, a, &e, mark, "relays", true, 0x15A) >= 0);
    v.v.i = 1024; /* does not fit ten bits */
    CHECK_EQ_INT(ops->write(a, "modbus:plc/1", "relays", &v, NULL), -ERANGE);
    /* Execute: all on, then all off with "0". */
    CHECK_EQ_INT(ops->write(a, "modbus:plc/1", "relays", NULL, NULL), 0);
    CHECK(pump_until(ops, a, &e, mark, "relays", true, 0x3FF) >= 0);
    CHECK_EQ_INT(ops->write(a, "modbus:plc/1", "relays", NULL, "0"), 0);
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
    gw_adapter_env_t env = {.emit = on_emit, .emit_ctx = &e, .set_available = on_available};
    gw_adapter_t *a = NULL;
    CHECK_EQ_INT(ops->create(&env, cfg, &a), 0);
    CHECK_EQ_INT(ops->start(a), 0);
    CHECK(pump_until(ops, a, &e, 0, "error_code", true, 7) >= 0);
    gw_modbus_stats_t st;
    int64_t end = ms_now() + 5000;
    int fd;
    ops->fds(a, &fd, 1);
    do {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0)
            ops->process(a, fd);
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

GW_TEST_MAIN(bit_field_decode_and_encode, bit_field_and_fail_threshold_config,
             fail_threshold_reports_unavailable_then_available_and_fc15_writes,
             without_fail_threshold_the_device_stays_available)
