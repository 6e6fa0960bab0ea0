/*
 * adapters/modbus/modbus.c - Modbus TCP and RTU devices polled with
 * libmodbus.
 *
 * libmodbus blocks, so every bus has a worker thread that owns its
 * modbus_t; the loop thread never touches a connection. A bus's scheduler
 * is the worker's loop: writes first, otherwise the poll group (registers of
 * one device sharing an interval) that is due earliest, one request at a
 * time with the bus's turnaround pause between frames. A group's registers
 * are merged into few reads at start (decode.c), so a meter with 30 values
 * costs a few requests per poll. Linear scans over a bus's groups are fine:
 * a serial line carries tens of devices, not thousands.
 *
 * Results travel to the loop as a mutex-protected list signalled through an
 * eventfd the adapter watches in env.loop from start to stop; its callback
 * drains the list and emits readings. An eventfd of its own rather than
 * gw_loop_post: stop must be able to drop what the workers left, and a
 * posted item would outlive the adapter.
 * A device's fault state (timeouts, exceptions, lost connection) changes on
 * the worker and is reported once per change, as a log line and an
 * "error_code" reading (LwM2M /3/0/11 codes: 7 IP connectivity failure for
 * a TCP device that cannot be reached, 8 peripheral malfunction otherwise,
 * 0 when it answers again). A failing device is retried with exponential
 * backoff up to the bus's backoff_max_ms. Writes, which the worker takes
 * ahead of polls, are in write.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../../gateway/log.h"
#include "../adapters_internal.h"
#include "modbus_internal.h"

enum { ERR_NONE = 0, ERR_IP = 7, ERR_PERIPHERAL = 8 };

void gw_modbus_add_stat(gw_adapter_t *a, uint64_t *counter, uint64_t n)
{
    pthread_mutex_lock(&a->mu);
    *counter += n;
    pthread_mutex_unlock(&a->mu);
}

void gw_modbus_get_stats(gw_adapter_t *a, gw_modbus_stats_t *out)
{
    pthread_mutex_lock(&a->mu);
    *out = a->stats;
    pthread_mutex_unlock(&a->mu);
}

/* ---- worker side ------------------------------------------------------- */

void gw_modbus_post(gw_adapter_t *a, mb_item_t *first, mb_item_t *last)
{
    if (!first)
        return;
    pthread_mutex_lock(&a->mu);
    if (a->q_tail)
        a->q_tail->next = first;
    else
        a->q_head = first;
    a->q_tail = last;
    pthread_mutex_unlock(&a->mu);
    uint64_t one = 1;
    /* A full counter still wakes the loop; nothing is lost. */
    if (write(a->efd, &one, sizeof one) < 0) {
    }
}

static mb_item_t *new_item(uint32_t dev, const char *text)
{
    size_t len = text ? strlen(text) : 0;
    mb_item_t *it = calloc(1, sizeof *it + len + 1);
    if (it && text)
        memcpy(it->text, text, len + 1);
    if (it) {
        it->dev = dev;
        it->ts_ms = gw_wall_ms();
    }
    return it;
}

