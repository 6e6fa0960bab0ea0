/*
 * mapping/config_mqtt.c - the `mqtt = { ... }` section: where and how the
 * MQTT mirror publishes (docs/mqtt.md). Checked here so --check reports a
 * wrong broker URI or a missing TLS file at its line, not the start.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"

#define MQ(f) offsetof(gw_config_mqtt_t, f)

static int h_bool(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)ctx;
    *(bool *)(void *)((char *)obj + k->offset) = config_setting_get_bool(s) != 0;
    return 0;
}

/* tcp:// and mqtt:// are plain, ssl:// and mqtts:// TLS (paho's schemes);
 * a host and a port are required so a typo does not silently go to 1883. */
static int h_uri(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    const char *u = config_setting_get_string(s);
    static const char *const schemes[] = {"tcp://", "mqtt://", "ssl://", "mqtts://"};
    const char *rest = NULL;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0] && !rest; i++)
        if (strncmp(u, schemes[i], strlen(schemes[i])) == 0)
            rest = u + strlen(schemes[i]);
    char q[GW_CFG_QUOTE_SIZE];
    const char *colon = rest ? strrchr(rest, ':') : NULL;
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!rest || !colon || colon == rest || !end || *end || end == colon + 1 || port < 1 || port > 65535) {
        gw_config_error(ctx, s, "mqtt uri %s is not a broker address, expected "
                                "\"tcp://host:port\" or \"ssl://host:port\" (mqtt://, mqtts:// too)",
                        gw_config_quote(u, q, sizeof q));
        return 0;
    }
    return gw_config_h_string(ctx, s, k, obj);
}

static int h_client_id(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    const char *v = config_setting_get_string(s);
    char q[GW_CFG_QUOTE_SIZE];
    /* MQTT 3.1.1 3.1.3.1: servers must take 1..23 bytes and may take more;
     * mosquitto takes up to 65535. Only the one placeholder exists. */
    const char *ph = strchr(v, '{');
    if (!v[0] || (ph && strncmp(ph, "{gateway}", 9) != 0) || strchr(ph ? ph + 9 : v, '{')) {
        gw_config_error(ctx, s, "client_id %s is not valid, expected a non-empty string where "
                                "only {gateway} is replaced",
                        gw_config_quote(v, q, sizeof q));
        return 0;
    }
    return gw_config_h_string(ctx, s, k, obj);
}

static int h_file(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    const char *v = config_setting_get_string(s);
    char q[GW_CFG_QUOTE_SIZE];
    if (!v[0] || access(v, R_OK) != 0) {
        gw_config_error(ctx, s, "tls %s %s cannot be read (%s), expected a readable PEM file", k->name,
                        gw_config_quote(v, q, sizeof q), v[0] ? strerror(errno) : "empty");
        return 0;
    }
    return gw_config_h_string(ctx, s, k, obj);
}

static int h_format(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)k;
    const char *v = config_setting_get_string(s);
    char q[GW_CFG_QUOTE_SIZE];
    gw_config_mqtt_t *m = obj;
    if (strcmp(v, "value") == 0)
        m->format = GW_MQTT_FORMAT_VALUE;
    else if (strcmp(v, "senml-json") == 0)
        m->format = GW_MQTT_FORMAT_SENML_JSON;
    else
        gw_config_error(ctx, s, "format %s is unknown, expected \"value\" or \"senml-json\"",
                        gw_config_quote(v, q, sizeof q));
    return 0;
}

/* MQTT topic levels: no wildcards, no empty level, no leading or trailing
 * slash (MQTT 3.1.1 4.7). */
static int h_prefix(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    const char *v = config_setting_get_string(s);
    char q[GW_CFG_QUOTE_SIZE];
    size_t n = strlen(v);
    if (!n || strpbrk(v, "+#") || v[0] == '/' || v[n - 1] == '/' || strstr(v, "//")) {
        gw_config_error(ctx, s, "topic_prefix %s is not valid, expected topic levels like \"lwm2m\" or "
                                "\"site/lwm2m\" without + # or empty levels",
                        gw_config_quote(v, q, sizeof q));
        return 0;
    }
    return gw_config_h_string(ctx, s, k, obj);
}

static const gw_cfg_key_t tls_keys[] = {
    {"ca_file", GW_CFG_STRING, "a string (PEM file of the CA that signed the broker)", false, h_file,
     MQ(ca_file), 0, 0},
    {"cert_file", GW_CFG_STRING, "a string (PEM file of the gateway's certificate)", false, h_file,
     MQ(cert_file), 0, 0},
    {"key_file", GW_CFG_STRING, "a string (PEM file of the gateway's private key)", false, h_file,
     MQ(key_file), 0, 0},
    {"verify", GW_CFG_BOOL, "true or false", false, h_bool, MQ(verify), 0, 0},
};

static int h_tls(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)k;
    return gw_config_walk(ctx, s, "mqtt.tls", tls_keys, sizeof tls_keys / sizeof tls_keys[0], obj, NULL);
}

