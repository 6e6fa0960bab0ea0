/* tests/unit/gateway/test_loop.c - the event loop: timer heap order, stop and
 * restart, prepare hooks, fds, the cross-thread queue, signals, timeouts. */
#include "gateway/loop.h"
#include "gwtest.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

/* xorshift64: deterministic "random" so a failure can be reproduced. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ---- timers ---- */

#define N_TIMERS 10000

struct rec_timer {
    gw_timer_t t;
    int id;
    int fired;
};

static struct rec_timer timers[N_TIMERS];
static int fire_order[N_TIMERS];
static int64_t fire_due[N_TIMERS];
static int n_fired;

static void on_rec_timer(void *ctx)
{
    struct rec_timer *r = ctx;
    r->fired++;
    if (n_fired < N_TIMERS) {
        fire_order[n_fired] = r->id;
        fire_due[n_fired] = r->t.due_ms;
    }
    n_fired++;
}

static void check_fired_in_due_order(void)
{
    int bad = 0;
    for (int i = 1; i < n_fired && i < N_TIMERS; i++)
        if (fire_due[i] < fire_due[i - 1])
            bad++;
    CHECK_EQ_INT(bad, 0);
}

GW_TEST(timer_random_order)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    /* Due times in the past, so one iteration fires them all without waiting;
     * many share a due time, which exercises the tie-breaking too. */
    int64_t base = gw_now_ms() - 100000;
    for (int i = 0; i < N_TIMERS; i++) {
        timers[i].id = i;
        timers[i].fired = 0;
        gw_timer_init(&timers[i].t, on_rec_timer, &timers[i]);
        CHECK(!gw_timer_active(&timers[i].t));
        CHECK_EQ_INT(gw_timer_start_at(l, &timers[i].t, base + (int64_t)(rnd() % 5000)), 0);
    }
    CHECK_EQ_INT(gw_loop_timer_count(l), N_TIMERS);
    n_fired = 0;
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    CHECK_EQ_INT(n_fired, N_TIMERS);
    check_fired_in_due_order();
    /* Equal due times fire in the order they were started. */
    int tie_bad = 0;
    for (int i = 1; i < N_TIMERS; i++)
        if (fire_due[i] == fire_due[i - 1] && fire_order[i] < fire_order[i - 1])
            tie_bad++;
    CHECK_EQ_INT(tie_bad, 0);
    int once = 0;
    for (int i = 0; i < N_TIMERS; i++)
        once += timers[i].fired == 1 && !gw_timer_active(&timers[i].t);
    CHECK_EQ_INT(once, N_TIMERS);
    CHECK_EQ_INT(gw_loop_timer_count(l), 0);
    gw_loop_free(&l);
    CHECK(l == NULL);
}

GW_TEST(timer_random_stop_and_restart)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    int64_t base = gw_now_ms() - 100000;
    for (int i = 0; i < N_TIMERS; i++) {
        timers[i].id = i;
        timers[i].fired = 0;
        gw_timer_init(&timers[i].t, on_rec_timer, &timers[i]);
        CHECK_EQ_INT(gw_timer_start_at(l, &timers[i].t, base + (int64_t)(rnd() % 50000)), 0);
    }
    /* Roughly a third stopped, a third moved (some into the far future, so
     * they must stay scheduled), the rest untouched. */
    static int fate[N_TIMERS]; /* 0 keep, 1 stopped, 2 moved (due), 3 moved (future) */
    static int64_t want_due[N_TIMERS];
    size_t expect_left = 0, expect_fired = 0;
    for (int i = 0; i < N_TIMERS; i++) {
        int f = (int)(rnd() % 3);
        want_due[i] = timers[i].t.due_ms;
        if (f == 1) {
            gw_timer_stop(l, &timers[i].t);
            CHECK(!gw_timer_active(&timers[i].t));
            gw_timer_stop(l, &timers[i].t); /* twice is harmless */
        } else if (f == 2) {
            if (rnd() % 4 == 0) {
                f = 3;
                want_due[i] = gw_now_ms() + 3600 * 1000;
            } else {
                want_due[i] = base + (int64_t)(rnd() % 50000);
            }
            CHECK_EQ_INT(gw_timer_start_at(l, &timers[i].t, want_due[i]), 0);
        }
        fate[i] = f;
        if (f == 3)
            expect_left++;
        else if (f != 1)
            expect_fired++;
    }
    CHECK_EQ_INT(gw_loop_timer_count(l), expect_left + expect_fired);
    n_fired = 0;
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    CHECK_EQ_INT(n_fired, expect_fired);
    check_fired_in_due_order();
    int wrong = 0;
    for (int i = 0; i < N_TIMERS; i++) {
        int want = (fate[i] == 0 || fate[i] == 2) ? 1 : 0;
        if (timers[i].fired != want)
            wrong++;
        if ((fate[i] == 3) != gw_timer_active(&timers[i].t))
            wrong++;
    }
    for (int i = 0; i < n_fired && i < N_TIMERS; i++)
        if (fire_due[i] != want_due[fire_order[i]])
            wrong++;
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(gw_loop_timer_count(l), expect_left);
    for (int i = 0; i < N_TIMERS; i++)
        gw_timer_stop(l, &timers[i].t);
    CHECK_EQ_INT(gw_loop_timer_count(l), 0);
    gw_loop_free(&l);
}

