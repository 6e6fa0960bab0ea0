/*
 * gateway/mqtt.c - the MQTT mirror's core: the paho client and its events,
 * the store listener, value and status publishing, reconnection.
 *
 * The store listener only copies the value into a pending list and arms a
 * zero-delay timer, which hands the whole list to the out thread
 * (mqtt_out.c) once per loop turn: topics, text and SenML are formatted
 * there, and paho's lock and files are its business too. So a broker that is
 * slow or away costs the loop one copy per value and one queue append (a
 * lock never held across I/O) per turn.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../lwm2m/codec.h"
#include "../lwm2m/lwm2m.h"
#include "log.h"
#include "mqtt_internal.h"

enum { EV_CONNECTED, EV_CONNECT_FAILED, EV_LOST, EV_MESSAGE, EV_TLS_ERROR, EV_SUB_FAILED, EV_SUBSCRIBED };

struct mq_event {
    mq_event_t *next;
    int kind;
    int code;
    char *text;       /* cause, error, or topic */
    char *payload;
    size_t payload_len;
};

/* Backoff between connection attempts: doubles from 1 s up to 60 s, so a
 * broker that is down for long costs one attempt a minute. */
/* Statuses: the table is walked in STATUS_SLICES slices, one every
 * STATUS_SLICE_MS (the whole table each second), so 10,000 clients never
 * cost the loop one long turn; a client's status goes out within a second
 * of a registration change and at most every STATUS_MIN_MS for new
 * readings. Ten wake-ups a second, not a hundred: an idle gateway's
 * wake-ups are what its power budget counts (bench_service wakeups_per_s),
 * and a tenth of 10,000 clients' table is a few microseconds of a turn. */
enum { BACKOFF_MIN_MS = 1000, BACKOFF_MAX_MS = 60000, STATUS_SLICES = 10, STATUS_SLICE_MS = 100,
       STATUS_MIN_MS = 5000 };

/* ---- events from paho's threads -------------------------------------- */

static void mailbox_unref(mq_mailbox_t *mb)
{
    pthread_mutex_lock(&mb->lock);
    int refs = --mb->refs;
    pthread_mutex_unlock(&mb->lock);
    if (refs)
        return;
    while (mb->head) {
        mq_event_t *e = mb->head;
        mb->head = e->next;
        free(e->text);
        free(e->payload);
        free(e);
    }
    free(mb->acks);
    pthread_mutex_destroy(&mb->lock);
    free(mb);
}

static void handle_event(gw_mqtt_t *m, mq_event_t *e);

static void drain(void *ctx)
{
    mq_mailbox_t *mb = ctx;
    pthread_mutex_lock(&mb->lock);
    mq_event_t *list = mb->head;
    mb->head = mb->tail = NULL;
    mb->posted = false;
    gw_mqtt_t *m = mb->m;
    pthread_mutex_unlock(&mb->lock);
    while (list) {
        mq_event_t *e = list;
        list = e->next;
        if (m)
            handle_event(m, e);
        free(e->text);
        free(e->payload);
        free(e);
    }
    mailbox_unref(mb);
}

/* Any thread. An event that cannot be allocated is lost; the next one (or
 * the retry timer) brings the state back. */
static void post_event(mq_mailbox_t *mb, int kind, int code, const char *text, const void *payload, size_t len)
{
    mq_event_t *e = calloc(1, sizeof *e);
    if (!e)
        return;
    e->kind = kind;
    e->code = code;
    e->text = text ? strdup(text) : NULL;
    if (payload) {
        e->payload = malloc(len + 1);
        if (e->payload) {
            memcpy(e->payload, payload, len);
            e->payload[len] = '\0';
            e->payload_len = len;
        }
    }
    pthread_mutex_lock(&mb->lock);
    if (mb->tail)
        mb->tail->next = e;
    else
        mb->head = e;
    mb->tail = e;
    bool post = !mb->posted;
    if (post) {
        mb->posted = true;
        mb->refs++;
    }
    pthread_mutex_unlock(&mb->lock);
    if (post && gw_loop_post(mb->loop, drain, mb) < 0) {
        pthread_mutex_lock(&mb->lock);
        mb->posted = false;
        mb->refs--;
        pthread_mutex_unlock(&mb->lock);
    }
}

