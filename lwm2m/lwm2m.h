/*
 * lwm2m/lwm2m.h - the upstream LwM2M 1.1 client: many virtual clients in one
 * process, on one libcoap context, each with its own CoAP session (its own
 * local UDP port) towards every configured server.
 *
 * The module registers every virtual client (paced), keeps registrations
 * alive with Updates, answers the device-management interface (Read, Write,
 * Execute, Create, Delete, Discover, Write-Attributes) from the resource
 * store, and deregisters on shutdown. It knows nothing about sensors.
 *
 * All functions run on the loop thread.
 */
#ifndef GW_LWM2M_LWM2M_H
#define GW_LWM2M_LWM2M_H

#include "../gateway/loop.h"
#include "dtls.h"
#include "store.h"

typedef struct gw_lwm2m gw_lwm2m_t;
typedef struct gw_vclient gw_vclient_t;

/* coaps:// servers: PSK, Raw Public Key or X.509 certificates (lwm2m/dtls.h). */
typedef enum { GW_LWM2M_NOSEC = 0, GW_LWM2M_PSK, GW_LWM2M_RPK, GW_LWM2M_X509 } gw_lwm2m_security_t;

/* One LwM2M server account. Strings are copied by gw_lwm2m_new. */
typedef struct gw_lwm2m_server_opts {
    const char *uri;             /* coap://host[:port] or coaps://host[:port] */
    int32_t lifetime;            /* seconds */
    gw_lwm2m_security_t security;
    const char *psk_identity;    /* pattern; "{endpoint}" is replaced */
    const uint8_t *psk_key;
    size_t psk_key_len;
    const gw_dtls_creds_t *dtls; /* RPK and X.509 (mode, keys, server checks), copied; NULL for
                                    PSK and NoSec (then psk_* above; verify true) */
    int32_t registrations_per_second; /* 0: no pacing */
    uint16_t short_server_id;
    int32_t default_pmin, default_pmax;
    const char *binding;         /* "U" */
    bool confirmable_notifications; /* every notification CON (else NON, CON once a day) */
    int content_format;          /* preferred format of multi-value payloads the server asks
                                    no format for (Read, Observe without Accept), named in
                                    Register's root link: 11542 TLV (also for 0, the default;
                                    no ct is sent), 110 SenML JSON, 112 SenML CBOR (ct sent) */
    int32_t finish_timeout_s;    /* bootstrap server only: seconds a client waits for
                                    Bootstrap-Finish after the last bootstrap request before it
                                    bootstraps again; 0: 247 (Core 6.1.7, EXCHANGE_LIFETIME) */
} gw_lwm2m_server_opts_t;

/* Per-client options (NULL/0 for the defaults). Copied. */
typedef struct gw_vclient_opts {
    const char *psk_identity;    /* security override, NULL: the server's */
    const uint8_t *psk_key;
    size_t psk_key_len;
    const gw_dtls_creds_t *dtls; /* the client's own RPK/X.509 credentials (copied), NULL: the
                                    server's */
    bool report_send;            /* push values with Send (POST /dp) instead of waiting for Observe */
    int32_t send_min_interval_s; /* at most one Send per interval; values batch up meanwhile */
    bool queue_mode;             /* register with b=UQ: the server queues requests while the client
                                    is quiet; new data wakes it with an Update */
    int32_t queue_time_s;        /* how long it counts as reachable after it spoke (default 93) */
    bool bootstrap;              /* its servers come from the bootstrap server (gw_lwm2m_set_bootstrap):
                                    /0 and /1 as provisioned, persisted in state_dir */
} gw_vclient_opts_t;

/* Readings kept while a client cannot report them (not registered, server
 * away): at most max_per_client per client, oldest dropped first; kept in
 * state_dir (one file per client) when state_dir is not NULL so a restart
 * keeps them. Call before creating clients. Strings copied. */
