/*
 * lwm2m/client.c - the LwM2M client engine: one libcoap context carrying
 * every virtual client, wired into the gateway loop through libcoap's epoll
 * fd, and the virtual clients' lifecycle.
 *
 * Requests a server sends to a virtual client arrive on that client's own
 * session; one "unknown resource" handler per method serves them all and
 * finds the client from the session's app data, so no resource tree exists
 * per client (that would cost kilobytes each at 10,000 clients).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "../gateway/log.h"
#include "lwm2m_internal.h"

static uint64_t hash_str(const char *s)
{
    /* FNV-1a: endpoint names are short and not attacker-chosen (config). */
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    return h;
}

uint32_t gw_lwm2m_random(gw_lwm2m_t *m)
{
    /* xorshift64*: jitter only, not security. */
    uint64_t x = m->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    m->rng = x;
    return (uint32_t)((x * 2685821657736338717ull) >> 32);
}

struct gw_vclient *gw_lwm2m_find(const gw_lwm2m_t *m, const char *endpoint)
{
    if (!m->n_buckets)
        return NULL;
    struct gw_vclient *vc = m->buckets[hash_str(endpoint) & (m->n_buckets - 1)];
    for (; vc; vc = vc->hnext)
        if (strcmp(vc->endpoint, endpoint) == 0)
            return vc;
    return NULL;
}

static int grow_buckets(gw_lwm2m_t *m)
{
    size_t n = m->n_buckets ? m->n_buckets * 2 : 64;
    struct gw_vclient **b = calloc(n, sizeof *b);
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < m->n_buckets; i++) {
        struct gw_vclient *vc = m->buckets[i], *next;
        for (; vc; vc = next) {
            next = vc->hnext;
            size_t k = hash_str(vc->endpoint) & (n - 1);
            vc->hnext = b[k];
            b[k] = vc;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = n;
    return 0;
}

/* ---- libcoap callbacks ---- */

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent,
                                   const coap_pdu_t *received, const coap_mid_t mid)
{
    (void)sent;
    (void)mid;
    struct gw_reg *r = coap_session_get_app_data(session);
    if (!r)
        return COAP_RESPONSE_OK;
    if (r->srv->bootstrap)
        return gw_bs_on_response(r, received);
    if (gw_send_on_response(r, received))
        return COAP_RESPONSE_OK;
    return gw_reg_on_response(r, received);
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid)
{
    struct gw_reg *r = coap_session_get_app_data(session);
    if (!r)
        return;
    if (r->srv->bootstrap) {
        if (sent && coap_pdu_get_code(sent) <= COAP_REQUEST_CODE_IPATCH)
            gw_bs_on_nack(r, reason);
        return;
    }
    if (!sent) {
        /* libcoap 4.3.2 and later (Debian 13's 4.3.4), not 4.3.1, report
         * a Reset of a message they kept no copy of, a NON notification,
         * with no PDU (libcoap 4c879a58):
         * it concerns an observation, never the registration. They also
         * report an ICMP error with no message queued so (e60205e5). */
        if (reason == COAP_NACK_RST)
            gw_obs_on_reset_mid(r->vc->m, (uint16_t)mid);
        else if (reason == COAP_NACK_ICMP_ISSUE)
            gw_reg_icmp(r);
        return;
    }
    if (gw_send_on_nack(r, sent, reason))
        return;
    /* Only our own requests matter; a NACK for a response we sent (CON
     * notification in a later issue) is not a registration failure. */
    if (coap_pdu_get_code(sent) <= COAP_REQUEST_CODE_IPATCH)
        gw_reg_on_nack(r, reason);
    else if (coap_pdu_get_type(sent) == COAP_MESSAGE_CON || reason == COAP_NACK_RST)
        gw_obs_on_nack(r, sent, reason); /* a confirmable notification */
    else if (reason == COAP_NACK_ICMP_ISSUE)
        gw_reg_icmp(r); /* a NON notification: the server is away, the observation stays */
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
    struct gw_reg *r = session ? coap_session_get_app_data(session) : NULL;
    if (!r)
        return 0;
    switch (event) {
    case COAP_EVENT_DTLS_ERROR:
        /* Said once, with its reason, where the failure is acted on (the
         * registration's backoff line). */
        gw_dtls_on_error(r);
        gw_debug("%s: DTLS handshake with %s failed: %s", r->vc->endpoint, r->srv->uri, r->dtls_why);
        break;
    case COAP_EVENT_DTLS_CLOSED:
        gw_info("%s: DTLS session with %s closed", r->vc->endpoint, r->srv->uri);
        break;
    default:
        break;
    }
    return 0;
}

