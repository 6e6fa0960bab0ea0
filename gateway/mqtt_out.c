/*
 * gateway/mqtt_out.c - the MQTT mirror's outgoing queue and the thread that
 * hands it to paho.
 *
 * MQTTAsync_sendMessage takes paho's lock (held by its own threads while
 * they do socket I/O). Measured on the loop thread with the broker away,
 * calling paho there turned a 52 us notification p99 into milliseconds
 * (bench_notify, notify_p99_us_broker_down). So the loop only appends to
 * this queue and one thread of ours calls paho, in queue order. A loop
 * turn's values arrive as one item (the store listener's array, moved, not
 * copied) and this thread formats their topics and payloads: no allocation
 * or formatting per value on the loop. The loop wakes the thread only when
 * it sleeps with nothing to do (or OUT_WAKE_N messages wait); otherwise the
 * thread looks by itself within OUT_PERIOD_MS, so a run of values costs the
 * loop no system call. The queue holds at most buffer_max messages: past
 * that, or when paho's own buffer is full, a message is dropped and counted.
 *
 * paho runs without persistence: at QoS >= 1 this thread's file,
 * <state_dir>/mqtt/buffer (mode 0600), is the one durable record. Each
 * batch's messages are appended with one write before paho gets any of
 * them, and each stays in the file until paho reports it delivered (its
 * token in the mailbox's acks); the header then moves past the
 * acknowledged prefix, and the file is cut back or rewritten once that
 * prefix is large (buffer_shrink). paho's file persistence wrote and
 * removed one file per message: on ext4 the inode allocation for those
 * files capped QoS 1 at about 2,000 messages a second.
 *
 * While the broker is away the thread does not hand messages to paho but
 * holds them itself, at most buffer_max; on overflow the newest are
 * dropped, before the write, so the file never has a message counted as
 * dropped. Once paho is connected the held messages go first, in order. A
 * gateway restarted (or killed) reads back every message not acknowledged,
 * in order, before anything new. A record cut short by a crash is the
 * file's last and is ignored; messages acknowledged just before a crash,
 * whose acknowledgement was not yet in the header, are sent again (QoS 1
 * is at least once).
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

#include "../lwm2m/codec.h"
#include "log.h"
#include "mqtt_internal.h"

/* The thread takes the queue when OUT_WAKE_N messages wait, or OUT_PERIOD_MS
 * after the first: batches instead of a thread switch per message. */
enum { OUT_WAKE_N = 256, OUT_PERIOD_MS = 20 };

struct mq_out {
    mq_out_t *next;
    int cmd;      /* MQ_CMD_* */
    char *topic;
    void *payload; /* MQ_CMD_VALUES: mq_pending_t[len]; MQ_CMD_FORGET: the client */
    size_t len;
    int qos;
    bool retain;
    bool offline; /* gw_mqtt_out_offline's: its token is kept */
    bool loop_owned; /* allocated on the loop: freed there (retire) */
    bool logged;  /* its record is in the buffer file, tracked as seq */
    uint64_t seq;
};

static void out_free(mq_out_t *o)
{
    if (o->cmd == MQ_CMD_VALUES) {
        mq_pending_t *p = o->payload;
        for (size_t i = 0; i < o->len; i++)
            free(p[i].bytes);
    } else if (o->cmd == MQ_CMD_FORGET) {
        gw_mqtt_client_free(o->payload);
        o->payload = NULL;
    }
    free(o->topic);
    free(o->payload);
    free(o);
}

/* Out thread: done with o. */
static void retire(gw_mqtt_t *m, mq_out_t *o)
{
    if (!o->loop_owned) {
        out_free(o);
        return;
    }
    o->next = m->retired;
    m->retired = o;
}

/* Out thread, under out_lock: the retired items go to the loop. */
static void pass_retired(gw_mqtt_t *m)
{
    while (m->retired) {
        mq_out_t *o = m->retired;
        m->retired = o->next;
        o->next = m->done;
        m->done = o;
    }
}

