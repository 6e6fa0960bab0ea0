/*
 * lwm2m/lwm2m_internal.h - what the lwm2m/ sources share: the client
 * engine's structures and libcoap. Not for use outside lwm2m/.
 */
#ifndef GW_LWM2M_INTERNAL_H
#define GW_LWM2M_INTERNAL_H

#include <coap3/coap.h>

#include "block.h"
#include "codec.h"
#include "lwm2m.h"
#include "prov_file.h"

/* Registrations waiting for their turn are capped in flight so that a burst
 * of 10,000 does not overflow the server's socket buffer and turn into
 * retransmissions (which cost seconds each). */
#define GW_REG_MAX_INFLIGHT 64
#define GW_BACKOFF_MIN_S 2
#define GW_BACKOFF_MAX_S 300

typedef enum {
    GW_REG_IDLE = 0,     /* not started */
    GW_REG_QUEUED,       /* waiting in the pacing queue */
    GW_REG_REGISTERING,  /* Register sent */
    GW_REG_REGISTERED,
    GW_REG_UPDATING,     /* Update sent */
    GW_REG_BACKOFF,      /* waiting to retry a Register */
    GW_REG_DEREGISTERING,
    GW_REG_DONE,         /* deregistered or given up at shutdown */
    GW_REG_AWAY,         /* its server is unreachable (outage.c): no session, readings kept */
} gw_reg_state_t;

struct gw_server {
    gw_lwm2m_t *m;
    size_t index;
    char *uri;
    char *host;
    uint16_t port;
    coap_proto_t proto;
    coap_address_t addr;
    bool resolved;
    int32_t lifetime;
    gw_lwm2m_security_t security;
    char *psk_identity;
    uint8_t psk_key[64];
    size_t psk_key_len;
    gw_dtls_creds_t *dtls;  /* dtls.c: configured RPK/X.509 credentials, NULL when none (owned) */
    int32_t rps;
    uint16_t ssid;
    int32_t default_pmin, default_pmax;
    char *binding;
    bool confirmable_notifications;
    int content_format;     /* preferred: GW_CF_LWM2M_TLV, GW_CF_SENML_JSON or GW_CF_SENML_CBOR */
    /* pacing: FIFO of registrations waiting to send Register/Update */
    struct gw_reg *queue_head, *queue_tail;
    size_t inflight;
    double tokens;
    int64_t tokens_at_ms;
    gw_timer_t pace_timer;
    /* reachability (outage.c): one view for every client of this server */
    char addr_str[64];      /* the resolved address as libcoap prints it */
    bool away_pending;      /* an outage was seen in this batch of I/O */
    bool away;              /* unreachable: clients wait, one probe registers */
    bool summary_pending;   /* back: log when all are in and delivered */
    const char *away_why;
    int64_t dead_ms;        /* monotonic: a datagram sent then was lost */
    int64_t away_since_ms;
    int64_t back_ms;
    gw_timer_t probe_timer;
    struct gw_reg *probe;   /* the registration trying the server now */
    size_t n_returning;     /* registrations re-registering after the outage */
    size_t n_reregistered;
    size_t n_backlog;       /* clients with readings kept, not yet delivered */
    uint64_t delivered;     /* readings delivered since the server came back */
    /* send.c: Sends in flight to this server, and clients waiting for one */
    size_t sends_inflight;
    struct gw_send *send_wait_head, *send_wait_tail;
    uint64_t offline_dropped; /* readings for this server its clients' stores dropped */
    int64_t offline_log_ms;   /* monotonic: last "offline store full" line about it */
    /* accounts.c: a server a bootstrap server named (not in the
     * configuration), found again by URI and security mode */
    bool dynamic;
    bool bootstrap;         /* the bootstrap server (m->bs_server), never registered with */
};

/* One observed path and what the attributes in force there need to know
 * about it (observe.c). */
struct gw_obs_member {
    gw_path_t path;
    bool pending;           /* a change met the criteria and waits for pmin */
    bool deferred;          /* a change came within epmin: judged when it ends */
    bool has_last;          /* last_num holds the last notified number */
    double last_num;
    int64_t last_eval_ms;   /* monotonic time the criteria were last evaluated */
};

/* One observation (RFC 7641) a server holds on a client. State lives here,
 * not in libcoap: one unknown-resource handler serves every client, so
 * libcoap's per-resource observer lists do not apply. */
