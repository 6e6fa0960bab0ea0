/*
 * gateway/mqtt.h - the MQTT mirror: every value set in the store is also
 * published to a broker (paho-mqtt-c's asynchronous client), beside the
 * LwM2M client and never instead of it. Topics, payloads and Home Assistant
 * discovery are described in docs/mqtt.md.
 *
 * Threads: paho runs its own threads; its callbacks only copy what they got
 * and hand it to the loop with gw_loop_post. Everything in this header is
 * called on the loop thread. Publishing never waits for the broker: paho
 * queues (and, for QoS >= 1, persists under <state_dir>/mqtt) while it is
 * away, up to buffer_max messages; what does not fit is counted and logged.
 */
#ifndef GW_GATEWAY_MQTT_H
#define GW_GATEWAY_MQTT_H

#include <stdbool.h>
#include <stdint.h>

#include "../adapters/adapter.h"
#include "../lwm2m/store.h"
#include "../mapping/config.h"
#include "loop.h"

typedef struct gw_mqtt gw_mqtt_t;

/* What the mirror asks the gateway. */
typedef struct gw_mqtt_ops {
    /* Whether path of c is an adapter field (a sensor value: gets Home
     * Assistant discovery) and whether it is writable (commands). */
    bool (*field_info)(void *ctx, gw_sclient_t *c, const gw_path_t *path, bool *out_writable);
    /* A Write of one resource, as the LwM2M Write does it: -EINPROGRESS and
     * done(done_ctx, rc) later, or a refusal (negative errno, reason in diag). */
    int (*write)(void *ctx, gw_sclient_t *c, const gw_path_t *path, const gw_value_t *value,
                 gw_write_done_fn done, void *done_ctx, char *diag, size_t diag_size);
    void *ctx;
} gw_mqtt_ops_t;

/* cfg, store, loop and ops->ctx are borrowed and must outlive the mirror;
 * gateway (the gateway's name) and state_dir are copied. Subscribes to the
 * store and starts connecting (no wait). 0, -EINVAL (paho refused the
 * options, logged), -EIO (state_dir/mqtt cannot be created, logged),
 * -ENOMEM. */
int gw_mqtt_new(gw_loop_t *loop, gw_store_t *store, const gw_config_mqtt_t *cfg, const char *gateway,
                const char *state_dir, const gw_mqtt_ops_t *ops, gw_mqtt_t **out);
/* A client the store is about to free (a removed device): its discovery
 * configs and status are cleared (empty retained messages). */
void gw_mqtt_client_removed(gw_mqtt_t *m, gw_sclient_t *c);
/* Publish `offline` and disconnect (a clean stop sends no will). */
void gw_mqtt_shutdown(gw_mqtt_t *m);
/* Unsubscribes from the store, stops paho's threads, frees. */
void gw_mqtt_free(gw_mqtt_t **m);

/* Counters (for logs and the bench). */
typedef struct gw_mqtt_stats {
    uint64_t published;   /* handed to paho */
    uint64_t delivered;   /* acknowledged (QoS >= 1) or written (QoS 0) */
    uint64_t dropped;     /* refused: buffer full or another paho error */
    uint64_t connect_failures; /* connection attempts that failed (as the loop saw them) */
    bool connected;
} gw_mqtt_stats_t;
void gw_mqtt_stats(const gw_mqtt_t *m, gw_mqtt_stats_t *out);

#endif
