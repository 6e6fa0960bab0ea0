/*
 * adapters/modbus/config.c - the Modbus adapter's configuration: the buses
 * of `adapters.modbus`, and a device's `bus`, `unit_id` and `registers`,
 * through the adapter configuration interface (adapters/adapter_config.h).
 *
 * Every register is a field the device declares (gw_field_decl_t): the
 * mapping layer fixes its resource at start, with the register's path when
 * it has one, so a Modbus device needs no separate `resources` list.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "config.h"
#include "decode.h"

/* ---- buses -------------------------------------------------------------- */

enum { B_NAME, B_TYPE, B_HOST, B_PORT, B_DEVICE, B_BAUD, B_PARITY, B_DATA, B_STOP, B_TIMEOUT,
       B_TURN, B_GAP, B_BACKOFF, B_FAIL, B_N };

static const gw_cfg_key_t bus_keys[] = {
    {"name", GW_CFG_STRING, "a string (the bus name devices refer to)", true, NULL, B_NAME, 0, 0},
    {"type", GW_CFG_STRING, "\"tcp\" or \"rtu\"", true, NULL, B_TYPE, 0, 0},
    {"host", GW_CFG_STRING, "a string (host name or address)", false, NULL, B_HOST, 0, 0},
    {"port", GW_CFG_INT, "an integer (TCP port)", false, NULL, B_PORT, 1, 65535},
    {"device", GW_CFG_STRING, "a string (serial device path)", false, NULL, B_DEVICE, 0, 0},
    {"baud", GW_CFG_INT, "an integer (bits per second)", false, NULL, B_BAUD, 50, 4000000},
    {"parity", GW_CFG_STRING, "\"N\", \"E\" or \"O\"", false, NULL, B_PARITY, 0, 0},
    {"data_bits", GW_CFG_INT, "an integer (5..8)", false, NULL, B_DATA, 5, 8},
    {"stop_bits", GW_CFG_INT, "an integer (1 or 2)", false, NULL, B_STOP, 1, 2},
    {"timeout_ms", GW_CFG_INT, "an integer (milliseconds, 10..60000)", false, NULL, B_TIMEOUT,
     10, 60000},
    {"turnaround_ms", GW_CFG_INT, "an integer (milliseconds, 0..10000)", false, NULL, B_TURN, 0,
     10000},
    {"max_gap", GW_CFG_INT, "an integer (registers, 0..100)", false, NULL, B_GAP, 0, 100},
    {"backoff_max_ms", GW_CFG_INT, "an integer (milliseconds, 100..3600000)", false, NULL,
     B_BACKOFF, 100, 3600000},
    {"fail_threshold", GW_CFG_INT,
     "an integer (consecutive failures before a device is deregistered, 0 = never, up to 1000000)",
     false, NULL, B_FAIL, 0, 1000000},
};

/* An integer key in [k->min, k->max]; keeps *out when absent. */
static bool bus_int(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                    int32_t *out)
{
    if (!s)
        return true;
    long long v = config_setting_get_int64(s);
    if (v < k->min || v > k->max) {
        gw_config_error(ctx, s, "\"%s\" is %lld, expected %s", k->name, v, k->expect);
        return false;
    }
    *out = (int32_t)v;
    return true;
}

static void free_bus(gw_config_modbus_bus_t *b)
{
    free(b->name);
    free(b->host);
    free(b->device);
}