struct restarter {
    gw_loop_t *l;
    gw_timer_t t;
    int runs;
    int64_t restart_at; /* -1: restart with delay 0 */
    gw_timer_t *victim; /* stopped from the callback when set */
};

static void on_restarter(void *ctx)
{
    struct restarter *r = ctx;
    r->runs++;
    if (r->victim)
        gw_timer_stop(r->l, r->victim);
    if (r->restart_at < 0)
        gw_timer_start(r->l, &r->t, 0);
    else
        gw_timer_start_at(r->l, &r->t, r->restart_at);
}

static void on_count(void *ctx)
{
    (*(int *)ctx)++;
}

GW_TEST(timer_restart_from_own_callback)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    struct restarter r = {.l = l, .restart_at = -1};
    gw_timer_init(&r.t, on_restarter, &r);
    CHECK_EQ_INT(gw_timer_start(l, &r.t, 0), 0);
    /* Delay 0 from its own callback: due "now", yet runs once per iteration. */
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    CHECK_EQ_INT(r.runs, 1);
    CHECK(gw_timer_active(&r.t));
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    CHECK_EQ_INT(r.runs, 2);

    /* Restarting itself in the past must not starve another due timer. */
    int other = 0;
    gw_timer_t o;
    gw_timer_init(&o, on_count, &other);
    r.restart_at = 0;
    CHECK_EQ_INT(gw_timer_start_at(l, &r.t, 0), 0);
    CHECK_EQ_INT(gw_timer_start_at(l, &o, gw_now_ms() - 1), 0);
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    CHECK_EQ_INT(r.runs, 3);
    CHECK_EQ_INT(other, 1);

    /* Restarted into the future: not run again until then. */
    r.restart_at = gw_now_ms() + 3600 * 1000;
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    CHECK_EQ_INT(r.runs, 4);
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    CHECK_EQ_INT(r.runs, 4);
    CHECK_EQ_INT(gw_loop_timer_count(l), 1);
    gw_timer_stop(l, &r.t);
    gw_loop_free(&l);
}

GW_TEST(timer_stopped_by_earlier_callback)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    int victim_runs = 0, moved_runs = 0;
    gw_timer_t victim, moved;
    gw_timer_init(&victim, on_count, &victim_runs);
    gw_timer_init(&moved, on_count, &moved_runs);
    struct restarter r = {.l = l, .restart_at = gw_now_ms() + 3600 * 1000, .victim = &victim};
    gw_timer_init(&r.t, on_restarter, &r);
    int64_t now = gw_now_ms();
    /* r fires first, stops victim (already due, in the same batch). */
    gw_timer_start_at(l, &r.t, now - 30);
    gw_timer_start_at(l, &victim, now - 20);
    gw_timer_start_at(l, &moved, now - 10);
    CHECK_EQ_INT(gw_loop_timer_count(l), 3);
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    CHECK_EQ_INT(r.runs, 1);
    CHECK_EQ_INT(victim_runs, 0);
    CHECK(!gw_timer_active(&victim));
    CHECK_EQ_INT(moved_runs, 1);
    gw_timer_stop(l, &r.t);
    gw_loop_free(&l);
}

struct self_freeing {
    gw_timer_t t;
    int *runs;
};

static void on_self_free(void *ctx)
{
    struct self_freeing *s = ctx;
    (*s->runs)++;
    free(s); /* the owner goes away inside its own callback */
}