static void sleep_until(int64_t due_ms)
{
    int64_t now = gw_now_ms();
    if (due_ms <= now)
        return;
    struct timespec ts = {(due_ms - now) / 1000, ((due_ms - now) % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static void drop_connection(mb_bus_t *b)
{
    if (b->connected)
        modbus_close(b->ctx);
    b->connected = false;
}

/* Classify a failed libmodbus call by errno: returns the error code and
 * counts it. A TCP connection is dropped on anything but an exception,
 * because a late reply would otherwise be taken for the next request's. */
int gw_modbus_classify(mb_bus_t *b, int err)
{
    gw_adapter_t *a = b->a;
    if (err > MODBUS_ENOBASE && err < EMBXGTAR + 1) {
        gw_modbus_add_stat(a, &a->stats.exceptions, 1);
        return ERR_PERIPHERAL;
    }
    if (err == EMBBADCRC || err == EMBBADDATA || err == EMBBADEXC || err == EMBMDATA ||
        err == EMBBADSLAVE || err == EMBUNKEXC) {
        gw_modbus_add_stat(a, &a->stats.bad_replies, 1);
        if (!b->cfg->rtu)
            drop_connection(b);
        else
            modbus_flush(b->ctx);
        return ERR_PERIPHERAL;
    }
    if (err == ETIMEDOUT) {
        gw_modbus_add_stat(a, &a->stats.timeouts, 1);
        if (!b->cfg->rtu) {
            drop_connection(b);
            return ERR_PERIPHERAL;
        }
        modbus_flush(b->ctx);
        return ERR_PERIPHERAL;
    }
    gw_modbus_add_stat(a, &a->stats.io_errors, 1);
    drop_connection(b);
    return b->cfg->rtu ? ERR_PERIPHERAL : ERR_IP;
}

static int ensure_connected(mb_bus_t *b)
{
    if (b->connected)
        return 0;
    if (modbus_connect(b->ctx) < 0)
        return -errno;
    b->connected = true;
    gw_modbus_add_stat(b->a, &b->a->stats.connects, 1);
    return 0;
}

/* One request: wait for the turnaround, connect if needed, send. Returns
 * the number read/written or -errno. */
int gw_modbus_request(mb_bus_t *b, int unit, uint8_t table, bool write, uint16_t start,
                      uint16_t count, uint16_t *words, uint8_t *bits)
{
    sleep_until(b->next_req_ms);
    int rc = ensure_connected(b);
    if (rc < 0) {
        b->next_req_ms = gw_now_ms() + b->cfg->turnaround_ms;
        return rc;
    }
    modbus_set_slave(b->ctx, unit);
    gw_modbus_add_stat(b->a, &b->a->stats.requests, 1);
    if (write) {
        if (table == GW_MODBUS_COIL && count == 1) {
            rc = modbus_write_bit(b->ctx, start, words[0] != 0); /* FC05 */
        } else if (table == GW_MODBUS_COIL) {
            /* A bit field goes in one FC15 so that its coils change together. */
            uint8_t coils[GW_MODBUS_MAX_FIELD_BITS];
            for (uint16_t i = 0; i < count && i < GW_MODBUS_MAX_FIELD_BITS; i++)
                coils[i] = words[i] != 0;
            rc = modbus_write_bits(b->ctx, start, count, coils); /* FC15 */
        } else if (count == 1)
            rc = modbus_write_register(b->ctx, start, words[0]); /* FC06 */
        else
            rc = modbus_write_registers(b->ctx, start, count, words); /* FC16 */
    } else {
        switch (table) {
        case GW_MODBUS_COIL: rc = modbus_read_bits(b->ctx, start, count, bits); break;
        case GW_MODBUS_DISCRETE: rc = modbus_read_input_bits(b->ctx, start, count, bits); break;
        case GW_MODBUS_INPUT: rc = modbus_read_input_registers(b->ctx, start, count, words); break;
        default: rc = modbus_read_registers(b->ctx, start, count, words); break;
        }
    }
    int err = errno;
    b->next_req_ms = gw_now_ms() + b->cfg->turnaround_ms;
    return rc < 0 ? -err : rc;
}

static void append(mb_item_t **head, mb_item_t **tail, mb_item_t *it)
{
    if (*tail)
        (*tail)->next = it;
    else
        *head = it;
    *tail = it;
}

/* Record the outcome of a poll or write for its device; a change of fault
 * state goes to the loop, and so does a change of availability when the
 * bus has a fail_threshold. A device coming back is announced ahead of
 * this poll's readings (its client registers first); one going down after
 * the error code that explains it. */
void gw_modbus_failure(const mb_bus_t *b, uint8_t table, bool write, uint16_t start, uint16_t count,
                       int err, char *buf, size_t size)
{
    char req[96];
    gw_modbus_describe(table, write, start, count, req, sizeof req);
    if (!b->connected)
        snprintf(buf, size, "cannot connect for %s: %s", req, modbus_strerror(err));
    else
        snprintf(buf, size, "%s: %s", req, modbus_strerror(err));
}

void gw_modbus_device_outcome(mb_bus_t *b, uint32_t di, int code, const char *why, mb_item_t **head,
                              mb_item_t **tail)
{
    mb_dev_t *d = &b->a->devs[di];
    d->fails = code ? d->fails + 1 : 0;
    int threshold = b->cfg->fail_threshold;
    bool down = threshold > 0 && d->fails >= threshold;
    mb_item_t *av = NULL;
    if (down != d->down) {
        av = new_item(di, code ? why : NULL);
        if (av) {
            d->down = down;
            av->avail_change = down ? -1 : 1;
            av->code = d->fails;
            if (!down) {
                av->next = *head;
                *head = av;
                if (!*tail)
                    *tail = av;
                av = NULL;
            }
        }
    }
    if (code != d->fault) {
        mb_item_t *it = new_item(di, code ? why : NULL);
        if (it) {
            d->fault = code;
            it->fault_change = true;
            it->code = code;
            append(head, tail, it);
        }
    }
    if (av)
        append(head, tail, av);
}

static void poll_group(mb_bus_t *b, mb_group_t *g)
{
    gw_adapter_t *a = b->a;
    mb_dev_t *d = &a->devs[g->dev];
    mb_item_t *head = NULL, *tail = NULL;
    uint16_t words[GW_MODBUS_MAX_REGS];
    uint8_t bits[GW_MODBUS_MAX_BITS];
    int code = 0;
    char why[160] = "";
    for (size_t k = 0; k < g->n_blocks && !code; k++) {
        const gw_modbus_block_t *blk = &g->blocks[k];
        int rc = gw_modbus_request(b, d->cfg->unit_id, blk->table, false, blk->start, blk->count, words,
                         bits);
        if (rc >= 0 && rc != blk->count)
            rc = -EMBBADDATA;
        if (rc < 0) {
            gw_modbus_failure(b, blk->table, false, blk->start, blk->count, -rc, why, sizeof why);
            code = gw_modbus_classify(b, -rc);
            break;
        }
        gw_modbus_add_stat(a, &a->stats.registers, (uint64_t)rc);
        bool is_bits = blk->table == GW_MODBUS_COIL || blk->table == GW_MODBUS_DISCRETE;
        for (uint32_t j = blk->first; j < blk->first + blk->n; j++) {
            const gw_config_modbus_reg_t *r = g->regs[j];
            size_t off = (size_t)(r->address - blk->start);
            uint16_t field[GW_MODBUS_MAX_FIELD_BITS];
            const uint16_t *src = words + off;
            if (is_bits) {
                for (size_t i = 0; i < r->count && i < GW_MODBUS_MAX_FIELD_BITS; i++)
                    field[i] = bits[off + i];
                src = field;
            }
            char str[2 * GW_MODBUS_MAX_REGS + 1];
            gw_value_t v;
            int dec;
            if (gw_modbus_decode_prec(r, src, r->count, &v, str, sizeof str, &dec) < 0) {
                gw_modbus_add_stat(a, &a->stats.decode_errors, 1);
                continue;
            }
            mb_item_t *it = new_item(g->dev, v.type == GW_TYPE_STRING ? str : NULL);
            if (!it)
                continue;
            it->field = r->field;
            it->value = v;
            it->decimals = (int8_t)(dec < INT8_MIN ? INT8_MIN : dec > INT8_MAX ? INT8_MAX : dec);
            if (tail)
                tail->next = it;
            else
                head = it;
            tail = it;
        }
    }
    gw_modbus_device_outcome(b, g->dev, code, why, &head, &tail);
    gw_modbus_post(a, head, tail);
}

/* Called with a->mu held. */
static mb_group_t *next_group(mb_bus_t *b)
{
    mb_group_t *best = NULL;
    for (size_t i = 0; i < b->n_groups; i++) {
        mb_group_t *g = &b->a->groups[b->groups[(b->rr + i) % b->n_groups]];
        if (!best || g->due_ms < best->due_ms)
            best = g;
    }
    return best;
}

static int64_t retry_delay(const mb_bus_t *b, const mb_group_t *g, int fails)
{
    int64_t d = 500;
    for (int i = 1; i < fails && d < b->cfg->backoff_max_ms; i++)
        d *= 2;
    if (d < g->interval_ms)
        d = g->interval_ms;
    return d > b->cfg->backoff_max_ms ? b->cfg->backoff_max_ms : d;
}

static void *bus_main(void *arg)
{
    mb_bus_t *b = arg;
    gw_adapter_t *a = b->a;
    pthread_mutex_lock(&a->mu);
    while (!a->stopping) {
        mb_write_t *w = b->wq_head;
        if (w) {
            b->wq_head = w->next;
            if (!b->wq_head)
                b->wq_tail = NULL;
            pthread_mutex_unlock(&a->mu);
            gw_modbus_do_write(b, w);
            pthread_mutex_lock(&a->mu);
            /* Report what was written with the device's next poll. */
            for (size_t i = 0; i < b->n_groups; i++) {
                mb_group_t *g = &a->groups[b->groups[i]];
                if (g->dev == w->dev && w->rc == 0)
                    g->due_ms = gw_now_ms();
            }
            gw_modbus_write_finished(a, w);
            continue;
        }
        mb_group_t *g = next_group(b);
        int64_t now = gw_now_ms();
        if (!g || g->due_ms > now) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t wait = g ? g->due_ms - now : 60000;
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (wait % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&a->cond, &a->mu, &ts);
            continue;
        }
        b->rr++;
        pthread_mutex_unlock(&a->mu);
        poll_group(b, g);
        pthread_mutex_lock(&a->mu);
        int fails = a->devs[g->dev].fails;
        now = gw_now_ms();
        if (fails)
            g->due_ms = now + retry_delay(b, g, fails);
        else if ((g->due_ms += g->interval_ms) <= now)
            g->due_ms = now + g->interval_ms; /* late: skip, do not burst */
    }
    bool keep = a->pausing;
    pthread_mutex_unlock(&a->mu);
    /* Paused for a reconfigure: the connection outlives the thread. */
    if (!keep)
        drop_connection(b);
    return NULL;
}

/* ---- loop side --------------------------------------------------------- */

void gw_modbus_free_items(mb_item_t *it)
{
    while (it) {
        mb_item_t *n = it->next;
        free(it);
        it = n;
    }
}

static void mb_stop(gw_adapter_t *a)
{
    if (!a || !a->sync_ok)
        return;
    pthread_mutex_lock(&a->mu);
    a->stopping = true;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->mu);
    for (size_t i = 0; i < a->n_buses; i++)
        if (a->buses[i].running) {
            pthread_join(a->buses[i].thread, NULL);
            a->buses[i].running = false;
        }
    if (a->in_loop) {
        gw_loop_del_fd(a->env.loop, a->efd);
        a->in_loop = false;
    }
    gw_modbus_write_stop(a);
}

static void mb_destroy(gw_adapter_t **ap)
{
    if (!ap || !*ap)
        return;
    gw_adapter_t *a = *ap;
    mb_stop(a);
    for (size_t i = 0; i < a->n_buses; i++) {
        if (a->buses[i].ctx)
            modbus_free(a->buses[i].ctx);
        free(a->buses[i].groups);
    }
    free(a->buses);
    for (size_t i = 0; i < a->n_groups; i++) {
        free(a->groups[i].regs);
        free(a->groups[i].blocks);
    }
    free(a->groups);
    for (size_t i = 0; i < a->n_devs; i++)
        free(a->devs[i].key);
    free(a->devs);
    gw_modbus_free_items(a->q_head);
    if (a->efd >= 0)
        close(a->efd);
    if (a->sync_ok) {
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cond);
    }
    free(a);
    *ap = NULL;
}