/* Every value change of every client passes here (one store hook). */
static void on_store_change(void *ctx, gw_sclient_t *c, const gw_path_t *path, const gw_value_t *value,
                            bool changed)
{
    (void)ctx;
    gw_vclient_t *vc = gw_store_client_app(c);
    if (changed && vc) {
        gw_obs_value_changed(vc, path, value);
        gw_send_value_changed(vc, path, value);
        if (vc->queue_mode && path->id[0] != 1)
            for (size_t i = 0; i < vc->n_regs; i++)
                gw_reg_new_data(&vc->regs[i]);
    }
}

/* libcoap's log handler takes no context pointer: this is set only while
 * this module hands received datagrams to libcoap, the one time a "got RST"
 * line concerns one of our sessions. */
static gw_lwm2m_t *receiving;

static void on_coap_log(coap_log_t level, const char *message)
{
    unsigned mid;
    if (receiving && sscanf(message, "got RST for mid=0x%x", &mid) == 1) {
        gw_debug("libcoap: %s", message);
        gw_obs_on_reset_mid(receiving, (uint16_t)mid);
        return;
    }
    if (gw_dtls_on_log(message))
        level = (coap_log_t)LOG_DEBUG; /* the alert is told in the registration's failure line */
    if (strstr(message, "coap_network_send: ") || strstr(message, "coap_socket_send: "))
        level = (coap_log_t)LOG_DEBUG; /* each failed send is acted on where it failed */
    if (strstr(message, ": ICMP: ")) {
        /* 4.3.1 tells of an ICMP error for a NON notification only here
         * (coap_network_read; coap_socket_recv in 4.3.4): one line per
         * notification per client, which is the outage's business, not the
         * operator's, so it goes to debug (outage.c logs the outage). */
        if (receiving)
            gw_lwm2m_icmp_log(receiving, message);
        level = (coap_log_t)LOG_DEBUG;
    }
    gw_coap_log_limited((int)level > LOG_DEBUG ? LOG_DEBUG : (int)level, message);
}

/* "** 127.0.0.1:40001 <-> 127.0.0.1:5683 UDP : coap_network_read: ICMP: ..."
 * (coap_session_str): the server by the remote address, the client by the
 * local port. O(clients), and only until the outage is acted on: its
 * sessions are then given up and send nothing more to be refused. */
void gw_lwm2m_icmp_log(gw_lwm2m_t *m, const char *message)
{
    const char *arrow = strstr(message, " <-> ");
    if (!arrow)
        return;
    const char *colon = arrow;
    while (colon > message && *colon != ':')
        colon--;
    unsigned local_port = 0;
    if (*colon != ':' || sscanf(colon + 1, "%u", &local_port) != 1)
        return;
    const char *remote = arrow + 5;
    size_t rlen = strcspn(remote, " ");
    for (size_t i = 0; i < m->n_servers; i++) {
        struct gw_server *s = &m->servers[i];
        if (!s->addr_str[0] || strlen(s->addr_str) != rlen || strncmp(s->addr_str, remote, rlen) != 0)
            continue;
        for (size_t b = 0; b < m->n_buckets; b++)
            for (struct gw_vclient *vc = m->buckets[b]; vc; vc = vc->hnext) {
                struct gw_reg *r = gw_vclient_reg_of(vc, s);
                if (!r || !r->session)
                    continue;
                const coap_address_t *la = coap_session_get_addr_local(r->session);
                if (la && coap_address_get_port(la) == local_port) {
                    gw_reg_icmp(r);
                    return;
                }
            }
    }
}