static int bus_entry(gw_cfg_ctx_t *ctx, gw_modbus_conf_t *c, const config_setting_t *g,
                     const config_setting_t *const *e)
{
    char q[GW_CFG_QUOTE_SIZE];
    gw_config_modbus_bus_t b = {.port = 502, .baud = 9600, .parity = 'N', .data_bits = 8,
                                .stop_bits = 1, .timeout_ms = 500, .max_gap = 8,
                                .backoff_max_ms = 30000,
                                .line = (int)config_setting_source_line(g)};
    bool ok = true;
    const char *name = config_setting_get_string(e[B_NAME]);
    const char *type = config_setting_get_string(e[B_TYPE]);
    if (!*name) {
        gw_config_error(ctx, e[B_NAME], "\"name\" must not be empty, expected the bus name");
        ok = false;
    }
    for (size_t i = 0; ok && i < c->n_buses; i++)
        if (strcmp(c->buses[i].name, name) == 0) {
            gw_config_error(ctx, e[B_NAME], "duplicate bus %s (first at line %d)",
                            gw_config_quote(name, q, sizeof q), c->buses[i].line);
            ok = false;
        }
    if (strcmp(type, "rtu") == 0)
        b.rtu = true;
    else if (strcmp(type, "tcp") != 0) {
        gw_config_error(ctx, e[B_TYPE], "unknown bus type %s, expected \"tcp\" or \"rtu\"",
                        gw_config_quote(type, q, sizeof q));
        ok = false;
    }
    b.turnaround_ms = b.rtu ? 20 : 0;
    for (int i = B_PORT; i < B_N; i++) {
        int32_t *dst = i == B_PORT      ? &b.port
                       : i == B_BAUD    ? &b.baud
                       : i == B_DATA    ? &b.data_bits
                       : i == B_STOP    ? &b.stop_bits
                       : i == B_TIMEOUT ? &b.timeout_ms
                       : i == B_TURN    ? &b.turnaround_ms
                       : i == B_GAP     ? &b.max_gap
                       : i == B_BACKOFF ? &b.backoff_max_ms
                       : i == B_FAIL    ? &b.fail_threshold
                                        : NULL;
        if (dst)
            ok &= bus_int(ctx, e[i], &bus_keys[i], dst);
    }
    if (e[B_PARITY]) {
        const char *p = config_setting_get_string(e[B_PARITY]);
        if (strlen(p) != 1 || !strchr("NEO", p[0])) {
            gw_config_error(ctx, e[B_PARITY], "unknown parity %s, expected \"N\", \"E\" or \"O\"",
                            gw_config_quote(p, q, sizeof q));
            ok = false;
        } else {
            b.parity = p[0];
        }
    }
    if (ok && b.rtu) {
        if (!e[B_DEVICE] || !*config_setting_get_string(e[B_DEVICE])) {
            gw_config_error(ctx, e[B_DEVICE] ? e[B_DEVICE] : g,
                            "rtu bus %s needs device = \"/dev/tty...\" (the serial line)",
                            gw_config_quote(name, q, sizeof q));
            ok = false;
        }
        if (e[B_HOST] || e[B_PORT]) {
            gw_config_error(ctx, e[B_HOST] ? e[B_HOST] : e[B_PORT],
                            "host and port are for tcp buses, expected device = ... on an rtu bus");
            ok = false;
        }
    } else if (ok) {
        if (!e[B_HOST] || !*config_setting_get_string(e[B_HOST])) {
            gw_config_error(ctx, e[B_HOST] ? e[B_HOST] : g,
                            "tcp bus %s needs host = \"...\" (the Modbus TCP server)",
                            gw_config_quote(name, q, sizeof q));
            ok = false;
        }
        for (int i = B_DEVICE; i <= B_STOP; i++)
            if (e[i] && i != B_PORT) {
                gw_config_error(ctx, e[i], "\"%s\" is for rtu buses, expected host and port on "
                                           "a tcp bus", bus_keys[i].name);
                ok = false;
            }
    }
    if (!ok)
        return 0;
    b.name = strdup(name);
    b.host = e[B_HOST] ? strdup(config_setting_get_string(e[B_HOST])) : NULL;
    b.device = e[B_DEVICE] ? strdup(config_setting_get_string(e[B_DEVICE])) : NULL;
    gw_config_modbus_bus_t *n = realloc(c->buses, (c->n_buses + 1) * sizeof *n);
    if (!b.name || (e[B_HOST] && !b.host) || (e[B_DEVICE] && !b.device) || !n) {
        if (n)
            c->buses = n;
        free_bus(&b);
        return -ENOMEM;
    }
    c->buses = n;
    c->buses[c->n_buses++] = b;
    return 0;
}