static void on_connected(void *ctx, char *cause)
{
    atomic_store(&((mq_mailbox_t *)ctx)->up, 1); /* the out thread hands its buffer over */
    post_event(ctx, EV_CONNECTED, 0, cause, NULL, 0);
}

static void on_connect_failure(void *ctx, MQTTAsync_failureData *resp)
{
    post_event(ctx, EV_CONNECT_FAILED, resp ? resp->code : MQTTASYNC_FAILURE, resp ? resp->message : NULL,
               NULL, 0);
}

static void on_lost(void *ctx, char *cause)
{
    atomic_store(&((mq_mailbox_t *)ctx)->up, 0);
    post_event(ctx, EV_LOST, 0, cause, NULL, 0);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    char *t = topic_len > 0 ? strndup(topic, (size_t)topic_len) : NULL;
    if (!msg->retained)
        post_event(ctx, EV_MESSAGE, 0, t ? t : topic, msg->payload, (size_t)msg->payloadlen);
    free(t);
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void on_delivered(void *ctx, MQTTAsync_token token)
{
    mq_mailbox_t *mb = ctx;
    /* One per message at QoS >= 1: counted and listed for the out thread,
     * which strikes it from the buffer file, not posted to the loop. A
     * token that cannot be listed leaves its message in the file: a
     * restart sends it once more, as QoS 1 allows. */
    atomic_fetch_add(&mb->delivered, 1);
    if (!mb->track)
        return;
    pthread_mutex_lock(&mb->lock);
    if (mb->n_acks == mb->cap_acks) {
        size_t cap = mb->cap_acks ? mb->cap_acks * 2 : 256;
        MQTTAsync_token *a = realloc(mb->acks, cap * sizeof *a);
        if (a) {
            mb->acks = a;
            mb->cap_acks = cap;
        }
    }
    if (mb->n_acks < mb->cap_acks)
        mb->acks[mb->n_acks++] = token;
    pthread_mutex_unlock(&mb->lock);
}

static int on_tls_error(const char *str, size_t len, void *ctx)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < 255 ? len : 255), str);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    post_event(ctx, EV_TLS_ERROR, 0, buf, NULL, 0);
    return 0;
}

/* ---- connecting ------------------------------------------------------- */

/* On the out thread (mqtt_out.c), like every paho call after create:
 * paho's lock is often held by its own threads, never by the loop. */
void gw_mqtt_connect_now(gw_mqtt_t *m)
{
    const gw_config_mqtt_t *c = m->cfg;
    MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
    MQTTAsync_willOptions w = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    o.keepAliveInterval = c->keepalive;
    /* A persistent session keeps QoS >= 1 messages in flight across a
     * reconnect instead of dropping them with the old session. */
    o.cleansession = c->qos == 0;
    o.connectTimeout = 10;
    o.automaticReconnect = 1;
    o.minRetryInterval = BACKOFF_MIN_MS / 1000;
    o.maxRetryInterval = BACKOFF_MAX_MS / 1000;
    o.username = c->username;
    o.password = c->password;
    o.onFailure = on_connect_failure;
    o.context = m->mb;
    w.topicName = m->status_topic;
    w.message = "offline";
    w.retained = 1;
    w.qos = c->qos;
    o.will = &w;
    if (strncmp(m->uri, "ssl://", 6) == 0) {
        ssl.trustStore = c->ca_file;
        ssl.keyStore = c->cert_file;
        ssl.privateKey = c->key_file;
        ssl.enableServerCertAuth = c->verify;
        ssl.verify = c->verify;
        ssl.ssl_error_cb = on_tls_error;
        ssl.ssl_error_context = m->mb;
        o.ssl = &ssl;
    }
    int rc = MQTTAsync_connect(m->h, &o);
    if (rc != MQTTASYNC_SUCCESS)
        post_event(m->mb, EV_CONNECT_FAILED, rc, "paho refused to start connecting", NULL, 0);
}

