/* Unit tests for the gateway's one write path (lwm2m/dm_write.c and
 * gateway/writes.c) with a fake adapter whose write_async completions the
 * test controls: several routed writes in one request answered when the
 * last completes with the worst result, a failing member next to one that
 * succeeds (what is stored, the diagnostic), a refusal by write_check that
 * starts nothing, completions after the client is gone (reload removed its
 * device) or cancelled by stop, and done called inside write_async
 * (answered piggybacked).
 *
 * The LwM2M server is this program: a libcoap context on a loopback port
 * whose fd sits in the gateway's loop. It answers the Registers and sends
 * the Writes to the clients' sessions; waits are on its responses (bounded),
 * never fixed sleeps. As in test_reload.c, this program defines the adapter
 * table (gw_adapters[] and gw_adapter_find), so the gateway runs with the
 * fake adapter only. */
#include "gwtest.h"

#include <arpa/inet.h>
#include <coap3/coap.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/gateway_internal.h"
#include "gateway/log.h"

/* ---- the fake adapter: writes wait until the test completes them ------- */

typedef struct fwrite {
    char key[32], field[32];
    double value;
    gw_write_done_fn done;
    void *done_ctx;
} fwrite_t;

struct gw_adapter {
    gw_adapter_env_t env;
};

static struct {
    gw_adapter_t *live;
    int checks, starts, stops;
    int reconf_rc;    /* what reconfigure returns: non-zero makes the gateway restart the adapter */
    bool late;        /* reconfigure leaves a removed device's writes pending (a result
                         already on its way to the loop): the test completes them later */
    char refuse[32];  /* write_check refuses this field with -ERANGE */
    bool sync;        /* write_async completes inside the call, with sync_rc */
    int sync_rc;
    fwrite_t pend[8]; /* started, not yet completed */
    size_t n_pend;
} fk;

static int fake_create(const gw_adapter_env_t *env, const void *section, const gw_adapter_device_t *devs,
                       size_t n, gw_adapter_t **out)
{
    (void)section, (void)devs, (void)n;
    gw_adapter_t *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->env = *env;
    fk.live = a;
    *out = a;
    return 0;
}

/* The contract: the pending writes of a removed or changed device are
 * completed with -ECANCELED. */
static int fake_reconfigure(gw_adapter_t *a, const gw_adapter_change_t *ch, size_t n)
{
    (void)a;
    if (fk.reconf_rc)
        return fk.reconf_rc;
    for (size_t i = 0; i < n && !fk.late; i++)
        for (size_t j = fk.n_pend; j-- > 0;)
            if (strcmp(fk.pend[j].key, ch[i].dev.key) == 0) {
                fwrite_t w = fk.pend[j];
                fk.pend[j] = fk.pend[--fk.n_pend];
                w.done(w.done_ctx, -ECANCELED);
            }
    return 0;
}

static int fake_start(gw_adapter_t *a)
{
    (void)a;
    return 0;
}

/* The contract: stop completes every write still under way, -ECANCELED. */
static void fake_stop(gw_adapter_t *a)
{
    (void)a;
    fk.stops++;
    while (fk.n_pend) {
        fwrite_t w = fk.pend[--fk.n_pend];
        w.done(w.done_ctx, -ECANCELED);
    }
}

static void fake_destroy(gw_adapter_t **ap)
{
    free(*ap);
    *ap = NULL;
    fk.live = NULL;
}

static int fake_check(gw_adapter_t *a, const char *key, const char *field, const gw_value_t *v, const char *args)
{
    (void)a, (void)key, (void)args;
    fk.checks++;
    if (!v)
        return -ENOTSUP;
    return strcmp(field, fk.refuse) == 0 ? -ERANGE : 0;
}