GW_TEST(timer_owner_freed_in_callback)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    int runs = 0;
    for (int i = 0; i < 100; i++) {
        struct self_freeing *s = malloc(sizeof(*s));
        s->runs = &runs;
        gw_timer_init(&s->t, on_self_free, s);
        gw_timer_start(l, &s->t, 0);
    }
    for (int i = 0; i < 10 && runs < 100; i++)
        CHECK_EQ_INT(gw_loop_run_once(l, 10), 0);
    CHECK_EQ_INT(runs, 100);
    CHECK_EQ_INT(gw_loop_timer_count(l), 0);
    gw_loop_free(&l);
}

GW_TEST(timer_fires_after_delay)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    int runs = 0;
    gw_timer_t t;
    gw_timer_init(&t, on_count, &runs);
    int64_t t0 = gw_now_ms();
    CHECK_EQ_INT(gw_timer_start(l, &t, 30), 0);
    CHECK_EQ_INT(t.due_ms >= t0 + 30, 1);
    /* The wait is bounded by the timer, not by the 5 s cap. */
    for (int i = 0; i < 5 && runs == 0; i++)
        CHECK_EQ_INT(gw_loop_run_once(l, 5000), 0);
    int64_t el = gw_now_ms() - t0;
    CHECK_EQ_INT(runs, 1);
    CHECK(el >= 30);
    CHECK(el < 2000);
    gw_loop_free(&l);
}

/* ---- prepare hooks and run_once timeouts ---- */

struct hook {
    int64_t deadline;
    int calls;
};

static int64_t on_prepare(void *ctx)
{
    struct hook *h = ctx;
    h->calls++;
    return h->deadline;
}

GW_TEST(prepare_deadline_respected)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    struct hook none = {.deadline = -1}, h = {.deadline = -1};
    CHECK_EQ_INT(gw_loop_add_prepare(l, on_prepare, &none), 0);
    CHECK_EQ_INT(gw_loop_add_prepare(l, on_prepare, &h), 0);
    int64_t t0 = gw_now_ms();
    h.deadline = t0 + 40;
    /* Without the hook this would block forever (no fds ready, no timers). */
    CHECK_EQ_INT(gw_loop_run_once(l, -1), 0);
    int64_t el = gw_now_ms() - t0;
    CHECK(el >= 40);
    CHECK(el < 2000);
    CHECK_EQ_INT(h.calls, 1);
    CHECK_EQ_INT(none.calls, 1);
    /* A deadline in the past means "do not sleep". */
    h.deadline = 0;
    t0 = gw_now_ms();
    CHECK_EQ_INT(gw_loop_run_once(l, 5000), 0);
    CHECK(gw_now_ms() - t0 < 1000);
    /* The nearer of hook and timer wins. */
    int runs = 0;
    gw_timer_t t;
    gw_timer_init(&t, on_count, &runs);
    gw_timer_start(l, &t, 3600 * 1000);
    t0 = gw_now_ms();
    h.deadline = t0 + 20;
    CHECK_EQ_INT(gw_loop_run_once(l, -1), 0);
    el = gw_now_ms() - t0;
    CHECK(el >= 20 && el < 2000);
    CHECK_EQ_INT(runs, 0);
    gw_timer_stop(l, &t);
    /* At most 16 hooks. */
    struct hook more[16];
    int added = 0, rc = 0;
    for (int i = 0; i < 16; i++) {
        more[i].deadline = -1;
        more[i].calls = 0;
        rc = gw_loop_add_prepare(l, on_prepare, &more[i]);
        if (rc == 0)
            added++;
        else
            break;
    }
    CHECK_EQ_INT(added, 14);
    CHECK_EQ_INT(rc, -ENOSPC);
    /* Removal frees a slot; removing twice is -ENOENT. */
    CHECK_EQ_INT(gw_loop_del_prepare(l, on_prepare, &h), 0);
    CHECK_EQ_INT(gw_loop_del_prepare(l, on_prepare, &h), -ENOENT);
    CHECK_EQ_INT(gw_loop_add_prepare(l, on_prepare, &h), 0);
    CHECK_EQ_INT(gw_loop_add_prepare(l, on_prepare, &none), -ENOSPC);
    gw_loop_free(&l);
}

struct self_removing_hook {
    gw_loop_t *l;
    int calls;
};

