/*
 * gateway/mqtt_ha.c - Home Assistant MQTT discovery for the adapter fields
 * the mirror publishes, and `<topic>/set` commands handled as LwM2M Writes.
 *
 * Discovery (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery):
 * one retained config per resource on
 * homeassistant/<component>/<node_id>/<object_id>/config; an empty retained
 * message removes the entity, which is how a removed device disappears.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../lwm2m/lwm2m.h"
#include "log.h"
#include "mqtt_internal.h"

/* Home Assistant's device classes for the IPSO objects with one, and the
 * unit spelling it validates against (UCUM "Cel" is "°C" there). */
static const struct {
    uint16_t oid;
    const char *device_class;
    const char *unit;
} ha_classes[] = {
    {3301, "illuminance", "lx"}, {3303, "temperature", "°C"}, {3304, "humidity", "%"},
    {3315, "pressure", "hPa"},   {3316, "voltage", "V"},       {3317, "current", "A"},
    {3328, "power", "kW"},       {3331, "energy", "kWh"},      {3325, "pm25", "µg/m³"},
};

static const char *ha_unit(const char *ucum)
{
    if (!ucum || !ucum[0])
        return NULL;
    if (strcmp(ucum, "Cel") == 0)
        return "°C";
    if (strcmp(ucum, "%RH") == 0)
        return "%";
    return ucum;
}

static bool numeric(gw_type_t t)
{
    return t == GW_TYPE_INTEGER || t == GW_TYPE_UNSIGNED || t == GW_TYPE_FLOAT;
}

static const char *component_of(gw_type_t t, bool writable)
{
    if (t == GW_TYPE_BOOLEAN)
        return writable ? "switch" : "binary_sensor";
    if (writable && numeric(t))
        return "number";
    return "sensor";
}

static char *config_topic(const mq_client_t *cl, const char *component, const gw_path_t *p)
{
    size_t n = strlen(cl->node) + strlen(component) + 64;
    char *t = malloc(n);
    if (t)
        snprintf(t, n, "homeassistant/%s/%s/%u_%u_%u/config", component, cl->node, p->id[0], p->id[1], p->id[2]);
    return t;
}

static void add_store_string(cJSON *o, const char *key, const gw_sclient_t *c, uint16_t rid)
{
    gw_value_t v;
    gw_path_t p = {{3, 0, rid, 0}, 3};
    if (gw_store_get(c, &p, &v, NULL) == 0 && v.type == GW_TYPE_STRING) {
        char *s = strndup((const char *)v.v.bytes.ptr, v.v.bytes.len);
        if (s)
            cJSON_AddStringToObject(o, key, s);
        free(s);
    }
}

