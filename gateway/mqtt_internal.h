/*
 * gateway/mqtt_internal.h - what the MQTT mirror's files share: its state,
 * the per-client table, publishing, and Home Assistant discovery.
 */
#ifndef GW_GATEWAY_MQTT_INTERNAL_H
#define GW_GATEWAY_MQTT_INTERNAL_H

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdatomic.h>

#include "../lwm2m/value.h"
#include "mqtt.h"

/* One resource announced to Home Assistant, to clear on removal. */
typedef struct mq_announced {
    gw_path_t path;
    const char *component; /* static string: "sensor", "number", ... */
} mq_announced_t;

/* One virtual client seen by the mirror. */
typedef struct mq_client {
    gw_sclient_t *c;
    char *endpoint;      /* owned copy */
    char *topic;         /* "<prefix>/<endpoint>", owned */
    char *node;          /* Home Assistant node id (endpoint, [a-zA-Z0-9_-]) */
    int64_t last_ms;     /* wall time of the last reading */
    int registered;      /* -1 unknown, 0, 1: as last published */
    int64_t status_ms;   /* monotonic time of the last status, 0 none */
    bool status_dirty;
    mq_announced_t *ann;
    size_t n_ann, cap_ann;
    struct mq_client *dead_next; /* removed, freed at gw_mqtt_free */
} mq_client_t;

/* A value waiting for the next flush (copied: the store's are borrowed),
 * or, with rec.path.len 0, cl's status: rec.value.v.b registered,
 * rec.time the last reading's wall time in ms when rec.has_time. */
typedef struct mq_pending {
    mq_client_t *cl;
    gw_record_t rec;     /* bytes point into bytes below */
    uint8_t *bytes;
} mq_pending_t;

/* Events from paho's threads, in a list the loop drains. */
typedef struct mq_event mq_event_t;

/* Shared between the loop and paho's threads; outlives the mirror until
 * the last posted work item ran (refs). */
typedef struct mq_mailbox {
    pthread_mutex_t lock;
    int refs;
    struct gw_mqtt *m;   /* NULL once the mirror is gone */
    mq_event_t *head, *tail;
    bool posted;
    gw_loop_t *loop;
    atomic_ullong delivered; /* acknowledged by the broker (QoS >= 1) */
    atomic_int up;           /* paho is connected (set from its callbacks) */
    /* Tokens paho reported delivered, in order, for the out thread to
     * strike from the buffer file (under lock; QoS >= 1 only). */
    MQTTAsync_token *acks;
    size_t n_acks, cap_acks;
    bool track;
} mq_mailbox_t;

/* One message of the buffer file, from its append until the broker
 * acknowledged it (mqtt_out.c). */
typedef struct mq_track {
    uint64_t end;        /* file offset just past its record */
    MQTTAsync_token token;
    uint8_t state;       /* MQ_TRK_* */
} mq_track_t;
enum { MQ_TRK_HELD = 0, MQ_TRK_SENT, MQ_TRK_DONE };

/* A message on its way to paho (mqtt_out.c). */
typedef struct mq_out mq_out_t;

struct gw_mqtt {
    gw_loop_t *loop;
    gw_store_t *store;
    const gw_config_mqtt_t *cfg;
    gw_mqtt_ops_t ops;
    char *gateway;
    char *status_topic;  /* "<prefix>/<gateway>/status" */
    char *persist_dir;
    char *uri;           /* as paho spells it (tcp://, ssl://) */
    MQTTAsync h;
    mq_mailbox_t *mb;
    bool connected, ever_connected, connecting, stopping;
    bool offline_sent;   /* the clean `offline` of gw_mqtt_shutdown, offline_token */
    MQTTAsync_token offline_token;
    int64_t backoff_ms;
    uint64_t connect_failures;
    gw_timer_t retry_timer, status_timer, flush_timer;
    size_t status_cursor; /* next slot the status timer looks at */
    mq_client_t **clients; /* open addressing by sclient pointer */
    size_t cap_clients, n_clients;
    mq_pending_t *pend;
    size_t n_pend, cap_pend;
    mq_client_t *dead;   /* removed clients the out thread could not be told of */
    /* The outgoing queue and the thread that hands it to paho (mqtt_out.c):
     * paho's send takes its lock, and the buffer file is written here, so
     * the loop never waits for either. */
    pthread_t out_thread;
    pthread_mutex_t out_lock;
    pthread_cond_t out_cond;
    mq_out_t *out_head, *out_tail;
    size_t out_n;
    /* Loop thread only: what the loop queued since the last hand-over, in
     * order (values, messages, commands); handed to out_head under a
     * trylock by the flush timer, so the loop never waits for the thread. */
    mq_out_t *lo_head, *lo_tail;
    size_t lo_n;
    /* Items the loop allocated, done with by the thread: freed on the loop
     * (at the next hand-over), never here. A free into the loop's malloc
     * arena takes that arena's lock, and a lower-priority thread preempted
     * while holding it would stall the loop's next malloc. retired is the
     * thread's own list, moved to done (under out_lock) when it locks. */
    mq_out_t *retired, *done;
    /* Out thread only: messages held while the broker is away, in order,
     * and the file that keeps every QoS >= 1 message until the broker
     * acknowledged it (<state_dir>/mqtt/buffer): trk[] are its messages
     * not yet acknowledged, in file order, the first at trk_head, with
     * sequence numbers trk_seq.. trk_seq + trk_n - 1. */
    mq_out_t *held_head, *held_tail;
    size_t held_n, restored;
    int buf_fd;
    uint64_t file_end, file_acked;
    mq_track_t *trk;
    size_t trk_cap, trk_head, trk_n;
    uint64_t trk_seq;
    MQTTAsync_token *acks_spare; /* swapped with the mailbox's acks */
    size_t cap_spare;
    atomic_ullong buf_errors;
    uint64_t buf_errors_logged;
    bool out_started, out_stop;
    bool out_idle;       /* the thread waits with nothing to do: wake it */
    atomic_ullong published, dropped, delivered_qos0;
    uint64_t dropped_logged;
    char last_error[256];
};

