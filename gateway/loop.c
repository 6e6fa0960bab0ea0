/*
 * gateway/loop.c - the single event loop: epoll, a timer min-heap, prepare
 * hooks, a signalfd and an eventfd-signalled work queue.
 *
 * One iteration is: ask the prepare hooks and the heap for the nearest
 * deadline, epoll_wait until then, sample the clock once, dispatch fd
 * events, then run the timers that were due at that sampled instant.
 */
#include "gateway/loop.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define GW_LOOP_MAX_EVENTS 64

/* A timer taken out of the heap for the current batch (see run_timers) keeps
 * heap_index = GW_TIMER_BATCH | position, so stop/restart can clear its slot
 * in O(1). SIZE_MAX also has the bit set but its position can never be
 * reached by a real batch, so "not scheduled" stays unambiguous. */
#define GW_TIMER_BATCH ((size_t)1 << (sizeof(size_t) * CHAR_BIT - 1))

struct gw_fd_entry {
    int fd;
    bool dead; /* removed during dispatch; freed at the end of the iteration */
    gw_io_fn fn;
    void *ctx;
    struct gw_fd_entry *next_dead;
};

/* The sequence number makes timers with equal due times fire in the order
 * they were started, which keeps behaviour reproducible. */
struct gw_heap_node {
    gw_timer_t *t;
    uint64_t seq;
};

struct gw_work {
    gw_work_fn fn;
    void *ctx;
    struct gw_work *next;
};

struct gw_prepare {
    gw_prepare_fn fn;
    void *ctx;
};

struct gw_loop {
    int epfd;
    bool stopped;
    bool running; /* inside run_once: guards against re-entry */

    /* fd registry, indexed by fd number (small, dense integers) */
    struct gw_fd_entry **fds;
    size_t n_fds_cap;
    struct gw_fd_entry *dead;

    /* timers */
    struct gw_heap_node *heap;
    size_t heap_n, heap_cap;
    uint64_t next_seq;
    gw_timer_t **batch;
    size_t batch_n, batch_cap, batch_live;

    /* Grown on demand: an adapter (sd-bus, paho) may add one per
     * connection, so no fixed count fits every configuration. */
    struct gw_prepare *prepare;
    size_t n_prepare, prepare_cap;
    bool in_prepare;

    /* signals */
    int sigfd;
    gw_signal_fn sig_fn;
    void *sig_ctx;

    /* cross-thread work queue */
    int evfd;
    pthread_mutex_t work_lock;
    struct gw_work *work_head, *work_tail;
};

int64_t gw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gw_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- timer heap ---- */

static bool heap_less(const struct gw_heap_node *a, const struct gw_heap_node *b)
{
    if (a->t->due_ms != b->t->due_ms)
        return a->t->due_ms < b->t->due_ms;
    return a->seq < b->seq;
}

static void heap_set(gw_loop_t *l, size_t i, struct gw_heap_node n)
{
    l->heap[i] = n;
    n.t->heap_index = i;
}

static void heap_sift_up(gw_loop_t *l, size_t i)
{
    struct gw_heap_node n = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(&n, &l->heap[parent]))
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, n);
}

static void heap_sift_down(gw_loop_t *l, size_t i)
{
    struct gw_heap_node n = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->heap_n)
            break;
        if (c + 1 < l->heap_n && heap_less(&l->heap[c + 1], &l->heap[c]))
            c++;
        if (!heap_less(&l->heap[c], &n))
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, n);
}

static void heap_remove_at(gw_loop_t *l, size_t i)
{
    gw_timer_t *t = l->heap[i].t;
    l->heap_n--;
    if (i != l->heap_n) {
        heap_set(l, i, l->heap[l->heap_n]);
        /* The moved node may belong above or below its new slot. */
        if (i > 0 && heap_less(&l->heap[i], &l->heap[(i - 1) / 2]))
            heap_sift_up(l, i);
        else
            heap_sift_down(l, i);
    }
    t->heap_index = SIZE_MAX;
}

static int heap_push(gw_loop_t *l, gw_timer_t *t)
{
    if (l->heap_n == l->heap_cap) {
        size_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
        struct gw_heap_node *h = realloc(l->heap, cap * sizeof(*h));
        if (!h)
            return -ENOMEM;
        l->heap = h;
        l->heap_cap = cap;
    }
    struct gw_heap_node n = {.t = t, .seq = l->next_seq++};
    l->heap[l->heap_n] = n;
    t->heap_index = l->heap_n;
    l->heap_n++;
    heap_sift_up(l, l->heap_n - 1);
    return 0;
}

void gw_timer_init(gw_timer_t *t, gw_timer_fn fn, void *ctx)
{
    t->due_ms = 0;
    t->heap_index = SIZE_MAX;
    t->fn = fn;
    t->ctx = ctx;
}