int gw_lwm2m_set_offline_store(gw_lwm2m_t *m, size_t max_per_client, const char *state_dir);
/* The bootstrap server (LwM2M 1.1.1 Core 5.2.7, 6.1): clients created
 * with opts->bootstrap (or every client, all = true) get their Security and
 * Server instances from it, persisted in state_dir/provisioned/ (0700,
 * files 0600) so a restart registers directly. bs->uri, its security and
 * PSK are used; lifetime and pacing are not. Call before creating clients.
 * Copied. 0, -EINVAL (bad URI, logged), -ENOMEM. */
int gw_lwm2m_set_bootstrap(gw_lwm2m_t *m, const gw_lwm2m_server_opts_t *bs, bool all, const char *state_dir);

/* Readings dropped because an offline store overflowed, since start. */
uint64_t gw_lwm2m_offline_dropped(const gw_lwm2m_t *m);

/* Called before a Read/Discover of a client is answered, so the owner can
 * refresh values that are computed on demand (current time, free memory). */
typedef void (*gw_vclient_refresh_fn)(void *ctx, gw_vclient_t *vc, const gw_path_t *path);

/* Route a server's Write or Execute of a client's resource to where the
 * value really lives (the sensor's adapter). value is NULL for an Execute
 * (args/args_len then hold its arguments). Every request goes through two
 * steps (lwm2m/dm_write.c), for each of its values:
 * - GW_WRITE_CHECK (token NULL): nothing is done; the answer says whether
 *   the path is routed (-ENOENT: the store alone keeps the value) and
 *   whether the adapter would take this value, judged without device
 *   traffic (0, or one of the refusals below). Every value of a request is
 *   checked before any is written, so one bad value writes nothing.
 * - GW_WRITE_START (token set): start the write. Returns -EINPROGRESS when
 *   it is under way: the owner then calls gw_lwm2m_write_complete(token,
 *   rc) exactly once, on the loop thread, possibly before the hook returns
 *   (an adapter with nothing to wait for); -ENOENT when the path is not
 *   routed; another negative errno when it failed at once (no completion
 *   follows). The hook never waits for a device.
 * The results of a write (adapters/adapter.h) are answered
 * (gw_lwm2m_write_code): -ERANGE, -EDOM, -EINVAL: the value itself is refused
 * (4.00); -EPERM, -ENOTSUP: the resource cannot be written/executed there
 * (4.05); -ETIMEDOUT, -ENOTCONN, -ECANCELED, -EAGAIN: the device does not
 * answer now (5.03); any other: the device failed (5.00). The request is
 * answered when every write it started has completed, with the worst of
 * their results. On a refusal the hook may write a one-line reason for the
 * server into diag (diag_size bytes, "" on entry; it is NUL-terminated by
 * the hook). */
typedef struct gw_write_token gw_write_token_t;
typedef enum { GW_WRITE_CHECK, GW_WRITE_START } gw_write_mode_t;
typedef int (*gw_vclient_write_fn)(void *ctx, gw_vclient_t *vc, const gw_path_t *path,
                                   const gw_value_t *value, const uint8_t *args, size_t args_len,
                                   gw_write_mode_t mode, gw_write_token_t *token, char *diag,
                                   size_t diag_size);
/* The CoAP response code a write hook's result rc < 0 is answered with,
 * as listed above, in libcoap's numbering (COAP_RESPONSE_CODE(400) for
 * 4.00), and its diagnostic into out_diag (size bytes, NUL-terminated;
 * NULL/0 for none): reason (the hook's; NULL or "" for none) after a
 * generic text. The one place write results become answers. */
int gw_lwm2m_write_code(int rc, bool execute, const char *reason, char *out_diag, size_t size);
/* A write the hook started (GW_WRITE_START) has finished with rc (0 or a
 * result above). Loop thread only; exactly once per started write. */
void gw_lwm2m_write_complete(gw_write_token_t *token, int rc);
void gw_lwm2m_set_write_hook(gw_lwm2m_t *m, gw_vclient_write_fn fn, void *ctx);

/* loop and store are borrowed and must outlive the module. servers are
 * copied. Returns 0, -EINVAL (bad URI, reported in the log), -ENOMEM, -EIO. */
