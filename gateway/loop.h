/*
 * gateway/loop.h - the daemon's single event loop: epoll for fds, a binary
 * min-heap of timers, signalfd for signals, and an eventfd-signalled queue
 * through which other threads hand work to the loop.
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

int gw_loop_add_fd(gw_loop_t *l, int fd, uint32_t events, gw_io_fn fn, void *ctx);
int gw_loop_mod_fd(gw_loop_t *l, int fd, uint32_t events);
int gw_loop_del_fd(gw_loop_t *l, int fd);

void gw_timer_init(gw_timer_t *t, gw_timer_fn fn, void *ctx);
/* (Re)schedule t to fire once after delay_ms (O(log n)). */
int gw_timer_start(gw_loop_t *l, gw_timer_t *t, int64_t delay_ms);
int gw_timer_start_at(gw_loop_t *l, gw_timer_t *t, int64_t due_ms);
void gw_timer_stop(gw_loop_t *l, gw_timer_t *t);
bool gw_timer_active(const gw_timer_t *t);
size_t gw_loop_timer_count(const gw_loop_t *l);

/* Register a prepare hook (at most 16). 0, -EINVAL (fn NULL), -ENOSPC. */
int gw_loop_add_prepare(gw_loop_t *l, gw_prepare_fn fn, void *ctx);
/* Remove the hook registered with this fn and ctx; an owner freeing ctx
 * must call it first (also allowed from inside a hook). 0 or -ENOENT. */
int gw_loop_del_prepare(gw_loop_t *l, gw_prepare_fn fn, void *ctx);

/* Block SIGTERM, SIGINT and SIGHUP and deliver them through a signalfd to fn
 * on the loop. */
int gw_loop_watch_signals(gw_loop_t *l, gw_signal_fn fn, void *ctx);

/* Thread-safe: queue fn(ctx) to run on the loop thread. 0 or -ENOMEM. */
int gw_loop_post(gw_loop_t *l, gw_work_fn fn, void *ctx);

/* Run until gw_loop_stop. Returns 0, or a negative errno if epoll failed. */
int gw_loop_run(gw_loop_t *l);
/* Run one iteration waiting at most max_wait_ms (-1: until an event). */
int gw_loop_run_once(gw_loop_t *l, int max_wait_ms);
void gw_loop_stop(gw_loop_t *l);
bool gw_loop_stopped(const gw_loop_t *l);

#endif