static char *build_config(gw_mqtt_t *m, mq_client_t *cl, const gw_path_t *p, const gw_objdef_t *od,
                          const gw_resdef_t *rd, const char *component, bool writable)
{
    char *state = gw_mqtt_value_topic(cl, p);
    char name[160], uid[200];
    cJSON *o = cJSON_CreateObject();
    cJSON *dev = cJSON_CreateObject();
    cJSON *ids = cJSON_CreateArray();
    char *js = NULL;
    if (!state || !o || !dev || !ids)
        goto out;
    snprintf(name, sizeof name, "%s %u %s", od->name, p->id[1], rd->name);
    snprintf(uid, sizeof uid, "lwm2m_%s_%u_%u_%u", cl->node, p->id[0], p->id[1], p->id[2]);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "unique_id", uid);
    cJSON_AddStringToObject(o, "object_id", uid);
    cJSON_AddStringToObject(o, "state_topic", state);
    cJSON_AddStringToObject(o, "availability_topic", m->status_topic);
    cJSON_AddStringToObject(o, "payload_available", "online");
    cJSON_AddStringToObject(o, "payload_not_available", "offline");
    /* IPSO objects carry their unit in a resource of the instance
     * (5701 Sensor Units) rather than in the definition. */
    char units[32] = "";
    gw_value_t uv;
    gw_path_t up = {{p->id[0], p->id[1], 5701, 0}, 3};
    if (!rd->units[0] && gw_store_get(cl->c, &up, &uv, NULL) == 0 && uv.type == GW_TYPE_STRING)
        snprintf(units, sizeof units, "%.*s", (int)(uv.v.bytes.len < 31 ? uv.v.bytes.len : 31),
                 (const char *)uv.v.bytes.ptr);
    const char *unit = ha_unit(rd->units[0] ? rd->units : units);
    if (numeric((gw_type_t)rd->type)) {
        for (size_t i = 0; i < sizeof ha_classes / sizeof ha_classes[0]; i++)
            if (ha_classes[i].oid == p->id[0] && unit && strcmp(unit, ha_classes[i].unit) == 0 &&
                strcmp(component, "sensor") == 0)
                cJSON_AddStringToObject(o, "device_class", ha_classes[i].device_class);
        if (unit)
            cJSON_AddStringToObject(o, "unit_of_measurement", unit);
        if (strcmp(component, "sensor") == 0)
            cJSON_AddStringToObject(o, "state_class", "measurement");
    }
    if (rd->type == GW_TYPE_BOOLEAN) {
        /* LwM2M's text format writes booleans as 0 and 1. */
        cJSON_AddStringToObject(o, writable ? "state_on" : "payload_on", "1");
        cJSON_AddStringToObject(o, writable ? "state_off" : "payload_off", "0");
        if (writable) {
            cJSON_AddStringToObject(o, "payload_on", "1");
            cJSON_AddStringToObject(o, "payload_off", "0");
        }
    }
    if (writable && m->cfg->commands) {
        size_t n = strlen(state) + 8;
        char *cmd = malloc(n);
        if (cmd) {
            snprintf(cmd, n, "%s/set", state);
            cJSON_AddStringToObject(o, "command_topic", cmd);
        }
        free(cmd);
        if (strcmp(component, "number") == 0) {
            cJSON_AddStringToObject(o, "mode", "box");
            cJSON_AddNumberToObject(o, "step", rd->type == GW_TYPE_FLOAT ? 0.001 : 1);
            cJSON_AddNumberToObject(o, "min", -1e9);
            cJSON_AddNumberToObject(o, "max", 1e9);
        }
    }
    cJSON_AddItemToArray(ids, cJSON_CreateString(uid[0] ? cl->node : ""));
    cJSON_AddItemToObject(dev, "identifiers", ids);
    ids = NULL;
    cJSON_AddStringToObject(dev, "name", cl->endpoint);
    add_store_string(dev, "manufacturer", cl->c, 0);
    add_store_string(dev, "model", cl->c, 1);
    add_store_string(dev, "serial_number", cl->c, 2);
    add_store_string(dev, "sw_version", cl->c, 3);
    cJSON_AddItemToObject(o, "device", dev);
    dev = NULL;
    js = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(ids);
    cJSON_Delete(dev);
    cJSON_Delete(o);
    free(state);
    return js;
}

void gw_mqtt_ha_announce(gw_mqtt_t *m, mq_client_t *cl, const gw_path_t *p, bool again)
{
    if (p->len != 3 && p->len != 4)
        return;
    gw_path_t rp = {{p->id[0], p->id[1], p->id[2], 0}, 3};
    if (!again)
        for (size_t i = 0; i < cl->n_ann; i++)
            if (gw_path_cmp(&cl->ann[i].path, &rp) == 0)
                return;
    bool writable = false;
    if (!m->ops.field_info || !m->ops.field_info(m->ops.ctx, cl->c, &rp, &writable))
        return;
    const gw_objdef_t *od = gw_registry_find(gw_store_registry(m->store), rp.id[0]);
    const gw_resdef_t *rd = od ? gw_objdef_find_res(od, rp.id[2]) : NULL;
    if (!rd || rd->multiple || rd->type == GW_TYPE_NONE || rd->type == GW_TYPE_OPAQUE)
        return;
    const char *component = component_of((gw_type_t)rd->type, writable && m->cfg->commands);
    if (!again) {
        if (cl->n_ann == cl->cap_ann) {
            size_t cap = cl->cap_ann ? cl->cap_ann * 2 : 4;
            mq_announced_t *a = realloc(cl->ann, cap * sizeof *a);
            if (!a)
                return;
            cl->ann = a;
            cl->cap_ann = cap;
        }
        cl->ann[cl->n_ann++] = (mq_announced_t){rp, component};
    }
    char *topic = config_topic(cl, component, &rp);
    char *js = topic ? build_config(m, cl, &rp, od, rd, component, writable) : NULL;
    if (js)
        gw_mqtt_publish(m, topic, js, strlen(js), m->cfg->qos, true);
    free(js);
    free(topic);
}

void gw_mqtt_ha_clear(gw_mqtt_t *m, mq_client_t *cl)
{
    for (size_t i = 0; i < cl->n_ann; i++) {
        char *topic = config_topic(cl, cl->ann[i].component, &cl->ann[i].path);
        if (topic)
            gw_mqtt_publish(m, topic, "", 0, m->cfg->qos, true);
        free(topic);
    }
    cl->n_ann = 0;
}

/* ---- commands --------------------------------------------------------- */

typedef struct mq_write {
    gw_mqtt_t *m;
    char *result_topic;
    char *endpoint;    /* looked up again when done: the device may be gone */
    gw_path_t path;
    gw_value_t value;  /* strings point into text */
    char *text;
} mq_write_t;