struct gw_obs {
    struct gw_obs *next;    /* in reg->obs */
    struct gw_reg *r;
    int accept;             /* Accept of the Observe request, -1 when none */
    uint32_t seq;           /* Observe option value of the last notification */
    int64_t last_ms;        /* monotonic time of the last notification */
    int64_t prev_ms;        /* ... of the one before it */
    int64_t last_wall_ms;   /* wall clock of the last notification and the */
    int64_t prev_wall_ms;   /* one before: readings up to it went out in it */
    int64_t last_con_ms;    /* ... of the last confirmable one */
    gw_timer_t timer;       /* next pmin/pmax/epmin/epmax moment of any member */
    bool composite;         /* Observe-Composite (notified as Read-Composite) */
    bool has_non_mid;       /* non_mid: message id of the last NON notification */
    uint16_t non_mid;
    uint8_t token_len;
    uint8_t token[8];
    /* The observed path (one for Observe; each path of an
     * Observe-Composite), each under the attributes in force at it. */
    uint16_t n_members;
    struct gw_obs_member members[];
};

/* One adapter write a request started: the hook's token, completed by
 * gw_lwm2m_write_complete (dm_write.c). */
struct gw_write_token {
    struct gw_write_req *req;
    int rc;
    uint8_t state;
};

/* A Write, Execute or Write-Composite whose writes are under way at their
 * devices, held with libcoap's async API until the last completes
 * (dm_write.c). */
typedef struct gw_write_req {
    struct gw_write_req *next;   /* in reg->writes */
    struct gw_reg *r;            /* NULL once the client is gone */
    coap_async_t *async;         /* libcoap's hold on the request */
    size_t pending;              /* writes started and not yet completed */
    bool dispatching;            /* still starting them: completions only count */
    char reason[96];             /* the hook's words on a write refused or failed at once */
    bool body_kept;              /* body: the request's Block1 body (dm_block.c) */
    gw_block_t body_ack;
    uint8_t *body;
    size_t body_len;
    size_t n;
    struct gw_write_token w[];   /* one per value of the request, in its order */
} gw_write_req_t;

/* One virtual client's registration with one server. */
struct gw_reg {
    gw_vclient_t *vc;
    struct gw_server *srv;
    coap_session_t *session;
    char *location;         /* "rd/5" as the server gave it */
    gw_timer_t timer;       /* Update due, or backoff retry */
    struct gw_reg *next_queued;
    uint32_t backoff_s;
    int32_t lifetime;       /* as last sent in Register/Update */
    uint8_t state;          /* gw_reg_state_t */
    bool queued;
    bool links_dirty;       /* next Update carries the object list */
    bool drop_session;      /* session failed: make a new one before the next try */
    bool inflight;
    bool dereg_after;       /* shutdown came while the Register was in flight */
    bool returning;         /* re-registering after an outage (outage.c) */
    bool attempted;         /* its first Register has ended (answered, failed, server away):
                               the gateway reports READY to systemd once all have */
    int64_t last_tx_ms;     /* monotonic: last datagram sent on the session */
    int64_t op_sent_ms;     /* ... the Register/Update in flight */
    uint8_t token_len;
    uint8_t token[8];
    struct gw_obs *obs;     /* observations of this server */
    int64_t last_activity_ms; /* last exchange with the server (queue mode) */
    struct gw_write_req *writes; /* Writes/Executes waiting for devices */
    struct gw_block_tx *tx; /* a Register/Update body going block-wise */
    struct gw_send *send;   /* send.c: Send and the offline store towards this server,
                               NULL until the client needs them */
    struct gw_at_risk *at_risk; /* at_risk.c: readings of recent NON notifications, NULL when none */
    /* accounts.c: the client's /1 (Server) and /0 (Security) instances this
     * registration follows: lifetime, binding, periods, credentials */
    uint16_t srv_iid, sec_iid;
    bool disabled;          /* /1/x/4 Disable: away until r->timer ends it */
    uint8_t reg_failures;   /* Registers failed in a row, in this communication sequence */
    uint8_t seq_failures;   /* communication sequences failed in a row (Core 6.2.1.1) */
    char *dtls_why;         /* dtls.c: why the last handshake failed, NULL when it did not */
    bool dtls_unverified_logged; /* dtls.c: "not authenticated" said once */
    /* reg_order.c (/1/x/13..15), in what was padding: */
    bool order_held;        /* waits for the server before it in /1/x/13 order */
    bool order_turn;        /* its turn in that order, not yet passed on */
    bool order_block_logged;
    bool delay_pending;     /* r->timer runs the Initial Registration Delay (/1/x/14) */
    bool registered_once;   /* since its account was made: no delay any more */
};

