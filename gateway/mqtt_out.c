/*
 * gateway/mqtt_out.c - the MQTT mirror's outgoing queue and the thread that
 * hands it to paho.
 *
 * MQTTAsync_sendMessage takes paho's lock (held by its own threads while
 * they do socket I/O) and, at QoS >= 1, writes a persistence file per
 * message. Measured on the loop thread with the broker away, that turned a
 * 52 us notification p99 into milliseconds (bench_notify,
 * notify_p99_us_broker_down). So the loop only copies the message into this
 * queue (two allocations) and one thread of ours calls paho, in queue
 * order. The queue holds at most buffer_max messages: past that, or when
 * paho's own buffer is full while the broker is away, a message is dropped
 * and counted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "mqtt_internal.h"

struct mq_out {
    mq_out_t *next;
    int cmd;      /* MQ_CMD_* */
    char *topic;
    void *payload;
    size_t len;
    int qos;
    bool retain;
    bool offline; /* gw_mqtt_out_offline's: its token is kept */
};

static void out_free(mq_out_t *o)
{
    free(o->topic);
    free(o->payload);
    free(o);
}

static void send_one(gw_mqtt_t *m, mq_out_t *o)
{
    if (o->cmd == MQ_CMD_CONNECT) {
        gw_mqtt_connect_now(m);
        return;
    }
    if (o->cmd == MQ_CMD_SUBSCRIBE) {
        gw_mqtt_subscribe_now(m, o->topic, o->qos);
        return;
    }
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    msg.payload = o->payload;
    msg.payloadlen = (int)o->len;
    msg.qos = o->qos;
    msg.retained = o->retain;
    int rc = MQTTAsync_sendMessage(m->h, o->topic, &msg, &ro);
    if (rc == MQTTASYNC_SUCCESS) {
        atomic_fetch_add(&m->published, 1);
        if (o->qos == 0)
            atomic_fetch_add(&m->delivered_qos0, 1);
        if (o->offline) {
            pthread_mutex_lock(&m->out_lock);
            m->offline_token = ro.token;
            m->offline_sent = true;
            pthread_mutex_unlock(&m->out_lock);
        }
    } else {
        atomic_fetch_add(&m->dropped, 1);
    }
}

static void *out_main(void *arg)
{
    gw_mqtt_t *m = arg;
    /* Linux nices threads one by one: on a small gateway (2 cores) the
     * loop must win the CPU over paho's persistence writes, not share it.
     * Failing to lower our own priority changes nothing else. */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
    pthread_mutex_lock(&m->out_lock);
    for (;;) {
        while (!m->out_head && !m->out_stop)
            pthread_cond_wait(&m->out_cond, &m->out_lock);
        if (!m->out_head)
            break; /* stopping and drained */
        mq_out_t *list = m->out_head;
        m->out_head = m->out_tail = NULL;
        m->out_n = 0;
        pthread_mutex_unlock(&m->out_lock);
        while (list) {
            mq_out_t *o = list;
            list = o->next;
            send_one(m, o);
            out_free(o);
        }
        pthread_mutex_lock(&m->out_lock);
    }
    pthread_mutex_unlock(&m->out_lock);
    return NULL;
}

static int enqueue(gw_mqtt_t *m, int cmd, const char *topic, const void *payload, size_t len, int qos,
                   bool retain, bool offline)
{
    mq_out_t *o = calloc(1, sizeof *o);
    if (o) {
        o->cmd = cmd;
        o->topic = strdup(topic ? topic : "");
        o->payload = malloc(len ? len : 1);
    }
    if (!o || !o->topic || !o->payload) {
        if (o)
            out_free(o);
        atomic_fetch_add(&m->dropped, 1);
        return -ENOMEM;
    }
    if (len)
        memcpy(o->payload, payload, len);
    o->len = len;
    o->qos = qos;
    o->retain = retain;
    o->offline = offline;
    pthread_mutex_lock(&m->out_lock);
    if (!m->out_started || (cmd == MQ_CMD_PUBLISH && !offline && m->out_n >= (size_t)m->cfg->buffer_max)) {
        pthread_mutex_unlock(&m->out_lock);
        out_free(o);
        atomic_fetch_add(&m->dropped, 1);
        return -ENOBUFS;
    }
    if (m->out_tail)
        m->out_tail->next = o;
    else
        m->out_head = o;
    m->out_tail = o;
    bool wake = m->out_n++ == 0;
    pthread_mutex_unlock(&m->out_lock);
    if (wake)
        pthread_cond_signal(&m->out_cond);
    return 0;
}

int gw_mqtt_publish(gw_mqtt_t *m, const char *topic, const void *payload, size_t len, int qos, bool retain)
{
    return enqueue(m, MQ_CMD_PUBLISH, topic, payload, len, qos, retain, false);
}

int gw_mqtt_out_command(gw_mqtt_t *m, int cmd, const char *topic, int qos)
{
    int rc = enqueue(m, cmd, topic, NULL, 0, qos, false, false);
    if (rc < 0)
        atomic_fetch_sub(&m->dropped, 1); /* not a message */
    return rc;
}

void gw_mqtt_out_offline(gw_mqtt_t *m)
{
    /* QoS 1 at least, so there is a delivery to wait for at exit. */
    enqueue(m, MQ_CMD_PUBLISH, m->status_topic, "offline", 7, m->cfg->qos ? m->cfg->qos : 1, true, true);
}

int gw_mqtt_out_start(gw_mqtt_t *m)
{
    if (pthread_mutex_init(&m->out_lock, NULL) != 0)
        return -ENOMEM;
    if (pthread_cond_init(&m->out_cond, NULL) != 0) {
        pthread_mutex_destroy(&m->out_lock);
        return -ENOMEM;
    }
    int rc = pthread_create(&m->out_thread, NULL, out_main, m);
    if (rc != 0) {
        pthread_cond_destroy(&m->out_cond);
        pthread_mutex_destroy(&m->out_lock);
        return -rc;
    }
    m->out_started = true;
    return 0;
}

void gw_mqtt_out_stop(gw_mqtt_t *m)
{
    if (!m->out_started)
        return;
    pthread_mutex_lock(&m->out_lock);
    m->out_stop = true;
    pthread_mutex_unlock(&m->out_lock);
    pthread_cond_signal(&m->out_cond);
    pthread_join(m->out_thread, NULL);
    m->out_started = false;
    pthread_cond_destroy(&m->out_cond);
    pthread_mutex_destroy(&m->out_lock);
}

void gw_mqtt_out_log_drops(gw_mqtt_t *m)
{
    uint64_t d = atomic_load(&m->dropped);
    if (d == m->dropped_logged)
        return;
    /* One line when the count passes a power of two: a broker away for a
     * day does not fill the journal, and the count still shows. */
    uint64_t p = 1;
    while (p <= m->dropped_logged)
        p *= 2;
    if (d >= p)
        gw_warn("mqtt: %llu message(s) dropped so far (buffer_max %d reached while %s)",
                (unsigned long long)d, (int)m->cfg->buffer_max,
                m->connected ? "the broker is slow" : "the broker is away");
    if (d >= p)
        m->dropped_logged = d;
}

void gw_mqtt_out_stats(const gw_mqtt_t *m, gw_mqtt_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->published = atomic_load(&m->published);
    out->dropped = atomic_load(&m->dropped);
    out->delivered = atomic_load(&m->delivered_qos0);
}