static void free_chain(mq_out_t *o)
{
    while (o) {
        mq_out_t *next = o->next;
        out_free(o);
        o = next;
    }
}

static mq_out_t *message_new(const gw_mqtt_t *m, char *topic, const void *payload, size_t len)
{
    mq_out_t *o = calloc(1, sizeof *o);
    void *pl = malloc(len ? len : 1);
    if (!o || !pl || !topic) {
        free(o);
        free(pl);
        free(topic);
        return NULL;
    }
    if (len)
        memcpy(pl, payload, len);
    o->cmd = MQ_CMD_PUBLISH;
    o->topic = topic;
    o->payload = pl;
    o->len = len;
    o->qos = m->cfg->qos;
    o->retain = m->cfg->retain;
    return o;
}

/* A client's retained status: plain formatting, no string in it needs
 * escaping. */
static mq_out_t *format_status(const gw_mqtt_t *m, const mq_pending_t *p)
{
    char js[160];
    int n = snprintf(js, sizeof js, "{\"state\":\"%s\"", p->rec.value.v.b ? "registered" : "not registered");
    if (p->rec.has_time) {
        int64_t ms = (int64_t)p->rec.time;
        time_t sec = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&sec, &tm);
        n += snprintf(js + n, sizeof js - (size_t)n,
                      ",\"last_reading\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"last_reading_ms\":%lld",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                      (int)(ms % 1000), (long long)ms);
    }
    snprintf(js + n, sizeof js - (size_t)n, "}");
    size_t tn = strlen(p->cl->topic) + 8;
    char *topic = malloc(tn);
    if (topic)
        snprintf(topic, tn, "%s/status", p->cl->topic);
    mq_out_t *o = message_new(m, topic, js, strlen(js));
    if (o)
        o->retain = true;
    return o;
}

/* The messages of a loop turn's values, in their order: one per value, or
 * one SenML pack per run of values of one client (a reading batch travels
 * together, each record with its time, RFC 8428). Out thread. A value that
 * cannot be formatted or allocated is counted as dropped. */
static mq_out_t *format_values(gw_mqtt_t *m, const mq_pending_t *pend, size_t n)
{
    mq_out_t *head = NULL, **tail = &head;
    gw_buf_t b = {0};
    bool senml = m->cfg->format == GW_MQTT_FORMAT_SENML_JSON;
    gw_record_t *recs = senml ? malloc(n * sizeof *recs) : NULL;
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        mq_out_t *o = NULL;
        b.len = 0;
        if (pend[i].rec.path.len == 0) {
            o = format_status(m, &pend[i]);
        } else if (senml) {
            while (j < n && pend[j].cl == pend[i].cl && pend[j].rec.path.len)
                j++;
            gw_path_t root = {{0}, 0};
            for (size_t k = i; recs && k < j; k++)
                recs[k - i] = pend[k].rec;
            if (recs && gw_senml_json_encode(&root, recs, j - i, &b) == 0)
                o = message_new(m, strdup(pend[i].cl->topic), b.data, b.len);
        } else if (gw_value_to_text(&pend[i].rec.value, &b) == 0) {
            o = message_new(m, gw_mqtt_value_topic(pend[i].cl, &pend[i].rec.path), b.data, b.len);
        }
        if (o) {
            *tail = o;
            tail = &o->next;
        } else {
            atomic_fetch_add(&m->dropped, 1);
        }
        i = j;
    }
    free(recs);
    gw_buf_free(&b);
    return head;
}

/* The buffer file: a header (BUF_MAGIC, then the offset of the first record
 * not yet acknowledged, u64 host order: the file never leaves this
 * machine), then records. Cut back to the header once everything in it is
 * acknowledged and it is BUF_TRUNC bytes or more; rewritten with only the
 * unacknowledged records (temporary file, fsync, rename) once the
 * acknowledged ones before them are BUF_COMPACT bytes. Between the two,
 * each batch of acknowledgements costs one 8-byte write of the header. */