static int parse_buses(gw_cfg_ctx_t *ctx, const config_setting_t *list, gw_modbus_conf_t *c)
{
    gw_cfg_list_t it = {.list = list, .name = "adapters.modbus",
                        .shape = "{ name = ...; type = ...; }"};
    while (gw_config_list_next(ctx, &it)) {
        const config_setting_t *e[B_N] = {0};
        int rc = gw_config_walk(ctx, it.group, it.where, bus_keys, B_N, e, NULL);
        if (rc == 0 && e[B_NAME] && e[B_TYPE])
            rc = bus_entry(ctx, c, it.group, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

const gw_config_modbus_bus_t *gw_modbus_conf_bus(const gw_modbus_conf_t *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->n_buses; i++)
        if (strcmp(c->buses[i].name, name) == 0)
            return &c->buses[i];
    return NULL;
}

static void free_section(void *section)
{
    gw_modbus_conf_t *c = section;
    if (!c)
        return;
    for (size_t i = 0; i < c->n_buses; i++)
        free_bus(&c->buses[i]);
    free(c->buses);
    free(c);
}

static int parse_section(gw_cfg_ctx_t *ctx, const config_setting_t *s, void **out)
{
    *out = NULL;
    if (!s)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_LIST) {
        gw_config_error(ctx, s, "\"modbus\" must be a list of groups ( { name = ...; type = "
                                "\"tcp\"; host = ...; }, ... ), got %s", gw_config_type_desc(s));
        return 0;
    }
    gw_modbus_conf_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    int rc = parse_buses(ctx, s, c);
    if (rc < 0) {
        free_section(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* ---- device keys ------------------------------------------------------- */

static int h_bus(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                           void *obj)
{
    (void)k;
    gw_modbus_dev_conf_t *p = obj;
    const char *name = config_setting_get_string(s);
    char q[GW_CFG_QUOTE_SIZE];
    const gw_modbus_conf_t *c = gw_config_section(ctx, "modbus");
    if (!gw_modbus_conf_bus(c, name)) {
        const char *names[32];
        size_t n = 0;
        for (; c && n < c->n_buses && n < 32; n++)
            names[n] = c->buses[n].name;
        const char *best = gw_config_suggest(name, names, n);
        if (best)
            gw_config_error(ctx, s, "unknown bus %s, did you mean \"%s\"?",
                            gw_config_quote(name, q, sizeof q), best);
        else
            gw_config_error(ctx, s, "unknown bus %s, expected the name of an entry of "
                                    "adapters.modbus", gw_config_quote(name, q, sizeof q));
        return 0;
    }
    free(p->bus);
    p->bus = strdup(name);
    return p->bus ? 0 : -ENOMEM;
}

static int h_unit(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                            void *obj)
{
    (void)k;
    gw_modbus_dev_conf_t *p = obj;
    long long v = config_setting_get_int64(s);
    /* 0 is the broadcast address (no reply), 248..255 are reserved on a
     * serial line but gateways behind TCP use them, so they are allowed. */
    if (v < 1 || v > 255) {
        gw_config_error(ctx, s, "unit_id is %lld, expected an integer 1..255", v);
        return 0;
    }
    p->unit_id = (int32_t)v;
    return 0;
}

/* ---- register entries -------------------------------------------------- */

enum { R_FIELD, R_TABLE, R_ADDRESS, R_TYPE, R_ORDER, R_LENGTH, R_SCALE, R_OFFSET, R_INTERVAL,
       R_WRITABLE, R_READ_BACK, R_PATH, R_PULSE, R_EXEC_VALUE, R_N };

static const gw_cfg_key_t reg_keys[] = {
    {"field", GW_CFG_STRING, "a string (the reading's field, e.g. \"voltage\")", true, NULL,
     R_FIELD, 0, 0},
    {"table", GW_CFG_STRING, "\"coil\", \"discrete\", \"input\" or \"holding\"", false, NULL,
     R_TABLE, 0, 0},
    {"address", GW_CFG_INT, "an integer (0-based register address, 0..65535)", true, NULL,
     R_ADDRESS, 0, 0},
    {"type", GW_CFG_STRING, "a data type (bool, u16, s16, u32, s32, u64, s64, f32, f64, string)",
     false, NULL, R_TYPE, 0, 0},
    {"order", GW_CFG_STRING, "\"ABCD\", \"CDAB\", \"BADC\" or \"DCBA\"", false, NULL, R_ORDER, 0,
     0},
    {"length", GW_CFG_INT, "an integer (registers of a string, 1..125, or bits of a coil field)",
     false, NULL, R_LENGTH, 0, 0},
    {"scale", GW_CFG_NUMBER, "a number", false, NULL, R_SCALE, 0, 0},
    {"offset", GW_CFG_NUMBER, "a number", false, NULL, R_OFFSET, 0, 0},
    {"interval", GW_CFG_NUMBER, "a number (seconds between polls, at least 0.01)", false, NULL,
     R_INTERVAL, 0, 0},
    {"writable", GW_CFG_BOOL, "true or false", false, NULL, R_WRITABLE, 0, 0},
    {"read_back", GW_CFG_BOOL, "true or false (check a write by reading the register back)",
     false, NULL, R_READ_BACK, 0, 0},
    {"path", GW_CFG_STRING, "a string (\"/oid/iid/rid\")", false, NULL, R_PATH, 0, 0},
    {"pulse_ms", GW_CFG_INT, "an integer (ms a writable coil stays on when executed, 1..60000)", false,
     NULL, R_PULSE, 0, 0},
    {"execute_value", GW_CFG_NUMBER, "a number (what Execute writes to a writable register)", false,
     NULL, R_EXEC_VALUE, 0, 0},
};

static const char *const table_names[] = {"coil", "discrete", "input", "holding"};
static const char *const type_names[] = {"bool", "u16", "s16", "u32", "s32",
                                         "u64",  "s64", "f32", "f64", "string"};
static const char *const order_names[] = {"ABCD", "CDAB", "BADC", "DCBA"};
static const uint8_t type_regs[] = {1, 1, 1, 2, 2, 4, 4, 2, 4, 0};

static bool pick(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *what,
                 const char *const *names, size_t n, const char *list, uint8_t *out)
{
    if (!s)
        return true;
    const char *v = config_setting_get_string(s);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = (uint8_t)i;
            return true;
        }
    char q[GW_CFG_QUOTE_SIZE];
    const char *best = gw_config_suggest(v, names, n);
    if (best)
        gw_config_error(ctx, s, "unknown %s %s, did you mean \"%s\"?", what,
                        gw_config_quote(v, q, sizeof q), best);
    else
        gw_config_error(ctx, s, "unknown %s %s, expected one of: %s", what,
                        gw_config_quote(v, q, sizeof q), list);
    return false;
}

static bool number(gw_cfg_ctx_t *ctx, const config_setting_t *s, double *out)
{
    if (!s)
        return true;
    int t = config_setting_type(s);
    double v = t == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                                      : (double)config_setting_get_int64(s);
    if (!isfinite(v)) {
        gw_config_error(ctx, s, "\"%s\" must be a finite number", config_setting_name(s));
        return false;
    }
    *out = v;
    return true;
}

static void free_reg(gw_config_modbus_reg_t *r) { free(r->field); }

static int reg_entry(gw_cfg_ctx_t *ctx, gw_modbus_dev_conf_t *p, const config_setting_t *g,
                     const config_setting_t *const *e)
{
    char q[GW_CFG_QUOTE_SIZE];
    gw_config_modbus_reg_t r = {.table = GW_MODBUS_HOLDING, .type = GW_MODBUS_U16, .scale = 1,
                                .interval_ms = 5000, .line = (int)config_setting_source_line(g)};
    bool ok = true;
    const char *name = config_setting_get_string(e[R_FIELD]);
    if (!*name) {
        gw_config_error(ctx, e[R_FIELD], "\"field\" must not be empty, expected the reading's "
                                         "field name");
        ok = false;
    }
    for (size_t i = 0; ok && i < p->n_registers; i++)
        if (strcmp(p->registers[i].field, name) == 0) {
            gw_config_error(ctx, e[R_FIELD], "duplicate register field %s (first at line %d)",
                            gw_config_quote(name, q, sizeof q), p->registers[i].line);
            ok = false;
        }
    ok &= pick(ctx, e[R_TABLE], "table", table_names, 4, "coil, discrete, input, holding",
               &r.table);
    ok &= pick(ctx, e[R_TYPE], "type", type_names, 10,
               "bool, u16, s16, u32, s32, u64, s64, f32, f64, string", &r.type);
    ok &= pick(ctx, e[R_ORDER], "order", order_names, 4, "ABCD, CDAB, BADC, DCBA", &r.order);
    long long addr = config_setting_get_int64(e[R_ADDRESS]);
    if (addr < 0 || addr > 65535) {
        gw_config_error(ctx, e[R_ADDRESS], "address is %lld, expected 0..65535", addr);
        ok = false;
    }
    bool bits = r.table == GW_MODBUS_COIL || r.table == GW_MODBUS_DISCRETE;
    if (ok && !e[R_TYPE] && bits)
        r.type = GW_MODBUS_BOOL;
    /* On coils and discrete inputs an unsigned type is a bit field: `length`
     * bits from `address`, written with FC15. */
    unsigned field_bits = !bits                        ? 0
                          : r.type == GW_MODBUS_U16 ? 16
                          : r.type == GW_MODBUS_U32 ? 32
                          : r.type == GW_MODBUS_U64 ? 64
                                                    : 0;
    if (ok && (bits ? r.type != GW_MODBUS_BOOL && !field_bits : r.type == GW_MODBUS_BOOL)) {
        gw_config_error(ctx, e[R_TYPE] ? e[R_TYPE] : g,
                        "type \"%s\" does not fit table \"%s\", expected %s", type_names[r.type],
                        table_names[r.table],
                        bits ? "type = \"bool\" (one bit) or \"u16\", \"u32\", \"u64\" (a bit "
                               "field of length bits) for coils and discrete inputs"
                             : "a register type (not bool) for input and holding registers");
        ok = false;
    }
    if (field_bits) {
        long long len = e[R_LENGTH] ? config_setting_get_int64(e[R_LENGTH]) : field_bits;
        if (len < 1 || len > field_bits) {
            gw_config_error(ctx, e[R_LENGTH], "a %s bit field has length = 1..%u (bits), got %lld",
                            type_names[r.type], field_bits, len);
            ok = false;
        }
        r.count = (uint16_t)(ok ? len : 1);
    } else if (r.type == GW_MODBUS_STRING) {
        long long len = e[R_LENGTH] ? config_setting_get_int64(e[R_LENGTH]) : 0;
        if (len < 1 || len > 125) {
            gw_config_error(ctx, e[R_LENGTH] ? e[R_LENGTH] : g,
                            "a string register needs length = 1..125 (registers), got %lld", len);
            ok = false;
        }
        r.count = (uint16_t)(ok ? len : 1);
    } else {
        if (e[R_LENGTH]) {
            gw_config_error(ctx, e[R_LENGTH], "length is only for type = \"string\" and coil "
                                              "bit fields; the type gives the size");
            ok = false;
        }
        r.count = type_regs[r.type];
    }
    if (ok && addr + r.count > 65536) {
        gw_config_error(ctx, e[R_ADDRESS], "registers %lld..%lld run past 65535", addr,
                        addr + r.count - 1);
        ok = false;
    }
    r.address = (uint16_t)(addr < 0 ? 0 : addr > 65535 ? 65535 : addr);
    ok &= number(ctx, e[R_SCALE], &r.scale);
    ok &= number(ctx, e[R_OFFSET], &r.offset);
    if (ok && e[R_SCALE] && r.scale == 0) {
        gw_config_error(ctx, e[R_SCALE], "scale must not be 0");
        ok = false;
    }
    double iv = 5;
    ok &= number(ctx, e[R_INTERVAL], &iv);
    if (e[R_INTERVAL] && !(iv >= 0.01 && iv <= 86400)) {
        gw_config_error(ctx, e[R_INTERVAL], "interval is %g, expected 0.01..86400 seconds", iv);
        ok = false;
    }
    r.interval_ms = (int32_t)(iv * 1000 + 0.5);
    r.writable = e[R_WRITABLE] && config_setting_get_bool(e[R_WRITABLE]);
    if (r.writable && (r.table == GW_MODBUS_INPUT || r.table == GW_MODBUS_DISCRETE)) {
        gw_config_error(ctx, e[R_WRITABLE], "%s is read-only in Modbus, expected writable only "
                                            "on \"coil\" or \"holding\"",
                        r.table == GW_MODBUS_INPUT ? "an input register" : "a discrete input");
        ok = false;
    }
    if (r.writable && r.type == GW_MODBUS_STRING) {
        gw_config_error(ctx, e[R_WRITABLE], "string registers cannot be written, expected a "
                                            "numeric or bool type");
        ok = false;
    }
    if (e[R_PULSE]) {
        long long ms = config_setting_get_int64(e[R_PULSE]);
        if (!r.writable || r.table != GW_MODBUS_COIL || ms < 1 || ms > 60000) {
            gw_config_error(ctx, e[R_PULSE], "pulse_ms must be 1..60000 on a writable coil, got %lld%s",
                            ms, r.writable && r.table == GW_MODBUS_COIL ? "" : " (not a writable coil)");
            ok = false;
        } else {
            r.pulse_ms = (int32_t)ms;
        }
    }
    if (e[R_EXEC_VALUE]) {
        if (!r.writable || r.table != GW_MODBUS_HOLDING) {
            gw_config_error(ctx, e[R_EXEC_VALUE], "execute_value needs a writable holding register");
            ok = false;
        } else {
            r.has_execute_value = true;
            r.execute_value = config_setting_get_float(e[R_EXEC_VALUE]);
            if (config_setting_type(e[R_EXEC_VALUE]) != CONFIG_TYPE_FLOAT)
                r.execute_value = (double)config_setting_get_int64(e[R_EXEC_VALUE]);
            /* Checked here: at run time an Execute that cannot be encoded
             * would look like the server's fault (4.00), not the file's. */
            uint16_t words[GW_MODBUS_MAX_FIELD_BITS];
            int erc = ok ? gw_modbus_encode(&r, r.execute_value, words, GW_MODBUS_MAX_FIELD_BITS) : 0;
            double step;
            if (erc == -EDOM && gw_modbus_step(&r, &step) == 0) {
                gw_config_error(ctx, e[R_EXEC_VALUE], "execute_value %g falls between two steps of "
                                                      "the register, expected a multiple of %g",
                                r.execute_value, step);
                ok = false;
            } else if (erc < 0) {
                gw_value_t lo = {.type = GW_TYPE_FLOAT}, hi = {.type = GW_TYPE_FLOAT};
                gw_buf_t b = {0};
                if (gw_modbus_range(&r, &lo.v.f, &hi.v.f) < 0 || gw_value_to_text(&lo, &b) < 0 ||
                    gw_buf_append(&b, "..", 2) < 0 || gw_value_to_text(&hi, &b) < 0)
                    b.len = 0;
                gw_config_error(ctx, e[R_EXEC_VALUE], "execute_value %g does not fit the register%s%.*s",
                                r.execute_value, b.len ? ", expected " : "", (int)b.len,
                                b.data ? (const char *)b.data : "");
                gw_buf_free(&b);
                ok = false;
            }
        }
    }
    r.read_back = e[R_READ_BACK] && config_setting_get_bool(e[R_READ_BACK]);
    if (r.read_back && !r.writable) {
        gw_config_error(ctx, e[R_READ_BACK], "read_back checks writes, expected it only with "
                                             "writable = true");
        ok = false;
    }
    if (e[R_PATH]) {
        const char *ps = config_setting_get_string(e[R_PATH]);
        if (gw_path_parse(ps, &r.path) < 0 || r.path.len < 3) {
            gw_config_error(ctx, e[R_PATH], "bad path %s, expected \"/oid/iid/rid\" or, for an "
                                            "instance of a multiple resource, \"/oid/iid/rid/riid\"",
                            gw_config_quote(ps, q, sizeof q));
            ok = false;
        }
    }
    if (!ok)
        return 0;
    r.field = strdup(name);
    gw_config_modbus_reg_t *n =
        realloc(p->registers, (p->n_registers + 1) * sizeof *n);
    if (!r.field || !n) {
        if (n)
            p->registers = n;
        free_reg(&r);
        return -ENOMEM;
    }
    p->registers = n;
    p->registers[p->n_registers++] = r;
    return 0;
}

static int h_registers(gw_cfg_ctx_t *ctx, const config_setting_t *list, const gw_cfg_key_t *k,
                       void *obj)
{
    (void)k;
    gw_modbus_dev_conf_t *p = obj;
    gw_cfg_list_t it = {.list = list, .name = "registers",
                        .shape = "{ field = ...; address = ...; }"};
    while (gw_config_list_next(ctx, &it)) {
        const config_setting_t *e[R_N] = {0};
        int rc = gw_config_walk(ctx, it.group, it.where, reg_keys, R_N, e, NULL);
        if (rc == 0 && e[R_FIELD] && e[R_ADDRESS])
            rc = reg_entry(ctx, p, it.group, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- whole device ------------------------------------------------------ */

static int new_part(void **out)
{
    *out = calloc(1, sizeof(gw_modbus_dev_conf_t));
    return *out ? 0 : -ENOMEM;
}

static void free_part(void *part)
{
    gw_modbus_dev_conf_t *d = part;
    if (!d)
        return;
    free(d->bus);
    for (size_t i = 0; i < d->n_registers; i++)
        free_reg(&d->registers[i]);
    free(d->registers);
    free(d);
}

static int finish_part(gw_cfg_ctx_t *ctx, const void *section, void *part, gw_adapter_conf_dev_t *dev)
{
    (void)section;
    const gw_modbus_dev_conf_t *d = part;
    const char *where = dev->where;
    if (!d || !d->bus)
        gw_config_error(ctx, dev->group, "%s has adapter = \"modbus\" but no bus, expected "
                                         "bus = \"...\" naming an entry of adapters.modbus",
                        where);
    if (!d || !d->unit_id)
        gw_config_error(ctx, dev->group, "%s has adapter = \"modbus\" but no unit_id, expected "
                                         "unit_id = 1..255", where);
    if (!d || !d->n_registers)
        gw_config_error(ctx, dev->group, "%s has adapter = \"modbus\" but no registers, expected "
                                         "registers = ( { field = ...; address = ...; } )",
                        where);
    if (!d || !d->bus || !d->unit_id || !d->n_registers || dev->address)
        return 0;
    if (asprintf(&dev->default_address, "%s/%d", d->bus, (int)d->unit_id) < 0) {
        dev->default_address = NULL;
        return -ENOMEM;
    }
    return 0;
}

static int identity(const void *part, char *buf, size_t size)
{
    const gw_modbus_dev_conf_t *d = part;
    if (!d || !d->bus || !d->unit_id)
        return -ENOENT;
    snprintf(buf, size, "%s/%d", d->bus, (int)d->unit_id);
    return 0;
}

/* Where a Modbus unit physically answers: "tcp <host>:<port> unit <id>" or
 * "rtu <device> unit <id>". Two buses may name one server or serial line
 * (a copied entry, a /dev/serial/by-id link): their units are one device.
 * Host names compare without case; a device path that resolves here is
 * compared resolved. NULL when the bus is unknown (reported already). */
static int physical(const void *section, const void *part, char *buf, size_t size)
{
    const gw_modbus_dev_conf_t *d = part;
    const gw_config_modbus_bus_t *b = d ? gw_modbus_conf_bus(section, d->bus) : NULL;
    if (!b || !d->unit_id)
        return -ENOENT;
    if (b->rtu) {
        char *real = b->device ? realpath(b->device, NULL) : NULL;
        snprintf(buf, size, "rtu %s unit %d", real ? real : b->device ? b->device : "",
                 (int)d->unit_id);
        free(real);
        return 0;
    }
    char host[256];
    snprintf(host, sizeof host, "%s", b->host ? b->host : "");
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    snprintf(buf, size, "tcp %s:%d unit %d", host, (int)b->port, (int)d->unit_id);
    return 0;
}


static int declare(const void *part, gw_field_decl_t **out, size_t *out_n)
{
    const gw_modbus_dev_conf_t *d = part;
    for (size_t i = 0; d && i < d->n_registers; i++) {
        const gw_config_modbus_reg_t *r = &d->registers[i];
        int rc = gw_field_decl_add(out, out_n, r->field, &r->path, NULL, r->writable, r->line);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int merge_part(const void *base, const void *over, void **out)
{
    const gw_modbus_dev_conf_t *b = base, *o = over;
    gw_modbus_dev_conf_t *d = calloc(1, sizeof *d);
    *out = d;
    if (!d)
        return -ENOMEM;
    const char *bus = o && o->bus ? o->bus : b ? b->bus : NULL;
    if (bus && !(d->bus = strdup(bus)))
        return -ENOMEM;
    d->unit_id = o && o->unit_id ? o->unit_id : b ? b->unit_id : 0;
    size_t n = (o ? o->n_registers : 0) + (b ? b->n_registers : 0);
    if (!n)
        return 0;
    d->registers = calloc(n, sizeof *d->registers);
    if (!d->registers)
        return -ENOMEM;
    /* Like fields: base's in order with same-named ones of over in their
     * place, then over's new ones. */
    for (size_t pass = 0; pass < 2; pass++) {
        const gw_modbus_dev_conf_t *src = pass ? o : b;
        for (size_t i = 0; src && i < src->n_registers; i++) {
            const gw_config_modbus_reg_t *r = &src->registers[i];
            bool skip = false;
            if (!pass) {
                for (size_t j = 0; o && j < o->n_registers; j++)
                    if (strcmp(o->registers[j].field, r->field) == 0)
                        r = &o->registers[j];
            } else {
                for (size_t j = 0; b && j < b->n_registers && !skip; j++)
                    skip = strcmp(b->registers[j].field, r->field) == 0;
            }
            if (skip)
                continue;
            gw_config_modbus_reg_t *t = &d->registers[d->n_registers];
            *t = *r;
            t->field = strdup(r->field);
            if (!t->field)
                return -ENOMEM;
            d->n_registers++;
        }
    }
    return 0;
}

static uint64_t part_fingerprint(const void *part)
{
    const gw_modbus_dev_conf_t *d = part;
    uint64_t h = GW_FNV_OFFSET;
    if (!d)
        return h;
    gw_fnv_str(&h, d->bus);
    gw_fnv_bytes(&h, &d->unit_id, sizeof d->unit_id);
    uint64_t n = d->n_registers;
    gw_fnv_bytes(&h, &n, sizeof n);
    for (size_t i = 0; i < d->n_registers; i++) {
        const gw_config_modbus_reg_t *r = &d->registers[i];
        gw_fnv_str(&h, r->field);
        uint8_t small[5] = {r->table, r->type, r->order, r->writable, r->read_back};
        gw_fnv_bytes(&h, small, sizeof small);
        gw_fnv_bytes(&h, &r->address, sizeof r->address);
        gw_fnv_bytes(&h, &r->count, sizeof r->count);
        gw_fnv_bytes(&h, &r->scale, sizeof r->scale);
        gw_fnv_bytes(&h, &r->offset, sizeof r->offset);
        gw_fnv_bytes(&h, &r->interval_ms, sizeof r->interval_ms);
        gw_fnv_bytes(&h, &r->pulse_ms, sizeof r->pulse_ms);
        gw_fnv_bytes(&h, &r->has_execute_value, sizeof r->has_execute_value);
        gw_fnv_bytes(&h, &r->execute_value, sizeof r->execute_value);
        gw_fnv_bytes(&h, &r->path.len, sizeof r->path.len);
        gw_fnv_bytes(&h, r->path.id, sizeof r->path.id[0] * r->path.len);
    }
    return h;
}

static uint64_t section_fingerprint(const void *section)
{
    const gw_modbus_conf_t *c = section;
    uint64_t h = GW_FNV_OFFSET;
    for (size_t i = 0; c && i < c->n_buses; i++) {
        const gw_config_modbus_bus_t *b = &c->buses[i];
        gw_fnv_str(&h, b->name);
        gw_fnv_str(&h, b->host);
        gw_fnv_str(&h, b->device);
        int32_t v[] = {b->rtu, b->port, b->baud, b->parity, b->data_bits, b->stop_bits,
                       b->timeout_ms, b->turnaround_ms, b->max_gap, b->backoff_max_ms,
                       b->fail_threshold};
        gw_fnv_bytes(&h, v, sizeof v);
    }
    return h;
}

static void describe_part(const void *part, FILE *out)
{
    const gw_modbus_dev_conf_t *d = part;
    if (!d)
        return;
    fprintf(out, "    modbus bus %s, unit %d\n", d->bus ? d->bus : "?", (int)d->unit_id);
    for (size_t i = 0; i < d->n_registers; i++) {
        const gw_config_modbus_reg_t *r = &d->registers[i];
        fprintf(out, "    register %-13s <- %s %u", r->field, gw_modbus_table_name(r->table), r->address);
        if (r->count > 1)
            fprintf(out, "..%u", (unsigned)r->address + r->count - 1u);
        fprintf(out, ", %s", type_names[r->type]);
        if (r->scale != 1.0)
            fprintf(out, ", scale %.15g", r->scale);
        if (r->offset != 0.0)
            fprintf(out, ", offset %.15g", r->offset);
        fprintf(out, ", every %.15g s%s\n", r->interval_ms / 1000.0, r->writable ? ", writable" : "");
    }
}

static const gw_cfg_key_t dev_keys[] = {
    {"bus", GW_CFG_STRING, "a string (an adapters.modbus bus name)", false, h_bus, 0, 0, 0},
    {"unit_id", GW_CFG_INT, "an integer (Modbus unit id 1..255)", false, h_unit, 0, 0, 0},
    {"registers", GW_CFG_LIST, "a list of groups ( { field = ...; address = ...; }, ... )", false,
     h_registers, 0, 0, 0},
};

const gw_adapter_conf_ops_t gw_modbus_conf_ops = {
    .keys = dev_keys,
    .n_keys = sizeof dev_keys / sizeof dev_keys[0],
    .keys_text = "bus, unit_id and registers",
    .parse_section = parse_section,
    .free_section = free_section,
    .section_fingerprint = section_fingerprint,
    .new_part = new_part,
    .merge_part = merge_part,
    .finish_part = finish_part,
    .declare = declare,
    .part_fingerprint = part_fingerprint,
    .describe_part = describe_part,
    .free_part = free_part,
    .identity = identity,
    .identity_what = "Modbus unit (bus/unit_id)",
    .identity_expect = "one device per bus and unit_id",
    .identity_key = "unit_id",
    .physical = physical,
    .physical_what = "Modbus unit on another bus",
    .physical_expect = "one device per unit_id on one Modbus TCP server (host:port) or serial "
                       "device, whichever bus names it",
    .field_noun = "register field",
    .decl_paths = true,
};