/* libcoap's own housekeeping (retransmissions, delayed packets, session
 * timeouts) walks every session: with 10,000 clients that walk costs more
 * than the packet it runs for. So it runs only when libcoap's timer fires
 * (an epoll event with no socket) and once a second as a safety net, and
 * ready sockets go straight to coap_io_do_epoll. */
static void coap_housekeeping(gw_lwm2m_t *m)
{
    coap_tick_t now;
    coap_ticks(&now);
    coap_io_prepare_epoll(m->ctx, now);
    m->last_prepare_ms = gw_now_ms();
}

static void read_ready(gw_lwm2m_t *m)
{
    struct epoll_event ev[64];
    for (int round = 0; round < 16; round++) {
        int n = epoll_wait(m->coap_fd, ev, 64, 0);
        if (n <= 0)
            break;
        bool timer = false;
        for (int i = 0; i < n; i++)
            if (!ev[i].data.ptr)
                timer = true;
        receiving = m;
        coap_io_do_epoll(m->ctx, ev, (size_t)n);
        receiving = NULL;
        if (timer)
            coap_housekeeping(m);
        if (n < 64)
            break;
    }
}

static void on_coap_fd(void *ctx, uint32_t events)
{
    (void)events;
    gw_lwm2m_t *m = ctx;
    read_ready(m);
    gw_lwm2m_after_io(m);
}

static int64_t coap_prepare(void *ctx)
{
    gw_lwm2m_t *m = ctx;
    if (gw_now_ms() - m->last_prepare_ms >= 1000)
        coap_housekeeping(m);
    gw_lwm2m_after_io(m);
    gw_coap_log_flush();
    return m->last_prepare_ms + 1000;
}

/* ---- servers ---- */