static int64_t on_prepare_remove_self(void *ctx)
{
    struct self_removing_hook *h = ctx;
    h->calls++;
    CHECK_EQ_INT(gw_loop_del_prepare(h->l, on_prepare_remove_self, h), 0);
    return -1;
}

GW_TEST(prepare_removed_inside_hook)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    struct self_removing_hook a = {.l = l};
    struct hook after = {.deadline = -1};
    CHECK_EQ_INT(gw_loop_add_prepare(l, on_prepare_remove_self, &a), 0);
    CHECK_EQ_INT(gw_loop_add_prepare(l, on_prepare, &after), 0);
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    /* The hook after the removed one is neither skipped nor repeated. */
    CHECK_EQ_INT(a.calls, 1);
    CHECK_EQ_INT(after.calls, 2);
    gw_loop_free(&l);
}

GW_TEST(run_once_timeout)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    int64_t t0 = gw_now_ms();
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    CHECK(gw_now_ms() - t0 < 1000);
    t0 = gw_now_ms();
    CHECK_EQ_INT(gw_loop_run_once(l, 50), 0);
    int64_t el = gw_now_ms() - t0;
    CHECK(el >= 50);
    CHECK(el < 2000);
    /* A far timer does not extend the cap; a near one shortens it. */
    int runs = 0;
    gw_timer_t t;
    gw_timer_init(&t, on_count, &runs);
    gw_timer_start(l, &t, 3600 * 1000);
    t0 = gw_now_ms();
    CHECK_EQ_INT(gw_loop_run_once(l, 30), 0);
    el = gw_now_ms() - t0;
    CHECK(el >= 30 && el < 2000);
    CHECK_EQ_INT(runs, 0);
    gw_timer_start(l, &t, 20);
    t0 = gw_now_ms();
    CHECK_EQ_INT(gw_loop_run_once(l, 5000), 0);
    el = gw_now_ms() - t0;
    CHECK(el >= 20 && el < 2000);
    CHECK_EQ_INT(runs, 1);
    gw_loop_free(&l);
}

/* ---- fds ---- */

struct pipe_ctx {
    gw_loop_t *l;
    int fds[2];
    int calls;
    uint32_t events;
    struct pipe_ctx *other; /* its read end is removed from our callback */
    bool del_self;
};

static void on_pipe(void *ctx, uint32_t events)
{
    struct pipe_ctx *p = ctx;
    p->calls++;
    p->events = events;
    char buf[16];
    if (events & EPOLLIN)
        (void)!read(p->fds[0], buf, sizeof(buf));
    if (p->other && p->other->fds[0] >= 0) {
        CHECK_EQ_INT(gw_loop_del_fd(p->l, p->other->fds[0]), 0);
        close(p->other->fds[0]);
        p->other->fds[0] = -1;
    }
    if (p->del_self)
        CHECK_EQ_INT(gw_loop_del_fd(p->l, p->fds[0]), 0);
}

GW_TEST(fd_callback_on_pipe)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    struct pipe_ctx p = {.l = l};
    CHECK_EQ_INT(pipe(p.fds), 0);
    CHECK_EQ_INT(gw_loop_add_fd(l, p.fds[0], EPOLLIN, on_pipe, &p), 0);
    CHECK_EQ_INT(gw_loop_add_fd(l, p.fds[0], EPOLLIN, on_pipe, &p), -EEXIST);
    CHECK_EQ_INT(gw_loop_add_fd(l, -1, EPOLLIN, on_pipe, &p), -EBADF);
    CHECK_EQ_INT(gw_loop_del_fd(l, p.fds[1]), -ENOENT);
    CHECK_EQ_INT(gw_loop_mod_fd(l, p.fds[1], EPOLLOUT), -ENOENT);
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    CHECK_EQ_INT(p.calls, 0);
    CHECK_EQ_INT(write(p.fds[1], "x", 1), 1);
    CHECK_EQ_INT(gw_loop_run_once(l, 1000), 0);
    CHECK_EQ_INT(p.calls, 1);
    CHECK(p.events & EPOLLIN);
    /* Drained: level-triggered epoll reports nothing more. */
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    CHECK_EQ_INT(p.calls, 1);
    /* mod_fd: with no events requested, a readable pipe stays quiet. */
    CHECK_EQ_INT(gw_loop_mod_fd(l, p.fds[0], 0), 0);
    CHECK_EQ_INT(write(p.fds[1], "y", 1), 1);
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    CHECK_EQ_INT(p.calls, 1);
    CHECK_EQ_INT(gw_loop_mod_fd(l, p.fds[0], EPOLLIN), 0);
    CHECK_EQ_INT(gw_loop_run_once(l, 1000), 0);
    CHECK_EQ_INT(p.calls, 2);
    /* Removal inside its own callback. */
    p.del_self = true;
    CHECK_EQ_INT(write(p.fds[1], "z", 1), 1);
    CHECK_EQ_INT(gw_loop_run_once(l, 1000), 0);
    CHECK_EQ_INT(p.calls, 3);
    CHECK_EQ_INT(write(p.fds[1], "w", 1), 1);
    CHECK_EQ_INT(gw_loop_run_once(l, 0), 0);
    CHECK_EQ_INT(p.calls, 3);
    CHECK_EQ_INT(gw_loop_del_fd(l, p.fds[0]), -ENOENT);
    /* Added again after removal (same fd number). */
    p.del_self = false;
    CHECK_EQ_INT(gw_loop_add_fd(l, p.fds[0], EPOLLIN, on_pipe, &p), 0);
    CHECK_EQ_INT(gw_loop_run_once(l, 1000), 0);
    CHECK_EQ_INT(p.calls, 4);
    CHECK_EQ_INT(gw_loop_del_fd(l, p.fds[0]), 0);
    close(p.fds[0]);
    close(p.fds[1]);
    gw_loop_free(&l);
}

