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
 *
 * While the broker is away the thread does not hand messages to paho (whose
 * persistence writes and later removes one file per message) but holds them
 * itself, at most buffer_max, and at QoS >= 1 appends each batch to one
 * file, <state_dir>/mqtt/buffer (mode 0600), with one write. Once paho is
 * connected the held messages go first, in order, and the file is emptied.
 * A gateway restarted meanwhile reads the file back first. A record cut
 * short by a crash is the file's last and is ignored; a crash after the
 * hand-over but before the file was emptied sends those again (QoS 1 is at
 * least once).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mqtt_internal.h"

/* The thread takes the queue when OUT_WAKE_N messages wait, or OUT_PERIOD_MS
 * after the first: batches instead of a thread switch per message. */
enum { OUT_WAKE_N = 256, OUT_PERIOD_MS = 20 };

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

/* Record: u32 topic length, u32 payload length, u8 qos, u8 retain (host
 * order: the file never leaves this machine), topic, payload. */
static int append_records(gw_mqtt_t *m, mq_out_t *list)
{
    if (m->buf_fd < 0)
        return 0;
    gw_buf_t b = {0};
    int rc = 0;
    for (mq_out_t *o = list; o && rc == 0; o = o->next) {
        uint32_t tl = (uint32_t)strlen(o->topic), pl = (uint32_t)o->len;
        uint8_t f[2] = {(uint8_t)o->qos, o->retain};
        rc = gw_buf_append(&b, &tl, 4);
        if (rc == 0)
            rc = gw_buf_append(&b, &pl, 4);
        if (rc == 0)
            rc = gw_buf_append(&b, f, 2);
        if (rc == 0)
            rc = gw_buf_append(&b, o->topic, tl);
        if (rc == 0 && pl)
            rc = gw_buf_append(&b, o->payload, pl);
    }
    size_t off = 0;
    while (rc == 0 && off < b.len) {
        ssize_t w = write(m->buf_fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = -errno;
        else
            off += (size_t)w;
    }
    gw_buf_free(&b);
    return rc;
}

static void hold(gw_mqtt_t *m, mq_out_t *o)
{
    if (m->held_n >= (size_t)m->cfg->buffer_max && !o->offline) {
        atomic_fetch_add(&m->dropped, 1);
        out_free(o);
        return;
    }
    o->next = NULL;
    if (m->held_tail)
        m->held_tail->next = o;
    else
        m->held_head = o;
    m->held_tail = o;
    m->held_n++;
}

static void release_held(gw_mqtt_t *m)
{
    while (m->held_head) {
        mq_out_t *o = m->held_head;
        m->held_head = o->next;
        send_one(m, o);
        out_free(o);
    }
    m->held_tail = NULL;
    m->held_n = 0;
    if (m->buf_fd >= 0 && ftruncate(m->buf_fd, 0) < 0)
        atomic_fetch_add(&m->buf_errors, 1);
}

/* The previous run's held messages, before anything of this run. */
static void restore_file(gw_mqtt_t *m)
{
    struct stat st;
    if (m->buf_fd < 0 || fstat(m->buf_fd, &st) < 0 || st.st_size <= 0)
        return;
    uint8_t *data = malloc((size_t)st.st_size);
    ssize_t n = data ? pread(m->buf_fd, data, (size_t)st.st_size, 0) : -1;
    size_t off = 0;
    while (n > 0 && off + 10 <= (size_t)n) {
        uint32_t tl, pl;
        memcpy(&tl, data + off, 4);
        memcpy(&pl, data + off + 4, 4);
        if (tl == 0 || tl > 65535 || (size_t)n - off - 10 < (size_t)tl + pl || data[off + 8] > 2)
            break; /* cut short (or not ours): the rest is ignored */
        mq_out_t *o = calloc(1, sizeof *o);
        if (!o)
            break;
        o->cmd = MQ_CMD_PUBLISH;
        o->qos = data[off + 8];
        o->retain = data[off + 9] != 0;
        o->topic = strndup((const char *)data + off + 10, tl);
        o->payload = malloc(pl ? pl : 1);
        if (!o->topic || !o->payload) {
            out_free(o);
            break;
        }
        memcpy(o->payload, data + off + 10 + tl, pl);
        o->len = pl;
        hold(m, o);
        m->restored++;
        off += 10 + (size_t)tl + pl;
    }
    free(data);
    /* What was read is held in memory now and written again if the broker
     * is still away at the first batch: the file restarts from what is
     * held, so nothing is in it twice. */
    if (ftruncate(m->buf_fd, 0) < 0 || append_records(m, m->held_head) < 0)
        atomic_fetch_add(&m->buf_errors, 1);
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
        while ((!m->out_head || m->out_n < OUT_WAKE_N) && !m->out_stop) {
            if (!m->held_head && !m->out_head) {
                pthread_cond_wait(&m->out_cond, &m->out_lock);
                continue;
            }
            /* A few messages wait up to OUT_PERIOD_MS to travel as a
             * batch; held messages wait for paho's connection, which no
             * one signals here. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (m->out_head ? OUT_PERIOD_MS : 100) * 1000000L;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            if (pthread_cond_timedwait(&m->out_cond, &m->out_lock, &ts) == ETIMEDOUT && m->out_head)
                break;
            if (m->held_head && atomic_load(&m->mb->up)) {
                pthread_mutex_unlock(&m->out_lock);
                release_held(m);
                pthread_mutex_lock(&m->out_lock);
            }
        }
        if (!m->out_head)
            break; /* stopping and drained */
        mq_out_t *list = m->out_head;
        m->out_head = m->out_tail = NULL;
        m->out_n = 0;
        pthread_mutex_unlock(&m->out_lock);
        bool up = atomic_load(&m->mb->up);
        if (up && m->held_head)
            release_held(m);
        mq_out_t *keep = NULL, **kt = &keep;
        while (list) {
            mq_out_t *o = list;
            list = o->next;
            o->next = NULL;
            if (up || o->cmd != MQ_CMD_PUBLISH || o->offline) {
                send_one(m, o);
                out_free(o);
            } else {
                *kt = o;
                kt = &o->next;
            }
        }
        if (keep && append_records(m, keep) < 0)
            atomic_fetch_add(&m->buf_errors, 1);
        while (keep) {
            mq_out_t *o = keep;
            keep = o->next;
            hold(m, o);
        }
        pthread_mutex_lock(&m->out_lock);
    }
    pthread_mutex_unlock(&m->out_lock);
    /* Still away at the end: the held messages stay in the file. */
    while (m->held_head) {
        mq_out_t *o = m->held_head;
        m->held_head = o->next;
        out_free(o);
    }
    m->held_tail = NULL;
    m->held_n = 0;
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
    /* Waking the thread is a system call on the loop: done for the first
     * message and then once per OUT_WAKE_N; the thread looks every
     * OUT_PERIOD_MS anyway while messages wait. */
    m->out_n++;
    bool wake = m->out_n == 1 || m->out_n % OUT_WAKE_N == 0 || cmd != MQ_CMD_PUBLISH || offline;
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
    m->buf_fd = -1;
    if (m->cfg->qos > 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/buffer", m->persist_dir);
        m->buf_fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (m->buf_fd < 0) {
            gw_err("mqtt: cannot open %s for the message buffer: %s", path, strerror(errno));
            return -EIO;
        }
        restore_file(m);
        if (m->restored)
            gw_info("mqtt: %zu message(s) kept from the last run are sent once connected", m->restored);
    }
    if (pthread_mutex_init(&m->out_lock, NULL) != 0)
        return -ENOMEM;
    if (pthread_cond_init(&m->out_cond, NULL) != 0) {
        pthread_mutex_destroy(&m->out_lock);
        return -ENOMEM;
    }
    int rc = pthread_create(&m->out_thread, NULL, out_main, m);
    if (rc != 0) {
        if (m->buf_fd >= 0)
            close(m->buf_fd);
        m->buf_fd = -1;
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
    if (m->buf_fd >= 0)
        close(m->buf_fd);
    m->buf_fd = -1;
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
    uint64_t e = atomic_load(&m->buf_errors);
    if (e != m->buf_errors_logged) {
        gw_warn("mqtt: cannot write %s/buffer (%llu time(s)): messages held while the broker is away "
                "are not kept across a restart", m->persist_dir, (unsigned long long)e);
        m->buf_errors_logged = e;
    }
}

void gw_mqtt_out_stats(const gw_mqtt_t *m, gw_mqtt_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->published = atomic_load(&m->published);
    out->dropped = atomic_load(&m->dropped);
    out->delivered = atomic_load(&m->delivered_qos0);
}
