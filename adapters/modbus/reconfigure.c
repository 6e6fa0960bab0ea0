/*
 * adapters/modbus/reconfigure.c - a reload that adds, removes or changes
 * Modbus devices without touching the adapter's section (its buses): the
 * other devices keep their state.
 *
 * The bus workers read the device and group arrays without the lock while
 * they poll, so the arrays are rebuilt with every worker joined. A worker
 * paused this way leaves its connection open (a->pausing), and starts
 * again on the same modbus_t: a TCP device is not re-connected, a serial
 * line not re-opened. What a device knew - consecutive failures, its fault,
 * whether it was reported down, when its groups are due (its backoff) -
 * moves with it to the new arrays. A changed device that still names the
 * same bus and unit is the same physical device and keeps that state too;
 * one moved to another bus or unit starts afresh, and if it had been
 * reported down, the gateway is told it is available again (the new
 * address has not failed yet).
 *
 * The pause lasts as long as the request each worker has in flight: at
 * worst a bus's timeout_ms, during which the loop waits (as stop does).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/log.h"
#include "modbus_internal.h"

/* What becomes of an old device. */
enum { OLD_KEPT = 0, OLD_REMOVED, OLD_CHANGED };

typedef struct plan {
    uint8_t *fate;      /* per old device */
    uint32_t *to;       /* per old device kept or changed: its new index */
    const gw_adapter_change_t **change; /* per old device changed: its change */
    size_t n_new;
} plan_t;

static size_t find_dev(const gw_adapter_t *a, const char *key)
{
    size_t i = 0;
    while (i < a->n_devs && strcmp(a->devs[i].key, key) != 0)
        i++;
    return i;
}

static size_t find_bus(const gw_adapter_t *a, const gw_modbus_dev_conf_t *d)
{
    size_t bi = 0;
    while (d && d->bus && bi < a->n_buses && strcmp(a->buses[bi].cfg->name, d->bus) != 0)
        bi++;
    return d && d->bus ? bi : a->n_buses;
}

/* Check every change before anything stops: a refused reconfigure leaves
 * the adapter as it was (the gateway then restarts it). */
static int check(const gw_adapter_t *a, const gw_adapter_change_t *ch, size_t n, plan_t *p)
{
    p->fate = calloc(a->n_devs ? a->n_devs : 1, sizeof *p->fate);
    p->to = calloc(a->n_devs ? a->n_devs : 1, sizeof *p->to);
    p->change = calloc(a->n_devs ? a->n_devs : 1, sizeof *p->change);
    if (!p->fate || !p->to || !p->change)
        return -ENOMEM;
    size_t added = 0, removed = 0;
    for (size_t i = 0; i < n; i++) {
        const gw_adapter_change_t *c = &ch[i];
        if (!c->dev.key)
            return -EINVAL;
        size_t di = find_dev(a, c->dev.key);
        if (c->kind == GW_ADAPTER_ADDED) {
            if (di < a->n_devs || find_bus(a, c->dev.conf) >= a->n_buses)
                return -EINVAL;
            added++;
            continue;
        }
        if (di == a->n_devs || p->fate[di] != OLD_KEPT)
            return -EINVAL;
        if (c->kind == GW_ADAPTER_REMOVED) {
            p->fate[di] = OLD_REMOVED;
            removed++;
        } else if (c->kind == GW_ADAPTER_CHANGED && find_bus(a, c->dev.conf) < a->n_buses) {
            p->fate[di] = OLD_CHANGED;
            p->change[di] = c;
        } else {
            return -EINVAL;
        }
    }
    p->n_new = a->n_devs - removed + added;
    /* Old devices keep their order; added ones follow. */
    size_t nd = 0;
    for (size_t i = 0; i < a->n_devs; i++)
        if (p->fate[i] != OLD_REMOVED)
            p->to[i] = (uint32_t)nd++;
    return 0;
}

/* Workers out, connections kept. */
static void pause_buses(gw_adapter_t *a)
{
    pthread_mutex_lock(&a->mu);
    a->stopping = true;
    a->pausing = true;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->mu);
    for (size_t i = 0; i < a->n_buses; i++)
        if (a->buses[i].running) {
            pthread_join(a->buses[i].thread, NULL);
            a->buses[i].running = false;
        }
    a->stopping = false;
    a->pausing = false;
}

/* What the workers posted before the pause: a removed device's items are
 * stale; a changed one's readings name its old registers, but its fault
 * and availability changes are state the gateway must learn. */