struct gw_vclient {
    gw_lwm2m_t *m;
    char *endpoint;
    gw_sclient_t *sc;
    void *app;
    struct gw_vclient *hnext; /* endpoint hash chain */
    char *psk_identity;       /* per-client override, NULL when none */
    uint8_t *psk_key;
    size_t psk_key_len;
    gw_dtls_creds_t *dtls;    /* dtls.c: the client's own RPK/X.509 credentials, NULL: the server's */
    bool queue_mode;
    bool report_send;         /* send.c: report = "send" */
    int32_t queue_time_s;
    int32_t send_interval_s;  /* send.c: at most one Send per interval, per server */
    struct gw_bs *bs;         /* bootstrap.c: NULL unless the client bootstraps */
    uint16_t acl_owner;       /* acl.c: access_owner, owner of instances no /2 names (0: none) */
    size_t cap_regs;          /* room in regs[] (more than n_regs for a bootstrapped client) */
    size_t n_regs;
    struct gw_reg regs[];
};

struct gw_lwm2m {
    gw_loop_t *loop;
    gw_store_t *store;
    coap_context_t *ctx;
    int coap_fd;
    int64_t last_prepare_ms;
    struct gw_server *servers;
    size_t n_servers;
    struct gw_vclient **buckets;
    size_t n_buckets;
    size_t n_clients;
    size_t n_registered; /* registrations in REGISTERED/UPDATING state */
    bool all_registered;  /* logged that every client is registered (registration.c) */
    size_t all_logged_clients, all_logged_regs; /* n_clients, n_regs_total when it was */
    size_t n_bootstrapping; /* clients between Bootstrap-Request and -Finish (bootstrap.c) */
    gw_vclient_refresh_fn refresh;
    void *refresh_ctx;
    gw_vclient_write_fn write_hook;
    void *write_ctx;
    /* shutdown */
    bool shutting_down;
    size_t dereg_pending;
    gw_timer_t shutdown_timer;
    gw_work_fn shutdown_done;
    void *shutdown_ctx;
    uint64_t rng;
    /* send.c: offline store settings and counters */
    bool offline_set;
    size_t offline_max;
    char *offline_dir;
    uint64_t offline_dropped;
    int64_t offline_log_ms;
    bool offline_sync_ready;      /* offline_sync_timer initialised */
    gw_timer_t offline_sync_timer; /* one syncfs of the store every few seconds */
    /* client.c: sessions given up, released once libcoap's callbacks
     * have returned (their pending messages cancelled first) */
    coap_session_t **dead;
    size_t n_dead, cap_dead;
    /* dm_block.c: Block1 bodies being assembled, of every client */
    gw_blk1_pool_t blk1;
    gw_timer_t blk1_timer;
    /* accounts.c: servers[] has room for cap_servers (pointers into it stay
     * valid); the first n_config_servers come from the configuration, the
     * rest were named by a bootstrap server */
    size_t cap_servers, n_config_servers;
    size_t n_regs_total;          /* registrations of every client (the "all registered" line) */
    struct gw_server *bs_server;  /* bootstrap.c: NULL when none is configured */
    int32_t bs_finish_timeout_s;  /* bootstrap.c: Bootstrap-Finish awaited this long */
    char *prov_dir;               /* state_dir/provisioned: persisted /0 and /1 (prov_file.c) */
    bool bootstrap_all;           /* every client bootstraps */
    bool dtls_pki_used;           /* dtls.c: a PKI session was set up on ctx */
};

/* client.c */
struct gw_vclient *gw_lwm2m_find(const gw_lwm2m_t *m, const char *endpoint);
uint32_t gw_lwm2m_random(gw_lwm2m_t *m);
int gw_reg_ensure_session(struct gw_reg *r);
/* The session goes silent at once (nothing more reaches r from it) and is
 * released, its retransmissions cancelled, by gw_lwm2m_after_io. */
void gw_reg_release_session(struct gw_reg *r);
/* After libcoap returns: outages seen are acted on, given-up sessions
 * released. Never from inside a libcoap callback. */
void gw_lwm2m_after_io(gw_lwm2m_t *m);
void gw_lwm2m_dereg_done(gw_lwm2m_t *m);

/* block_tx.c: a request body sent block-wise (RFC 7959 Block1). */
struct gw_block_tx;
/* Give pdu (options done, no payload) the body (malloc'd, taken over):
 * returns pdu with the body when it fits one datagram, else the first
 * block, the rest kept in *out_tx, with a new token written to token /
 * token_len. NULL when out of memory (pdu and body freed). */
coap_pdu_t *gw_block_tx_start(coap_session_t *s, coap_pdu_t *pdu, uint8_t *body, size_t len,
                              struct gw_block_tx **out_tx, uint8_t *token, uint8_t *token_len);
/* A response to the block in flight: 1 with *out_next the next block to
 * send (new token written); 0 when it is the final answer (tx freed);
 * -EPROTO when a 2.31 does not match the block sent, -ENOMEM (tx freed). */
int gw_block_tx_next(coap_session_t *s, struct gw_block_tx **tx, const coap_pdu_t *received, uint8_t *token,
                     uint8_t *token_len, coap_pdu_t **out_next);