static int cmp_reg(const void *x, const void *y)
{
    return gw_modbus_reg_cmp(*(const gw_config_modbus_reg_t *const *)x,
                             *(const gw_config_modbus_reg_t *const *)y);
}

int gw_modbus_add_groups(gw_adapter_t *a, uint32_t di, int max_gap)
{
    const gw_modbus_dev_conf_t *d = a->devs[di].cfg;
    for (size_t i = 0; i < d->n_registers; i++) {
        int32_t iv = d->registers[i].interval_ms;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = d->registers[j].interval_ms == iv;
        if (seen)
            continue;
        mb_group_t *g = &a->groups[a->n_groups];
        memset(g, 0, sizeof *g);
        g->dev = di;
        g->bus = a->devs[di].bus;
        g->interval_ms = iv;
        g->regs = calloc(d->n_registers, sizeof *g->regs);
        g->blocks = calloc(d->n_registers, sizeof *g->blocks);
        a->n_groups++;
        if (!g->regs || !g->blocks)
            return -ENOMEM;
        for (size_t j = i; j < d->n_registers; j++)
            if (d->registers[j].interval_ms == iv)
                g->regs[g->n_regs++] = &d->registers[j];
        qsort(g->regs, g->n_regs, sizeof *g->regs, cmp_reg);
        int nb = gw_modbus_plan(g->regs, g->n_regs, max_gap, g->blocks, d->n_registers);
        if (nb < 0)
            return nb;
        g->n_blocks = (size_t)nb;
    }
    return 0;
}