int gw_lwm2m_new(gw_loop_t *loop, gw_store_t *store, const gw_lwm2m_server_opts_t *servers,
                 size_t n_servers, gw_lwm2m_t **out);
/* Releases every client and the CoAP context (no deregistration: see
 * gw_lwm2m_shutdown). */
void gw_lwm2m_free(gw_lwm2m_t **m);

void gw_lwm2m_set_refresh(gw_lwm2m_t *m, gw_vclient_refresh_fn fn, void *ctx);

/* A new virtual client named endpoint (copied), with its Server object
 * instances /1/x already in the store. The caller fills /3/0 and sensor
 * objects through the store, then calls gw_vclient_start. app is the
 * owner's pointer. 0, -EEXIST (endpoint taken), -ENOMEM. */
int gw_vclient_new(gw_lwm2m_t *m, const char *endpoint, const gw_vclient_opts_t *opts, void *app,
                   gw_vclient_t **out);
/* Queue the client's Register with every server (paced). */
int gw_vclient_start(gw_lwm2m_t *m, gw_vclient_t *vc);
/* The object list changed: send a Registration Update with the new links. */
int gw_vclient_objects_changed(gw_lwm2m_t *m, gw_vclient_t *vc);
/* Take the client off the servers (De-register) without forgetting it,
 * e.g. while its device is unreachable; gw_vclient_start registers it
 * again. */
void gw_vclient_stop(gw_lwm2m_t *m, gw_vclient_t *vc);
/* Deregister (if registered) and free the client. */
void gw_vclient_remove(gw_lwm2m_t *m, gw_vclient_t **vc);

gw_sclient_t *gw_vclient_store(const gw_vclient_t *vc);
/* access_owner (acl.c): with several servers, an object instance no
 * Access Control instance names is ssid's (every right for it, none for
 * the others) instead of nobody's; 0 turns it off. */
void gw_vclient_set_access_owner(gw_vclient_t *vc, uint16_t ssid);
const char *gw_vclient_endpoint(const gw_vclient_t *vc);
void *gw_vclient_app(const gw_vclient_t *vc);
/* True when registered with every server. */
bool gw_vclient_registered(const gw_vclient_t *vc);

/* Counts for logs and the gateway's own endpoint. */
size_t gw_lwm2m_client_count(const gw_lwm2m_t *m);
size_t gw_lwm2m_registered_count(const gw_lwm2m_t *m);
/* What the service manager is told (lwm2m/reg_status.c). Counts are of
 * registrations, one per client and server: registered (Registered or
 * Updating), and not_attempted: whose first Register has not ended yet
 * (queued or sent, never answered, failed or put away with its server);
 * a client taken off its servers before its first try is not counted.
 * not_attempted walks every client (O(clients)); the rest is O(1). */
typedef struct gw_lwm2m_counts {
    size_t clients, servers, registered, not_attempted;
} gw_lwm2m_counts_t;
void gw_lwm2m_counts(const gw_lwm2m_t *m, bool with_attempts, gw_lwm2m_counts_t *out);

/* Start deregistering every client; done(ctx) runs on the loop when all
 * are deregistered or after timeout_ms, whichever comes first. */
int gw_lwm2m_shutdown(gw_lwm2m_t *m, int64_t timeout_ms, gw_work_fn done, void *ctx);

/* Build the CoRE link-format (RFC 6690) registration payload of a client,
 * LwM2M 1.1 Core 6.2.1: the root link "</>;rt=\"oma.lwm2m\"", with
 * ";ct=N" when content_format is not 11542 (TLV, which an absent ct means),
 * then each object's instances ("</3303>;ver=1.1,</3303/0>"), ver only where
 * the object's version is not the LwM2M 1.1 default (Appendix E; 1.0 for
 * non-core objects). Security (0) and OSCORE (21) are never listed. c and reg
 * are borrowed. Appends to out: 0, or -ENOMEM (out then holds a partial
 * payload the caller frees). */
int gw_lwm2m_registration_links(const gw_sclient_t *c, const gw_registry_t *reg, int content_format,
                                gw_buf_t *out);

#endif