void gw_block_tx_free(struct gw_block_tx **tx);

/* registration.c */
void gw_reg_init(struct gw_reg *r, gw_vclient_t *vc, struct gw_server *srv);
void gw_reg_start(struct gw_reg *r);
/* reg_order.c: start every registration of vc in the order its Server
 * instances ask (/1/x/13 Registration Priority Order, /1/x/14 Initial
 * Registration Delay Timer, /1/x/15 Registration Failure Block; Core
 * 6.2.1.1). Those without /1/x/13 start at once (after their delay). */
void gw_vclient_regs_start(gw_vclient_t *vc);
/* r's Register succeeded / failed (a failed attempt, or with /1/x/17..20
 * the failed registration): the next server in order may go (on failure
 * not when r's /1/x/15 is true). */
void gw_reg_order_registered(struct gw_reg *r);
void gw_reg_order_failed(struct gw_reg *r);
/* r->timer ended r's Initial Registration Delay: r started; false when
 * the timer was for something else. */
bool gw_reg_delay_over(struct gw_reg *r);
void gw_reg_request_update(struct gw_reg *r, bool with_links);
void gw_reg_stop(struct gw_reg *r); /* timers and queue; no traffic */
int gw_reg_deregister(struct gw_reg *r); /* 0 sent, -ENOTCONN nothing to do */
coap_response_t gw_reg_on_response(struct gw_reg *r, const coap_pdu_t *received);
void gw_reg_on_nack(struct gw_reg *r, coap_nack_reason_t reason);
void gw_server_pace_init(struct gw_server *s);
/* Queue mode: the client spoke or was spoken to now. */
void gw_reg_touch(struct gw_reg *r);
/* Queue mode: new data for the server; wake it with an Update if the
 * client has been quiet longer than its queue time. */
void gw_reg_new_data(struct gw_reg *r);
const char *gw_reg_state_name(gw_reg_state_t s);

/* registration.c, for outage.c */
bool gw_reg_is_registered(const struct gw_reg *r);
void gw_reg_set_state(struct gw_reg *r, gw_reg_state_t st);
void gw_reg_enqueue(struct gw_reg *r);
/* Take r off the queue and out of flight without sending anything. */
void gw_reg_quiet(struct gw_reg *r);
/* Send a Register now (the probe); 0 or a negative errno. */
int gw_reg_send_register(struct gw_reg *r);

/* outage.c: a server's reachability, shared by all its clients. */
/* A datagram of r sent at sent_ms (monotonic) was lost: ICMP error, no
 * answer. Marks the server away at the end of this batch of I/O. */
void gw_server_unreachable(struct gw_server *s, int64_t sent_ms, const char *why);
/* An ICMP error on r's session. */
void gw_reg_icmp(struct gw_reg *r);
/* r stops: no session, no timer, state AWAY until the server is back;
 * what its observations had pending or lost is kept (send.c). */
void gw_reg_suspend(struct gw_reg *r);
/* r's Register failed for want of the server: r waits with the others. */
void gw_reg_lost_server(struct gw_reg *r, const char *why);
/* The server answered r (any response): it is back. */
void gw_server_answered(struct gw_server *s, struct gw_reg *r);
/* r is registered (ok) or refused (!ok) after coming back. */
void gw_server_returned(struct gw_reg *r, bool ok);
/* Backlog bookkeeping of send.c: a client's readings for s are delivered. */
void gw_server_backlog_check(struct gw_server *s);
void gw_server_outage_process(gw_lwm2m_t *m);
void gw_server_outage_fini(struct gw_server *s);
void gw_server_outage_init(struct gw_server *s);
/* coap_log.c: libcoap's log lines, rate limited and folded; flush writes
 * the summaries of a window that has ended (call it now and then). */
void gw_coap_log_limited(int level, const char *message);
void gw_coap_log_flush(void);
/* client.c: an ICMP line of libcoap's log (4.3.1 reports NON ones only so). */
void gw_lwm2m_icmp_log(gw_lwm2m_t *m, const char *message);

/* dm.c: the device-management interface, one entry per CoAP method */
void gw_dm_handle(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *request,
                  const coap_string_t *query, coap_pdu_t *response);

/* dm_block.c: request bodies sent block-wise (RFC 7959 Block1). */
typedef struct gw_dm_body {
    const uint8_t *data; /* the body: the request's payload, or owned */
    size_t len;
    uint8_t *owned;      /* an assembled body, freed by gw_dm_body_done */
    bool block1;         /* the request ended a Block1 transfer: echo ack */
    gw_block_t ack;
} gw_dm_body_t;
void gw_dm_block_init(gw_lwm2m_t *m);
void gw_dm_block_fini(gw_lwm2m_t *m);
/* r goes away or changes session: drop its unfinished transfers. */
void gw_dm_block_drop(struct gw_reg *r);
/* The body of request into out. 0: go on; 1: response is made (2.31
 * Continue, or a refusal of the block) and the handler is done. */