static void flush_items(gw_adapter_t *a, const plan_t *p)
{
    pthread_mutex_lock(&a->mu);
    mb_item_t *it = a->q_head;
    a->q_head = a->q_tail = NULL;
    pthread_mutex_unlock(&a->mu);
    for (mb_item_t *i = it; i; i = i->next) {
        uint8_t fate = p->fate[i->dev];
        if (fate == OLD_KEPT || (fate == OLD_CHANGED && (i->fault_change || i->avail_change)))
            gw_modbus_deliver(a, i);
    }
    gw_modbus_free_items(it);
    /* Finished writes name old indices and registers: answer them now. */
    gw_modbus_write_deliver(a);
}

/* Queued writes follow their device; a removed or changed device's never
 * reached it and are cancelled (its registers may be gone). */
static void move_writes(gw_adapter_t *a, const plan_t *p)
{
    for (size_t bi = 0; bi < a->n_buses; bi++) {
        mb_bus_t *b = &a->buses[bi];
        mb_write_t *w = b->wq_head, *keep = NULL, **tail = &keep, *cancel = NULL;
        b->wq_head = b->wq_tail = NULL;
        while (w) {
            mb_write_t *next = w->next;
            w->next = NULL;
            if (p->fate[w->dev] == OLD_KEPT) {
                w->dev = p->to[w->dev];
                *tail = w;
                b->wq_tail = w;
                tail = &w->next;
            } else {
                w->next = cancel;
                cancel = w;
            }
            w = next;
        }
        b->wq_head = keep;
        while (cancel) {
            mb_write_t *next = cancel->next;
            /* A synchronous write's caller waits on the loop thread, where
             * this runs: one left queued was abandoned. */
            if (cancel->done_fn)
                cancel->done_fn(cancel->done_ctx, -ECANCELED);
            free(cancel);
            cancel = next;
        }
    }
}

static void free_group(mb_group_t *g)
{
    free(g->regs);
    free(g->blocks);
    g->regs = NULL;
    g->blocks = NULL;
}

/* A changed device on the same bus and unit keeps its state. */
static bool same_unit(const gw_adapter_t *a, const mb_dev_t *old, const gw_modbus_dev_conf_t *conf)
{
    return find_bus(a, conf) == old->bus && conf->unit_id == old->cfg->unit_id;
}

typedef struct after {
    char *key;      /* device now available again (moved address) */
    uint32_t fault; /* new index + 1 of a device whose fault the gateway must hear again */
} after_t;

/* Build the new arrays; old kept devices and their groups move over. */
static int rebuild(gw_adapter_t *a, const gw_adapter_change_t *ch, size_t n, plan_t *p, after_t *after,
                   size_t *n_after)
{
    size_t max_groups = 0;
    for (size_t i = 0; i < a->n_devs; i++)
        if (p->fate[i] == OLD_KEPT)
            max_groups += a->devs[i].cfg->n_registers;
    for (size_t i = 0; i < n; i++)
        if (ch[i].kind != GW_ADAPTER_REMOVED && ch[i].dev.conf)
            max_groups += ((const gw_modbus_dev_conf_t *)ch[i].dev.conf)->n_registers;
    mb_dev_t *devs = calloc(p->n_new ? p->n_new : 1, sizeof *devs);
    mb_group_t *groups = calloc(max_groups ? max_groups : 1, sizeof *groups);
    uint32_t **bus_groups = calloc(a->n_buses ? a->n_buses : 1, sizeof *bus_groups);
    if (!devs || !groups || !bus_groups)
        goto nomem;
    for (size_t bi = 0; bi < a->n_buses; bi++)
        if (!(bus_groups[bi] = calloc(max_groups ? max_groups : 1, sizeof **bus_groups)))
            goto nomem;

    /* New keys first: a failure leaves the old arrays untouched. */
    size_t nd = p->n_new;
    for (size_t i = 0; i < n; i++)
        nd -= ch[i].kind == GW_ADAPTER_ADDED;
    size_t first_added = nd;
    for (size_t i = 0; i < n; i++)
        if (ch[i].kind == GW_ADAPTER_ADDED && !(devs[nd++].key = strdup(ch[i].dev.key)))
            goto nomem;

    mb_dev_t *old_devs = a->devs;
    mb_group_t *old_groups = a->groups;
    size_t old_n_devs = a->n_devs, old_n_groups = a->n_groups;
    a->devs = devs;
    a->groups = groups;
    a->n_devs = p->n_new;
    a->n_groups = 0;
    int64_t now = gw_now_ms();
    int rc = 0;
    /* Old devices, in their order: state, key and (kept) groups move. */
    for (size_t i = 0; i < old_n_devs; i++) {
        mb_dev_t *od = &old_devs[i];
        if (p->fate[i] == OLD_REMOVED)
            continue;
        mb_dev_t *d = &devs[p->to[i]];
        *d = *od;
        od->key = NULL;
        if (p->fate[i] == OLD_KEPT)
            continue;
        const gw_modbus_dev_conf_t *conf = p->change[i]->dev.conf;
        if (!same_unit(a, od, conf)) {
            if (d->down && (after[*n_after].key = strdup(d->key)))
                (*n_after)++;
            d->fails = 0;
            d->fault = 0;
            d->down = false;
        } else if (d->fault) {
            /* The gateway built its Device object again, error code 0. */
            after[(*n_after)++].fault = p->to[i] + 1;
        }
        d->cfg = conf;
        d->bus = (uint32_t)find_bus(a, conf);
    }
    for (size_t g = 0; g < old_n_groups; g++) {
        mb_group_t *og = &old_groups[g];
        if (p->fate[og->dev] != OLD_KEPT) {
            free_group(og);
            continue;
        }
        groups[a->n_groups] = *og;
        groups[a->n_groups].dev = p->to[og->dev];
        a->n_groups++;
        og->regs = NULL;
        og->blocks = NULL;
    }
    /* Changed and added devices: groups planned afresh, first poll now. */
    size_t k = first_added;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (ch[i].kind == GW_ADAPTER_REMOVED)
            continue;
        uint32_t di;
        if (ch[i].kind == GW_ADAPTER_ADDED) {
            di = (uint32_t)k++;
            devs[di].cfg = ch[i].dev.conf;
            devs[di].bus = (uint32_t)find_bus(a, ch[i].dev.conf);
        } else {
            di = (uint32_t)find_dev(a, ch[i].dev.key);
        }
        size_t from = a->n_groups;
        rc = gw_modbus_add_groups(a, di, a->buses[devs[di].bus].cfg->max_gap);
        for (size_t g = from; g < a->n_groups; g++)
            groups[g].due_ms = now;
    }
    for (size_t i = 0; i < old_n_devs; i++)
        free(old_devs[i].key);
    free(old_devs);
    free(old_groups);
    for (size_t bi = 0; bi < a->n_buses; bi++) {
        mb_bus_t *b = &a->buses[bi];
        free(b->groups);
        b->groups = bus_groups[bi];
        b->n_groups = 0;
        b->rr = 0;
        for (size_t g = 0; g < a->n_groups; g++)
            if (groups[g].bus == bi)
                b->groups[b->n_groups++] = (uint32_t)g;
    }
    free(bus_groups);
    /* A planning failure (-ENOMEM) leaves consistent arrays: the gateway
     * restarts the adapter. */
    return rc;