static int fake_async(gw_adapter_t *a, const char *key, const char *field, const gw_value_t *v, const char *args,
                      gw_write_done_fn done, void *done_ctx)
{
    (void)a, (void)args;
    fk.starts++;
    if (fk.sync) {
        done(done_ctx, fk.sync_rc);
        return 0;
    }
    if (fk.n_pend == sizeof fk.pend / sizeof fk.pend[0])
        return -ENOMEM;
    fwrite_t *w = &fk.pend[fk.n_pend++];
    snprintf(w->key, sizeof w->key, "%s", key);
    snprintf(w->field, sizeof w->field, "%s", field);
    w->value = v && v->type == GW_TYPE_FLOAT ? v->v.f : NAN;
    w->done = done;
    w->done_ctx = done_ctx;
    return 0;
}

static const gw_adapter_ops_t fake_ops = {
    .name = "fake",
    .create = fake_create,
    .reconfigure = fake_reconfigure,
    .start = fake_start,
    .stop = fake_stop,
    .destroy = fake_destroy,
    .write_check = fake_check,
    .write_async = fake_async,
};

const gw_adapter_ops_t *const gw_adapters[] = {&fake_ops, NULL};

const gw_adapter_ops_t *gw_adapter_find(const char *name)
{
    return name && strcmp(name, "fake") == 0 ? &fake_ops : NULL;
}

/* The device completes the pending write of field with rc. */
static void complete(const char *field, int rc)
{
    for (size_t i = 0; i < fk.n_pend; i++)
        if (strcmp(fk.pend[i].field, field) == 0) {
            fwrite_t w = fk.pend[i];
            fk.pend[i] = fk.pend[--fk.n_pend];
            w.done(w.done_ctx, rc);
            return;
        }
    fprintf(stderr, "  no pending write of %s\n", field);
    CHECK(0);
}

static fwrite_t *pending(const char *field)
{
    for (size_t i = 0; i < fk.n_pend; i++)
        if (strcmp(fk.pend[i].field, field) == 0)
            return &fk.pend[i];
    return NULL;
}

/* ---- the LwM2M server: this program, on loopback ------------------------ */

#define N_EP 4

static struct {
    coap_context_t *ctx;
    uint16_t port;
    char ep[N_EP][16];
    coap_session_t *session[N_EP]; /* referenced */
    size_t n_ep;
    /* the last response */
    bool answered;
    coap_pdu_type_t type;
    int code; /* class * 100 + detail */
    char payload[512];
    uint8_t token[8];
    size_t token_len;
} srv;

static void h_register(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *req,
                       const coap_string_t *query, coap_pdu_t *resp)
{
    (void)res, (void)req;
    char ep[16] = "";
    if (query) {
        const char *q = (const char *)query->s;
        size_t len = query->length;
        for (size_t i = 0; i + 3 <= len; i++)
            if ((i == 0 || q[i - 1] == '&') && memcmp(q + i, "ep=", 3) == 0) {
                size_t j = i + 3, k = 0;
                while (j < len && q[j] != '&' && k + 1 < sizeof ep)
                    ep[k++] = q[j++];
                ep[k] = '\0';
            }
    }
    size_t slot = srv.n_ep;
    for (size_t i = 0; i < srv.n_ep; i++)
        if (strcmp(srv.ep[i], ep) == 0)
            slot = i;
    if (slot == N_EP) {
        coap_pdu_set_code(resp, COAP_RESPONSE_CODE(500));
        return;
    }
    if (slot == srv.n_ep) {
        snprintf(srv.ep[slot], sizeof srv.ep[slot], "%s", ep);
        srv.n_ep++;
    } else {
        coap_session_release(srv.session[slot]);
    }
    srv.session[slot] = coap_session_reference(session);
    char loc[4];
    snprintf(loc, sizeof loc, "%zu", slot);
    coap_add_option(resp, COAP_OPTION_LOCATION_PATH, 2, (const uint8_t *)"rd");
    coap_add_option(resp, COAP_OPTION_LOCATION_PATH, strlen(loc), (const uint8_t *)loc);
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE(201));
}

/* Updates (POST /rd/N) and De-registers: acknowledged. */
static void h_update(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *req,
                     const coap_string_t *query, coap_pdu_t *resp)
{
    (void)res, (void)session, (void)req, (void)query;
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE(204));
}

