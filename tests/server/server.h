/*
 * tests/server/server.h - the independent LwM2M test server's internal API.
 *
 * The test server deliberately shares no code with the gateway (only libcoap
 * and cJSON), so that a codec or protocol bug in the gateway is caught by the
 * integration tests instead of being mirrored by the peer.
 *
 * Single-threaded: everything runs from the loop in lwm2m_test_server.c.
 */
#ifndef TS_SERVER_H
#define TS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <coap3/coap.h>

/* ---- string-keyed hash map (util.c) ------------------------------------ */

/* Chained hash map; keys are copied, values are borrowed. O(1) average, the
 * table doubles when the load passes 1 so 10,000 clients stay cheap. */
typedef struct ts_map_entry {
    char *key;
    void *val;
    struct ts_map_entry *next;
} ts_map_entry_t;

typedef struct ts_map {
    ts_map_entry_t **buckets;
    size_t n_buckets;
    size_t count;
} ts_map_t;

int ts_map_init(ts_map_t *m);
void ts_map_free(ts_map_t *m);
void *ts_map_get(const ts_map_t *m, const char *key);
/* Insert or replace. 0 or -ENOMEM. */
int ts_map_put(ts_map_t *m, const char *key, void *val);
/* Returns the removed value or NULL. */
void *ts_map_del(ts_map_t *m, const char *key);

/* ---- small helpers (util.c) --------------------------------------------- */

double ts_now(void);            /* wall clock, seconds since the epoch */
uint64_t ts_mono_us(void);      /* monotonic microseconds */
char *ts_hex(const uint8_t *p, size_t n);                  /* malloc'd */
/* Decodes hex (whitespace allowed); 0 or -EINVAL. *out malloc'd. */
int ts_unhex(const char *s, uint8_t **out, size_t *out_len);
int ts_utf8_valid(const uint8_t *p, size_t n);
/* Prints obj as one line on stdout, flushes, and deletes obj. */
void ts_emit(cJSON *obj);
/* New event object {"event":name,"ts":now}. */
cJSON *ts_event(const char *name);
/* "2.05" style. buf >= 8. */
void ts_code_str(unsigned code, char *buf);
/* Adds cf/payload_hex/payload_text (text only when valid UTF-8). */
void ts_add_payload(cJSON *ev, const uint8_t *p, size_t n);

/* ---- registered clients (lwm2m_test_server.c) --------------------------- */

typedef struct ts_client {
    char *ep;
    char id[24];
    char addr[64];
    coap_session_t *session;    /* referenced while registered */
    long lt;
    char *lwm2m, *binding, *links;
    size_t index;               /* position in ts_server_t.clients */
} ts_client_t;

typedef struct ts_server {
    coap_context_t *ctx;
    ts_map_t by_ep, by_id;
    ts_client_t **clients;      /* dense array for round-robin (bench) */
    size_t n_clients, cap_clients;
    unsigned next_id;
    unsigned ack_timeout_ms;    /* CoAP ACK_TIMEOUT for requests we send */
    unsigned max_retransmit;
    int quit;
    struct ts_requests *rq;     /* requests.c state */
} ts_server_t;

ts_client_t *ts_client_by_ep(ts_server_t *s, const char *ep);
/* Emits a {"event":"clients"} list. */
void ts_clients_list(ts_server_t *s, const cJSON *req);
/* Drops a registration (the next Update gets 4.04). 0 or -ENOENT. */
int ts_client_forget(ts_server_t *s, const char *ep);

/* ---- requests to clients (requests.c) ----------------------------------- */

int ts_requests_init(ts_server_t *s);
void ts_requests_free(ts_server_t *s);
/* Handles one stdin command line (JSON). Never fails hard: bad commands are
 * reported as {"event":"error"}. */
void ts_requests_command(ts_server_t *s, const char *line);
/* Expires pending requests whose own deadline passed; returns the number of
 * milliseconds until the next deadline (or 1000 when none). */
int ts_requests_tick(ts_server_t *s);

#endif