GW_TEST(fd_removed_inside_other_callback)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    struct pipe_ctx a = {.l = l}, b = {.l = l};
    CHECK_EQ_INT(pipe(a.fds), 0);
    CHECK_EQ_INT(pipe(b.fds), 0);
    a.other = &b;
    b.other = &a;
    CHECK_EQ_INT(gw_loop_add_fd(l, a.fds[0], EPOLLIN, on_pipe, &a), 0);
    CHECK_EQ_INT(gw_loop_add_fd(l, b.fds[0], EPOLLIN, on_pipe, &b), 0);
    /* Both readable: the same epoll_wait returns both; whichever runs first
     * removes (and closes) the other, which then must not be called. */
    CHECK_EQ_INT(write(a.fds[1], "a", 1), 1);
    CHECK_EQ_INT(write(b.fds[1], "b", 1), 1);
    CHECK_EQ_INT(gw_loop_run_once(l, 1000), 0);
    CHECK_EQ_INT(a.calls + b.calls, 1);
    struct pipe_ctx *left = a.calls ? &a : &b;
    CHECK(left->fds[0] >= 0);
    CHECK_EQ_INT(gw_loop_del_fd(l, left->fds[0]), 0);
    close(a.fds[1]);
    close(b.fds[1]);
    if (a.fds[0] >= 0)
        close(a.fds[0]);
    if (b.fds[0] >= 0)
        close(b.fds[0]);
    gw_loop_free(&l);
}

/* ---- cross-thread posts ---- */

#define N_THREADS 4
#define N_POSTS 1000

struct post_test {
    gw_loop_t *l;
    pthread_t loop_thread;
    int ran[N_THREADS * N_POSTS];
    int last_seq[N_THREADS];
    int out_of_order;
    int off_thread;
    int total;
};

struct post_item {
    struct post_test *pt;
    int thread, seq;
};

static struct post_item items[N_THREADS * N_POSTS];

static void on_post(void *ctx)
{
    struct post_item *it = ctx;
    struct post_test *pt = it->pt;
    if (!pthread_equal(pthread_self(), pt->loop_thread))
        pt->off_thread++;
    /* Items from one thread run in the order that thread posted them. */
    if (it->seq <= pt->last_seq[it->thread])
        pt->out_of_order++;
    pt->last_seq[it->thread] = it->seq;
    pt->ran[it->thread * N_POSTS + it->seq]++;
    pt->total++;
}

static void *poster(void *arg)
{
    struct post_item *first = arg;
    for (int i = 0; i < N_POSTS; i++)
        if (gw_loop_post(first[i].pt->l, on_post, &first[i]) != 0)
            abort();
    return NULL;
}