static int bus_ctx(mb_bus_t *b)
{
    const gw_config_modbus_bus_t *c = b->cfg;
    if (c->rtu) {
        b->ctx = modbus_new_rtu(c->device, c->baud, c->parity, c->data_bits, c->stop_bits);
    } else {
        char port[16];
        snprintf(port, sizeof port, "%d", (int)c->port);
        b->ctx = modbus_new_tcp_pi(c->host, port);
    }
    if (!b->ctx)
        return -errno ? -errno : -ENOMEM;
    modbus_set_response_timeout(b->ctx, (uint32_t)(c->timeout_ms / 1000),
                                (uint32_t)(c->timeout_ms % 1000) * 1000);
    return 0;
}

static int mb_create(const gw_adapter_env_t *env, const void *section,
                     const gw_adapter_device_t *devs, size_t n_devs, gw_adapter_t **out)
{
    const gw_modbus_conf_t *cfg = section;
    if (!env || !out || (n_devs && (!devs || !cfg)))
        return -EINVAL;
    gw_adapter_t *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->env = *env;
    a->cfg = cfg;
    a->efd = -1;
    int rc = -ENOMEM;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        goto fail;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        pthread_condattr_destroy(&ca);
        goto fail;
    }
    if (pthread_cond_init(&a->cond, &ca) != 0) {
        pthread_mutex_destroy(&a->mu);
        pthread_condattr_destroy(&ca);
        goto fail;
    }
    pthread_condattr_destroy(&ca);
    a->sync_ok = true;
    a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->efd < 0) {
        rc = -errno;
        goto fail;
    }
    size_t nd = n_devs, ng = 0;
    for (size_t i = 0; i < n_devs; i++) {
        const gw_modbus_dev_conf_t *d = devs[i].conf;
        ng += d ? d->n_registers : 0;
    }
    a->devs = calloc(nd ? nd : 1, sizeof *a->devs);
    a->groups = calloc(ng ? ng : 1, sizeof *a->groups);
    size_t n_buses = cfg ? cfg->n_buses : 0;
    a->buses = calloc(n_buses ? n_buses : 1, sizeof *a->buses);
    if (!a->devs || !a->groups || !a->buses)
        goto fail;
    a->n_buses = n_buses;
    for (size_t i = 0; i < n_buses; i++) {
        a->buses[i].a = a;
        a->buses[i].cfg = &cfg->buses[i];
    }
    for (size_t i = 0; i < n_devs; i++) {
        const gw_modbus_dev_conf_t *d = devs[i].conf;
        size_t bi = 0;
        while (d && bi < n_buses && (!d->bus || strcmp(cfg->buses[bi].name, d->bus) != 0))
            bi++;
        if (!d || bi == n_buses || !devs[i].key) {
            gw_err("modbus: device at line %d has no known bus or no address", devs[i].line);
            rc = -EINVAL;
            goto fail;
        }
        const char *key = devs[i].key;
        mb_dev_t *md = &a->devs[a->n_devs];
        md->key = strdup(key);
        if (!md->key)
            goto fail;
        md->cfg = d;
        md->bus = (uint32_t)bi;
        a->n_devs++;
        rc = gw_modbus_add_groups(a, (uint32_t)(a->n_devs - 1), cfg->buses[bi].max_gap);
        if (rc < 0)
            goto fail;
        rc = -ENOMEM;
    }
    for (size_t i = 0; i < a->n_buses; i++) {
        mb_bus_t *b = &a->buses[i];
        b->groups = calloc(a->n_groups ? a->n_groups : 1, sizeof *b->groups);
        if (!b->groups)
            goto fail;
        for (size_t g = 0; g < a->n_groups; g++)
            if (a->groups[g].bus == i)
                b->groups[b->n_groups++] = (uint32_t)g;
    }
    *out = a;
    return 0;
