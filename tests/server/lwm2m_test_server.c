/*
 * tests/server/lwm2m_test_server.c - a small, independent LwM2M server for
 * the gateway's integration tests, `make demo` and `make bench`.
 *
 *   lwm2m-test-server [--port 5683] [--bind 127.0.0.1] [--ack-timeout MS]
 *                     [--max-retransmit N] [--debug]
 *
 * Registration interface (NoSec UDP): POST /rd, POST /rd/<id>, DELETE
 * /rd/<id>; Send: POST /dp. Every event is one JSON line on stdout; commands
 * are JSON lines on stdin (see requests.c). --port 0 picks a free port, which
 * the {"event":"ready","port":N} line reports.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sys/epoll.h>

/* libcoap 4.3.1 has no context user pointer and the response/nack handlers
 * get none, so the one server instance is reachable through this pointer. */
static ts_server_t *ts_srv;

#define TS_READS_PER_WALK 16

ts_client_t *ts_client_by_ep(ts_server_t *s, const char *ep)
{
    return ts_map_get(&s->by_ep, ep);
}

static void ts_client_destroy(ts_server_t *s, ts_client_t *c)
{
    ts_map_del(&s->by_ep, c->ep);
    ts_map_del(&s->by_id, c->id);
    /* swap-remove keeps the round-robin array dense in O(1) */
    s->clients[c->index] = s->clients[--s->n_clients];
    s->clients[c->index]->index = c->index;
    if (c->session) {
        if (coap_session_get_app_data(c->session) == c)
            coap_session_set_app_data(c->session, NULL);
        coap_session_release(c->session);
    }
    free(c->ep);
    free(c->lwm2m);
    free(c->binding);
    free(c->links);
    free(c);
}

int ts_client_forget(ts_server_t *s, const char *ep)
{
    ts_client_t *c = ts_map_get(&s->by_ep, ep);
    if (!c)
        return -ENOENT;
    ts_client_destroy(s, c);
    return 0;
}

static cJSON *ts_client_json(const ts_client_t *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ep", c->ep);
    cJSON_AddStringToObject(o, "id", c->id);
    cJSON_AddStringToObject(o, "addr", c->addr);
    cJSON_AddNumberToObject(o, "lt", (double)c->lt);
    cJSON_AddStringToObject(o, "lwm2m", c->lwm2m);
    cJSON_AddStringToObject(o, "b", c->binding);
    cJSON_AddStringToObject(o, "links", c->links ? c->links : "");
    return o;
}

void ts_clients_list(ts_server_t *s, const cJSON *req)
{
    cJSON *ev = ts_event("clients");
    if (req)
        cJSON_AddItemToObject(ev, "req", cJSON_Duplicate(req, 1));
    cJSON_AddNumberToObject(ev, "count", (double)s->n_clients);
    cJSON *arr = cJSON_AddArrayToObject(ev, "clients");
    for (size_t i = 0; i < s->n_clients; i++)
        cJSON_AddItemToArray(arr, ts_client_json(s->clients[i]));
    ts_emit(ev);
}

/* ---- request parsing helpers ------------------------------------------- */

static void ts_addr_str(coap_session_t *session, char *buf, size_t n)
{
    const coap_address_t *a = coap_session_get_addr_remote(session);
    size_t len = a ? coap_print_addr(a, (unsigned char *)buf, n - 1) : 0;
    buf[len] = '\0';
}

/* Uri-Path segments joined with '/', e.g. "rd/5". */
static void ts_uri_path(const coap_pdu_t *pdu, char *buf, size_t n)
{
    coap_opt_iterator_t it;
    coap_opt_filter_t f;
    coap_opt_t *o;
    size_t len = 0;
    coap_option_filter_clear(&f);
    coap_option_filter_set(&f, COAP_OPTION_URI_PATH);
    coap_option_iterator_init(pdu, &it, &f);
    buf[0] = '\0';
    while ((o = coap_option_next(&it))) {
        size_t l = coap_opt_length(o);
        if (len + l + 2 >= n)
            break;
        if (len)
            buf[len++] = '/';
        memcpy(buf + len, coap_opt_value(o), l);
        len += l;
        buf[len] = '\0';
    }
}