int gw_dm_body(struct gw_reg *r, coap_session_t *session, const coap_pdu_t *request, coap_pdu_t *response,
               gw_dm_body_t *out);
/* The handler is done with b; when the request now waits for its device
 * (waiting), an assembled body moves to its write token for the rerun. */
void gw_dm_body_done(gw_dm_body_t *b, coap_session_t *session, const coap_pdu_t *request, bool waiting);

/* dm_write.c: values of a request to the devices behind the client. */
#define GW_DM_WAITING 1 /* a handler's result: the request waits for its devices */
typedef struct gw_dm_route {
    struct gw_reg *r;
    coap_session_t *session;
    const coap_pdu_t *request;
    gw_write_req_t *resumed;  /* the rerun of a request whose writes completed
                                 (gw_dm_write_resumed), or NULL; taken by gw_dm_route */
    bool execute;             /* the records are Executes: args below, no values */
    bool composite;           /* diagnostics name the path even for one record */
    const uint8_t *args;
    size_t args_len;
    char *diag;               /* the answer's diagnostic on failure */
    size_t diag_size;
} gw_dm_route_t;
/* Check every record with the write hook, then start every routed write.
 * Returns 0 when all routed writes succeeded (or none is routed): every
 * out_keep[i] is true and the caller stores all; GW_DM_WAITING when the
 * request is held until its writes complete (the handler then runs again
 * with c->resumed set and calls this with the same records); or a CoAP
 * code with c->diag set: out_keep[i] marks the values a device took (the
 * caller stores only those). out_keep has n entries. */
int gw_dm_route(gw_dm_route_t *c, const gw_record_t *recs, size_t n, bool *out_keep);
/* The request's writes as held by libcoap, or NULL. */
gw_write_req_t *gw_dm_write_held(coap_session_t *session, const coap_pdu_t *request);
/* Before a write request is handled: 1 when it still waits for its devices
 * (a repeat of it: leave it unanswered); 0 otherwise, with *out the rerun's
 * completed writes or NULL. The caller gives *out to gw_dm_route or frees
 * it with gw_dm_write_req_free. */
int gw_dm_write_resumed(coap_session_t *session, const coap_pdu_t *request, gw_write_req_t **out);
void gw_dm_write_req_free(gw_write_req_t **q);
/* The client is going away: its waiting writes must not touch it. */
void gw_dm_orphan_writes(struct gw_reg *r);

/* dm.c: helpers the composite operations share. */
int gw_dm_opt_uint(const coap_pdu_t *pdu, uint16_t num, int dflt); /* option value or dflt */
int gw_dm_type_lookup(void *registry, const gw_path_t *p, gw_type_t *out); /* gw_type_lookup_fn */

/* dm.c: what a Read of path answers (also the body of a notification).
 * 0 with out filled and *out_cf set, or a CoAP response code. */
int gw_dm_read_encode(struct gw_reg *r, const gw_path_t *path, int accept, gw_buf_t *out, int *out_cf);

/* observe.c */
/* Start (or replace, same token) an observation; *out_seq is the Observe
 * value for the response. 0 or -ENOMEM. */
int gw_obs_start(struct gw_reg *r, const gw_path_t *path, const uint8_t *token, size_t token_len,
                 int accept, uint32_t *out_seq);
/* Cancel the observation with this token (if any), logging why. */
void gw_obs_cancel(struct gw_reg *r, const uint8_t *token, size_t token_len, const char *why);
void gw_obs_drop_all(struct gw_reg *r);
/* Store hook fan-out: a value of client vc changed. */
void gw_obs_value_changed(gw_vclient_t *vc, const gw_path_t *path, const gw_value_t *v);
/* Attributes of some path of vc changed: recompute every timer. */
void gw_obs_attrs_changed(gw_vclient_t *vc);
/* path (an object instance) of vc was deleted: observations of it or
 * below end with a 4.04 notification, those above it are notified. */
void gw_obs_path_removed(gw_vclient_t *vc, const gw_path_t *path);
/* A notification we sent got a Reset or was never acknowledged. */
void gw_obs_on_nack(struct gw_reg *r, const coap_pdu_t *sent, coap_nack_reason_t reason);
size_t gw_obs_count(const struct gw_reg *r);
/* A Reset with this message id arrived for something libcoap did not keep
 * (a NON notification): cancel the observation that sent it, when exactly
 * one recent NON notification carries that id. */