static void on_sub_ok(void *ctx, MQTTAsync_successData *r)
{
    (void)r;
    post_event(ctx, EV_SUBSCRIBED, 0, NULL, NULL, 0);
}

static void on_sub_fail(void *ctx, MQTTAsync_failureData *r)
{
    post_event(ctx, EV_SUB_FAILED, r ? r->code : MQTTASYNC_FAILURE, r && r->message ? r->message : "refused",
               NULL, 0);
}

void gw_mqtt_subscribe_now(gw_mqtt_t *m, const char *topic, int qos)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = on_sub_ok;
    ro.onFailure = on_sub_fail;
    ro.context = m->mb;
    int rc = MQTTAsync_subscribe(m->h, topic, qos, &ro);
    if (rc != MQTTASYNC_SUCCESS)
        post_event(m->mb, EV_SUB_FAILED, rc, topic, NULL, 0);
}

static int start_connect(gw_mqtt_t *m)
{
    m->connecting = true;
    int rc = gw_mqtt_out_command(m, MQ_CMD_CONNECT, NULL, 0);
    if (rc < 0)
        m->connecting = false;
    return rc;
}

static void on_retry(void *ctx)
{
    gw_mqtt_t *m = ctx;
    if (!m->connected && !m->connecting && !m->stopping && start_connect(m) < 0)
        gw_timer_start(m->loop, &m->retry_timer, m->backoff_ms);
}

/* ---- clients ------------------------------------------------------------ */

static size_t slot_of(const gw_mqtt_t *m, const gw_sclient_t *c)
{
    uintptr_t x = (uintptr_t)c;
    x ^= x >> 17;
    x *= 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 20) & (m->cap_clients - 1);
}

static int clients_grow(gw_mqtt_t *m)
{
    size_t cap = m->cap_clients ? m->cap_clients * 2 : 64;
    mq_client_t **old = m->clients;
    size_t old_cap = m->cap_clients;
    mq_client_t **t = calloc(cap, sizeof *t);
    if (!t)
        return -ENOMEM;
    m->clients = t;
    m->cap_clients = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i])
            continue;
        size_t s = slot_of(m, old[i]->c);
        while (t[s])
            s = (s + 1) & (cap - 1);
        t[s] = old[i];
    }
    free(old);
    return 0;
}

static mq_client_t *client_find(const gw_mqtt_t *m, const gw_sclient_t *c)
{
    if (!m->cap_clients)
        return NULL;
    for (size_t s = slot_of(m, c); m->clients[s]; s = (s + 1) & (m->cap_clients - 1))
        if (m->clients[s]->c == c)
            return m->clients[s];
    return NULL;
}

/* An endpoint in a topic level: MQTT forbids + and # in published topics. */
static char *topic_level(const char *ep)
{
    char *t = strdup(ep);
    for (char *p = t; p && *p; p++)
        if (*p == '+' || *p == '#')
            *p = '_';
    return t;
}