GW_TEST(post_from_threads)
{
    static struct post_test pt;
    memset(&pt, 0, sizeof(pt));
    CHECK_EQ_INT(gw_loop_new(&pt.l), 0);
    pt.loop_thread = pthread_self();
    for (int t = 0; t < N_THREADS; t++) {
        pt.last_seq[t] = -1;
        for (int i = 0; i < N_POSTS; i++)
            items[t * N_POSTS + i] = (struct post_item){&pt, t, i};
    }
    pthread_t th[N_THREADS];
    for (int t = 0; t < N_THREADS; t++)
        CHECK_EQ_INT(pthread_create(&th[t], NULL, poster, &items[t * N_POSTS]), 0);
    /* Bounded: every item must arrive well within this many iterations. */
    for (int i = 0; i < 100000 && pt.total < N_THREADS * N_POSTS; i++)
        CHECK_EQ_INT(gw_loop_run_once(pt.l, 100), 0);
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(th[t], NULL);
    CHECK_EQ_INT(gw_loop_run_once(pt.l, 0), 0); /* nothing extra arrives */
    CHECK_EQ_INT(pt.total, N_THREADS * N_POSTS);
    int not_once = 0;
    for (int i = 0; i < N_THREADS * N_POSTS; i++)
        not_once += pt.ran[i] != 1;
    CHECK_EQ_INT(not_once, 0);
    CHECK_EQ_INT(pt.out_of_order, 0);
    CHECK_EQ_INT(pt.off_thread, 0);
    gw_loop_free(&pt.l);
}

GW_TEST(post_unrun_items_freed)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    int runs = 0;
    for (int i = 0; i < 10; i++)
        CHECK_EQ_INT(gw_loop_post(l, on_count, &runs), 0);
    gw_loop_free(&l); /* leak-checked under valgrind / ASan */
    CHECK_EQ_INT(runs, 0);
}

/* ---- signals and run/stop ---- */

struct sig_ctx {
    int count;
    int last;
};

static void on_signal(void *ctx, int signo)
{
    struct sig_ctx *s = ctx;
    s->count++;
    s->last = signo;
}

GW_TEST(signal_delivery)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    struct sig_ctx s = {0};
    CHECK_EQ_INT(gw_loop_watch_signals(l, on_signal, &s), 0);
    CHECK_EQ_INT(raise(SIGHUP), 0);
    for (int i = 0; i < 50 && s.count == 0; i++)
        CHECK_EQ_INT(gw_loop_run_once(l, 100), 0);
    CHECK_EQ_INT(s.count, 1);
    CHECK_EQ_INT(s.last, SIGHUP);
    CHECK_EQ_INT(raise(SIGTERM), 0);
    for (int i = 0; i < 50 && s.count == 1; i++)
        CHECK_EQ_INT(gw_loop_run_once(l, 100), 0);
    CHECK_EQ_INT(s.count, 2);
    CHECK_EQ_INT(s.last, SIGTERM);
    gw_loop_free(&l);
}

static void stop_loop(void *ctx)
{
    gw_loop_stop(ctx);
}

static void *post_stop(void *arg)
{
    gw_loop_post(arg, stop_loop, arg);
    return NULL;
}

GW_TEST(run_until_stop)
{
    gw_loop_t *l = NULL;
    CHECK_EQ_INT(gw_loop_new(&l), 0);
    CHECK(!gw_loop_stopped(l));
    gw_timer_t t;
    gw_timer_init(&t, stop_loop, l);
    gw_timer_start(l, &t, 10);
    CHECK_EQ_INT(gw_loop_run(l), 0);
    CHECK(gw_loop_stopped(l));
    /* Stopped from another thread through the queue. */
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, post_stop, l), 0);
    CHECK_EQ_INT(gw_loop_run(l), 0);
    pthread_join(th, NULL);
    CHECK(gw_loop_stopped(l));
    gw_loop_free(&l);
}

GW_TEST(clocks)
{
    int64_t a = gw_now_ms(), b = gw_now_ms();
    CHECK(b >= a);
    /* 2020-01-01 as a sanity floor for the wall clock. */
    CHECK(gw_wall_ms() > 1577836800000LL);
}

GW_TEST_MAIN(timer_random_order, timer_random_stop_and_restart, timer_restart_from_own_callback,
             timer_stopped_by_earlier_callback, timer_owner_freed_in_callback,
             timer_fires_after_delay, prepare_deadline_respected, prepare_removed_inside_hook,
             run_once_timeout,
             fd_callback_on_pipe, fd_removed_inside_other_callback, post_from_threads,
             post_unrun_items_freed, signal_delivery, run_until_stop, clocks)