fail:
    mb_destroy(&a);
    return rc;
}

int gw_modbus_bus_run(mb_bus_t *b)
{
    if (!b->ctx) {
        int rc = bus_ctx(b);
        if (rc < 0) {
            gw_err("modbus: bus %s: %s", b->cfg->name, modbus_strerror(-rc));
            return rc;
        }
    }
    int rc = pthread_create(&b->thread, NULL, bus_main, b);
    if (rc != 0) {
        gw_err("modbus: bus %s: cannot start its thread: %s", b->cfg->name, strerror(rc));
        return -rc;
    }
    b->running = true;
    return 0;
}

void gw_modbus_bus_close(mb_bus_t *b)
{
    drop_connection(b);
    if (b->ctx)
        modbus_free(b->ctx);
    b->ctx = NULL;
}

static void on_efd(void *ctx, uint32_t events)
{
    (void)events;
    int rc = gw_modbus_drain(ctx);
    if (rc < 0)
        gw_debug("modbus: reading the workers' eventfd: %s", strerror(-rc));
}

static int mb_start(gw_adapter_t *a)
{
    if (!a)
        return -EINVAL;
    if (a->env.loop && !a->in_loop) {
        int rc = gw_loop_add_fd(a->env.loop, a->efd, EPOLLIN, on_efd, a);
        if (rc < 0) {
            gw_err("modbus: cannot watch its eventfd in the loop: %s", strerror(-rc));
            return rc;
        }
        a->in_loop = true;
    }
    int64_t now = gw_now_ms();
    for (size_t i = 0; i < a->n_buses; i++) {
        mb_bus_t *b = &a->buses[i];
        if (!b->n_groups)
            continue; /* a bus no device uses is not opened */
        /* Spread first polls over a bus's groups instead of one burst. */
        for (size_t k = 0; k < b->n_groups; k++) {
            mb_group_t *g = &a->groups[b->groups[k]];
            g->due_ms = now + (int64_t)((uint64_t)g->interval_ms * k / b->n_groups / 4);
        }
        int rc = gw_modbus_bus_run(b);
        if (rc < 0)
            return rc;
    }
    gw_info("modbus: %zu devices, %zu poll groups on %zu buses", a->n_devs, a->n_groups,
            a->n_buses);
    return 0;
}