void gw_obs_on_reset_mid(gw_lwm2m_t *m, uint16_t mid);
/* Observe-Composite: like gw_obs_start for a set of n (1..GW_OBS_MAX_PATHS)
 * paths, copied; accept is the format of every notification. 0, -EINVAL,
 * -ENOMEM. */
#define GW_OBS_MAX_PATHS 64
int gw_obs_start_composite(struct gw_reg *r, const gw_path_t *paths, size_t n, const uint8_t *token,
                           size_t token_len, int accept, uint32_t *out_seq);
/* True when a change of path concerns observation o. */
bool gw_obs_covers(const struct gw_obs *o, const gw_path_t *path);

/* composite.c: Read-Composite and Observe-Composite (FETCH) and
 * Write-Composite (iPATCH), SenML JSON or CBOR. Returns the CoAP code, or
 * GW_DM_WAITING when a Write-Composite waits for its devices (rt: how its
 * values reach them, gw_dm_route; NULL: the store alone keeps them); on
 * 2.05 out_body/out_cf hold the answer (taken over by the caller). May add
 * options (Observe) to response. diag gets a reason on errors. */
int gw_composite_handle(struct gw_reg *r, const coap_pdu_t *request, coap_pdu_t *response,
                        const uint8_t *payload, size_t len, gw_buf_t *out_body, int *out_cf, char *diag,
                        size_t diag_size, gw_dm_route_t *rt);
/* composite.c: what a Read-Composite of n paths answers in format cf (110
 * or 112): every readable value below them, paths that do not exist left
 * out. 0 with out filled and *out_cf = cf, or a CoAP response code. */
int gw_composite_read_encode(struct gw_reg *r, const gw_path_t *paths, size_t n, int cf, gw_buf_t *out,
                             int *out_cf);

/* send.c: Send (POST /dp, SenML CBOR) and readings kept while a client
 * cannot report them (offline.h), each per registration (r->send): every
 * server gets its own readings, Mute Send and Notification Storing. */
/* Set up the client's Send state for each of its servers (loads their
 * offline files; takes over a version 1 file, which was the first
 * server's). 0 or -ENOMEM. */
int gw_send_client_new(gw_vclient_t *vc, const gw_vclient_opts_t *opts);
/* r is about to be re-initialised for another server (gw_reg_init wipes
 * it): its Send state goes (its offline file stays for a later start). */
void gw_send_reg_drop(struct gw_reg *r);
void gw_send_client_free(gw_vclient_t *vc);
void gw_send_module_free(gw_lwm2m_t *m);
/* Store hook fan-out: a value of vc changed. */
void gw_send_value_changed(gw_vclient_t *vc, const gw_path_t *path, const gw_value_t *v);
/* True for the paths of sensor readings (what Send and the offline store
 * carry): object id above 5 (not Security, Server, Access Control, Device,
 * Connectivity Monitoring, Firmware Update), a resource or below. */
bool gw_reading_path(const gw_path_t *p);

/* at_risk.c: the readings of r's NON notifications of the last
 * GW_AT_RISK_MS (monotonic ms) whose receipt nothing proves: a datagram in
 * a dead server's receive buffer is dropped without an ICMP error. */
#define GW_AT_RISK_MS 2000
/* Notes what o's NON notification sent at now (monotonic) carries: the
 * readings below its paths changed since its previous notification
 * (o->last_wall_ms, not yet updated). Out of memory: fewer noted. */
void gw_at_risk_note(struct gw_reg *r, const struct gw_obs *o, int64_t now);
/* The server answered a request r sent at sent_ms (monotonic): it read
 * every datagram sent before (a socket is read in order). */
void gw_at_risk_proven(struct gw_reg *r, int64_t sent_ms);
/* Appends to *list (grown with realloc; *n used of *cap) the readings of
 * notifications sent within GW_AT_RISK_MS before now or at or after
 * dead_ms (both monotonic), each (path, timestamp) once; values are
 * borrowed until gw_at_risk_free. Returns 0 or -ENOMEM (fewer appended). */
int gw_at_risk_take(struct gw_reg *r, int64_t dead_ms, int64_t now, gw_record_t **list, size_t *n, size_t *cap);
/* Forgets them all (r->at_risk NULL). */
void gw_at_risk_free(struct gw_reg *r);

/* outage.c: r stops reporting (its server is away); dead_ms (monotonic):
 * notifications sent from then on were lost. Keeps, once per reading, what
 * its observations had pending or lost; a Send in flight goes again. */