/* Every Uri-Query option as a JSON object; a key without '=' maps to "". */
static cJSON *ts_query(const coap_pdu_t *pdu)
{
    coap_opt_iterator_t it;
    coap_opt_filter_t f;
    coap_opt_t *o;
    cJSON *q = cJSON_CreateObject();
    coap_option_filter_clear(&f);
    coap_option_filter_set(&f, COAP_OPTION_URI_QUERY);
    coap_option_iterator_init(pdu, &it, &f);
    while ((o = coap_option_next(&it))) {
        char kv[300];
        size_t l = coap_opt_length(o);
        if (l >= sizeof(kv))
            l = sizeof(kv) - 1;
        memcpy(kv, coap_opt_value(o), l);
        kv[l] = '\0';
        char *eq = strchr(kv, '=');
        if (eq)
            *eq++ = '\0';
        cJSON_DeleteItemFromObject(q, kv);
        cJSON_AddStringToObject(q, kv, eq ? eq : "");
    }
    return q;
}

static const char *ts_qget(const cJSON *q, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(q, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int ts_content_format(const coap_pdu_t *pdu)
{
    coap_opt_iterator_t it;
    coap_opt_t *o = coap_check_option(pdu, COAP_OPTION_CONTENT_FORMAT, &it);
    if (!o)
        return -1;
    return (int)coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
}

static void ts_payload(const coap_pdu_t *pdu, const uint8_t **data, size_t *len)
{
    size_t off = 0, total = 0;
    *data = NULL;
    *len = 0;
    if (!coap_get_data_large(pdu, len, data, &off, &total)) {
        *data = NULL;
        *len = 0;
    }
}

static int ts_parse_lt(const char *v, long *out)
{
    char *end;
    errno = 0;
    long lt = strtol(v, &end, 10);
    if (errno || end == v || *end || lt <= 0)
        return -EINVAL;
    *out = lt;
    return 0;
}

/* Reports a request the server refuses, so a test sees why. */
static void ts_reject(coap_pdu_t *resp, unsigned code, const char *what, const char *addr,
                      const char *why)
{
    cJSON *ev = ts_event("rejected");
    char c[8];
    ts_code_str(code, c);
    cJSON_AddStringToObject(ev, "what", what);
    cJSON_AddStringToObject(ev, "code", c);
    cJSON_AddStringToObject(ev, "addr", addr);
    cJSON_AddStringToObject(ev, "reason", why);
    ts_emit(ev);
    coap_pdu_set_code(resp, (coap_pdu_code_t)code);
    coap_add_data(resp, strlen(why), (const uint8_t *)why);
}

static void ts_session_params(ts_server_t *s, coap_session_t *session)
{
    coap_fixed_point_t at = {(uint16_t)(s->ack_timeout_ms / 1000),
                             (uint16_t)(s->ack_timeout_ms % 1000)};
    coap_session_set_ack_timeout(session, at);
    coap_session_set_max_retransmit(session, s->max_retransmit);
}

/* Binds a client to the session its latest message came from: requests to
 * the client must leave from the listening socket towards that address. */
static void ts_client_bind_session(ts_server_t *s, ts_client_t *c, coap_session_t *session)
{
    if (c->session == session)
        return;
    if (c->session) {
        if (coap_session_get_app_data(c->session) == c)
            coap_session_set_app_data(c->session, NULL);
        coap_session_release(c->session);
    }
    c->session = coap_session_reference(session);
    coap_session_set_app_data(session, c);
    ts_session_params(s, session);
    ts_addr_str(session, c->addr, sizeof(c->addr));
}

static char *ts_links_copy(const uint8_t *p, size_t n)
{
    char *l = malloc(n + 1);
    if (l) {
        if (n)
            memcpy(l, p, n);
        l[n] = '\0';
    }
    return l;
}

/* ---- Registration interface -------------------------------------------- */

static void ts_register(ts_server_t *s, coap_session_t *session, const coap_pdu_t *req,
                        coap_pdu_t *resp, const char *addr)
{
    cJSON *q = ts_query(req);
    const char *ep = ts_qget(q, "ep"), *v;
    long lt = 86400;
    const uint8_t *data;
    size_t len;
    int cf = ts_content_format(req);
    ts_client_t *c = NULL;

    ts_payload(req, &data, &len);
    if (!ep || !*ep) {
        ts_reject(resp, COAP_RESPONSE_CODE(400), "register", addr, "missing ep");
        goto out;
    }
    if ((v = ts_qget(q, "lt")) && ts_parse_lt(v, &lt) < 0) {
        ts_reject(resp, COAP_RESPONSE_CODE(400), "register", addr, "bad lt");
        goto out;
    }
    if (cf >= 0 && cf != COAP_MEDIATYPE_APPLICATION_LINK_FORMAT) {
        ts_reject(resp, COAP_RESPONSE_CODE(415), "register", addr,
                  "Content-Format must be 40 (link-format)");
        goto out;
    }
    if (len && !ts_utf8_valid(data, len)) {
        ts_reject(resp, COAP_RESPONSE_CODE(400), "register", addr, "payload is not UTF-8");
        goto out;
    }
    ts_client_t *old = ts_map_get(&s->by_ep, ep);
    char replaced[24] = "";
    if (old) {
        snprintf(replaced, sizeof(replaced), "%s", old->id);
        ts_client_destroy(s, old);
    }
    if (s->n_clients == s->cap_clients) {
        size_t cap = s->cap_clients ? s->cap_clients * 2 : 256;
        ts_client_t **a = realloc(s->clients, cap * sizeof(*a));
        if (!a)
            goto nomem;
        s->clients = a;
        s->cap_clients = cap;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        goto nomem;
    c->ep = strdup(ep);
    c->lwm2m = strdup((v = ts_qget(q, "lwm2m")) ? v : "1.0");
    c->binding = strdup((v = ts_qget(q, "b")) ? v : "U");
    c->links = ts_links_copy(data, len);
    c->lt = lt;
    snprintf(c->id, sizeof(c->id), "%u", s->next_id++);
    if (!c->ep || !c->lwm2m || !c->binding || !c->links)
        goto nomem;
    if (ts_map_put(&s->by_ep, c->ep, c) < 0)
        goto nomem;
    if (ts_map_put(&s->by_id, c->id, c) < 0) {
        ts_map_del(&s->by_ep, c->ep);
        goto nomem;
    }
    c->index = s->n_clients;
    s->clients[s->n_clients++] = c;
    ts_client_bind_session(s, c, session);

    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CREATED);
    coap_add_option(resp, COAP_OPTION_LOCATION_PATH, 2, (const uint8_t *)"rd");
    coap_add_option(resp, COAP_OPTION_LOCATION_PATH, strlen(c->id), (const uint8_t *)c->id);

    cJSON *ev = ts_event("register");
    cJSON_AddStringToObject(ev, "ep", c->ep);
    cJSON_AddStringToObject(ev, "id", c->id);
    cJSON_AddNumberToObject(ev, "lt", (double)lt);
    cJSON_AddStringToObject(ev, "lwm2m", c->lwm2m);
    cJSON_AddStringToObject(ev, "b", c->binding);
    cJSON_AddStringToObject(ev, "addr", c->addr);
    if (replaced[0])
        cJSON_AddStringToObject(ev, "replaced", replaced);
    if (cf >= 0)
        cJSON_AddNumberToObject(ev, "cf", cf);
    cJSON_AddItemToObject(ev, "query", q);
    q = NULL;
    cJSON_AddStringToObject(ev, "links", c->links);
    ts_emit(ev);
    goto out;
nomem:
    if (c) {
        free(c->ep);
        free(c->lwm2m);
        free(c->binding);
        free(c->links);
        free(c);
    }
    ts_reject(resp, COAP_RESPONSE_CODE(500), "register", addr, "out of memory");
out:
    cJSON_Delete(q);
}

static void ts_update(ts_server_t *s, coap_session_t *session, const char *id,
                      const coap_pdu_t *req, coap_pdu_t *resp, const char *addr)
{
    cJSON *q = ts_query(req);
    ts_client_t *c = ts_map_get(&s->by_id, id);
    const uint8_t *data;
    size_t len;
    const char *v;
    long lt;
    int cf = ts_content_format(req);

    ts_payload(req, &data, &len);
    if (!c) {
        cJSON *ev = ts_event("update_unknown");
        cJSON_AddStringToObject(ev, "id", id);
        cJSON_AddStringToObject(ev, "addr", addr);
        ts_emit(ev);
        coap_pdu_set_code(resp, COAP_RESPONSE_CODE_NOT_FOUND);
        goto out;
    }
    if ((v = ts_qget(q, "lt")) && ts_parse_lt(v, &lt) < 0) {
        ts_reject(resp, COAP_RESPONSE_CODE(400), "update", addr, "bad lt");
        goto out;
    }
    if (len && cf >= 0 && cf != COAP_MEDIATYPE_APPLICATION_LINK_FORMAT) {
        ts_reject(resp, COAP_RESPONSE_CODE(415), "update", addr,
                  "Content-Format must be 40 (link-format)");
        goto out;
    }
    if (len && !ts_utf8_valid(data, len)) {
        ts_reject(resp, COAP_RESPONSE_CODE(400), "update", addr, "payload is not UTF-8");
        goto out;
    }
    if (v)
        c->lt = lt;
    if ((v = ts_qget(q, "b"))) {
        char *b = strdup(v);
        if (b) {
            free(c->binding);
            c->binding = b;
        }
    }
    if (len) {
        char *l = ts_links_copy(data, len);
        if (l) {
            free(c->links);
            c->links = l;
        }
    }
    ts_client_bind_session(s, c, session);
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);

    cJSON *ev = ts_event("update");
    cJSON_AddStringToObject(ev, "ep", c->ep);
    cJSON_AddStringToObject(ev, "id", c->id);
    cJSON_AddNumberToObject(ev, "lt", (double)c->lt);
    cJSON_AddStringToObject(ev, "b", c->binding);
    cJSON_AddStringToObject(ev, "addr", c->addr);
    cJSON_AddItemToObject(ev, "query", q);
    q = NULL;
    if (len)
        cJSON_AddStringToObject(ev, "links", c->links);
    ts_emit(ev);
out:
    cJSON_Delete(q);
}

static void ts_deregister(ts_server_t *s, const char *id, coap_pdu_t *resp, const char *addr)
{
    ts_client_t *c = ts_map_get(&s->by_id, id);
    cJSON *ev = ts_event(c ? "deregister" : "deregister_unknown");
    if (c)
        cJSON_AddStringToObject(ev, "ep", c->ep);
    cJSON_AddStringToObject(ev, "id", id);
    cJSON_AddStringToObject(ev, "addr", addr);
    ts_emit(ev);
    if (!c) {
        coap_pdu_set_code(resp, COAP_RESPONSE_CODE_NOT_FOUND);
        return;
    }
    ts_client_destroy(s, c);
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_DELETED);
}