static int server_resolve(struct gw_server *s)
{
    struct addrinfo hints = {0}, *res = NULL;
    char port[8];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    snprintf(port, sizeof port, "%u", s->port);
    int rc = getaddrinfo(s->host, port, &hints, &res);
    if (rc != 0 || !res) {
        gw_warn("server %s: cannot resolve %s: %s", s->uri, s->host, gai_strerror(rc));
        return -EHOSTUNREACH;
    }
    coap_address_init(&s->addr);
    s->addr.size = res->ai_addrlen;
    memcpy(&s->addr.addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    s->resolved = true;
    size_t al = coap_print_addr(&s->addr, (unsigned char *)s->addr_str, sizeof s->addr_str - 1);
    s->addr_str[al < sizeof s->addr_str ? al : 0] = '\0';
    return 0;
}

int gw_server_init(gw_lwm2m_t *m, struct gw_server *s, size_t index, const gw_lwm2m_server_opts_t *o)
{
    coap_uri_t uri;
    s->m = m;
    s->index = index;
    if (!o->uri || coap_split_uri((const uint8_t *)o->uri, strlen(o->uri), &uri) < 0 ||
        (uri.scheme != COAP_URI_SCHEME_COAP && uri.scheme != COAP_URI_SCHEME_COAPS) ||
        uri.host.length == 0) {
        gw_err("server uri \"%s\" is not valid: expected coap://host[:port] or coaps://host[:port]",
               o->uri ? o->uri : "");
        return -EINVAL;
    }
    s->proto = uri.scheme == COAP_URI_SCHEME_COAPS ? COAP_PROTO_DTLS : COAP_PROTO_UDP;
    if ((s->proto == COAP_PROTO_DTLS) != (o->security != GW_LWM2M_NOSEC)) {
        gw_err("server %s: coaps needs security \"psk\", \"rpk\" or \"x509\", coap \"nosec\"", o->uri);
        return -EINVAL;
    }
    if (s->proto == COAP_PROTO_DTLS && !coap_dtls_is_supported()) {
        gw_err("server %s: this libcoap has no DTLS support", o->uri);
        return -EINVAL;
    }
    s->uri = strdup(o->uri);
    s->host = strndup((const char *)uri.host.s, uri.host.length);
    s->binding = strdup(o->binding ? o->binding : "U");
    s->psk_identity = strdup(o->psk_identity ? o->psk_identity : "{endpoint}");
    if (!s->uri || !s->host || !s->binding || !s->psk_identity)
        return -ENOMEM;
    s->port = uri.port;
    s->lifetime = o->lifetime > 0 ? o->lifetime : 300;
    s->security = o->security;
    if (o->psk_key_len > sizeof s->psk_key)
        return -EINVAL;
    if (o->psk_key_len)
        memcpy(s->psk_key, o->psk_key, o->psk_key_len);
    s->psk_key_len = o->psk_key_len;
    if (o->dtls && ((s->dtls = calloc(1, sizeof *s->dtls)) == NULL || gw_dtls_creds_copy(s->dtls, o->dtls) < 0))
        return -ENOMEM;
    s->rps = o->registrations_per_second;
    s->ssid = o->short_server_id ? o->short_server_id : (uint16_t)(index + 1);
    s->default_pmin = o->default_pmin;
    s->default_pmax = o->default_pmax;
    s->confirmable_notifications = o->confirmable_notifications;
    s->content_format = o->content_format ? o->content_format : GW_CF_LWM2M_TLV;
    if (s->content_format != GW_CF_LWM2M_TLV && s->content_format != GW_CF_SENML_JSON &&
        s->content_format != GW_CF_SENML_CBOR) {
        gw_err("server %s: preferred content format %d is none of 11542, 110, 112", o->uri,
               s->content_format);
        return -EINVAL;
    }
    gw_server_pace_init(s);
    gw_server_outage_init(s);
    server_resolve(s); /* retried at the first Register when it fails now */
    return 0;
}

void gw_server_fini(struct gw_server *s)
{
    if (s->m)
        gw_timer_stop(s->m->loop, &s->pace_timer);
    gw_server_outage_fini(s);
    free(s->uri);
    free(s->host);
    free(s->binding);
    free(s->psk_identity);
    if (s->dtls)
        gw_dtls_creds_free(s->dtls);
    free(s->dtls);
    s->dtls = NULL;
}

/* ---- sessions ---- */

int gw_reg_ensure_session(struct gw_reg *r)
{
    struct gw_server *s = r->srv;
    gw_lwm2m_t *m = s->m;
    if (r->session && r->drop_session)
        gw_reg_release_session(r);
    if (r->session)
        return 0;
    if (!s->resolved && server_resolve(s) < 0)
        return -EHOSTUNREACH;
    errno = 0;
    if (s->proto == COAP_PROTO_DTLS) {
        int rc = gw_dtls_session(r, &r->session); /* dtls.c: PSK, RPK or X.509 as /0 says */
        if (rc == -EINVAL) {
            gw_warn("%s: cannot open a DTLS session to %s: %s", r->vc->endpoint, s->uri, r->dtls_why);
            return rc;
        }
    } else {
        r->session = coap_new_client_session(m->ctx, NULL, &s->addr, COAP_PROTO_UDP);
    }
    if (!r->session) {
        int e = errno;
        /* Credentials were checked above; what is left is the socket, or
         * libcoap's DTLS setup (its own log lines above say why). */
        if (e == EMFILE || e == ENFILE)
            gw_warn("%s: cannot open a CoAP session to %s: %s (raise LimitNOFILE)", r->vc->endpoint, s->uri,
                    strerror(e));
        else if (s->proto == COAP_PROTO_DTLS)
            gw_warn("%s: cannot open a DTLS session to %s: libcoap refused its setup (see libcoap's lines above)",
                    r->vc->endpoint, s->uri);
        else
            gw_warn("%s: cannot open a CoAP session to %s: %s", r->vc->endpoint, s->uri,
                    e ? strerror(e) : "libcoap refused it");
        return -EIO;
    }
    coap_session_set_app_data(r->session, r);
    r->drop_session = false;
    return 0;
}

/* libcoap keeps a session alive while messages of it wait to be
 * retransmitted (each holds a reference), and 4.3.1 goes on retransmitting
 * after reporting an ICMP error: a released session would keep sending its
 * Register for ~90 s, and a restarted server would take that stale
 * Register's address for the client's. So its messages are cancelled first
 * (coap_session_disconnected with a reason other than ICMP removes them on
 * every version), and only after libcoap's callbacks returned: a callback
 * may be running from within a walk of that very queue. */
void gw_reg_release_session(struct gw_reg *r)
{
    gw_dtls_reg_free(r);
    if (!r->session)
        return;
    gw_lwm2m_t *m = r->vc->m;
    coap_session_t *sess = r->session;
    gw_dm_block_drop(r);
    coap_session_set_app_data(sess, NULL); /* answers 4.04, reports nothing, until released */
    r->session = NULL;
    r->drop_session = false;
    if (m->n_dead == m->cap_dead) {
        size_t cap = m->cap_dead ? m->cap_dead * 2 : 64;
        coap_session_t **d = realloc(m->dead, cap * sizeof *d);
        if (!d) {
            coap_session_release(sess); /* out of memory: at least not leaked */
            return;
        }
        m->dead = d;
        m->cap_dead = cap;
    }
    m->dead[m->n_dead++] = sess;
}

static void reap_sessions(gw_lwm2m_t *m)
{
    /* The NACKs this causes find no app data: nothing reacts to them. */
    for (size_t i = 0; i < m->n_dead; i++) {
        coap_session_disconnected(m->dead[i], COAP_NACK_NOT_DELIVERABLE);
        coap_session_release(m->dead[i]);
    }
    m->n_dead = 0;
}

void gw_lwm2m_after_io(gw_lwm2m_t *m)
{
    for (size_t i = 0; i < m->n_servers; i++)
        if (m->servers[i].away_pending) {
            /* ICMP errors already queued on other sessions name datagrams
             * lost earlier than the evidence at hand: read them before the
             * sessions are given up, so their readings are kept too. */
            read_ready(m);
            break;
        }
    gw_server_outage_process(m);
    reap_sessions(m);
}

/* ---- module ---- */

int gw_lwm2m_new(gw_loop_t *loop, gw_store_t *store, const gw_lwm2m_server_opts_t *servers,
                 size_t n_servers, gw_lwm2m_t **out)
{
    int rc = -ENOMEM;
    gw_lwm2m_t *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return -ENOMEM;
    m->loop = loop;
    m->store = store;
    m->coap_fd = -1;
    gw_dm_block_init(m);
    m->rng = (uint64_t)gw_wall_ms() ^ ((uint64_t)(uintptr_t)m << 16) ^ 0x9E3779B97F4A7C15ull;
    coap_startup();
    coap_set_log_handler(on_coap_log);
    /* libcoap's info level narrates every packet; keep it for debug. Never
     * above info, whatever the gateway's level: at its debug level libcoap
     * dumps every PDU (a Bootstrap-Write of /0 carries keys) and hands
     * GnuTLS's own debug log through, which can show key material. Keys are
     * never logged (tests/integration/test_dtls.py greps a debug run). */
    coap_set_log_level(gw_log_get_level() >= LOG_DEBUG ? LOG_INFO : LOG_WARNING);
    coap_dtls_set_log_level(LOG_WARNING);
    m->ctx = coap_new_context(NULL);
    if (!m->ctx)
        goto fail;
    /* Block mode stays off: the gateway does RFC 7959 itself, both ways
     * (dm_block.c, registration.c, dm.c, observe.c). libcoap's Block1
     * reassembly crashes in 4.3.1 and behaves differently in 4.3.4/4.3.5; with
     * block mode off every version hands each block over untouched
     * (docs/lwm2m.md, "libcoap versions"). */
    coap_context_set_block_mode(m->ctx, 0);
    coap_register_response_handler(m->ctx, on_response);
    coap_register_nack_handler(m->ctx, on_nack);
    coap_register_event_handler(m->ctx, on_event);

    coap_resource_t *r = coap_resource_unknown_init2(gw_dm_handle, 0);
    if (!r)
        goto fail;
    coap_register_request_handler(r, COAP_REQUEST_GET, gw_dm_handle);
    coap_register_request_handler(r, COAP_REQUEST_POST, gw_dm_handle);
    coap_register_request_handler(r, COAP_REQUEST_DELETE, gw_dm_handle);
    coap_register_request_handler(r, COAP_REQUEST_FETCH, gw_dm_handle);
    coap_register_request_handler(r, COAP_REQUEST_IPATCH, gw_dm_handle);
    coap_add_resource(m->ctx, r);

    /* One listener among others (MQTT mirror, ...): the store calls each. */
    rc = gw_store_listen(store, on_store_change, m);
    if (rc < 0)
        goto fail;
    rc = -ENOMEM;
    /* Room for the servers bootstrap servers may name: pointers into the
     * array (r->srv) must never move. Zero servers is fine when clients
     * bootstrap (gw_lwm2m_set_bootstrap). */
    m->cap_servers = n_servers + GW_MAX_DYN_SERVERS;
    m->servers = calloc(m->cap_servers, sizeof *m->servers);
    if (!m->servers)
        goto fail;
    for (size_t i = 0; i < n_servers; i++) {
        m->n_servers = i + 1;
        rc = gw_server_init(m, &m->servers[i], i, &servers[i]);
        if (rc < 0)
            goto fail;
    }
    m->n_config_servers = n_servers;
    m->coap_fd = coap_context_get_coap_fd(m->ctx);
    if (m->coap_fd < 0) {
        gw_err("libcoap was built without epoll support; the gateway needs it");
        rc = -EIO;
        goto fail;
    }
    rc = gw_loop_add_fd(loop, m->coap_fd, EPOLLIN, on_coap_fd, m);
    if (rc < 0)
        goto fail;
    rc = gw_loop_add_prepare(loop, coap_prepare, m);
    if (rc < 0) {
        gw_loop_del_fd(loop, m->coap_fd);
        goto fail;
    }
    gw_timer_init(&m->shutdown_timer, NULL, NULL);
    *out = m;
    return 0;
fail:
    if (rc == -ENOMEM)
        gw_err("out of memory setting up the LwM2M client");
    m->coap_fd = -1;
    gw_lwm2m_free(&m);
    return rc;
}

void gw_vclient_regs_release(gw_vclient_t *vc)
{
    for (size_t i = 0; i < vc->n_regs; i++) {
        struct gw_server *s = vc->regs[i].srv;
        if (vc->regs[i].returning && s->n_returning)
            s->n_returning--;
        if (s->probe == &vc->regs[i])
            s->probe = NULL;
        gw_obs_drop_all(&vc->regs[i]);
        gw_dm_orphan_writes(&vc->regs[i]);
        gw_reg_stop(&vc->regs[i]);
        gw_reg_release_session(&vc->regs[i]);
        free(vc->regs[i].location);
        vc->regs[i].location = NULL;
    }
}

static void vclient_free(gw_lwm2m_t *m, struct gw_vclient *vc)
{
    gw_bs_client_free(vc);
    gw_vclient_regs_release(vc);
    m->n_regs_total -= vc->n_regs;
    gw_send_client_free(vc);
    gw_store_client_free(m->store, &vc->sc);
    free(vc->endpoint);
    free(vc->psk_identity);
    gw_dtls_wipe(vc->psk_key, vc->psk_key_len);
    free(vc->psk_key);
    if (vc->dtls)
        gw_dtls_creds_free(vc->dtls);
    free(vc->dtls);
    free(vc);
}

void gw_lwm2m_free(gw_lwm2m_t **pm)
{
    gw_lwm2m_t *m = *pm;
    if (!m)
        return;
    for (size_t i = 0; i < m->n_buckets; i++) {
        struct gw_vclient *vc = m->buckets[i], *next;
        for (; vc; vc = next) {
            next = vc->hnext;
            vclient_free(m, vc);
        }
    }
    free(m->buckets);
    gw_store_unlisten(m->store, on_store_change, m); /* -ENOENT when new failed before */
    gw_send_module_free(m);
    gw_timer_stop(m->loop, &m->shutdown_timer);
    gw_dm_block_fini(m);
    if (m->coap_fd >= 0) {
        gw_loop_del_fd(m->loop, m->coap_fd);
        gw_loop_del_prepare(m->loop, coap_prepare, m);
    }
    for (size_t i = 0; i < m->n_servers; i++)
        gw_server_fini(&m->servers[i]);
    gw_lwm2m_bootstrap_free(m);
    free(m->servers);
    reap_sessions(m);
    free(m->dead);
    if (m->ctx)
        coap_free_context(m->ctx);
    coap_cleanup();
    free(m);
    *pm = NULL;
}

void gw_lwm2m_set_write_hook(gw_lwm2m_t *m, gw_vclient_write_fn fn, void *ctx)
{
    m->write_hook = fn;
    m->write_ctx = ctx;
}

void gw_lwm2m_set_refresh(gw_lwm2m_t *m, gw_vclient_refresh_fn fn, void *ctx)
{
    m->refresh = fn;
    m->refresh_ctx = ctx;
}

int gw_vclient_new(gw_lwm2m_t *m, const char *endpoint, const gw_vclient_opts_t *opts, void *app,
                   gw_vclient_t **out)
{
    int rc = -ENOMEM;
    *out = NULL;
    if (gw_lwm2m_find(m, endpoint))
        return -EEXIST;
    if (m->n_clients + 1 > m->n_buckets && grow_buckets(m) < 0)
        return -ENOMEM;
    bool bootstrap = m->bs_server && ((opts && opts->bootstrap) || m->bootstrap_all);
    /* A client that bootstraps has room for the accounts a bootstrap
     * server may give it; the others one registration per configured
     * server (10,000 clients: no spare room). */
    size_t cap = m->n_config_servers;
    if (bootstrap && cap < GW_BS_MAX_ACCOUNTS)
        cap = GW_BS_MAX_ACCOUNTS;
    struct gw_vclient *vc = calloc(1, sizeof *vc + cap * sizeof vc->regs[0]);
    if (!vc)
        return -ENOMEM;
    vc->cap_regs = cap;
    vc->m = m;
    vc->app = app;
    vc->endpoint = strdup(endpoint);
    if (!vc->endpoint)
        goto fail;
    if (opts && opts->psk_identity && !(vc->psk_identity = strdup(opts->psk_identity)))
        goto fail;
    if (opts && opts->psk_key_len) {
        vc->psk_key = malloc(opts->psk_key_len);
        if (!vc->psk_key)
            goto fail;
        memcpy(vc->psk_key, opts->psk_key, opts->psk_key_len);
        vc->psk_key_len = opts->psk_key_len;
    }
    if (opts && opts->dtls &&
        ((vc->dtls = calloc(1, sizeof *vc->dtls)) == NULL || gw_dtls_creds_copy(vc->dtls, opts->dtls) < 0))
        goto fail;
    rc = gw_store_client_new(m->store, vc, &vc->sc);
    if (rc < 0)
        goto fail;
    vc->queue_mode = opts && opts->queue_mode;
    vc->queue_time_s = opts && opts->queue_time_s > 0 ? opts->queue_time_s : 93; /* MAX_TRANSMIT_WAIT */
    if (bootstrap) {
        rc = gw_bs_client_new(vc, true); /* accounts come from the bootstrap server or state_dir */
        if (rc < 0)
            goto fail;
    } else {
        vc->n_regs = m->n_config_servers;
        m->n_regs_total += vc->n_regs;
        for (size_t i = 0; i < m->n_config_servers; i++) {
            gw_reg_init(&vc->regs[i], vc, &m->servers[i]);
            rc = gw_accounts_add_config(vc, &m->servers[i], (uint16_t)i, vc->queue_mode);
            if (rc < 0)
                goto fail;
        }
    }
    rc = gw_send_client_new(vc, opts);
    if (rc < 0)
        goto fail;
    size_t k = hash_str(endpoint) & (m->n_buckets - 1);
    vc->hnext = m->buckets[k];
    m->buckets[k] = vc;
    m->n_clients++;
    *out = vc;
    return 0;
fail:
    m->n_regs_total -= vc->n_regs;
    vc->n_regs = 0;
    vclient_free(m, vc);
    return rc;
}

int gw_vclient_start(gw_lwm2m_t *m, gw_vclient_t *vc)
{
    (void)m;
    if (vc->bs) {
        gw_bs_start(vc);
        return 0;
    }
    gw_vclient_regs_start(vc);
    return 0;
}

int gw_vclient_objects_changed(gw_lwm2m_t *m, gw_vclient_t *vc)
{
    (void)m;
    for (size_t i = 0; i < vc->n_regs; i++)
        gw_reg_request_update(&vc->regs[i], true);
    return 0;
}

void gw_vclient_remove(gw_lwm2m_t *m, gw_vclient_t **pvc)
{
    struct gw_vclient *vc = *pvc;
    if (!vc)
        return;
    size_t k = hash_str(vc->endpoint) & (m->n_buckets - 1);
    for (struct gw_vclient **pp = &m->buckets[k]; *pp; pp = &(*pp)->hnext) {
        if (*pp == vc) {
            *pp = vc->hnext;
            break;
        }
    }
    m->n_clients--;
    /* A De-register is sent best effort: the session is released right
     * after, so its answer is not awaited (libcoap still transmits it). */
    for (size_t i = 0; i < vc->n_regs; i++)
        gw_reg_deregister(&vc->regs[i]);
    vclient_free(m, vc);
    *pvc = NULL;
}

void gw_vclient_stop(gw_lwm2m_t *m, gw_vclient_t *vc)
{
    (void)m;
    for (size_t i = 0; i < vc->n_regs; i++) {
        gw_obs_drop_all(&vc->regs[i]);
        gw_reg_deregister(&vc->regs[i]);
    }
}

gw_sclient_t *gw_vclient_store(const gw_vclient_t *vc) { return vc->sc; }
const char *gw_vclient_endpoint(const gw_vclient_t *vc) { return vc->endpoint; }
void *gw_vclient_app(const gw_vclient_t *vc) { return vc->app; }

bool gw_vclient_registered(const gw_vclient_t *vc)
{
    for (size_t i = 0; i < vc->n_regs; i++)
        if (vc->regs[i].state != GW_REG_REGISTERED && vc->regs[i].state != GW_REG_UPDATING)
            return false;
    return true;
}

size_t gw_lwm2m_client_count(const gw_lwm2m_t *m) { return m->n_clients; }
size_t gw_lwm2m_registered_count(const gw_lwm2m_t *m) { return m->n_registered; }

static void shutdown_finish(void *ctx)
{
    gw_lwm2m_t *m = ctx;
    gw_work_fn done = m->shutdown_done;
    if (!done)
        return;
    m->shutdown_done = NULL;
    gw_timer_stop(m->loop, &m->shutdown_timer);
    if (m->dereg_pending)
        gw_warn("shutdown: %zu de-registrations not confirmed before the timeout", m->dereg_pending);
    done(m->shutdown_ctx);
}

int gw_lwm2m_shutdown(gw_lwm2m_t *m, int64_t timeout_ms, gw_work_fn done, void *ctx)
{
    m->shutting_down = true;
    m->shutdown_done = done;
    m->shutdown_ctx = ctx;
    m->dereg_pending = 0;
    for (size_t i = 0; i < m->n_buckets; i++)
        for (struct gw_vclient *vc = m->buckets[i]; vc; vc = vc->hnext)
            for (size_t j = 0; j < vc->n_regs; j++)
                if (gw_reg_deregister(&vc->regs[j]) == 0)
                    m->dereg_pending++;
    gw_info("shutdown: de-registering %zu registrations", m->dereg_pending);
    if (m->dereg_pending == 0)
        return gw_loop_post(m->loop, shutdown_finish, m);
    gw_timer_init(&m->shutdown_timer, shutdown_finish, m);
    return gw_timer_start(m->loop, &m->shutdown_timer, timeout_ms);
}

/* Called by registration.c when a De-register is answered or fails. */
void gw_lwm2m_dereg_done(gw_lwm2m_t *m)
{
    if (!m->shutting_down || m->dereg_pending == 0)
        return;
    if (--m->dereg_pending == 0)
        gw_loop_post(m->loop, shutdown_finish, m);
}