nomem:
    if (devs)
        for (size_t i = 0; i < p->n_new; i++)
            free(devs[i].key);
    free(devs);
    free(groups);
    for (size_t bi = 0; bus_groups && bi < a->n_buses; bi++)
        free(bus_groups[bi]);
    free(bus_groups);
    return -ENOMEM;
}

/* Buses with work run again on their kept connection; one left without
 * devices closes it. */
static int resume(gw_adapter_t *a)
{
    int rc = 0;
    for (size_t bi = 0; bi < a->n_buses; bi++) {
        mb_bus_t *b = &a->buses[bi];
        if (!b->n_groups) {
            gw_modbus_bus_close(b);
            continue;
        }
        int r = gw_modbus_bus_run(b);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

int gw_modbus_reconfigure(gw_adapter_t *a, const gw_adapter_change_t *changes, size_t n)
{
    if (!a || (n && !changes))
        return -EINVAL;
    plan_t p = {0};
    after_t *after = calloc(n ? n : 1, sizeof *after);
    size_t n_after = 0;
    int rc = after ? check(a, changes, n, &p) : -ENOMEM;
    if (rc == 0) {
        pause_buses(a);
        flush_items(a, &p);
        move_writes(a, &p);
        rc = rebuild(a, changes, n, &p, after, &n_after);
        /* On a failure the workers stay out: the gateway restarts the
         * adapter (stop, destroy, create). */
        if (rc == 0)
            rc = resume(a);
    }
    for (size_t i = 0; i < n_after; i++) {
        if (after[i].key && a->env.set_available) {
            gw_notice("modbus: %s moved to another bus or unit: available until it fails there", after[i].key);
            a->env.set_available(a->env.emit_ctx, after[i].key, true);
        } else if (after[i].fault && a->env.emit) {
            const mb_dev_t *d = &a->devs[after[i].fault - 1];
            gw_reading_t r = {.device_key = d->key, .field = "error_code", .ts_ms = gw_wall_ms(),
                              .value = {.type = GW_TYPE_INTEGER, .v.i = d->fault}};
            a->env.emit(a->env.emit_ctx, &r);
        }
        free(after[i].key);
    }
    free(after);
    free(p.fate);
    free(p.to);
    free(p.change);
    if (rc == 0)
        gw_info("modbus: %zu devices, %zu poll groups on %zu buses after %zu change%s", a->n_devs, a->n_groups,
                a->n_buses, n, n == 1 ? "" : "s");
    return rc;
}