static void ts_send(coap_session_t *session, const coap_pdu_t *req, coap_pdu_t *resp,
                    const char *addr)
{
    ts_client_t *c = coap_session_get_app_data(session);
    const uint8_t *data;
    size_t len;
    int cf = ts_content_format(req);
    cJSON *ev = ts_event("send");

    ts_payload(req, &data, &len);
    if (c)
        cJSON_AddStringToObject(ev, "ep", c->ep);
    else
        cJSON_AddNullToObject(ev, "ep");
    cJSON_AddStringToObject(ev, "addr", addr);
    cJSON_AddNumberToObject(ev, "cf", cf);
    ts_add_payload(ev, data, len);
    if (!c)
        cJSON_AddBoolToObject(ev, "registered", 0);
    ts_emit(ev);
    /* LwM2M Send is only valid from a registered client */
    coap_pdu_set_code(resp, c ? COAP_RESPONSE_CODE_CHANGED : COAP_RESPONSE_CODE_NOT_FOUND);
}

/* One handler for every method and path: the Registration interface has a
 * path per client (rd/<id>), which is simpler to dispatch here than to
 * mirror as one libcoap resource per client. */
static void ts_handle(coap_resource_t *r, coap_session_t *session, const coap_pdu_t *req,
                      const coap_string_t *query, coap_pdu_t *resp)
{
    ts_server_t *s = ts_srv;
    char path[256], addr[64];
    coap_pdu_code_t code = coap_pdu_get_code(req);
    (void)r;
    (void)query;

    ts_uri_path(req, path, sizeof(path));
    ts_addr_str(session, addr, sizeof(addr));
    if (code == COAP_REQUEST_CODE_POST && strcmp(path, "rd") == 0) {
        ts_register(s, session, req, resp, addr);
    } else if (strncmp(path, "rd/", 3) == 0 && path[3] && !strchr(path + 3, '/') &&
               (code == COAP_REQUEST_CODE_POST || code == COAP_REQUEST_CODE_DELETE)) {
        if (code == COAP_REQUEST_CODE_POST)
            ts_update(s, session, path + 3, req, resp, addr);
        else
            ts_deregister(s, path + 3, resp, addr);
    } else if (code == COAP_REQUEST_CODE_POST && strcmp(path, "dp") == 0) {
        ts_send(session, req, resp, addr);
    } else {
        ts_reject(resp, COAP_RESPONSE_CODE(404), "request", addr, "no such path or method");
    }
}