bool gw_timer_active(const gw_timer_t *t)
{
    return t->heap_index != SIZE_MAX;
}

void gw_timer_stop(gw_loop_t *l, gw_timer_t *t)
{
    size_t i = t->heap_index;
    if (i == SIZE_MAX)
        return;
    if (i & GW_TIMER_BATCH) {
        l->batch[i & ~GW_TIMER_BATCH] = NULL;
        l->batch_live--;
        t->heap_index = SIZE_MAX;
        return;
    }
    heap_remove_at(l, i);
}

int gw_timer_start_at(gw_loop_t *l, gw_timer_t *t, int64_t due_ms)
{
    size_t i = t->heap_index;
    if (i != SIZE_MAX && !(i & GW_TIMER_BATCH)) {
        /* Already in the heap: move it in place, no allocation needed. */
        bool earlier = due_ms < t->due_ms;
        t->due_ms = due_ms;
        l->heap[i].seq = l->next_seq++;
        if (earlier)
            heap_sift_up(l, i);
        else
            heap_sift_down(l, i);
        return 0;
    }
    gw_timer_stop(l, t);
    t->due_ms = due_ms;
    return heap_push(l, t);
}

int gw_timer_start(gw_loop_t *l, gw_timer_t *t, int64_t delay_ms)
{
    if (delay_ms < 0)
        delay_ms = 0;
    return gw_timer_start_at(l, t, gw_now_ms() + delay_ms);
}

size_t gw_loop_timer_count(const gw_loop_t *l)
{
    return l->heap_n + l->batch_live;
}

/* Moves every timer due at `now` out of the heap into the batch before any
 * callback runs. A callback that restarts its own (or another) timer puts it
 * back into the heap, which is not looked at again in this iteration, so a
 * timer restarted with delay 0 cannot spin the loop, and one that restarts
 * itself at a past time cannot starve the others: they are in the batch. */
static void run_timers(gw_loop_t *l, int64_t now)
{
    l->batch_n = 0;
    while (l->heap_n > 0 && l->heap[0].t->due_ms <= now) {
        if (l->batch_n == l->batch_cap) {
            size_t cap = l->batch_cap ? l->batch_cap * 2 : 64;
            gw_timer_t **b = realloc(l->batch, cap * sizeof(*b));
            if (!b)
                break; /* run what fits; the rest stays due for next time */
            l->batch = b;
            l->batch_cap = cap;
        }
        gw_timer_t *t = l->heap[0].t;
        heap_remove_at(l, 0);
        t->heap_index = GW_TIMER_BATCH | l->batch_n;
        l->batch[l->batch_n++] = t;
        l->batch_live++;
    }
    for (size_t i = 0; i < l->batch_n; i++) {
        gw_timer_t *t = l->batch[i];
        if (!t)
            continue; /* stopped or restarted by an earlier callback */
        l->batch[i] = NULL;
        l->batch_live--;
        t->heap_index = SIZE_MAX;
        /* t may be freed by its owner inside fn: not touched afterwards. */
        t->fn(t->ctx);
    }
    l->batch_n = 0;
}

/* ---- fd registry ---- */

static struct gw_fd_entry *fd_lookup(const gw_loop_t *l, int fd)
{
    if (fd < 0 || (size_t)fd >= l->n_fds_cap)
        return NULL;
    return l->fds[fd];
}

int gw_loop_add_fd(gw_loop_t *l, int fd, uint32_t events, gw_io_fn fn, void *ctx)
{
    if (fd < 0 || !fn)
        return fd < 0 ? -EBADF : -EINVAL;
    if (fd_lookup(l, fd))
        return -EEXIST;
    if ((size_t)fd >= l->n_fds_cap) {
        size_t cap = l->n_fds_cap ? l->n_fds_cap : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        struct gw_fd_entry **f = realloc(l->fds, cap * sizeof(*f));
        if (!f)
            return -ENOMEM;
        memset(f + l->n_fds_cap, 0, (cap - l->n_fds_cap) * sizeof(*f));
        l->fds = f;
        l->n_fds_cap = cap;
    }
    struct gw_fd_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->fd = fd;
    e->fn = fn;
    e->ctx = ctx;
    struct epoll_event ev = {.events = events, .data.ptr = e};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = -errno;
        free(e);
        return err;
    }
    l->fds[fd] = e;
    return 0;
}

int gw_loop_mod_fd(gw_loop_t *l, int fd, uint32_t events)
{
    struct gw_fd_entry *e = fd_lookup(l, fd);
    if (!e)
        return -ENOENT;
    struct epoll_event ev = {.events = events, .data.ptr = e};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
        return -errno;
    return 0;
}

/* The entry is forgotten even when epoll_ctl fails (an fd closed before
 * being removed has already left the epoll set by itself), so that the fd
 * number can be added again once the kernel reuses it. */
