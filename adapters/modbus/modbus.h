/*
 * adapters/modbus/modbus.h - what the Modbus adapter shows beyond the
 * adapter interface: its counters, for tests and diagnostics.
 */
#ifndef GW_ADAPTERS_MODBUS_MODBUS_H
#define GW_ADAPTERS_MODBUS_MODBUS_H

#include <stdint.h>

#include "../adapter.h"

typedef struct gw_modbus_stats {
    uint64_t requests;    /* reads and writes sent */
    uint64_t registers;   /* registers (or bits) read successfully */
    uint64_t timeouts;    /* no reply in timeout_ms */
    uint64_t exceptions;  /* exception responses (illegal address, busy, ...) */
    uint64_t bad_replies; /* CRC errors, wrong unit id or function, short or malformed replies */
    uint64_t io_errors;   /* lost or refused connections, serial errors */
    uint64_t connects;    /* successful (re)connections */
    uint64_t decode_errors; /* register contents that are not a value (NaN, bad text) */
    uint64_t writes;      /* writes the device confirmed */
} gw_modbus_stats_t;

/* Counters of adapter a (created by gw_adapter_modbus). Any thread. */
void gw_modbus_get_stats(gw_adapter_t *a, gw_modbus_stats_t *out);

/* Loop thread: emit the readings and complete the asynchronous writes the
 * bus workers have handed over so far. Between start and stop the
 * adapter's eventfd callback in env.loop does this; a benchmark calls it
 * after stop to collect what the workers posted last. 0, -EINVAL, or the
 * eventfd read's negative errno. */
int gw_modbus_drain(gw_adapter_t *a);

#endif