void gw_modbus_deliver(gw_adapter_t *a, mb_item_t *it)
{
    mb_dev_t *d = &a->devs[it->dev];
    gw_reading_t r = {.device_key = d->key, .ts_ms = it->ts_ms};
    if (it->avail_change) {
        bool up = it->avail_change > 0;
        if (up)
            gw_notice("modbus: %s is available again", d->key);
        else
            gw_warn("modbus: %s unavailable after %d consecutive failures (fail_threshold), the last: "
                    "%s%s",
                    d->key, it->code, it->text,
                    a->env.set_available ? "" : "; the gateway keeps it registered");
        int rc = a->env.set_available ? a->env.set_available(a->env.emit_ctx, d->key, up) : 0;
        if (rc < 0)
            gw_warn("modbus: %s: the gateway could not mark it %s: %s", d->key,
                    up ? "available" : "unavailable", strerror(-rc));
        return;
    }
    if (it->fault_change) {
        if (it->code)
            gw_warn("modbus: %s (bus %s, unit %d) fails: %s", d->key,
                    a->buses[d->bus].cfg->name, (int)d->cfg->unit_id, it->text);
        else
            gw_notice("modbus: %s answers again", d->key);
        r.field = "error_code";
        r.value = (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = it->code};
    } else {
        r.field = it->field;
        r.value = it->value;
        r.has_decimals = r.value.type == GW_TYPE_FLOAT;
        r.decimals = it->decimals;
        if (r.value.type == GW_TYPE_STRING)
            r.value.v.bytes.ptr = (const uint8_t *)it->text;
    }
    /* A refused reading is logged and counted by the mapping. */
    if (a->env.emit)
        a->env.emit(a->env.emit_ctx, &r);
}

int gw_modbus_drain(gw_adapter_t *a)
{
    if (!a)
        return -EINVAL;
    uint64_t n;
    if (read(a->efd, &n, sizeof n) < 0 && errno != EAGAIN)
        return -errno;
    pthread_mutex_lock(&a->mu);
    mb_item_t *it = a->q_head;
    a->q_head = a->q_tail = NULL;
    pthread_mutex_unlock(&a->mu);
    for (mb_item_t *p = it; p; p = p->next)
        gw_modbus_deliver(a, p);
    gw_modbus_free_items(it);
    /* After the items: a write's error code goes out before its answer. */
    gw_modbus_write_deliver(a);
    return 0;
}

const gw_adapter_ops_t gw_adapter_modbus = {
    .name = "modbus",
    .conf = &gw_modbus_conf_ops,
    .create = mb_create,
    .reconfigure = gw_modbus_reconfigure,
    .start = mb_start,
    .stop = mb_stop,
    .destroy = mb_destroy,
    .write_check = gw_modbus_write_check,
    .write_async = gw_modbus_write_async,
    .write_range = gw_modbus_write_range,
    .write_step = gw_modbus_write_step,
};