/* ---- main loop --------------------------------------------------------- */

static void ts_usage(void)
{
    fprintf(stderr, "usage: lwm2m-test-server [--port 5683] [--bind 127.0.0.1] "
                    "[--ack-timeout MS] [--max-retransmit N] [--debug]\n");
}

static int ts_stdin_lines(ts_server_t *s, char **buf, size_t *len, size_t *cap)
{
    if (*cap - *len < 65536) {
        size_t nc = *cap * 2 + 65536;
        char *b = realloc(*buf, nc);
        if (!b)
            return -ENOMEM;
        *buf = b;
        *cap = nc;
    }
    ssize_t n = read(0, *buf + *len, *cap - *len - 1);
    if (n < 0)
        return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;
    if (n == 0)
        return -EPIPE;
    *len += (size_t)n;
    char *start = *buf, *nl;
    while (!s->quit && (nl = memchr(start, '\n', *len - (size_t)(start - *buf)))) {
        *nl = '\0';
        if (nl > start)
            ts_requests_command(s, start);
        start = nl + 1;
    }
    *len -= (size_t)(start - *buf);
    memmove(*buf, start, *len);
    return 0;
}

static int ts_parse_args(int argc, char **argv, ts_server_t *s, int *port, const char **bind,
                         int *debug)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--debug") == 0) {
            *debug = 1;
            continue;
        }
        if (!v)
            return -EINVAL;
        i++;
        if (strcmp(a, "--port") == 0)
            *port = atoi(v);
        else if (strcmp(a, "--bind") == 0)
            *bind = v;
        else if (strcmp(a, "--ack-timeout") == 0)
            s->ack_timeout_ms = (unsigned)atoi(v);
        else if (strcmp(a, "--max-retransmit") == 0)
            s->max_retransmit = (unsigned)atoi(v);
        else
            return -EINVAL;
    }
    if (*port < 0 || *port > 65535 || s->ack_timeout_ms < 100 || s->ack_timeout_ms > 60000 ||
        s->max_retransmit > 10)
        return -EINVAL;
    return 0;
}