static void publish_result(gw_mqtt_t *m, const char *topic, int rc, const char *detail)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return;
    cJSON_AddBoolToObject(o, "ok", rc == 0);
    if (rc < 0) {
        cJSON_AddStringToObject(o, "error", strerror(-rc));
        if (detail && detail[0])
            cJSON_AddStringToObject(o, "detail", detail);
    }
    char *js = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (js)
        gw_mqtt_publish(m, topic, js, strlen(js), m->cfg->qos ? 1 : 0, false);
    free(js);
}

static void write_done(void *ctx, int rc)
{
    mq_write_t *w = ctx;
    /* As after an LwM2M Write: the store takes the written value, so the
     * LwM2M server and the value topic both show it. */
    mq_client_t *cl = rc == 0 ? gw_mqtt_client_find_ep(w->m, w->endpoint, strlen(w->endpoint)) : NULL;
    if (cl && cl->c)
        gw_store_set(w->m->store, cl->c, &w->path, &w->value, 0);
    publish_result(w->m, w->result_topic, rc, rc < 0 ? "the device refused or did not answer" : NULL);
    free(w->result_topic);
    free(w->endpoint);
    free(w->text);
    free(w);
}

/* <prefix>/<endpoint>/<oid>/<iid>/<rid>/set: the ids are the last three
 * levels before "set", the endpoint what lies between them and the prefix. */
void gw_mqtt_command(gw_mqtt_t *m, const char *topic, const char *payload, size_t len)
{
    size_t pl = strlen(m->cfg->topic_prefix), tl = strlen(topic);
    if (tl < pl + 6 || strncmp(topic, m->cfg->topic_prefix, pl) != 0 || topic[pl] != '/' ||
        strcmp(topic + tl - 4, "/set") != 0)
        return;
    const char *ep = topic + pl + 1;
    const char *end = topic + tl - 4;
    const char *q = end;
    for (int levels = 0; levels < 3 && q > ep; q--)
        if (q[-1] == '/' && ++levels == 3)
            break;
    if (q <= ep + 1)
        return;
    size_t ep_len = (size_t)(q - 1 - ep);
    char ids[64];
    snprintf(ids, sizeof ids, "/%.*s", (int)(end - q < 60 ? end - q : 60), q);
    gw_path_t path;
    size_t rn = strlen(topic) - 4 + 8;
    char *result = malloc(rn);
    if (!result)
        return;
    snprintf(result, rn, "%.*s/result", (int)(tl - 4), topic);
    char diag[160] = "";
    int rc;
    mq_client_t *cl = gw_mqtt_client_find_ep(m, ep, ep_len);
    bool writable = false;
    const gw_objdef_t *od = NULL;
    const gw_resdef_t *rd = NULL;
    if (gw_path_parse(ids, &path) < 0 || path.len != 3) {
        rc = -EINVAL;
        snprintf(diag, sizeof diag, "expected <endpoint>/<object>/<instance>/<resource>/set");
    } else if (!cl) {
        rc = -ENOENT;
        snprintf(diag, sizeof diag, "no client %.*s", (int)(ep_len < 80 ? ep_len : 80), ep);
    } else if (!m->ops.field_info || !m->ops.field_info(m->ops.ctx, cl->c, &path, &writable) || !writable ||
               !(od = gw_registry_find(gw_store_registry(m->store), path.id[0])) ||
               !(rd = gw_objdef_find_res(od, path.id[2]))) {
        rc = -EPERM;
        snprintf(diag, sizeof diag, "%s is not a writable field of the mapping", ids);
    } else {
        gw_value_t v;
        char *text = strndup(payload, len);
        rc = text ? gw_value_from_text((gw_type_t)rd->type, text, strlen(text), &v) : -ENOMEM;
        if (rc < 0) {
            snprintf(diag, sizeof diag, "payload is not a %s value", gw_type_name((gw_type_t)rd->type));
        } else {
            mq_write_t *w = calloc(1, sizeof *w);
            char *ep_copy = strdup(cl->endpoint);
            if (!w || !ep_copy) {
                free(w);
                free(ep_copy);
                rc = -ENOMEM;
            } else {
                w->m = m;
                w->result_topic = result;
                w->endpoint = ep_copy;
                w->path = path;
                w->value = v;
                w->text = text;
                gw_info("mqtt: %s: Write %s = %s from %s", cl->endpoint, ids, text, topic);
                rc = m->ops.write(m->ops.ctx, cl->c, &path, &v, write_done, w, diag, sizeof diag);
                if (rc == -EINPROGRESS)
                    return; /* write_done publishes and frees */
                text = NULL; /* freed with w */
                free(w->endpoint);
                free(w->text);
                free(w);
            }
        }
        free(text);
    }
    if (rc != 0)
        gw_notice("mqtt: command on %s refused: %s%s%s", topic, strerror(-rc), diag[0] ? "; " : "", diag);
    publish_result(m, result, rc, diag);
    free(result);
}
