/*
 * gateway/service.c - sd_notify(3) for systemd: readiness, status, watchdog,
 * reload and stop (see service.h for the messages).
 *
 * Costs nothing when idle: the status is compared in a prepare hook (O(1)
 * per loop turn: a few counters) and sent only when it changed, at most
 * once a second; the only timer is the watchdog's, at half its period.
 * Start-up alone walks the clients, every 100 ms, to learn whether each
 * has had its first try.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "gateway_internal.h"
#include "log.h"
#include "service.h"

#define STATUS_MIN_INTERVAL_MS 1000
#define READY_SCAN_INTERVAL_MS 100
/* Start-up tick without a watchdog, and how far each tick pushes systemd's
 * start timeout: three ticks, so one late tick is not fatal. */
#define STARTUP_TICK_MS 10000
#define STARTUP_EXTEND_TICKS 3

struct gw_service {
    gw_loop_t *loop;
    gw_gateway_t *g;
    bool enabled;           /* NOTIFY_SOCKET is set */
    bool ready;
    bool stopping;
    bool hook_added;
    int64_t watchdog_ms;    /* WATCHDOG_USEC in ms, 0: none */
    int64_t tick_ms;        /* timer period */
    gw_timer_t tick;
    int64_t next_scan_ms;
    int64_t last_status_ms;
    char status[160];       /* last STATUS= sent */
    struct status_key {     /* what status was made of, compared each turn */
        size_t registered, clients, servers, up;
        int phase;
    } shown;
    int hang_fd;            /* test hook's signalfd, -1 when off */
};

static int notify(const char *msg)
{
    int rc = sd_notify(0, msg);
    if (rc < 0)
        gw_debug("sd_notify(\"%s\"): %s", msg, strerror(-rc));
    return rc;
}

static size_t adapters_up(const gw_gateway_t *g)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n_adapters; i++)
        n += g->adapters[i].a != NULL;
    return n;
}

static void status_key(const gw_service_t *s, const gw_lwm2m_counts_t *c, struct status_key *out)
{
    memset(out, 0, sizeof *out); /* compared with memcmp */
    out->registered = c->registered;
    out->clients = c->clients;
    out->servers = c->servers;
    out->up = adapters_up(s->g);
    out->phase = s->stopping ? 2 : !s->ready ? 1 : 0;
}

static void format_status(gw_service_t *s, const gw_lwm2m_counts_t *c, char *out, size_t size)
{
    status_key(s, c, &s->shown);
    size_t up = s->shown.up;
    const char *phase = s->stopping ? "stopping: " : !s->ready ? "starting: " : "";
    if (c->servers <= 1)
        snprintf(out, size, "%s%zu/%zu clients registered, %zu adapter%s up", phase, c->registered,
                 c->clients, up, up == 1 ? "" : "s");
    else
        snprintf(out, size, "%s%zu/%zu registrations of %zu clients with %zu servers, %zu adapter%s up",
                 phase, c->registered, c->clients * c->servers, c->clients, c->servers, up,
                 up == 1 ? "" : "s");
}

/* prefix: lines sent with this STATUS= ("READY=1\n"), or "". */
static void send_status(gw_service_t *s, const char *prefix, const char *status)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%sSTATUS=%s", prefix, status);
    notify(msg);
    snprintf(s->status, sizeof s->status, "%s", status);
    s->last_status_ms = gw_now_ms();
}

static void become_ready(gw_service_t *s, const gw_lwm2m_counts_t *c)
{
    char status[sizeof s->status];
    s->ready = true;
    format_status(s, c, status, sizeof status);
    send_status(s, "READY=1\n", status);
    gw_info("told systemd: ready (%s)", status);
}

static int64_t on_prepare(void *ctx)
{
    gw_service_t *s = ctx;
    int64_t now = gw_now_ms(), deadline = -1;
    gw_lwm2m_counts_t c;
    bool scan = !s->ready && !s->stopping && now >= s->next_scan_ms;
    gw_lwm2m_counts(gw_gateway_lwm2m(s->g), scan, &c);
    if (scan) {
        s->next_scan_ms = now + READY_SCAN_INTERVAL_MS;
        if (c.not_attempted == 0) {
            become_ready(s, &c);
            return -1;
        }
    }
    if (!s->ready && !s->stopping)
        deadline = s->next_scan_ms;
    /* Counts compared, not text: this runs before every wait. */
    struct status_key k;
    status_key(s, &c, &k);
    if (memcmp(&k, &s->shown, sizeof k) != 0) {
        int64_t due = s->last_status_ms + STATUS_MIN_INTERVAL_MS;
        if (now >= due) {
            char status[sizeof s->status];
            format_status(s, &c, status, sizeof status);
            send_status(s, "", status);
        } else if (deadline < 0 || due < deadline) {
            deadline = due;
        }
    }
    return deadline;
}