static const gw_cfg_key_t mqtt_keys[] = {
    {"enabled", GW_CFG_BOOL, "true or false", false, h_bool, MQ(enabled), 0, 0},
    {"uri", GW_CFG_STRING, "a string (\"tcp://host:port\" or \"ssl://host:port\")", true, h_uri, MQ(uri), 0,
     0},
    {"client_id", GW_CFG_STRING, "a string ({gateway} is replaced)", false, h_client_id, MQ(client_id), 0, 0},
    {"username", GW_CFG_STRING, "a string", false, gw_config_h_string, MQ(username), 0, 0},
    {"password", GW_CFG_STRING, "a string", false, gw_config_h_string, MQ(password), 0, 0},
    {"tls", GW_CFG_GROUP, "a group { ca_file = ...; cert_file = ...; key_file = ...; verify = ...; }", false,
     h_tls, 0, 0, 0},
    {"qos", GW_CFG_INT, "an integer (0, 1 or 2)", false, gw_config_h_int32, MQ(qos), 0, 2},
    {"retain", GW_CFG_BOOL, "true or false", false, h_bool, MQ(retain), 0, 0},
    {"topic_prefix", GW_CFG_STRING, "a string (topic levels, e.g. \"lwm2m\")", false, h_prefix,
     MQ(topic_prefix), 0, 0},
    {"format", GW_CFG_STRING, "\"value\" or \"senml-json\"", false, h_format, 0, 0, 0},
    {"keepalive", GW_CFG_INT, "an integer (seconds)", false, gw_config_h_int32, MQ(keepalive), 5, 65535},
    {"buffer_max", GW_CFG_INT, "an integer (messages held while the broker is away)", false,
     gw_config_h_int32, MQ(buffer_max), 1, 10000000},
    {"homeassistant", GW_CFG_BOOL, "true or false", false, h_bool, MQ(homeassistant), 0, 0},
    {"commands", GW_CFG_BOOL, "true or false", false, h_bool, MQ(commands), 0, 0},
};

int gw_config_h_mqtt(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)k;
    gw_config_t *c = obj;
    gw_config_free_mqtt(&c->mqtt);
    gw_config_mqtt_t *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    c->mqtt = m;
    m->enabled = true;
    m->verify = true;
    m->qos = 1;
    m->retain = true;
    m->keepalive = 30;
    m->buffer_max = 10000;
    m->line = (int)config_setting_source_line(s);
    m->client_id = strdup("{gateway}");
    m->topic_prefix = strdup("lwm2m");
    if (!m->client_id || !m->topic_prefix)
        return -ENOMEM;
    int rc = gw_config_walk(ctx, s, "mqtt", mqtt_keys, sizeof mqtt_keys / sizeof mqtt_keys[0], m, NULL);
    if (rc < 0)
        return rc;
    bool tls_uri = m->uri && (strncmp(m->uri, "ssl://", 6) == 0 || strncmp(m->uri, "mqtts://", 8) == 0);
    const config_setting_t *tls = config_setting_get_member(s, "tls");
    if (tls && m->uri && !tls_uri)
        gw_config_error(ctx, tls, "tls is set but uri \"%s\" is unencrypted, expected \"ssl://host:port\"",
                        m->uri);
    if (!m->cert_file != !m->key_file)
        gw_config_error(ctx, tls, "tls needs both cert_file and key_file (a client certificate and its key), "
                                  "got only %s", m->cert_file ? "cert_file" : "key_file");
    if (m->homeassistant && m->format != GW_MQTT_FORMAT_VALUE)
        gw_config_error(ctx, config_setting_get_member(s, "homeassistant"),
                        "homeassistant = true needs format = \"value\" (its entities read one value per "
                        "topic), got \"senml-json\"");
    if (m->password && !m->username)
        gw_config_error(ctx, config_setting_get_member(s, "password"),
                        "password is set without username, expected both");
    return 0;
}

void gw_config_free_mqtt(gw_config_mqtt_t **pm)
{
    gw_config_mqtt_t *m = *pm;
    if (!m)
        return;
    free(m->uri);
    free(m->client_id);
    free(m->username);
    free(m->password);
    free(m->ca_file);
    free(m->cert_file);
    free(m->key_file);
    free(m->topic_prefix);
    free(m);
    *pm = NULL;
}

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

bool gw_config_mqtt_equal(const gw_config_mqtt_t *a, const gw_config_mqtt_t *b)
{
    if (!a || !b)
        return a == b;
    return a->enabled == b->enabled && str_eq(a->uri, b->uri) && str_eq(a->client_id, b->client_id) &&
           str_eq(a->username, b->username) && str_eq(a->password, b->password) &&
           str_eq(a->ca_file, b->ca_file) && str_eq(a->cert_file, b->cert_file) &&
           str_eq(a->key_file, b->key_file) && a->verify == b->verify && a->qos == b->qos &&
           a->retain == b->retain && str_eq(a->topic_prefix, b->topic_prefix) && a->format == b->format &&
           a->keepalive == b->keepalive && a->buffer_max == b->buffer_max &&
           a->homeassistant == b->homeassistant && a->commands == b->commands;
}