void gw_send_reg_suspended(struct gw_reg *r, int64_t dead_ms);
/* registration.c: r is registered (again): deliver what waits. */
void gw_send_registered(struct gw_reg *r, bool new_registration);
/* client.c: true when the response / NACK belonged to a Send (then handled). */
bool gw_send_on_response(struct gw_reg *r, const coap_pdu_t *received);
bool gw_send_on_nack(struct gw_reg *r, const coap_pdu_t *sent, coap_nack_reason_t reason);

/* links.c */
int gw_links_discover(const gw_sclient_t *c, uint16_t ssid, const gw_registry_t *reg, const gw_path_t *path,
                      gw_buf_t *out);
int gw_links_append_attrs(const gw_attrs_t *a, gw_buf_t *out);

/* exec.c: executable resources the gateway implements, and the Execute
 * argument syntax "0='on',1,3='x'" (LwM2M 1.1 5.4.5). */
bool gw_exec_available(const gw_sclient_t *c, const gw_path_t *path);
int gw_exec_args_validate(const uint8_t *p, size_t len); /* 0 or -EINVAL (also a digit twice) */
/* Returns a CoAP response code (e.g. COAP_RESPONSE_CODE(204)). */
int gw_exec_run(struct gw_reg *r, const gw_path_t *path, const uint8_t *args, size_t len);

/* client.c: a server's state from its options (URI checked, address
 * resolved when it can be); fini frees what init allocated. */
int gw_server_init(gw_lwm2m_t *m, struct gw_server *s, size_t index, const gw_lwm2m_server_opts_t *o);
void gw_server_fini(struct gw_server *s);

/* accounts.c: /0 (Security) and /1 (Server) instances of a client as the
 * source of its connection settings (LwM2M 1.1.1 Core E.1, E.2). */
#define GW_MAX_DYN_SERVERS 16  /* servers bootstrap servers may name, all clients together */
#define GW_BS_MAX_ACCOUNTS 4   /* server accounts of one bootstrapped client */
enum { GW_SECMODE_PSK = 0, GW_SECMODE_RPK = 1, GW_SECMODE_CERT = 2, GW_SECMODE_NOSEC = 3 };
/* "{endpoint}" in pattern replaced; the length written (NUL-terminated). */
size_t gw_accounts_expand_identity(const char *pattern, const char *endpoint, char *out, size_t size);
/* /0/iid and /1/iid of vc for configured server s (identity pattern
 * expanded, the client's own PSK when it has one). 0 or -ENOMEM. */
int gw_accounts_add_config(gw_vclient_t *vc, const struct gw_server *s, uint16_t iid, bool queue_mode);
/* /0/iid only, Bootstrap-Server true, for the bootstrap server s: a
 * bootstrap account has no Server (/1) instance (Core E.1, E.2). 0,
 * -EINVAL (s is not the bootstrap server), -ENOMEM. */
int gw_accounts_add_bootstrap(gw_vclient_t *vc, const struct gw_server *s, uint16_t iid);
/* The server of this URI and security mode: a configured one, or one a
 * bootstrap server named before, or a new one (up to GW_MAX_DYN_SERVERS).
 * NULL with why filled when the URI is bad or there is no room. */
struct gw_server *gw_server_get(gw_lwm2m_t *m, const char *uri, int secmode, char *why, size_t size);
/* Is vc's /0 + /1 usable (LwM2M 1.1.1 Core 6.1.7, Bootstrap-Finish)? The
 * number of usable Server accounts (> 0), or -EINVAL with why filled. */
int gw_accounts_check(const gw_vclient_t *vc, char *why, size_t size);
/* Point vc->regs at its Server accounts as /0 and /1 now say (regs idle,
 * sessions released first). The number of accounts, or -EINVAL/-ENOMEM. */
int gw_accounts_apply(gw_vclient_t *vc);
/* A resource of the /0 instance r follows (borrowed value); 0 or -ENOENT. */
int gw_reg_security_get(const struct gw_reg *r, uint16_t rid, gw_value_t *out);
/* A resource of r's /1 instance as an integer; dflt when absent. */
int64_t gw_reg_server_int(const struct gw_reg *r, uint16_t rid, int64_t dflt);
/* The Short Server ID of r's server as the client knows it: its /1/x/0 (a
 * bootstrap server may give another one than the configuration's), else
 * the server's configured one. It keys r's attributes and offline file. */
uint16_t gw_reg_ssid(const struct gw_reg *r);
/* client.c: every registration of vc stopped, its session released and
 * location forgotten (regs[] kept for gw_accounts_apply). */
void gw_vclient_regs_release(gw_vclient_t *vc);
/* bootstrap.c: the bootstrap server and prov_dir freed (gw_lwm2m_free). */
void gw_lwm2m_bootstrap_free(gw_lwm2m_t *m);
/* The registration of vc with server s, or NULL. */
struct gw_reg *gw_vclient_reg_of(const gw_vclient_t *vc, const struct gw_server *s);