static const char BUF_MAGIC[8] = {'G', 'W', 'M', 'Q', 'B', 'U', 'F', '1'};
enum { BUF_HDR = 16, REC_HDR = 10, BUF_TRUNC = 64 * 1024, BUF_COMPACT = 1024 * 1024 };

static size_t rec_len(const mq_out_t *o)
{
    return REC_HDR + strlen(o->topic) + o->len;
}

static bool loggable(const gw_mqtt_t *m, const mq_out_t *o)
{
    return m->buf_fd >= 0 && o->cmd == MQ_CMD_PUBLISH && o->qos > 0 && !o->offline;
}

static mq_track_t *trk_at(const gw_mqtt_t *m, size_t i)
{
    return &m->trk[(m->trk_head + i) % m->trk_cap];
}

/* Room for n more tracked messages: 0 or -ENOMEM. */
static int trk_reserve(gw_mqtt_t *m, size_t n)
{
    if (m->trk_n + n <= m->trk_cap)
        return 0;
    size_t cap = m->trk_cap ? m->trk_cap : 1024;
    while (cap < m->trk_n + n)
        cap *= 2;
    mq_track_t *t = malloc(cap * sizeof *t);
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < m->trk_n; i++)
        t[i] = *trk_at(m, i);
    free(m->trk);
    m->trk = t;
    m->trk_cap = cap;
    m->trk_head = 0;
    return 0;
}

/* Tracks o, whose record ends at end; room reserved. */
static void trk_push(gw_mqtt_t *m, mq_out_t *o, uint64_t end)
{
    mq_track_t *e = trk_at(m, m->trk_n++);
    e->end = end;
    e->token = 0;
    e->state = MQ_TRK_HELD;
    o->seq = m->trk_seq + m->trk_n - 1;
    o->logged = true;
}

static int pwrite_all(int fd, const void *data, size_t len, uint64_t off)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        p += w;
        len -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int write_header(int fd, uint64_t acked)
{
    uint8_t h[BUF_HDR];
    memcpy(h, BUF_MAGIC, sizeof BUF_MAGIC);
    memcpy(h + 8, &acked, 8);
    return pwrite_all(fd, h, sizeof h, 0);
}

/* Replaces the file by a header and len bytes of records, atomically: a
 * crash leaves the old file or the new one, whole. 0 or a negative errno
 * (the old file then stays open and in use). */
static int rewrite_file(gw_mqtt_t *m, const uint8_t *recs, size_t len)
{
    char path[4200], tmp[4208];
    snprintf(path, sizeof path, "%s/buffer", m->persist_dir);
    snprintf(tmp, sizeof tmp, "%s.new", path);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = write_header(fd, BUF_HDR);
    if (rc == 0 && len)
        rc = pwrite_all(fd, recs, len, BUF_HDR);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        unlink(tmp);
        return rc;
    }
    if (m->buf_fd >= 0)
        close(m->buf_fd);
    m->buf_fd = fd;
    m->file_acked = BUF_HDR;
    m->file_end = BUF_HDR + len;
    return 0;
}

/* Record: u32 topic length, u32 payload length, u8 qos, u8 retain (host
 * order), topic, payload. The batch's QoS >= 1 messages are appended with
 * one write, before any of them goes to paho, and tracked until the broker
 * acknowledged them. A batch that cannot be written still goes on, without
 * its records (counted in buf_errors and logged: those are not kept across
 * a restart). */