int gw_loop_del_fd(gw_loop_t *l, int fd)
{
    struct gw_fd_entry *e = fd_lookup(l, fd);
    if (!e)
        return -ENOENT;
    int err = 0;
    if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != EBADF && errno != ENOENT)
        err = -errno;
    l->fds[fd] = NULL;
    if (l->running) {
        /* Events for it may still sit in this iteration's array. */
        e->dead = true;
        e->next_dead = l->dead;
        l->dead = e;
    } else {
        free(e);
    }
    return err;
}

static void free_dead(gw_loop_t *l)
{
    while (l->dead) {
        struct gw_fd_entry *e = l->dead;
        l->dead = e->next_dead;
        free(e);
    }
}

/* ---- prepare hooks ---- */

int gw_loop_add_prepare(gw_loop_t *l, gw_prepare_fn fn, void *ctx)
{
    if (!fn)
        return -EINVAL;
    if (l->n_prepare == l->prepare_cap) {
        /* Indexed, never pointed into, so wait_time's walk survives a hook
         * that adds another (the new one is called in the same walk). */
        size_t cap = l->prepare_cap ? l->prepare_cap * 2 : 8;
        struct gw_prepare *p = realloc(l->prepare, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        l->prepare = p;
        l->prepare_cap = cap;
    }
    l->prepare[l->n_prepare].fn = fn;
    l->prepare[l->n_prepare].ctx = ctx;
    l->n_prepare++;
    return 0;
}

static void compact_prepare(gw_loop_t *l)
{
    size_t w = 0;
    for (size_t i = 0; i < l->n_prepare; i++)
        if (l->prepare[i].fn)
            l->prepare[w++] = l->prepare[i];
    l->n_prepare = w;
}

int gw_loop_del_prepare(gw_loop_t *l, gw_prepare_fn fn, void *ctx)
{
    for (size_t i = 0; i < l->n_prepare; i++) {
        if (l->prepare[i].fn == fn && l->prepare[i].ctx == ctx) {
            /* Cleared, not moved, while the hooks are being called, so the
             * walk in wait_time neither skips nor repeats one. */
            l->prepare[i].fn = NULL;
            if (!l->in_prepare)
                compact_prepare(l);
            return 0;
        }
    }
    return -ENOENT;
}

/* ---- signals ---- */

static void on_signalfd(void *ctx, uint32_t events)
{
    gw_loop_t *l = ctx;
    (void)events;
    struct signalfd_siginfo si;
    for (;;) {
        ssize_t n = read(l->sigfd, &si, sizeof(si));
        if (n != (ssize_t)sizeof(si))
            break; /* EAGAIN: drained (signalfd never returns partial records) */
        if (l->sig_fn)
            l->sig_fn(l->sig_ctx, (int)si.ssi_signo);
    }
}

/* Threads started after this call inherit the blocked mask; threads started
 * before it could still take the signal with its default action, so call
 * this before creating workers. */
int gw_loop_watch_signals(gw_loop_t *l, gw_signal_fn fn, void *ctx)
{
    if (!fn)
        return -EINVAL;
    l->sig_fn = fn;
    l->sig_ctx = ctx;
    if (l->sigfd >= 0)
        return 0;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0)
        return -rc;
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    rc = gw_loop_add_fd(l, fd, EPOLLIN, on_signalfd, l);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    l->sigfd = fd;
    return 0;
}

/* ---- cross-thread work queue ---- */

int gw_loop_post(gw_loop_t *l, gw_work_fn fn, void *ctx)
{
    struct gw_work *w = malloc(sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->fn = fn;
    w->ctx = ctx;
    w->next = NULL;
    pthread_mutex_lock(&l->work_lock);
    bool was_empty = l->work_head == NULL;
    if (l->work_tail)
        l->work_tail->next = w;
    else
        l->work_head = w;
    l->work_tail = w;
    pthread_mutex_unlock(&l->work_lock);
    /* Only the empty -> non-empty transition needs a wake-up: the loop
     * reads the eventfd before taking the list (see on_eventfd), so a post
     * racing with a drain at worst causes one spurious wake-up, never a
     * lost one. The write cannot fail short of counter overflow (2^64-2). */
    if (was_empty) {
        uint64_t one = 1;
        ssize_t n;
        do
            n = write(l->evfd, &one, sizeof(one));
        while (n < 0 && errno == EINTR);
    }
    return 0;
}

static void on_eventfd(void *ctx, uint32_t events)
{
    gw_loop_t *l = ctx;
    (void)events;
    uint64_t cnt;
    ssize_t n;
    do
        n = read(l->evfd, &cnt, sizeof(cnt));
    while (n < 0 && errno == EINTR);
    pthread_mutex_lock(&l->work_lock);
    struct gw_work *w = l->work_head;
    l->work_head = l->work_tail = NULL;
    pthread_mutex_unlock(&l->work_lock);
    /* Work posted by these callbacks lands in a fresh list and wakes the
     * next iteration, so a self-reposting item cannot starve other fds. */
    while (w) {
        struct gw_work *next = w->next;
        w->fn(w->ctx);
        free(w);
        w = next;
    }
}

/* ---- lifecycle ---- */

int gw_loop_new(gw_loop_t **out)
{
    int err = -ENOMEM;
    gw_loop_t *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->epfd = l->sigfd = l->evfd = -1;
    if (pthread_mutex_init(&l->work_lock, NULL) != 0) {
        free(l);
        return -ENOMEM;
    }
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        err = -errno;
        goto fail;
    }
    l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->evfd < 0) {
        err = -errno;
        goto fail;
    }
    err = gw_loop_add_fd(l, l->evfd, EPOLLIN, on_eventfd, l);
    if (err < 0)
        goto fail;
    *out = l;
    return 0;
