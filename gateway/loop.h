/*
 * gateway/loop.h - the daemon's single event loop: epoll for fds, a binary
 * min-heap of timers, prepare hooks, signalfd for signals, and an
 * eventfd-signalled queue through which other threads hand work to the loop.
 *
 * This is the API every module uses directly (adapters through
 * gw_adapter_env_t.loop, the LwM2M client, the MQTT mirror):
 *   - fds: gw_loop_add_fd / gw_loop_mod_fd / gw_loop_del_fd at any time,
 *     including from inside any callback of the same loop, with the epoll
 *     events the module needs (EPOLLIN, EPOLLOUT, EPOLLET, ...);
 *   - timers: gw_timer_t embedded in the owner, one heap for every module;
 *   - prepare hooks: called before every wait, each may lower the wait to
 *     its own deadline (sd-bus's and paho's per-iteration timeouts); any
 *     number, grown on demand;
 *   - gw_loop_post: the one way another thread hands work to the loop.
 * No fixed caps: what cannot be allocated is refused with -ENOMEM.
 *
 * Everything except gw_loop_post is called from the loop thread only.
 */
#ifndef GW_GATEWAY_LOOP_H
#define GW_GATEWAY_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gw_loop gw_loop_t;

typedef void (*gw_io_fn)(void *ctx, uint32_t epoll_events);
typedef void (*gw_timer_fn)(void *ctx);
typedef void (*gw_work_fn)(void *ctx);
/* Returns the absolute monotonic deadline in ms this module needs the loop
 * to wake up at, or -1 for none. Called before every wait. */
typedef int64_t (*gw_prepare_fn)(void *ctx);
typedef void (*gw_signal_fn)(void *ctx, int signo);

/* A timer is embedded in its owner (no allocation per timer: 10,000 clients
 * each hold several). Initialise with gw_timer_init before first use. */
typedef struct gw_timer {
    int64_t due_ms;
    size_t heap_index; /* SIZE_MAX when not scheduled */
    gw_timer_fn fn;
    void *ctx;
} gw_timer_t;

int gw_loop_new(gw_loop_t **out);
/* Stops nothing by itself: owners must have removed their fds and timers. */
void gw_loop_free(gw_loop_t **l);

/* Monotonic milliseconds (CLOCK_MONOTONIC). */
int64_t gw_now_ms(void);
/* Realtime (wall clock) milliseconds since the epoch. */
int64_t gw_wall_ms(void);

/* Watch fd for events (EPOLLIN, EPOLLOUT, EPOLLET...; EPOLLERR and
 * EPOLLHUP always come): fn(ctx, what epoll reported) runs on the loop.
 * fd stays the caller's (never closed by the loop). Allowed inside any
 * callback; an fd added during dispatch gets its first events in the next
 * iteration. 0, -EBADF (fd < 0), -EINVAL (fn NULL), -EEXIST (fd already
 * watched), -ENOMEM, or epoll_ctl's negative errno. */
int gw_loop_add_fd(gw_loop_t *l, int fd, uint32_t events, gw_io_fn fn, void *ctx);
/* Change the events watched on fd (e.g. add EPOLLOUT while output is
 * queued, drop it once drained); fn and ctx stay. Takes effect from the
 * next wait. 0, -ENOENT (not watched), or epoll_ctl's negative errno. */
int gw_loop_mod_fd(gw_loop_t *l, int fd, uint32_t events);
/* Stop watching fd; call it before closing fd. Allowed inside any callback,
 * its own included: events already collected for fd in this iteration are
 * not delivered, and ctx may be freed as soon as this returns. 0, -ENOENT,
 * or epoll_ctl's negative errno (the fd is forgotten all the same). */
int gw_loop_del_fd(gw_loop_t *l, int fd);

void gw_timer_init(gw_timer_t *t, gw_timer_fn fn, void *ctx);
/* (Re)schedule t to fire once after delay_ms (O(log n)). */
int gw_timer_start(gw_loop_t *l, gw_timer_t *t, int64_t delay_ms);
int gw_timer_start_at(gw_loop_t *l, gw_timer_t *t, int64_t due_ms);
void gw_timer_stop(gw_loop_t *l, gw_timer_t *t);
bool gw_timer_active(const gw_timer_t *t);
size_t gw_loop_timer_count(const gw_loop_t *l);

/* Register a prepare hook: fn(ctx) runs before every wait and returns the
 * absolute monotonic deadline (ms) it needs, or -1. Any number of hooks, in
 * the order they were added; one added from inside a hook is called in the
 * same round. 0, -EINVAL (fn NULL), -ENOMEM. */
int gw_loop_add_prepare(gw_loop_t *l, gw_prepare_fn fn, void *ctx);
/* Remove the hook registered with this fn and ctx; an owner freeing ctx
 * must call it first (also allowed from inside a hook). 0 or -ENOENT. */
int gw_loop_del_prepare(gw_loop_t *l, gw_prepare_fn fn, void *ctx);

/* Block SIGTERM, SIGINT and SIGHUP and deliver them through a signalfd to fn
 * on the loop. */
int gw_loop_watch_signals(gw_loop_t *l, gw_signal_fn fn, void *ctx);

/* Thread-safe, from any thread (the loop's own included): queue fn(ctx) to
 * run on the loop thread, in posting order, in a later iteration. The one
 * way for a worker thread (libmodbus, paho) to hand work to the loop; ctx
 * must stay valid until fn runs (items never run are dropped without
 * calling fn when the loop is freed). 0 or -ENOMEM (nothing queued). */
int gw_loop_post(gw_loop_t *l, gw_work_fn fn, void *ctx);

/* Run until gw_loop_stop. Returns 0, or a negative errno if epoll failed. */
int gw_loop_run(gw_loop_t *l);
/* Run one iteration waiting at most max_wait_ms (-1: until an event). */
int gw_loop_run_once(gw_loop_t *l, int max_wait_ms);
void gw_loop_stop(gw_loop_t *l);
bool gw_loop_stopped(const gw_loop_t *l);

#endif