static void log_batch(gw_mqtt_t *m, mq_out_t *list)
{
    size_t n = 0;
    for (mq_out_t *o = list; o; o = o->next)
        n += loggable(m, o);
    if (n == 0)
        return;
    if (trk_reserve(m, n) < 0) {
        atomic_fetch_add(&m->buf_errors, 1);
        return;
    }
    gw_buf_t b = {0};
    int rc = 0;
    for (mq_out_t *o = list; o && rc == 0; o = o->next) {
        if (!loggable(m, o))
            continue;
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
    if (rc == 0)
        rc = pwrite_all(m->buf_fd, b.data, b.len, m->file_end);
    gw_buf_free(&b);
    if (rc < 0) {
        /* A part written is cut off: the next batch follows the last
         * whole record, and a restart reads no half one. */
        (void)!ftruncate(m->buf_fd, (off_t)m->file_end);
        atomic_fetch_add(&m->buf_errors, 1);
        return;
    }
    for (mq_out_t *o = list; o; o = o->next) {
        if (!loggable(m, o))
            continue;
        m->file_end += rec_len(o);
        trk_push(m, o, m->file_end);
    }
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
    mq_track_t *e = o->logged ? trk_at(m, (size_t)(o->seq - m->trk_seq)) : NULL;
    if (rc == MQTTASYNC_SUCCESS) {
        atomic_fetch_add(&m->published, 1);
        if (o->qos == 0)
            atomic_fetch_add(&m->delivered_qos0, 1);
        if (e) {
            /* Its acknowledgement is read by this thread only, after this. */
            e->token = ro.token;
            e->state = MQ_TRK_SENT;
        }
        if (o->offline) {
            pthread_mutex_lock(&m->out_lock);
            m->offline_token = ro.token;
            m->offline_sent = true;
            pthread_mutex_unlock(&m->out_lock);
        }
    } else {
        atomic_fetch_add(&m->dropped, 1);
        if (e)
            e->state = MQ_TRK_DONE; /* dropped: nothing to keep */
    }
}

/* The file after acknowledgements moved its first unacknowledged record. */
static void buffer_shrink(gw_mqtt_t *m)
{
    int rc;
    if (m->trk_n == 0 && m->file_end - BUF_HDR >= BUF_TRUNC) {
        /* Cut first: a crash before the header's write leaves an offset
         * past the end, which reads as nothing to send. */
        rc = ftruncate(m->buf_fd, BUF_HDR) < 0 ? -errno : 0;
        if (rc == 0) {
            m->file_end = m->file_acked = BUF_HDR;
            rc = write_header(m->buf_fd, BUF_HDR);
        }
    } else if (m->file_acked - BUF_HDR >= BUF_COMPACT) {
        size_t len = (size_t)(m->file_end - m->file_acked);
        uint64_t shift = m->file_acked - BUF_HDR;
        uint8_t *d = malloc(len ? len : 1);
        ssize_t got = d ? pread(m->buf_fd, d, len, (off_t)m->file_acked) : -1;
        rc = got == (ssize_t)len ? rewrite_file(m, d, len) : -EIO;
        free(d);
        if (rc == 0)
            for (size_t i = 0; i < m->trk_n; i++)
                trk_at(m, i)->end -= shift;
        else
            rc = write_header(m->buf_fd, m->file_acked);
    } else {
        rc = write_header(m->buf_fd, m->file_acked);
    }
    if (rc < 0)
        atomic_fetch_add(&m->buf_errors, 1);
}

/* Strikes what paho reported delivered from the file: the header moves
 * past the acknowledged prefix. Acknowledgements come in order (MQTT
 * 3.1.1 4.6), so each is almost always the first tracked message. */
static void fold_acks(gw_mqtt_t *m)
{
    mq_mailbox_t *mb = m->mb;
    if (m->buf_fd < 0 || !mb)
        return;
    pthread_mutex_lock(&mb->lock);
    MQTTAsync_token *a = mb->acks;
    size_t n = mb->n_acks, cap = mb->cap_acks;
    mb->acks = m->acks_spare;
    mb->cap_acks = m->cap_spare;
    mb->n_acks = 0;
    pthread_mutex_unlock(&mb->lock);
    m->acks_spare = a;
    m->cap_spare = cap;
    uint64_t acked = m->file_acked;
    for (size_t k = 0; k <= n; k++) {
        for (size_t i = 0; k < n && i < m->trk_n; i++) {
            mq_track_t *e = trk_at(m, i);
            if (e->state == MQ_TRK_SENT && e->token == a[k]) {
                e->state = MQ_TRK_DONE;
                break;
            }
        }
        while (m->trk_n && trk_at(m, 0)->state == MQ_TRK_DONE) {
            acked = trk_at(m, 0)->end;
            m->trk_head = (m->trk_head + 1) % m->trk_cap;
            m->trk_n--;
            m->trk_seq++;
        }
    }
    if (acked == m->file_acked)
        return;
    m->file_acked = acked;
    buffer_shrink(m);
}

/* Holds o behind the held messages, or, when buffer_max are held already,
 * drops it (counted): the newest message is the one dropped, so what is
 * held, in memory and in the file alike, is always the oldest buffer_max.
 * true when held. */
static bool hold(gw_mqtt_t *m, mq_out_t *o)
{
    if (m->held_n >= (size_t)m->cfg->buffer_max && !o->offline) {
        atomic_fetch_add(&m->dropped, 1);
        retire(m, o);
        return false;
    }
    o->next = NULL;
    if (m->held_tail)
        m->held_tail->next = o;
    else
        m->held_head = o;
    m->held_tail = o;
    m->held_n++;
    return true;
}

/* Holds a batch of messages for a broker that is away: those that fit are
 * appended to the file with one write and held; the rest are dropped before
 * the write, so the file never has a message counted as dropped (a restart
 * would otherwise send it). */
static void hold_batch(gw_mqtt_t *m, mq_out_t *list)
{
    size_t room = m->held_n < (size_t)m->cfg->buffer_max ? (size_t)m->cfg->buffer_max - m->held_n : 0;
    mq_out_t *over = NULL;
    if (room == 0) {
        over = list;
        list = NULL;
    } else {
        mq_out_t *o = list;
        for (size_t i = 1; o && i < room; i++)
            o = o->next;
        if (o) {
            over = o->next;
            o->next = NULL;
        }
    }
    log_batch(m, list);
    while (list) {
        mq_out_t *o = list;
        list = o->next;
        hold(m, o);
    }
    while (over) {
        mq_out_t *o = over;
        over = o->next;
        atomic_fetch_add(&m->dropped, 1);
        retire(m, o);
    }
}

/* Held messages go to paho, in order; their records stay in the file
 * until the broker acknowledged them. */
static void release_held(gw_mqtt_t *m)
{
    while (m->held_head) {
        mq_out_t *o = m->held_head;
        m->held_head = o->next;
        send_one(m, o);
        retire(m, o);
    }
    m->held_tail = NULL;
    m->held_n = 0;
}

/* The previous run's messages not acknowledged, before anything of this
 * run: held (up to buffer_max, the newest dropped as they would have been
 * then), and the file rewritten with exactly those. A file without the
 * header is an earlier version's, records from its start. */
static void restore_file(gw_mqtt_t *m)
{
    struct stat st;
    if (fstat(m->buf_fd, &st) < 0 || st.st_size == 0) {
        m->file_acked = m->file_end = BUF_HDR;
        if (write_header(m->buf_fd, BUF_HDR) < 0)
            atomic_fetch_add(&m->buf_errors, 1);
        return;
    }
    size_t size = (size_t)st.st_size, n = 0;
    uint8_t *data = malloc(size);
    while (data && n < size) {
        ssize_t r = pread(m->buf_fd, data + n, size - n, (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    size_t start = 0;
    if (n >= BUF_HDR && memcmp(data, BUF_MAGIC, sizeof BUF_MAGIC) == 0) {
        uint64_t acked;
        memcpy(&acked, data + 8, 8);
        start = acked < BUF_HDR ? BUF_HDR : acked > n ? n : (size_t)acked;
    }
    size_t off = start, kept_end = start;
    while (off + REC_HDR <= n) {
        uint32_t tl, pl;
        memcpy(&tl, data + off, 4);
        memcpy(&pl, data + off + 4, 4);
        if (tl == 0 || tl > 65535 || n - off - REC_HDR < (size_t)tl + pl || data[off + 8] > 2)
            break; /* cut short (or not ours): the rest is ignored */
        mq_out_t *o = calloc(1, sizeof *o);
        if (!o)
            break;
        o->cmd = MQ_CMD_PUBLISH;
        o->qos = data[off + 8];
        o->retain = data[off + 9] != 0;
        o->topic = strndup((const char *)data + off + REC_HDR, tl);
        o->payload = malloc(pl ? pl : 1);
        if (!o->topic || !o->payload) {
            out_free(o);
            break;
        }
        memcpy(o->payload, data + off + REC_HDR + tl, pl);
        o->len = pl;
        off += REC_HDR + (size_t)tl + pl;
        if (hold(m, o)) {
            m->restored++;
            kept_end = off;
        }
    }
    int rc = data ? rewrite_file(m, data + start, kept_end - start) : -ENOMEM;
    if (rc == 0 && trk_reserve(m, m->held_n) == 0) {
        uint64_t end = BUF_HDR;
        for (mq_out_t *o = m->held_head; o; o = o->next) {
            end += rec_len(o);
            trk_push(m, o, end);
        }
    } else {
        /* The messages are held and sent all the same, but a file that
         * cannot be kept true is given up (and the failure logged). */
        gw_err("mqtt: cannot rewrite %s/buffer: %s", m->persist_dir, strerror(rc < 0 ? -rc : ENOMEM));
        close(m->buf_fd);
        m->buf_fd = -1;
        atomic_fetch_add(&m->buf_errors, 1);
    }
    free(data);
}

static void *out_main(void *arg)
{
    gw_mqtt_t *m = arg;
    /* Linux nices threads one by one (paho's threads, created by this
     * thread's first MQTTAsync_connect, inherit it): on a small gateway
     * the loop must win the CPU over the formatting and the buffer file's
     * writes. SCHED_IDLE was tried: no p99 gain the bench could tell from
     * its noise, and half the QoS 0 throughput (21,000 against 38,000
     * msgs/s) on a busy machine, where an idle thread gets almost nothing.
     * The loop never blocks on this thread (it only trylocks out_lock and
     * frees what it allocated itself). Failing to lower our own priority
     * changes nothing else. */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
    pthread_mutex_lock(&m->out_lock);
    for (;;) {
        while ((!m->out_head || m->out_n < OUT_WAKE_N) && !m->out_stop) {
            if (!m->held_head && !m->out_head && m->trk_n == 0) {
                m->out_idle = true;
                pthread_cond_wait(&m->out_cond, &m->out_lock);
                m->out_idle = false;
                continue;
            }
            /* A few messages wait up to OUT_PERIOD_MS to travel as a
             * batch; held messages wait for paho's connection, and the
             * file for the broker's acknowledgements, which no one
             * signals here. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (m->out_head ? OUT_PERIOD_MS : 100) * 1000000L;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            if (pthread_cond_timedwait(&m->out_cond, &m->out_lock, &ts) == ETIMEDOUT && m->out_head)
                break;
            if (m->held_head || m->trk_n) {
                pthread_mutex_unlock(&m->out_lock);
                if (m->held_head && atomic_load(&m->mb->up))
                    release_held(m);
                fold_acks(m);
                pthread_mutex_lock(&m->out_lock);
                pass_retired(m);
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
        /* A turn's values become their messages in their place; a client
         * to forget is retired after all of them are formatted. */
        for (mq_out_t **pp = &list; *pp;) {
            mq_out_t *o = *pp;
            if (o->cmd != MQ_CMD_VALUES) {
                pp = &o->next;
                continue;
            }
            mq_out_t *msgs = format_values(m, o->payload, o->len), *last = msgs;
            while (last && last->next)
                last = last->next;
            if (last) {
                last->next = o->next;
                *pp = msgs;
                pp = &last->next;
            } else {
                *pp = o->next;
            }
            o->next = NULL;
            retire(m, o);
        }
        /* In the file before paho has any of them: one write a batch. */
        if (up)
            log_batch(m, list);
        mq_out_t *keep = NULL, **kt = &keep;
        while (list) {
            mq_out_t *o = list;
            list = o->next;
            o->next = NULL;
            if (o->cmd == MQ_CMD_FORGET) {
                retire(m, o);
            } else if (up || o->cmd != MQ_CMD_PUBLISH || o->offline) {
                send_one(m, o);
                retire(m, o);
            } else {
                *kt = o;
                kt = &o->next;
            }
        }
        hold_batch(m, keep);
        fold_acks(m);
        pthread_mutex_lock(&m->out_lock);
        pass_retired(m);
    }
    pthread_mutex_unlock(&m->out_lock);
    /* Still away at the end: the held messages stay in the file. */
    while (m->held_head) {
        mq_out_t *o = m->held_head;
        m->held_head = o->next;
        retire(m, o);
    }
    m->held_tail = NULL;
    m->held_n = 0;
    return NULL;
}

/* Values an item carries (messages for the buffer_max count). */
static size_t item_msgs(const mq_out_t *o)
{
    if (o->cmd == MQ_CMD_VALUES)
        return o->len;
    return o->cmd == MQ_CMD_PUBLISH ? 1 : 0;
}

/* Loop thread: appends o to the loop's own list (no lock) and arms the
 * flush timer that hands the list over. */
static void local_append(gw_mqtt_t *m, mq_out_t *o)
{
    o->next = NULL;
    if (m->lo_tail)
        m->lo_tail->next = o;
    else
        m->lo_head = o;
    m->lo_tail = o;
    m->lo_n += item_msgs(o);
    gw_mqtt_flush_soon(m);
}

/* An item the thread will never see: counted, freed; a client to forget
 * waits for gw_mqtt_free. */
static void drop_item(gw_mqtt_t *m, mq_out_t *o)
{
    if (o->cmd == MQ_CMD_FORGET) {
        mq_client_t *cl = o->payload;
        o->payload = NULL;
        cl->dead_next = m->dead;
        m->dead = cl;
    } else if (o->cmd == MQ_CMD_PUBLISH || o->cmd == MQ_CMD_VALUES) {
        atomic_fetch_add(&m->dropped, item_msgs(o));
    }
    out_free(o);
}

int gw_mqtt_out_hand(gw_mqtt_t *m, bool wait)
{
    if (!m->lo_head)
        return 0;
    if (!m->out_started) {
        while (m->lo_head) {
            mq_out_t *o = m->lo_head;
            m->lo_head = o->next;
            drop_item(m, o);
        }
        m->lo_tail = NULL;
        m->lo_n = 0;
        return 0;
    }
    /* The thread holds the lock only for a few instructions, but it runs
     * at a lower priority and may be preempted there: the loop does not wait for
     * it, the list goes with the next turn's. */
    if (wait)
        pthread_mutex_lock(&m->out_lock);
    else if (pthread_mutex_trylock(&m->out_lock) != 0)
        return -EAGAIN;
    mq_out_t *list = m->lo_head, *done = m->done;
    m->lo_head = m->lo_tail = NULL;
    m->lo_n = 0;
    m->done = NULL;
    bool wake = m->out_idle;
    size_t before = m->out_n;
    mq_out_t *rejected = NULL, **rt = &rejected;
    while (list) {
        mq_out_t *o = list;
        list = o->next;
        o->next = NULL;
        size_t n = item_msgs(o);
        bool msg = o->cmd == MQ_CMD_PUBLISH || o->cmd == MQ_CMD_VALUES;
        if (msg && !o->offline && m->out_n >= (size_t)m->cfg->buffer_max) {
            *rt = o;
            rt = &o->next;
            continue;
        }
        if (m->out_tail)
            m->out_tail->next = o;
        else
            m->out_head = o;
        m->out_tail = o;
        m->out_n += n;
        if (!msg || o->offline)
            wake = true;
    }
    /* Waking the thread is a system call on the loop, and a thread switch
     * on a busy machine: done only when it sleeps with nothing to do, when
     * OUT_WAKE_N more messages wait, or for commands. Otherwise it is in a
     * timed wait and looks within OUT_PERIOD_MS (100 ms while it holds
     * messages for a broker that is away) by itself. */
    if (before / OUT_WAKE_N != m->out_n / OUT_WAKE_N)
        wake = true;
    pthread_mutex_unlock(&m->out_lock);
    if (wake)
        pthread_cond_signal(&m->out_cond);
    while (rejected) {
        mq_out_t *o = rejected;
        rejected = o->next;
        drop_item(m, o);
    }
    free_chain(done);
    return 0;
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
    o->loop_owned = true;
    local_append(m, o);
    return 0;
}

int gw_mqtt_out_values(gw_mqtt_t *m, mq_pending_t *pend, size_t n)
{
    mq_out_t *o = calloc(1, sizeof *o);
    if (!o) {
        for (size_t i = 0; i < n; i++)
            free(pend[i].bytes);
        free(pend);
        atomic_fetch_add(&m->dropped, n);
        return -ENOMEM;
    }
    o->cmd = MQ_CMD_VALUES;
    o->payload = pend;
    o->len = n;
    o->loop_owned = true;
    local_append(m, o);
    return 0;
}

void gw_mqtt_out_forget(gw_mqtt_t *m, mq_client_t *cl)
{
    mq_out_t *o = calloc(1, sizeof *o);
    if (!o) {
        /* No memory for the note: kept until gw_mqtt_free. */
        cl->dead_next = m->dead;
        m->dead = cl;
        return;
    }
    o->cmd = MQ_CMD_FORGET;
    o->payload = cl;
    o->loop_owned = true;
    local_append(m, o);
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
        /* Not O_APPEND: records go at file_end with pwrite, and the header
         * is rewritten in place. */
        m->buf_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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
    gw_mqtt_out_hand(m, true); /* without a thread: dropped and counted */
    if (!m->out_started)
        return;
    pthread_mutex_lock(&m->out_lock);
    m->out_stop = true;
    pthread_mutex_unlock(&m->out_lock);
    pthread_cond_signal(&m->out_cond);
    pthread_join(m->out_thread, NULL);
    m->out_started = false;
    free_chain(m->done);
    free_chain(m->retired);
    m->done = m->retired = NULL;
    pthread_cond_destroy(&m->out_cond);
    pthread_mutex_destroy(&m->out_lock);
}

void gw_mqtt_out_close(gw_mqtt_t *m)
{
    /* The acknowledgements of the last messages, the clean stop's
     * included: a restart after a clean stop sends nothing twice. */
    fold_acks(m);
    if (m->buf_fd >= 0)
        close(m->buf_fd);
    m->buf_fd = -1;
    free(m->trk);
    m->trk = NULL;
    m->trk_cap = m->trk_n = m->trk_head = 0;
    free(m->acks_spare);
    m->acks_spare = NULL;
    m->cap_spare = 0;
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
        gw_warn("mqtt: cannot write %s/buffer (%llu time(s)): messages the broker has not acknowledged "
                "are not all kept across a restart", m->persist_dir, (unsigned long long)e);
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