fail:
    gw_loop_free(&l);
    return err;
}

void gw_loop_free(gw_loop_t **pl)
{
    gw_loop_t *l = *pl;
    if (!l)
        return;
    for (size_t i = 0; i < l->n_fds_cap; i++)
        free(l->fds[i]);
    free(l->fds);
    free_dead(l);
    /* Timers still scheduled belong to their owners: just forget them. */
    for (size_t i = 0; i < l->heap_n; i++)
        l->heap[i].t->heap_index = SIZE_MAX;
    free(l->heap);
    free(l->batch);
    free(l->prepare);
    struct gw_work *w = l->work_head;
    while (w) {
        struct gw_work *next = w->next;
        free(w);
        w = next;
    }
    pthread_mutex_destroy(&l->work_lock);
    if (l->sigfd >= 0)
        close(l->sigfd);
    if (l->evfd >= 0)
        close(l->evfd);
    if (l->epfd >= 0)
        close(l->epfd);
    free(l);
    *pl = NULL;
}

/* ---- running ---- */

/* Milliseconds to wait: the nearest of the heap top and the hooks' deadlines,
 * never negative, capped by max_wait_ms (-1: no cap), -1 for "forever".
 * gw_now_ms truncates, and epoll_wait sleeps at least the given time, so a
 * wake-up never comes before a deadline computed this way (no 1 ms spin). */
static int wait_time(gw_loop_t *l, int max_wait_ms)
{
    int64_t deadline = -1;
    l->in_prepare = true;
    for (size_t i = 0; i < l->n_prepare; i++) {
        gw_prepare_fn fn = l->prepare[i].fn;
        if (!fn)
            continue;
        int64_t d = fn(l->prepare[i].ctx);
        if (d >= 0 && (deadline < 0 || d < deadline))
            deadline = d;
    }
    l->in_prepare = false;
    compact_prepare(l);
    /* Read after the hooks: one of them may have started a timer. */
    if (l->heap_n > 0 && (deadline < 0 || l->heap[0].t->due_ms < deadline))
        deadline = l->heap[0].t->due_ms;
    int64_t wait = -1;
    if (deadline >= 0) {
        wait = deadline - gw_now_ms();
        if (wait < 0)
            wait = 0;
    }
    if (max_wait_ms >= 0 && (wait < 0 || wait > max_wait_ms))
        wait = max_wait_ms;
    if (wait > INT_MAX)
        wait = INT_MAX;
    return (int)wait;
}

int gw_loop_run_once(gw_loop_t *l, int max_wait_ms)
{
    if (l->running)
        return -EBUSY; /* re-entry would corrupt the timer batch */
    struct epoll_event evs[GW_LOOP_MAX_EVENTS];
    int timeout = wait_time(l, max_wait_ms);
    int n = epoll_wait(l->epfd, evs, GW_LOOP_MAX_EVENTS, timeout);
    if (n < 0) {
        if (errno != EINTR)
            return -errno;
        n = 0;
    }
    /* Sampled after the wait so timers that came due while sleeping run in
     * this iteration; everything below compares against this one instant. */
    int64_t now = gw_now_ms();
    l->running = true;
    for (int i = 0; i < n; i++) {
        struct gw_fd_entry *e = evs[i].data.ptr;
        if (!e->dead)
            e->fn(e->ctx, evs[i].events);
    }
    run_timers(l, now);
    l->running = false;
    free_dead(l);
    return 0;
}

int gw_loop_run(gw_loop_t *l)
{
    l->stopped = false;
    while (!l->stopped) {
        int rc = gw_loop_run_once(l, -1);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void gw_loop_stop(gw_loop_t *l)
{
    l->stopped = true;
}

bool gw_loop_stopped(const gw_loop_t *l)
{
    return l->stopped;
}
