/*
 * adapters/modbus/modbus_internal.h - the Modbus adapter's state, shared by
 * modbus.c (buses, polls, the loop side) and write.c (writes). Nothing
 * outside adapters/modbus/ includes it.
 *
 * Threads: each bus has a worker; fields marked "worker" are its own, the
 * rest of the mutable state is under gw_adapter.mu unless marked "loop".
 */
#ifndef GW_ADAPTERS_MODBUS_MODBUS_INTERNAL_H
#define GW_ADAPTERS_MODBUS_MODBUS_INTERNAL_H

#include <modbus.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../adapter.h"
#include "config.h"
#include "decode.h"
#include "modbus.h"

typedef struct mb_group {
    uint32_t dev, bus;
    int32_t interval_ms;
    int64_t due_ms;
    const gw_config_modbus_reg_t **regs; /* sorted for planning */
    size_t n_regs;
    gw_modbus_block_t *blocks;
    size_t n_blocks;
} mb_group_t;

typedef struct mb_dev {
    char *key;
    const gw_modbus_dev_conf_t *cfg;
    uint32_t bus;
    int fault;   /* worker: the current error code */
    int fails;   /* worker: consecutive failed polls */
    bool down;   /* worker: fails reached the bus's fail_threshold */
} mb_dev_t;

/* One write, from the loop to a bus's worker and back through a->wd_head
 * and the eventfd; the loop then calls done_fn. */
typedef struct mb_write {
    struct mb_write *next;
    uint32_t dev;
    const gw_config_modbus_reg_t *reg;
    uint16_t words[GW_MODBUS_MAX_FIELD_BITS]; /* registers, or one word per coil */
    int rc;
    gw_write_done_fn done_fn;
    void *done_ctx;
    bool pulse;  /* Execute on a pulse coil: on, wait pulse_ms, off */
    int checked; /* read_back: 1 the device holds what was written, -1 it does not, 0 unread */
    uint16_t got[GW_MODBUS_MAX_FIELD_BITS]; /* what was read back */
    char why[160]; /* a failed write: which request and what went wrong */
} mb_write_t;

typedef struct mb_item {
    struct mb_item *next;
    uint32_t dev;
    const char *field;
    gw_value_t value;
    int8_t decimals; /* a FLOAT value's, see gw_reading_t */
    bool fault_change;
    int avail_change; /* +1 available again, -1 unavailable, 0 neither */
    int code;
    int64_t ts_ms;
    char text[]; /* string value, or the fault's description */
} mb_item_t;

typedef struct mb_bus {
    gw_adapter_t *a;
    const gw_config_modbus_bus_t *cfg;
    pthread_t thread;
    bool running;
    modbus_t *ctx;
    bool connected;
    uint32_t *groups; /* indices into a->groups */
    size_t n_groups;
    size_t rr;        /* fairness among groups due at the same time */
    mb_write_t *wq_head, *wq_tail;
    int64_t next_req_ms;
} mb_bus_t;

struct gw_adapter {
    gw_adapter_env_t env;
    const gw_modbus_conf_t *cfg; /* adapters.modbus */
    mb_dev_t *devs;
    size_t n_devs;
    mb_group_t *groups;
    size_t n_groups;
    mb_bus_t *buses;
    size_t n_buses;
    pthread_mutex_t mu; /* everything below, the write queues, group due times */
    pthread_cond_t cond;
    bool sync_ok;
    bool stopping;
    bool pausing; /* with stopping: the workers leave, their connections stay (reconfigure) */
    mb_item_t *q_head, *q_tail;
    mb_write_t *wd_head, *wd_tail; /* asynchronous writes the workers finished */
    gw_modbus_stats_t stats;
    int efd;      /* workers -> loop wake-up, watched in env.loop */
    bool in_loop; /* loop: efd is in env.loop (start..stop) */
};

/* ---- modbus.c, for the workers ----------------------------------------- */