static void h_delete(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *req,
                     const coap_string_t *query, coap_pdu_t *resp)
{
    (void)res, (void)session, (void)req, (void)query;
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE(202));
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *got,
                                   const coap_mid_t mid)
{
    (void)session, (void)sent, (void)mid;
    coap_bin_const_t tok = coap_pdu_get_token(got);
    if (tok.length != srv.token_len || memcmp(tok.s, srv.token, tok.length) != 0)
        return COAP_RESPONSE_OK;
    coap_pdu_code_t c = coap_pdu_get_code(got);
    srv.code = (c >> 5) * 100 + (c & 31);
    srv.type = coap_pdu_get_type(got);
    size_t len = 0;
    const uint8_t *data = NULL;
    srv.payload[0] = '\0';
    if (coap_get_data(got, &len, &data) && data)
        snprintf(srv.payload, sizeof srv.payload, "%.*s", (int)len, (const char *)data);
    srv.answered = true;
    return COAP_RESPONSE_OK;
}

static void on_srv_io(void *ctx, uint32_t events)
{
    (void)events;
    coap_io_process(ctx, COAP_IO_NO_WAIT);
}

/* The port libcoap bound for ep (port 0 asked): coap_endpoint_str gives
 * "addr:port UDP". Binding port 0 in libcoap itself leaves no window in
 * which another process could take a port found free beforehand. */
static uint16_t bound_port(coap_endpoint_t *ep)
{
    const char *es = coap_endpoint_str(ep);
    const char *sp = es ? strrchr(es, ' ') : NULL;
    const char *colon = es ? strrchr(es, ':') : NULL;
    return colon && sp && colon < sp ? (uint16_t)atoi(colon + 1) : 0;
}

static void srv_start(gw_loop_t *loop)
{
    memset(&srv, 0, sizeof srv);
    coap_startup();
    srv.ctx = coap_new_context(NULL);
    CHECK(srv.ctx != NULL);
    coap_address_t addr;
    coap_address_init(&addr);
    addr.addr.sin.sin_family = AF_INET;
    addr.addr.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.addr.sin.sin_port = 0;
    addr.size = sizeof addr.addr.sin;
    coap_endpoint_t *ep = coap_new_endpoint(srv.ctx, &addr, COAP_PROTO_UDP);
    CHECK(ep != NULL);
    srv.port = bound_port(ep);
    CHECK(srv.port != 0);
    coap_resource_t *rd = coap_resource_init(coap_make_str_const("rd"), 0);
    coap_register_handler(rd, COAP_REQUEST_POST, h_register);
    coap_add_resource(srv.ctx, rd);
    /* Updates and De-registers go to /rd/<slot>. */
    for (int i = 0; i < N_EP; i++) {
        char p[8];
        snprintf(p, sizeof p, "rd/%d", i);
        coap_resource_t *r = coap_resource_init(coap_new_str_const((const uint8_t *)p, strlen(p)),
                                                COAP_RESOURCE_FLAGS_RELEASE_URI);
        coap_register_handler(r, COAP_REQUEST_POST, h_update);
        coap_register_handler(r, COAP_REQUEST_DELETE, h_delete);
        coap_add_resource(srv.ctx, r);
    }
    coap_register_response_handler(srv.ctx, on_response);
    CHECK_EQ_INT(gw_loop_add_fd(loop, coap_context_get_coap_fd(srv.ctx), EPOLLIN, on_srv_io, srv.ctx), 0);
}

static void srv_stop(gw_loop_t *loop)
{
    gw_loop_del_fd(loop, coap_context_get_coap_fd(srv.ctx));
    for (size_t i = 0; i < srv.n_ep; i++)
        coap_session_release(srv.session[i]);
    coap_free_context(srv.ctx);
    srv.ctx = NULL;
}

static coap_session_t *session_of(const char *ep)
{
    for (size_t i = 0; i < srv.n_ep; i++)
        if (strcmp(srv.ep[i], ep) == 0)
            return srv.session[i];
    return NULL;
}