static void on_tick(void *ctx)
{
    gw_service_t *s = ctx;
    char msg[64];
    size_t len = 0;
    msg[0] = '\0';
    if (s->watchdog_ms)
        len += (size_t)snprintf(msg, sizeof msg, "WATCHDOG=1\n");
    if (!s->ready && !s->stopping)
        snprintf(msg + len, sizeof msg - len, "EXTEND_TIMEOUT_USEC=%lld",
                 (long long)s->tick_ms * STARTUP_EXTEND_TICKS * 1000);
    if (msg[0])
        notify(msg);
    /* Once ready only the watchdog needs the timer, at its own pace. */
    if (s->ready && s->watchdog_ms)
        s->tick_ms = s->watchdog_ms / 2;
    if (s->watchdog_ms || !s->ready)
        gw_timer_start(s->loop, &s->tick, s->tick_ms);
}

/* The test hook: a callback that never returns is what a stuck loop looks
 * like from outside (no more pings, signals left pending). */
static void on_hang_signal(void *ctx, uint32_t events)
{
    gw_service_t *s = ctx;
    (void)events;
    gw_warn("test hook: SIGUSR2 with GW_TEST_HANG_ON_SIGUSR2 set: the loop hangs now");
    /* Marks the point in the notification stream after which a test must
     * see no WATCHDOG=1. */
    if (s->enabled)
        notify("STATUS=test hook: the loop hangs");
    for (;;)
        pause();
}

static int hang_hook_setup(gw_service_t *s)
{
    const char *v = getenv("GW_TEST_HANG_ON_SIGUSR2");
    if (!v || strcmp(v, "1") != 0)
        return 0;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    /* Blocked before any adapter thread exists, so they inherit it. */
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0)
        return -rc;
    s->hang_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->hang_fd < 0)
        return -errno;
    gw_warn("test hook armed: SIGUSR2 hangs the loop (GW_TEST_HANG_ON_SIGUSR2, for tests only)");
    return gw_loop_add_fd(s->loop, s->hang_fd, EPOLLIN, on_hang_signal, s);
}

int gw_service_new(gw_loop_t *loop, gw_service_t **out)
{
    *out = NULL;
    gw_service_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->hang_fd = -1;
    gw_timer_init(&s->tick, on_tick, s);
    int rc = hang_hook_setup(s);
    if (rc < 0) {
        gw_service_free(&s);
        return rc;
    }
    const char *sock = getenv("NOTIFY_SOCKET");
    s->enabled = sock && *sock;
    if (s->enabled) {
        uint64_t usec = 0;
        /* > 0 only when WATCHDOG_PID, if set, is this process */
        if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000)
            s->watchdog_ms = (int64_t)(usec / 1000);
        s->tick_ms = s->watchdog_ms ? s->watchdog_ms / 2 : STARTUP_TICK_MS;
        if (s->tick_ms > STARTUP_TICK_MS)
            s->tick_ms = STARTUP_TICK_MS; /* start-up extension; settles at wd/2 once ready */
        if (s->watchdog_ms)
            gw_info("systemd watchdog: %lld ms, pinged every %lld ms", (long long)s->watchdog_ms,
                    (long long)(s->watchdog_ms / 2));
        notify("STATUS=starting");
        gw_timer_start(loop, &s->tick, 0);
    }
    *out = s;
    return 0;
}

int gw_service_attach(gw_service_t *s, gw_gateway_t *g)
{
    s->g = g;
    if (!s->enabled)
        return 0;
    int rc = gw_loop_add_prepare(s->loop, on_prepare, s);
    if (rc < 0)
        return rc;
    s->hook_added = true;
    return 0;
}

void gw_service_reloading(gw_service_t *s)
{
    if (!s->enabled)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char msg[96];
    snprintf(msg, sizeof msg, "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    notify(msg);
    snprintf(s->status, sizeof s->status, "reloading");
}

void gw_service_reloaded(gw_service_t *s, int rc)
{
    if (!s->enabled)
        return;
    char status[sizeof s->status];
    if (rc < 0) {
        /* The old configuration keeps running: still ready, and the status
         * says why the edit did not take (the errors are in the log). */
        snprintf(status, sizeof status, "reload refused (%s, see the log), still running the "
                 "previous configuration", rc == -EINVAL ? "errors in the file" : strerror(-rc));
        send_status(s, "READY=1\n", status);
        return;
    }
    gw_lwm2m_counts_t c;
    gw_lwm2m_counts(gw_gateway_lwm2m(s->g), false, &c);
    format_status(s, &c, status, sizeof status);
    send_status(s, "READY=1\n", status);
}

void gw_service_stopping(gw_service_t *s)
{
    if (!s->enabled)
        return;
    s->stopping = true;
    send_status(s, "STOPPING=1\n", "stopping: de-registering");
}

void gw_service_free(gw_service_t **sp)
{
    gw_service_t *s = *sp;
    if (!s)
        return;
    gw_timer_stop(s->loop, &s->tick);
    if (s->hook_added)
        gw_loop_del_prepare(s->loop, on_prepare, s);
    if (s->hang_fd >= 0) {
        gw_loop_del_fd(s->loop, s->hang_fd);
        close(s->hang_fd);
    }
    free(s);
    *sp = NULL;
}