/* registration.c: /1/x/4 Disable: de-register now, register again after
 * timeout_s seconds. */
void gw_reg_disable(struct gw_reg *r, int64_t timeout_s);

/* prov_file.c: provisioned /0 and /1 instances of a client, persisted. */
/* Write the client's /0, /1 (and /2) records to dir/<endpoint>.prov
 * atomically (temp file, fsync, rename, directory fsync), mode 0600. 0 or a
 * negative errno (logged). */
int gw_prov_save(const char *dir, const char *endpoint, const gw_sclient_t *sc);
/* Remove the client's file (ENOENT is fine). */
void gw_prov_remove(const char *dir, const char *endpoint);
/* Load dir/<endpoint>.prov into vc's store (/0, /1, /2 instances replaced).
 * 1 loaded, 0 no file, -EINVAL refused (logged with the reason). */
int gw_prov_load(const char *dir, gw_vclient_t *vc);

/* bootstrap.c: client-initiated and server-initiated bootstrap. */
struct gw_bs;
/* Does vc bootstrap (opts->bootstrap or the gateway setting)? Sets vc->bs. */
int gw_bs_client_new(gw_vclient_t *vc, bool bootstrap);
void gw_bs_client_free(gw_vclient_t *vc);
/* Start: from persisted /0 /1 when usable, else a Bootstrap-Request. */
void gw_bs_start(gw_vclient_t *vc);
/* A request on the bootstrap session (gw_dm_handle routes it here). */
void gw_bs_handle(struct gw_reg *r, coap_session_t *session, const coap_pdu_t *request,
                  coap_pdu_t *response);
coap_response_t gw_bs_on_response(struct gw_reg *r, const coap_pdu_t *received);
void gw_bs_on_nack(struct gw_reg *r, coap_nack_reason_t reason);
/* registration.c: r's Register or Update succeeded. A client that has a
 * bootstrap account and no open bootstrap session (it registered from its
 * persisted file, or the session failed) opens one, so its bootstrap server
 * can start a bootstrap (server-initiated); no-op otherwise. */
void gw_bs_registered(struct gw_reg *r);
/* dm.c, composite.c: a management server changed vc's /1 or /2. A client
 * a bootstrap server provisioned keeps it across restarts (its .prov file
 * rewritten, prov_file.c); one whose accounts come from the configuration
 * does not: the file is their source at every start and reload. */
void gw_bs_accounts_written(gw_vclient_t *vc);
/* registration.c: a Register of r failed for good (1.1 registration
 * sequence exhausted): the client bootstraps again when it may. true when
 * bootstrap took over. */
bool gw_bs_registration_failed(struct gw_reg *r);
/* registration.c: r is not registered and its /1 instance sets any of
 * /1/x/17..20: its own Registers follow the communication sequence of Core
 * 6.2.1.1, not the server's outage view (outage.c leaves it alone). */
bool gw_reg_follows_sequence(const struct gw_reg *r);

/* dtls.c: DTLS sessions (PSK, RPK, X.509) from the registration's /0
 * instance, the server checked per session, handshake failures explained.
 * gw_dtls_session: a new session for r into *out (its app data not yet
 * set): 0; -EINVAL when /0 lacks what the mode needs (r->dtls_why says
 * what); -EIO when libcoap refused. gw_dtls_creds_of_reg: r's credentials
 * as /0 holds them (pointers borrowed from the store until it changes),
 * server_name written into name (name_size bytes); 0. gw_dtls_on_log: true
 * when a libcoap log line was a DTLS alert (kept for the next
 * gw_dtls_on_error, which fills r->dtls_why when the handshake of r
 * failed). gw_dtls_failure: "DTLS handshake failed: why" (static buffer,
 * valid until the next call). gw_dtls_reg_free: r->dtls_why freed. */
int gw_dtls_session(struct gw_reg *r, coap_session_t **out);
/* /0/iid/2, 3, 4, 5, 14, 15 of vc towards coaps server s from the
 * configured RPK/X.509 credentials that apply (the client's own, else the
 * server's; nothing written when neither has any); 0 or -ENOMEM. The /0/x/2
 * number of a server's security. */
int gw_dtls_fill_security(gw_vclient_t *vc, const struct gw_server *s, uint16_t iid);
int gw_accounts_secmode(gw_lwm2m_security_t sec);
int gw_dtls_creds_of_reg(const struct gw_reg *r, gw_dtls_creds_t *out, char *name, size_t name_size);
bool gw_dtls_on_log(const char *message);
void gw_dtls_on_error(struct gw_reg *r);
const char *gw_dtls_failure(struct gw_reg *r);
void gw_dtls_reg_free(struct gw_reg *r);

#endif