/* 10,000 clients registering at once overflow the default 208 KiB receive
 * buffer, and every dropped datagram costs a 2-3 s retransmission. libcoap
 * does not expose the endpoint's socket, so find it among our fds by its
 * bound port. */
static void ts_grow_rcvbuf(int port)
{
    for (int fd = 3; fd < 1024; fd++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int type = 0;
        socklen_t tl = sizeof type;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 || ss.ss_family != AF_INET ||
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_DGRAM)
            continue;
        if (ntohs(((struct sockaddr_in *)&ss)->sin_port) != port)
            continue;
        int size = 4 << 20;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
}

int main(int argc, char **argv)
{
    ts_server_t srv;
    int port = 5683, debug = 0, rc = 1;
    const char *bind_host = "127.0.0.1";
    coap_address_t addr;
    coap_endpoint_t *ep;
    char *buf = NULL;
    size_t blen = 0, bcap = 0;

    memset(&srv, 0, sizeof(srv));
    /* Ids unique across restarts, as a real server's are: a restarted
     * server must not accept an Update for an id it never gave out. */
    srv.next_id = (unsigned)getpid() * 10000u + 1;
    srv.ack_timeout_ms = 2000; /* RFC 7252 defaults */
    srv.max_retransmit = 4;
    if (ts_parse_args(argc, argv, &srv, &port, &bind_host, &debug) < 0) {
        ts_usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    coap_startup();
    coap_set_log_level(debug ? LOG_DEBUG : LOG_ERR);

    coap_address_init(&addr);
    if (inet_pton(AF_INET, bind_host, &addr.addr.sin.sin_addr) == 1) {
        addr.addr.sin.sin_family = AF_INET;
        addr.addr.sin.sin_port = htons((uint16_t)port);
        addr.size = sizeof(addr.addr.sin);
    } else if (inet_pton(AF_INET6, bind_host, &addr.addr.sin6.sin6_addr) == 1) {
        addr.addr.sin6.sin6_family = AF_INET6;
        addr.addr.sin6.sin6_port = htons((uint16_t)port);
        addr.size = sizeof(addr.addr.sin6);
    } else {
        fprintf(stderr, "lwm2m-test-server: --bind wants a numeric address\n");
        return 2;
    }

    ts_srv = &srv;
    srv.ctx = coap_new_context(NULL);
    if (!srv.ctx || ts_map_init(&srv.by_ep) < 0 || ts_map_init(&srv.by_id) < 0 ||
        ts_requests_init(&srv) < 0) {
        fprintf(stderr, "lwm2m-test-server: out of memory\n");
        goto out;
    }
    coap_context_set_block_mode(srv.ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    /* Registered clients hold a session reference; the timeout only reaps
     * sessions of unregistered peers, so keep them long enough for tests. */
    coap_context_set_session_timeout(srv.ctx, 24 * 3600);
    coap_context_set_max_idle_sessions(srv.ctx, 0);
    ep = coap_new_endpoint(srv.ctx, &addr, COAP_PROTO_UDP);
    if (!ep) {
        fprintf(stderr, "lwm2m-test-server: cannot bind %s:%d\n", bind_host, port);
        goto out;
    }
    {
        /* coap_endpoint_str gives "addr:port UDP" with the bound port */
        const char *es = coap_endpoint_str(ep);
        const char *sp = strrchr(es, ' ');
        const char *colon = strrchr(es, ':');
        if (colon && sp && colon < sp)
            port = atoi(colon + 1);
    }
    ts_grow_rcvbuf(port);
    coap_resource_t *r = coap_resource_unknown_init2(ts_handle, 0);
    coap_register_request_handler(r, COAP_REQUEST_POST, ts_handle);
    coap_register_request_handler(r, COAP_REQUEST_DELETE, ts_handle);
    coap_register_request_handler(r, COAP_REQUEST_GET, ts_handle);
    coap_add_resource(srv.ctx, r);

    int cfd = coap_context_get_coap_fd(srv.ctx);
    if (cfd < 0) {
        fprintf(stderr, "lwm2m-test-server: libcoap built without epoll\n");
        goto out;
    }
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    {
        cJSON *ev = ts_event("ready");
        cJSON_AddNumberToObject(ev, "port", port);
        cJSON_AddStringToObject(ev, "bind", bind_host);
        ts_emit(ev);
    }

    uint64_t next_prep_us = 0, coap_due_us = UINT64_MAX;
    while (!srv.quit) {
        struct pollfd pfd[2] = {{cfd, POLLIN, 0}, {0, POLLIN, 0}};
        uint64_t now_us = ts_mono_us();
        /* coap_io_prepare_epoll() (retransmissions, timers) walks every
         * session: O(clients). Running it at most every 10 ms keeps 10,000
         * clients cheap; retransmissions are a few ms late at worst. */
        if (now_us >= next_prep_us) {
            coap_tick_t now;
            coap_ticks(&now);
            unsigned ct = coap_io_prepare_epoll(srv.ctx, now);
            next_prep_us = now_us + 10000;
            coap_due_us = ct ? now_us + (uint64_t)ct * 1000 : UINT64_MAX;
        }
        int t = ts_requests_tick(&srv);
        if (coap_due_us != UINT64_MAX) {
            uint64_t due = coap_due_us > next_prep_us ? coap_due_us : next_prep_us;
            int ct_ms = due > now_us ? (int)((due - now_us + 999) / 1000) : 0;
            if (ct_ms < t)
                t = ct_ms;
        }
        if (poll(pfd, 2, t) < 0 && errno != EINTR)
            break;
        /* not coap_io_process(): it reads one datagram and then walks every
         * session (coap_io_prepare_epoll), which dominated with 10,000
         * clients; drain the socket here and prepare at most every 10 ms */
        for (int round = 0; round < 256; round++) {
            struct epoll_event evs[8], batch[8 * TS_READS_PER_WALK];
            size_t nb = 0;
            int n = epoll_wait(cfd, evs, 8, 0);
            if (n <= 0)
                break;
            /* coap_io_do_epoll() reads one datagram per socket event and
             * then walks every session once; repeating a readable socket's
             * event reads up to TS_READS_PER_WALK datagrams per walk. An
             * extra read on an empty socket just fails with EAGAIN (logged
             * by libcoap only at warning level, which we do not show). */
            for (int i = 0; i < n; i++) {
                int k = evs[i].data.ptr && (evs[i].events & EPOLLIN) ? TS_READS_PER_WALK : 1;
                for (int j = 0; j < k; j++)
                    batch[nb++] = evs[i];
            }
            coap_io_do_epoll(srv.ctx, batch, nb);
        }
        if (pfd[1].revents) {
            int e = ts_stdin_lines(&srv, &buf, &blen, &bcap);
            if (e < 0)
                srv.quit = 1; /* EOF on stdin = quit */
        }
    }
    rc = 0;
out:
    {
        cJSON *ev = ts_event("stopped");
        ts_emit(ev);
    }
    while (srv.n_clients)
        ts_client_destroy(&srv, srv.clients[srv.n_clients - 1]);
    ts_requests_free(&srv);
    free(srv.clients);
    free(buf);
    ts_map_free(&srv.by_ep);
    ts_map_free(&srv.by_id);
    if (srv.ctx)
        coap_free_context(srv.ctx);
    coap_cleanup();
    return rc;
}