void gw_modbus_add_stat(gw_adapter_t *a, uint64_t *counter, uint64_t n);
/* Hand the items first..last to the loop and wake it. */
void gw_modbus_post(gw_adapter_t *a, mb_item_t *first, mb_item_t *last);
/* One request on b (turnaround, connection): the number of registers or
 * bits read/written, or -errno (libmodbus's codes above MODBUS_ENOBASE). */
int gw_modbus_request(mb_bus_t *b, int unit, uint8_t table, bool write, uint16_t start,
                      uint16_t count, uint16_t *words, uint8_t *bits);
/* Count a failed request's errno and recover the connection; returns the
 * device's error code (7 or 8). */
int gw_modbus_classify(mb_bus_t *b, int err);
/* Record device di's outcome (code 0: it answered; else why says which
 * request failed and how, see gw_modbus_failure), appending the fault and
 * availability changes to head..tail. */
void gw_modbus_device_outcome(mb_bus_t *b, uint32_t di, int code, const char *why, mb_item_t **head,
                              mb_item_t **tail);
/* Worker: describe a failed request for the logs, before classify (which
 * may drop the connection): "FC03 read holding registers 100..104
 * (address 100, count 5): Illegal data address", or "cannot connect
 * (...)" when the bus had no connection. */
void gw_modbus_failure(const mb_bus_t *b, uint8_t table, bool write, uint16_t start, uint16_t count,
                       int err, char *buf, size_t size);

/* ---- modbus.c, for reconfigure.c (loop thread, workers joined) --------- */

/* Split device di's registers by interval into groups appended to
 * a->groups (room for them is the caller's), each planned into merged
 * reads. 0, -ENOMEM, or the planner's error. */
int gw_modbus_add_groups(gw_adapter_t *a, uint32_t di, int max_gap);
/* Start b's worker, creating its modbus_t first when it has none. 0 or a
 * negative errno (logged). */
int gw_modbus_bus_run(mb_bus_t *b);
/* Close and free b's connection (its worker joined). */
void gw_modbus_bus_close(mb_bus_t *b);
/* Hand one item to the gateway (reading, fault or availability change). */
void gw_modbus_deliver(gw_adapter_t *a, mb_item_t *it);
void gw_modbus_free_items(mb_item_t *it);

/* ---- reconfigure.c --------------------------------------------------- */

/* The adapter's reconfigure (adapters/adapter.h). */
int gw_modbus_reconfigure(gw_adapter_t *a, const gw_adapter_change_t *changes, size_t n);

/* ---- write.c ----------------------------------------------------------- */

/* Worker: send w, read it back when its register says read_back, and post
 * the device's outcome; sets w->rc. Called without a->mu. */
void gw_modbus_do_write(mb_bus_t *b, mb_write_t *w);
/* Worker, with a->mu held: w is finished; queue it for the loop and wake
 * the loop (gw_modbus_write_deliver completes it). */
void gw_modbus_write_finished(gw_adapter_t *a, mb_write_t *w);
/* Loop: call done for the asynchronous writes the workers finished. */
void gw_modbus_write_deliver(gw_adapter_t *a);
/* Loop, after the workers are joined: finished writes complete with their
 * result, queued ones with -ECANCELED. */
void gw_modbus_write_stop(gw_adapter_t *a);

int gw_modbus_write_check(gw_adapter_t *a, const char *device_key, const char *field,
                          const gw_value_t *value, const char *args);
int gw_modbus_write_async(gw_adapter_t *a, const char *device_key, const char *field,
                          const gw_value_t *value, const char *args, gw_write_done_fn done,
                          void *done_ctx);
int gw_modbus_write_range(gw_adapter_t *a, const char *device_key, const char *field, double *out_lo,
                          double *out_hi);
int gw_modbus_write_step(gw_adapter_t *a, const char *device_key, const char *field, double *out_step);

#endif