/* One turn of the loop (the gateway's and the server's fds), false once
 * end has passed. */
static bool turn(gw_loop_t *loop, int64_t end)
{
    if (gw_now_ms() >= end)
        return false;
    gw_loop_run_once(loop, 50);
    coap_io_process(srv.ctx, COAP_IO_NO_WAIT);
    return true;
}

/* Runs the loop until cond holds, 10 s at most (a loaded machine, ASan); then CHECKs it. */
#define WAIT_FOR(loop, cond)                                                     \
    do {                                                                         \
        int64_t gwt_end = gw_now_ms() + 10000;                                   \
        while (!(cond) && turn((loop), gwt_end)) {                               \
        }                                                                        \
        CHECK(cond);                                                             \
    } while (0)

/* Sends a request to ep's client; the answer lands in srv.code/payload. */
static void send_req(const char *ep, coap_pdu_code_t method, const char *path, int cf, const char *body)
{
    coap_session_t *s = session_of(ep);
    CHECK(s != NULL);
    if (!s)
        return;
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, method, coap_new_message_id(s), coap_session_max_pdu_size(s));
    CHECK(pdu != NULL);
    if (!pdu)
        return;
    coap_session_new_token(s, &srv.token_len, srv.token);
    coap_add_token(pdu, srv.token_len, srv.token);
    char seg[64];
    snprintf(seg, sizeof seg, "%s", path + 1);
    for (char *p = seg, *slash; p && *p; p = slash ? slash + 1 : NULL) {
        slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(p), (const uint8_t *)p);
    }
    if (cf >= 0) {
        uint8_t b[4];
        coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(b, sizeof b, (unsigned)cf), b);
    }
    if (body)
        coap_add_data(pdu, strlen(body), (const uint8_t *)body);
    srv.answered = false;
    srv.code = 0;
    CHECK(coap_send(s, pdu) != COAP_INVALID_MID);
}

/* ---- the gateway around them -------------------------------------------- */

static char dir[64], file[96];

typedef struct fixture {
    gw_registry_t *reg;
    gw_loop_t *loop;
    gw_gateway_t *g;
} fixture_t;

/* Two set points and a label on device a, one set point on device b. */
static const char *DEV_A = "{ endpoint = \"a\"; adapter = \"fake\"; resources = ("
                           " { field = \"sp0\"; path = \"/3308/0/5900\"; writable = true; },"
                           " { field = \"sp1\"; path = \"/3308/1/5900\"; writable = true; },"
                           " { field = \"app0\"; path = \"/3308/0/5750\"; writable = true; } ); }";
static const char *DEV_B = "{ endpoint = \"b\"; adapter = \"fake\"; resources = ("
                           " { field = \"sp0\"; path = \"/3308/0/5900\"; writable = true; } ); }";

static void write_conf(const char *d1, const char *d2)
{
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fprintf(f,
            "gateway = { name = \"gw\"; state_dir = \"%s\"; };\n"
            "servers = ( { uri = \"coap://127.0.0.1:%u\"; lifetime = 600; } );\n"
            "devices = ( %s%s%s );\n",
            dir, srv.port, d1, d2 ? ", " : "", d2 ? d2 : "");
    fclose(f);
}

static void diag(void *ctx, const char *f, int line, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "  config %s:%d: %s\n", f, line, msg);
    CHECK(0);
}

static int emit(const char *key, const char *field, double v)
{
    CHECK(fk.live != NULL);
    if (!fk.live)
        return -ENOENT;
    gw_reading_t r = {.device_key = key, .field = field, .value = {.type = GW_TYPE_FLOAT, .v.f = v}};
    return fk.live->env.emit(fk.live->env.emit_ctx, &r);
}

static gw_device_t *device(fixture_t *x, const char *ep)
{
    for (size_t i = 0; i < x->g->n_devices; i++)
        if (strcmp(x->g->devices[i].cfg->endpoint, ep) == 0)
            return &x->g->devices[i];
    return NULL;
}