/* mqtt_out.c */
/* Everything the loop queues goes to its own list first (no lock) and the
 * flush timer hands that list to the out thread (gw_mqtt_out_hand). */
/* Queue a message for paho (topic and payload copied); loop thread. 0 or
 * -ENOMEM (counted as dropped). Past buffer_max it is dropped and counted
 * at the hand-over. */
int gw_mqtt_publish(gw_mqtt_t *m, const char *topic, const void *payload, size_t len, int qos, bool retain);
/* Commands for paho, run on the out thread in queue order. */
enum { MQ_CMD_PUBLISH = 0, MQ_CMD_CONNECT, MQ_CMD_SUBSCRIBE, MQ_CMD_VALUES, MQ_CMD_FORGET };
/* Queue one loop turn's values, which the out thread turns into messages
 * (topics, text or SenML): the loop only moves the array. pend (malloc'd,
 * n entries, each entry's bytes) is taken. 0, or -ENOMEM with the n values
 * counted as dropped. */
int gw_mqtt_out_values(gw_mqtt_t *m, mq_pending_t *pend, size_t n);
/* Hands the loop's list to the out thread: 0, or -EAGAIN without wait when
 * the thread holds the queue's lock that instant (the list stays the
 * loop's, for the next try). Messages past buffer_max, and everything when
 * no thread runs, are dropped and counted. */
int gw_mqtt_out_hand(gw_mqtt_t *m, bool wait);
/* Frees cl on the out thread once the values queued before, which point
 * to it, are formatted; cl must be out of the client table already. */
void gw_mqtt_out_forget(gw_mqtt_t *m, mq_client_t *cl);
/* CONNECT (topic NULL) or SUBSCRIBE topic (copied) at qos. 0 or -ENOMEM. */
int gw_mqtt_out_command(gw_mqtt_t *m, int cmd, const char *topic, int qos);
/* The retained `offline`, last in the queue; its token in offline_token. */
void gw_mqtt_out_offline(gw_mqtt_t *m);
int gw_mqtt_out_start(gw_mqtt_t *m);
/* Hands what is queued to paho, then ends the thread. */
void gw_mqtt_out_stop(gw_mqtt_t *m);
/* After paho is destroyed (no callback runs any more): strikes the last
 * acknowledged messages from the buffer file and closes it. */
void gw_mqtt_out_close(gw_mqtt_t *m);
/* Logs the drop count at its powers of two (loop thread). */
void gw_mqtt_out_log_drops(gw_mqtt_t *m);
void gw_mqtt_out_stats(const gw_mqtt_t *m, gw_mqtt_stats_t *out);

/* mqtt.c */
/* Arms the zero-delay flush timer that hands the loop's list over. */
void gw_mqtt_flush_soon(gw_mqtt_t *m);
/* paho's connect and subscribe, called on the out thread; a failure is
 * posted to the loop as an event. */
void gw_mqtt_connect_now(gw_mqtt_t *m);
void gw_mqtt_subscribe_now(gw_mqtt_t *m, const char *topic, int qos);
/* topic of a path of cl: "<prefix>/<endpoint>/o/i/r[/ri]"; malloc'd or NULL. */
char *gw_mqtt_value_topic(const mq_client_t *cl, const gw_path_t *p);
mq_client_t *gw_mqtt_client_find_ep(gw_mqtt_t *m, const char *ep, size_t len);
void gw_mqtt_client_free(mq_client_t *cl);

/* mqtt_ha.c */
/* Announce path of cl to Home Assistant when it is an adapter field (once). */
void gw_mqtt_ha_announce(gw_mqtt_t *m, mq_client_t *cl, const gw_path_t *p, bool again);
/* Empty retained configs for everything announced for cl. */
void gw_mqtt_ha_clear(gw_mqtt_t *m, mq_client_t *cl);
/* A message on ".../set" (loop thread): topic and payload borrowed. */
void gw_mqtt_command(gw_mqtt_t *m, const char *topic, const char *payload, size_t len);

#endif