static mq_client_t *client_get(gw_mqtt_t *m, gw_sclient_t *c)
{
    mq_client_t *cl = client_find(m, c);
    if (cl)
        return cl;
    gw_vclient_t *vc = gw_store_client_app(c);
    if (!vc)
        return NULL;
    if ((m->n_clients + 1) * 2 > m->cap_clients && clients_grow(m) < 0)
        return NULL;
    cl = calloc(1, sizeof *cl);
    if (!cl)
        return NULL;
    cl->c = c;
    cl->registered = -1;
    cl->status_dirty = true;
    cl->endpoint = strdup(gw_vclient_endpoint(vc));
    char *lvl = cl->endpoint ? topic_level(cl->endpoint) : NULL;
    size_t n = lvl ? strlen(m->cfg->topic_prefix) + strlen(lvl) + 2 : 0;
    cl->topic = lvl ? malloc(n) : NULL;
    if (cl->topic)
        snprintf(cl->topic, n, "%s/%s", m->cfg->topic_prefix, lvl);
    cl->node = cl->endpoint ? strdup(cl->endpoint) : NULL;
    for (char *p = cl->node; p && *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
            *p = '_';
    free(lvl);
    if (!cl->endpoint || !cl->topic || !cl->node) {
        free(cl->endpoint);
        free(cl->topic);
        free(cl->node);
        free(cl);
        return NULL;
    }
    size_t s = slot_of(m, c);
    while (m->clients[s])
        s = (s + 1) & (m->cap_clients - 1);
    m->clients[s] = cl;
    m->n_clients++;
    return cl;
}

void gw_mqtt_client_free(mq_client_t *cl)
{
    free(cl->endpoint);
    free(cl->topic);
    free(cl->node);
    free(cl->ann);
    free(cl);
}

mq_client_t *gw_mqtt_client_find_ep(gw_mqtt_t *m, const char *ep, size_t len)
{
    /* Commands are rare: a scan is fine where a second index would cost
     * memory per client. */
    for (size_t i = 0; i < m->cap_clients; i++) {
        mq_client_t *cl = m->clients[i];
        if (cl && strlen(cl->endpoint) == len && memcmp(cl->endpoint, ep, len) == 0)
            return cl;
    }
    return NULL;
}

/* ---- publishing ------------------------------------------------------- */

char *gw_mqtt_value_topic(const mq_client_t *cl, const gw_path_t *p)
{
    size_t n = strlen(cl->topic) + 32;
    char *t = malloc(n);
    if (!t)
        return NULL;
    if (p->len == 4)
        snprintf(t, n, "%s/%u/%u/%u/%u", cl->topic, p->id[0], p->id[1], p->id[2], p->id[3]);
    else
        snprintf(t, n, "%s/%u/%u/%u", cl->topic, p->id[0], p->id[1], p->id[2]);
    return t;
}

/* The next free entry of the pending list (zeroed), or NULL; the flush
 * timer is armed. */
static mq_pending_t *pending_push(gw_mqtt_t *m, mq_client_t *cl)
{
    if (m->n_pend == m->cap_pend) {
        size_t cap = m->cap_pend ? m->cap_pend * 2 : 16;
        mq_pending_t *p = realloc(m->pend, cap * sizeof *p);
        if (!p)
            return NULL;
        m->pend = p;
        m->cap_pend = cap;
    }
    mq_pending_t *p = &m->pend[m->n_pend];
    memset(p, 0, sizeof *p);
    p->cl = cl;
    if (!gw_timer_active(&m->flush_timer))
        gw_timer_start(m->loop, &m->flush_timer, 0);
    return p;
}

static void publish_status(gw_mqtt_t *m, mq_client_t *cl)
{
    /* The gateway's own endpoint shares its topic level with the birth and
     * will on <prefix>/<gateway>/status, which say all there is to say. */
    if (strcmp(cl->endpoint, m->gateway) == 0) {
        cl->status_dirty = false;
        cl->registered = 0;
        return;
    }
    gw_vclient_t *vc = gw_store_client_app(cl->c);
    bool reg = vc && gw_vclient_registered(vc);
    /* Formatted on the out thread with the values (gw_mqtt_out_values): an
     * entry without a path is cl's status. */
    mq_pending_t *p = pending_push(m, cl);
    if (!p)
        return;
    p->rec.value.type = GW_TYPE_BOOLEAN;
    p->rec.value.v.b = reg;
    p->rec.has_time = cl->last_ms != 0;
    p->rec.time = (double)cl->last_ms;
    m->n_pend++;
    cl->registered = reg;
    cl->status_dirty = false;
}

static void on_status_timer(void *ctx)
{
    gw_mqtt_t *m = ctx;
    gw_mqtt_out_log_drops(m);
    int64_t now = gw_now_ms();
    size_t slice = (m->cap_clients + STATUS_SLICES - 1) / STATUS_SLICES;
    if (m->status_cursor >= m->cap_clients)
        m->status_cursor = 0;
    size_t end = m->status_cursor + slice < m->cap_clients ? m->status_cursor + slice : m->cap_clients;
    for (size_t i = m->status_cursor; i < end; i++) {
        mq_client_t *cl = m->clients[i];
        if (!cl)
            continue;
        gw_vclient_t *vc = gw_store_client_app(cl->c);
        int reg = vc && gw_vclient_registered(vc);
        if (reg != cl->registered || (cl->status_dirty && (!cl->status_ms || now - cl->status_ms >= STATUS_MIN_MS))) {
            publish_status(m, cl);
            cl->status_ms = now;
        }
    }
    m->status_cursor = end;
    gw_timer_start(m->loop, &m->status_timer, STATUS_SLICE_MS);
}

/* The array itself moves to the loop's list for the out thread; the next
 * value starts a new one. */
static void pending_to_list(gw_mqtt_t *m)
{
    if (!m->n_pend)
        return;
    gw_mqtt_out_values(m, m->pend, m->n_pend);
    m->pend = NULL;
    m->n_pend = m->cap_pend = 0;
}

/* The loop's list goes to the out thread; when the thread holds the lock
 * that instant, a millisecond later (see gw_mqtt_out_hand). */
static void on_flush(void *ctx)
{
    gw_mqtt_t *m = ctx;
    pending_to_list(m);
    if (gw_mqtt_out_hand(m, false) == -EAGAIN)
        gw_timer_start(m->loop, &m->flush_timer, 1);
}

void gw_mqtt_flush_soon(gw_mqtt_t *m)
{
    if (!gw_timer_active(&m->flush_timer))
        gw_timer_start(m->loop, &m->flush_timer, 0);
}

static void on_value(void *ctx, gw_sclient_t *c, const gw_path_t *path, const gw_value_t *value, bool changed)
{
    (void)changed;
    gw_mqtt_t *m = ctx;
    /* Security (0) holds keys and Server (1) the LwM2M session's own
     * settings: neither is a reading, and keys must never leave. */
    if (path->len < 3 || value->type == GW_TYPE_NONE || path->id[0] <= 1)
        return;
    mq_client_t *cl = client_get(m, c);
    mq_pending_t *p = cl ? pending_push(m, cl) : NULL;
    if (!p)
        return;
    p->rec.path = *path;
    p->rec.value = *value;
    gw_value_t cur;
    int64_t ts = 0;
    if (gw_store_get(c, path, &cur, &ts) < 0 || ts <= 0)
        ts = gw_wall_ms();
    p->rec.has_time = true;
    p->rec.time = (double)ts / 1000.0;
    if (value->type == GW_TYPE_STRING || value->type == GW_TYPE_OPAQUE || value->type == GW_TYPE_CORELNK) {
        p->bytes = malloc(value->v.bytes.len ? value->v.bytes.len : 1);
        if (!p->bytes)
            return;
        memcpy(p->bytes, value->v.bytes.ptr, value->v.bytes.len);
        p->rec.value.v.bytes.ptr = p->bytes;
    }
    m->n_pend++;
    cl->last_ms = ts;
    cl->status_dirty = true;
    if (m->cfg->homeassistant)
        gw_mqtt_ha_announce(m, cl, path, false);
}

/* ---- events on the loop --------------------------------------------- */

static void on_connected_loop(gw_mqtt_t *m)
{
    bool first = !m->ever_connected;
    m->connected = true;
    m->ever_connected = true;
    m->connecting = false;
    m->backoff_ms = BACKOFF_MIN_MS;
    m->last_error[0] = '\0';
    gw_timer_stop(m->loop, &m->retry_timer);
    gw_notice("mqtt: connected to %s%s", m->cfg->uri, first ? "" : " again");
    gw_mqtt_publish(m, m->status_topic, "online", 6, m->cfg->qos, true);
    if (m->cfg->commands) {
        size_t n = strlen(m->cfg->topic_prefix) + 16;
        char *t = malloc(n);
        if (t) {
            snprintf(t, n, "%s/+/+/+/+/set", m->cfg->topic_prefix);
            if (gw_mqtt_out_command(m, MQ_CMD_SUBSCRIBE, t, m->cfg->qos ? 1 : 0) < 0)
                gw_warn("mqtt: cannot subscribe to %s: out of memory", t);
            free(t);
        }
    }
    /* A broker that restarted without persistence lost the retained
     * statuses and discovery configs: they are sent again on every
     * connection (values are not: their next reading brings them). */
    for (size_t i = 0; i < m->cap_clients; i++) {
        mq_client_t *cl = m->clients[i];
        if (!cl)
            continue;
        cl->status_dirty = true;
        if (m->cfg->homeassistant && !first)
            for (size_t k = 0; k < cl->n_ann; k++)
                gw_mqtt_ha_announce(m, cl, &cl->ann[k].path, true);
    }
}

static void handle_event(gw_mqtt_t *m, mq_event_t *e)
{
    switch (e->kind) {
    case EV_CONNECTED: on_connected_loop(m); break;
    case EV_CONNECT_FAILED:
        m->connecting = false;
        m->connect_failures++;
        if (m->stopping)
            break;
        /* Logged once per distinct reason, so a broker down for hours
         * writes one line, not one per attempt. */
        {
            char why[256];
            snprintf(why, sizeof why, "%s", e->text ? e->text : "no answer");
            if (strcmp(why, m->last_error) != 0)
                gw_warn("mqtt: cannot connect to %s: %s (paho code %d); retrying with backoff up to %d s",
                        m->cfg->uri, why, e->code, BACKOFF_MAX_MS / 1000);
            snprintf(m->last_error, sizeof m->last_error, "%s", why);
        }
        /* After a first connection paho's automatic reconnect retries
         * (with the same backoff); before it, this timer does. */
        if (!m->ever_connected)
            gw_timer_start(m->loop, &m->retry_timer, m->backoff_ms);
        m->backoff_ms = m->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : m->backoff_ms * 2;
        break;
    case EV_LOST:
        m->connected = false;
        gw_warn("mqtt: connection to %s lost (%s); reconnecting, messages buffered up to %d", m->cfg->uri,
                e->text ? e->text : "no reason given", (int)m->cfg->buffer_max);
        break;
    case EV_MESSAGE:
        if (m->cfg->commands && e->text)
            gw_mqtt_command(m, e->text, e->payload ? e->payload : "", e->payload_len);
        break;
    case EV_SUB_FAILED:
        gw_warn("mqtt: cannot subscribe to %s/+/+/+/+/set (%s, paho code %d): commands are not received",
                m->cfg->topic_prefix, e->text ? e->text : "?", e->code);
        break;
    case EV_SUBSCRIBED:
        gw_info("mqtt: subscribed to %s/+/+/+/+/set: commands are received", m->cfg->topic_prefix);
        break;
    case EV_TLS_ERROR:
        gw_err("mqtt: TLS with %s failed: %s%s", m->cfg->uri, e->text ? e->text : "",
               m->cfg->ca_file ? " (is tls.ca_file the CA that signed the broker's certificate?)" : "");
        break;
    }
}

/* ---- lifecycle -------------------------------------------------------- */

static char *expand_client_id(const char *pattern, const char *gateway)
{
    const char *ph = strstr(pattern, "{gateway}");
    size_t n = strlen(pattern) + strlen(gateway) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    if (ph)
        snprintf(s, n, "%.*s%s%s", (int)(ph - pattern), pattern, gateway, ph + 9);
    else
        snprintf(s, n, "%s", pattern);
    return s;
}

static char *paho_uri(const char *uri)
{
    char *s = malloc(strlen(uri) + 2);
    if (!s)
        return NULL;
    if (strncmp(uri, "mqtt://", 7) == 0)
        sprintf(s, "tcp://%s", uri + 7);
    else if (strncmp(uri, "mqtts://", 8) == 0)
        sprintf(s, "ssl://%s", uri + 8);
    else
        strcpy(s, uri);
    return s;
}

int gw_mqtt_new(gw_loop_t *loop, gw_store_t *store, const gw_config_mqtt_t *cfg, const char *gateway,
                const char *state_dir, const gw_mqtt_ops_t *ops, gw_mqtt_t **out)
{
    *out = NULL;
    gw_mqtt_t *m = calloc(1, sizeof *m);
    char *client_id = NULL;
    int rc = -ENOMEM;
    if (!m)
        return -ENOMEM;
    m->loop = loop;
    m->store = store;
    m->cfg = cfg;
    m->ops = *ops;
    m->buf_fd = -1;
    m->backoff_ms = BACKOFF_MIN_MS;
    gw_timer_init(&m->retry_timer, on_retry, m);
    gw_timer_init(&m->status_timer, on_status_timer, m);
    gw_timer_init(&m->flush_timer, on_flush, m);
    m->gateway = strdup(gateway);
    size_t n = strlen(cfg->topic_prefix) + strlen(gateway) + 16;
    m->status_topic = malloc(n);
    if (m->status_topic && m->gateway) {
        char *lvl = topic_level(gateway);
        if (lvl)
            snprintf(m->status_topic, n, "%s/%s/status", cfg->topic_prefix, lvl);
        free(lvl);
    }
    m->persist_dir = malloc(strlen(state_dir) + 8);
    if (m->persist_dir)
        sprintf(m->persist_dir, "%s/mqtt", state_dir);
    m->uri = paho_uri(cfg->uri);
    client_id = expand_client_id(cfg->client_id, gateway);
    m->mb = calloc(1, sizeof *m->mb);
    if (!m->gateway || !m->status_topic || !m->persist_dir || !m->uri || !client_id || !m->mb)
        goto fail;
    pthread_mutex_init(&m->mb->lock, NULL);
    m->mb->refs = 1;
    m->mb->m = m;
    m->mb->loop = loop;
    /* The buffer file holds the messages of the devices: a directory only
     * this user can enter keeps them private. */
    if (mkdir(m->persist_dir, 0700) < 0 && errno != EEXIST) {
        gw_err("mqtt: cannot create %s for the message buffer: %s", m->persist_dir, strerror(errno));
        rc = -EIO;
        goto fail;
    }
    chmod(m->persist_dir, 0700);
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.sendWhileDisconnected = 1;
    co.allowDisconnectedSendAtAnyTime = 1; /* before the first connection too */
    co.maxBufferedMessages = cfg->buffer_max;
    co.deleteOldestMessages = 0;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    /* No persistence of paho's own: the mirror's buffer file keeps every
     * QoS >= 1 message until paho reports it delivered (mqtt_out.c), with
     * one write per batch. paho's file persistence wrote and removed one
     * file per message, and the file system's inode allocation made that
     * the limit of QoS 1 throughput. */
    m->mb->track = cfg->qos > 0;
    int prc = MQTTAsync_createWithOptions(&m->h, m->uri, client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
    if (prc != MQTTASYNC_SUCCESS) {
        gw_err("mqtt: paho refused uri %s or client id %s (paho error %d)", cfg->uri, client_id, prc);
        rc = -EINVAL;
        goto fail;
    }
    MQTTAsync_setCallbacks(m->h, m->mb, on_lost, on_message, on_delivered);
    rc = gw_mqtt_out_start(m);
    if (rc < 0)
        goto fail;
    MQTTAsync_setConnected(m->h, m->mb, on_connected);
    rc = gw_store_listen(store, on_value, m);
    if (rc < 0)
        goto fail;
    if (start_connect(m) < 0)
        gw_timer_start(loop, &m->retry_timer, m->backoff_ms);
    gw_timer_start(loop, &m->status_timer, STATUS_SLICE_MS);
    gw_info("mqtt: mirroring to %s as \"%s\" under %s/ (QoS %d, %s)", cfg->uri, client_id, cfg->topic_prefix,
            (int)cfg->qos, cfg->format == GW_MQTT_FORMAT_SENML_JSON ? "SenML JSON" : "plain values");
    free(client_id);
    *out = m;
    return 0;
fail:
    free(client_id);
    gw_mqtt_free(&m);
    return rc;
}

void gw_mqtt_client_removed(gw_mqtt_t *m, gw_sclient_t *c)
{
    if (!m)
        return;
    mq_client_t *cl = client_find(m, c);
    if (!cl)
        return;
    /* Its values queued so far go before the clearing messages and the
     * note that frees cl, all in the loop's list (no wait for the thread). */
    pending_to_list(m);
    if (m->cfg->homeassistant)
        gw_mqtt_ha_clear(m, cl);
    size_t n = strlen(cl->topic) + 8;
    char *topic = malloc(n);
    if (topic) {
        snprintf(topic, n, "%s/status", cl->topic);
        gw_mqtt_publish(m, topic, "", 0, m->cfg->qos, true);
    }
    free(topic);
    /* Rebuild the table without it: removals happen on reload only. */
    mq_client_t **old = m->clients;
    size_t cap = m->cap_clients;
    m->clients = calloc(cap, sizeof *m->clients);
    if (!m->clients) {
        m->clients = old; /* keep it: a stale entry is never matched again (the pointer is freed) */
        cl->c = NULL;
        return;
    }
    m->n_clients = 0;
    for (size_t i = 0; i < cap; i++) {
        if (!old[i] || old[i] == cl)
            continue;
        size_t s = slot_of(m, old[i]->c);
        while (m->clients[s])
            s = (s + 1) & (cap - 1);
        m->clients[s] = old[i];
        m->n_clients++;
    }
    free(old);
    /* Values queued before this point still name cl's topic. */
    gw_mqtt_out_forget(m, cl);
}

void gw_mqtt_shutdown(gw_mqtt_t *m)
{
    if (!m || m->stopping)
        return;
    pending_to_list(m);
    /* Behind everything already queued, so it is the last word. */
    gw_mqtt_out_offline(m);
    m->stopping = true;
}

void gw_mqtt_free(gw_mqtt_t **pm)
{
    gw_mqtt_t *m = *pm;
    if (!m)
        return;
    gw_store_unlisten(m->store, on_value, m);
    pending_to_list(m); /* (arms the flush timer, stopped next) */
    gw_timer_stop(m->loop, &m->retry_timer);
    gw_timer_stop(m->loop, &m->status_timer);
    gw_timer_stop(m->loop, &m->flush_timer);
    if (m->h) {
        /* The process is ending (the loop no longer runs): the one place
         * the mirror waits for the broker, at most 2 s, so the clean
         * `offline` gets there before the connection closes. */
        gw_mqtt_out_stop(m); /* the queue drains into paho first */
        if (m->offline_sent && m->connected)
            MQTTAsync_waitForCompletion(m->h, m->offline_token, 2000);
        if (m->connected) {
            MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
            d.timeout = 1000;
            MQTTAsync_disconnect(m->h, &d);
        }
        /* Joins paho's threads: no callback runs after this. */
        MQTTAsync_destroy(&m->h);
    } else {
        gw_mqtt_out_hand(m, true); /* no thread: dropped and counted */
    }
    gw_mqtt_out_close(m);
    if (m->mb) {
        pthread_mutex_lock(&m->mb->lock);
        m->mb->m = NULL;
        pthread_mutex_unlock(&m->mb->lock);
        mailbox_unref(m->mb);
    }
    for (size_t i = 0; i < m->n_pend; i++)
        free(m->pend[i].bytes);
    free(m->pend);
    for (size_t i = 0; i < m->cap_clients; i++)
        if (m->clients[i])
            gw_mqtt_client_free(m->clients[i]);
    while (m->dead) {
        mq_client_t *cl = m->dead;
        m->dead = cl->dead_next;
        gw_mqtt_client_free(cl);
    }
    free(m->clients);
    free(m->gateway);
    free(m->status_topic);
    free(m->persist_dir);
    free(m->uri);
    free(m);
    *pm = NULL;
}

void gw_mqtt_stats(const gw_mqtt_t *m, gw_mqtt_stats_t *out)
{
    gw_mqtt_out_stats(m, out);
    out->delivered += atomic_load(&m->mb->delivered);
    out->connected = m->connected;
    out->connect_failures = m->connect_failures;
}