/* The stored value of a float resource, NAN when none. */
static double stored(fixture_t *x, const char *ep, uint16_t oid, uint16_t iid, uint16_t rid)
{
    gw_device_t *d = device(x, ep);
    gw_value_t v;
    if (!d || gw_store_get(gw_vclient_store(d->vc), &(gw_path_t){{oid, iid, rid, 0}, 3}, &v, NULL) < 0 ||
        v.type != GW_TYPE_FLOAT)
        return NAN;
    return v.v.f;
}

static void start(fixture_t *x)
{
    memset(&fk, 0, sizeof fk);
    snprintf(dir, sizeof dir, "/tmp/gwwritesXXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(file, sizeof file, "%s/gw.conf", dir);
    CHECK_EQ_INT(gw_registry_new(&x->reg), 0);
    CHECK_EQ_INT(gw_loop_new(&x->loop), 0);
    srv_start(x->loop);
    write_conf(DEV_A, DEV_B);
    gw_config_t *cfg = NULL;
    CHECK_EQ_INT(gw_config_load(file, x->reg, diag, NULL, &cfg), 0);
    CHECK_EQ_INT(gw_gateway_new(cfg, x->reg, x->loop, NULL, &x->g), 0);
    CHECK_EQ_INT(gw_gateway_start(x->g), 0);
    WAIT_FOR(x->loop, session_of("a") && session_of("b"));
    /* What the devices hold before any Write. */
    CHECK_EQ_INT(emit("fake:a", "sp0", 10), 0);
    CHECK_EQ_INT(emit("fake:a", "sp1", 11), 0);
    CHECK_EQ_INT(emit("fake:b", "sp0", 20), 0);
}

static void finish(fixture_t *x)
{
    gw_gateway_free(&x->g);
    srv_stop(x->loop);
    gw_loop_free(&x->loop);
    gw_registry_free(&x->reg);
    CHECK_EQ_INT(fk.n_pend, 0);
    unlink(file);
    char path[128];
    snprintf(path, sizeof path, "%s/offline", dir);
    rmdir(path);
    rmdir(dir);
}

#define COMPOSITE "[{\"n\":\"/3308/0/5900\",\"v\":21.5},{\"n\":\"/3308/1/5900\",\"v\":22.5}]"
#define CF_SENML_JSON 110

/* Whether the request is still unanswered once the client has answered a
 * later one: a Read sent after it and answered means the client's loop
 * turned with the write's state as it is. */
static bool still_waiting(fixture_t *x, const char *ep)
{
    uint8_t tok[8];
    size_t tok_len = srv.token_len;
    memcpy(tok, srv.token, tok_len);
    send_req(ep, COAP_REQUEST_CODE_GET, "/3308/0/5900", -1, NULL);
    WAIT_FOR(x->loop, srv.answered);
    bool read = srv.answered;
    CHECK_EQ_INT(srv.code, 205);
    /* back to the write's token: its answer may still come */
    memcpy(srv.token, tok, tok_len);
    srv.token_len = tok_len;
    srv.answered = false;
    return read;
}

/* ---- the tests ---------------------------------------------------------- */

GW_TEST(test_composite_waits_for_every_write)
{
    fixture_t x = {0};
    start(&x);
    send_req("a", COAP_REQUEST_CODE_IPATCH, "/", CF_SENML_JSON, COMPOSITE);
    WAIT_FOR(x.loop, fk.n_pend == 2);
    CHECK_EQ_INT(fk.checks, 2);
    CHECK(pending("sp0") && pending("sp0")->value == 21.5 && strcmp(pending("sp0")->key, "fake:a") == 0);
    CHECK(pending("sp1") && pending("sp1")->value == 22.5);
    complete("sp1", 0);
    CHECK(still_waiting(&x, "a"));
    CHECK(!srv.answered);
    /* nothing is stored before the request is answered */
    CHECK_EQ_INT(stored(&x, "a", 3308, 1, 5900), 11);
    complete("sp0", 0);
    WAIT_FOR(x.loop, srv.answered);
    CHECK_EQ_INT(srv.code, 204);
    CHECK_EQ_INT(srv.type, COAP_MESSAGE_CON); /* a separate response: the ACK went first */
    CHECK_EQ_INT(stored(&x, "a", 3308, 0, 5900), 21.5);
    CHECK_EQ_INT(stored(&x, "a", 3308, 1, 5900), 22.5);
    finish(&x);
}

/* One member fails at its device, the other took its value: the answer is
 * the failure's code with the failed path named and the written one listed;
 * only the value the device took is stored. */
static void one_fails(int rc, int code, const char *words)
{
    fixture_t x = {0};
    start(&x);
    send_req("a", COAP_REQUEST_CODE_IPATCH, "/", CF_SENML_JSON, COMPOSITE);
    WAIT_FOR(x.loop, fk.n_pend == 2);
    complete("sp0", 0);
    complete("sp1", rc);
    WAIT_FOR(x.loop, srv.answered);
    CHECK_EQ_INT(srv.code, code);
    CHECK(strncmp(srv.payload, "/3308/1/5900: ", 14) == 0);
    CHECK(strstr(srv.payload, words) != NULL);
    CHECK(strstr(srv.payload, "; written: /3308/0/5900") != NULL);
    if (srv.code != code || !strstr(srv.payload, "written"))
        fprintf(stderr, "  answer %d \"%s\"\n", srv.code, srv.payload);
    CHECK_EQ_INT(stored(&x, "a", 3308, 0, 5900), 21.5);
    CHECK_EQ_INT(stored(&x, "a", 3308, 1, 5900), 11);
    finish(&x);
}

GW_TEST(test_composite_eio_is_500_written_listed)
{
    one_fails(-EIO, 500, "the device did not accept the value");
}

GW_TEST(test_composite_timeout_is_503_written_listed)
{
    one_fails(-ETIMEDOUT, 503, "try again later");
}

/* 5.00 is worse than 5.03: the answer names the 5.00 member. */
GW_TEST(test_worst_result_wins)
{
    fixture_t x = {0};
    start(&x);
    send_req("a", COAP_REQUEST_CODE_IPATCH, "/", CF_SENML_JSON, COMPOSITE);
    WAIT_FOR(x.loop, fk.n_pend == 2);
    complete("sp0", -ETIMEDOUT);
    complete("sp1", -EIO);
    WAIT_FOR(x.loop, srv.answered);
    CHECK_EQ_INT(srv.code, 500);
    CHECK(strncmp(srv.payload, "/3308/1/5900: ", 14) == 0);
    CHECK(strstr(srv.payload, "written") == NULL);
    CHECK_EQ_INT(stored(&x, "a", 3308, 0, 5900), 10);
    CHECK_EQ_INT(stored(&x, "a", 3308, 1, 5900), 11);
    finish(&x);
}

/* An instance Write (POST, several routed values of /3308/0) takes the
 * same path: both started, answered after both. */
GW_TEST(test_instance_write_waits_for_both)
{
    fixture_t x = {0};
    start(&x);
    send_req("a", COAP_REQUEST_CODE_POST, "/3308/0", CF_SENML_JSON,
             "[{\"bn\":\"/3308/0/\",\"n\":\"5900\",\"v\":30},{\"n\":\"5750\",\"vs\":\"hall\"}]");
    WAIT_FOR(x.loop, fk.n_pend == 2);
    complete("app0", 0);
    CHECK(still_waiting(&x, "a"));
    CHECK(!srv.answered);
    complete("sp0", -ETIMEDOUT);
    WAIT_FOR(x.loop, srv.answered);
    CHECK_EQ_INT(srv.code, 503);
    CHECK(strstr(srv.payload, "/3308/0/5900: ") == srv.payload);
    CHECK(strstr(srv.payload, "written: /3308/0/5750") != NULL);
    CHECK_EQ_INT(stored(&x, "a", 3308, 0, 5900), 10);
    gw_value_t v;
    CHECK(gw_store_get(gw_vclient_store(device(&x, "a")->vc), &(gw_path_t){{3308, 0, 5750, 0}, 3}, &v, NULL) == 0);
    CHECK(v.type == GW_TYPE_STRING && v.v.bytes.len == 4 && memcmp(v.v.bytes.ptr, "hall", 4) == 0);
    finish(&x);
}

/* write_check refusing one member: no write_async at all, 4.00 naming it. */
GW_TEST(test_check_refusal_starts_nothing)
{
    fixture_t x = {0};
    start(&x);
    snprintf(fk.refuse, sizeof fk.refuse, "sp1");
    send_req("a", COAP_REQUEST_CODE_IPATCH, "/", CF_SENML_JSON, COMPOSITE);
    WAIT_FOR(x.loop, srv.answered);
    CHECK_EQ_INT(srv.code, 400);
    CHECK(strstr(srv.payload, "/3308/1/5900") == srv.payload);
    CHECK_EQ_INT(fk.starts, 0);
    CHECK_EQ_INT(fk.n_pend, 0);
    CHECK_EQ_INT(srv.type, COAP_MESSAGE_ACK);
    CHECK_EQ_INT(stored(&x, "a", 3308, 0, 5900), 10);
    CHECK_EQ_INT(stored(&x, "a", 3308, 1, 5900), 11);
    finish(&x);
}

/* done inside write_async (static, simulated): answered piggybacked. */
GW_TEST(test_sync_done_is_piggybacked)
{
    fixture_t x = {0};
    start(&x);
    fk.sync = true;
    send_req("a", COAP_REQUEST_CODE_IPATCH, "/", CF_SENML_JSON, COMPOSITE);
    WAIT_FOR(x.loop, srv.answered);
    CHECK_EQ_INT(srv.code, 204);
    CHECK_EQ_INT(srv.type, COAP_MESSAGE_ACK);
    CHECK_EQ_INT(fk.starts, 2);
    CHECK_EQ_INT(stored(&x, "a", 3308, 0, 5900), 21.5);
    CHECK_EQ_INT(stored(&x, "a", 3308, 1, 5900), 22.5);
    /* one failing inside the call: piggybacked too, nothing of it stored */
    fk.sync_rc = -EIO;
    send_req("b", COAP_REQUEST_CODE_PUT, "/3308/0/5900", 0, "7");
    WAIT_FOR(x.loop, srv.answered);
    CHECK_EQ_INT(srv.code, 500);
    CHECK_EQ_INT(srv.type, COAP_MESSAGE_ACK);
    CHECK_EQ_INT(stored(&x, "b", 3308, 0, 5900), 20);
    finish(&x);
}

/* A reload removes the device whose Write is under way. The adapter
 * cancels it within reconfigure, or (a result already on its way to the
 * loop) completes it after the reload: the gateway touches nothing of the
 * client that is gone (ASan, valgrind), and the other client goes on. */
static void removed_during_write(bool late)
{
    fixture_t x = {0};
    start(&x);
    fk.late = late;
    send_req("b", COAP_REQUEST_CODE_PUT, "/3308/0/5900", 0, "25");
    WAIT_FOR(x.loop, fk.n_pend == 1);
    write_conf(DEV_A, NULL);
    CHECK_EQ_INT(gw_gateway_reload(x.g, file), 0);
    CHECK(device(&x, "b") == NULL);
    CHECK_EQ_INT(fk.n_pend, late ? 1 : 0);
    if (late)
        complete("sp0", 0);
    send_req("a", COAP_REQUEST_CODE_PUT, "/3308/0/5900", 0, "12");
    WAIT_FOR(x.loop, fk.n_pend == 1);
    complete("sp0", 0);
    WAIT_FOR(x.loop, srv.answered);
    CHECK_EQ_INT(srv.code, 204);
    CHECK_EQ_INT(stored(&x, "a", 3308, 0, 5900), 12);
    finish(&x);
}

GW_TEST(test_reload_removing_the_client_cancels_its_write)
{
    removed_during_write(false);
}

GW_TEST(test_completion_after_reload_removed_the_client)
{
    removed_during_write(true);
}

/* A reload that changes the device (same endpoint, the client stays)
 * whose Write is under way: the adapter cancels it, the server gets 5.03
 * and nothing is stored. */
GW_TEST(test_reload_changing_the_device_answers_503)
{
    fixture_t x = {0};
    start(&x);
    send_req("b", COAP_REQUEST_CODE_PUT, "/3308/0/5900", 0, "27");
    WAIT_FOR(x.loop, fk.n_pend == 1);
    write_conf(DEV_A, "{ endpoint = \"b\"; adapter = \"fake\"; resources = ("
                      " { field = \"sp0\"; path = \"/3308/0/5900\"; writable = true; },"
                      " { field = \"sp1\"; path = \"/3308/1/5900\"; writable = true; } ); }");
    CHECK_EQ_INT(gw_gateway_reload(x.g, file), 0);
    CHECK_EQ_INT(fk.stops, 0);
    CHECK_EQ_INT(fk.n_pend, 0);
    WAIT_FOR(x.loop, srv.answered);
    CHECK_EQ_INT(srv.code, 503);
    CHECK(device(&x, "b") != NULL);
    CHECK(isnan(stored(&x, "b", 3308, 0, 5900)) || stored(&x, "b", 3308, 0, 5900) == 20);
    finish(&x);
}

/* The gateway goes away with writes under way: stop cancels them with
 * -ECANCELED while the clients are being freed. */
GW_TEST(test_stop_cancels_pending_writes)
{
    fixture_t x = {0};
    start(&x);
    send_req("a", COAP_REQUEST_CODE_IPATCH, "/", CF_SENML_JSON, COMPOSITE);
    WAIT_FOR(x.loop, fk.n_pend == 2);
    complete("sp0", 0);
    send_req("b", COAP_REQUEST_CODE_PUT, "/3308/0/5900", 0, "26");
    WAIT_FOR(x.loop, fk.n_pend == 2);
    finish(&x);
    CHECK_EQ_INT(fk.stops, 1);
}

/* A reload that restarts the adapter (its reconfigure failed) while a
 * Write of a device it keeps is under way: stop cancels the write, and the
 * server gets 5.03 for it; the client stays registered and is served. */
GW_TEST(test_restart_cancels_with_503)
{
    fixture_t x = {0};
    start(&x);
    send_req("a", COAP_REQUEST_CODE_PUT, "/3308/0/5900", 0, "13");
    WAIT_FOR(x.loop, fk.n_pend == 1);
    fk.reconf_rc = -EINVAL;
    write_conf(DEV_A, "{ endpoint = \"b\"; adapter = \"fake\"; resources = ("
                      " { field = \"sp9\"; path = \"/3308/0/5900\"; writable = true; } ); }");
    CHECK_EQ_INT(gw_gateway_reload(x.g, file), 0);
    CHECK_EQ_INT(fk.stops, 1);
    CHECK_EQ_INT(fk.n_pend, 0);
    WAIT_FOR(x.loop, srv.answered);
    CHECK_EQ_INT(srv.code, 503);
    CHECK(strstr(srv.payload, "try again later") != NULL);
    CHECK_EQ_INT(stored(&x, "a", 3308, 0, 5900), 10);
    fk.sync = true;
    send_req("a", COAP_REQUEST_CODE_PUT, "/3308/0/5900", 0, "14");
    WAIT_FOR(x.loop, srv.answered);
    CHECK_EQ_INT(srv.code, 204);
    CHECK_EQ_INT(stored(&x, "a", 3308, 0, 5900), 14);
    finish(&x);
}

GW_TEST_MAIN(test_restart_cancels_with_503, test_composite_waits_for_every_write, test_composite_eio_is_500_written_listed,
             test_composite_timeout_is_503_written_listed, test_worst_result_wins,
             test_instance_write_waits_for_both, test_check_refusal_starts_nothing, test_sync_done_is_piggybacked,
             test_reload_removing_the_client_cancels_its_write, test_completion_after_reload_removed_the_client,
             test_reload_changing_the_device_answers_503, test_stop_cancels_pending_writes)
