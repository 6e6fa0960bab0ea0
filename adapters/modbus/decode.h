/*
 * adapters/modbus/decode.h - Modbus register contents <-> values, and the
 * merging of a device's registers into few reads. Pure functions: no I/O,
 * no allocation, safe on any input (fuzzed by tests/fuzz/fuzz_modbus.c).
 */
#ifndef GW_ADAPTERS_MODBUS_DECODE_H
#define GW_ADAPTERS_MODBUS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../lwm2m/value.h"
#include "config.h"

/* Most registers one FC03/FC04 read returns, most bits one FC01/FC02 read
 * returns (Modbus Application Protocol V1.1b3, 6.1-6.4). */
#define GW_MODBUS_MAX_REGS 125
#define GW_MODBUS_MAX_BITS 2000

/* Most coils one write carries here: a bit field is at most 64 coils (FC15
 * itself allows 1968). */
#define GW_MODBUS_MAX_FIELD_BITS 64

/* Decode the r->count words of register entry r into out, with scale and
 * offset applied. For coils and discrete inputs every word is one bit (0 or
 * nonzero): type bool is one bit, u16/u32/u64 a bit field of r->count bits
 * (at most the type's width), the first coil the least significant bit;
 * unscaled it gives INTEGER (UNSIGNED above INT64_MAX).
 * Integer types give INTEGER when scale is 1 and offset 0, else FLOAT;
 * f32/f64 give FLOAT, bool BOOLEAN, string STRING whose bytes are copied
 * into strbuf (size at least 2 * count + 1, NUL-terminated; out borrows
 * it). Returns 0, -EINVAL for n < r->count, a NaN/infinite float or a
 * string with bytes other than printable ASCII before its NUL padding,
 * -ENOSPC when strbuf is too small. */
int gw_modbus_decode(const gw_config_modbus_reg_t *r, const uint16_t *words, size_t n,
                     gw_value_t *out, char *strbuf, size_t strsize);
/* The same, and a FLOAT value published at the precision of its source
 * (lwm2m/precision.h): a float32 is the shortest decimal that reads back
 * as it (288.1), a scaled integer has the scale's and offset's decimals
 * (1234 x 0.1 = 123.4, rounded to that decimal); *out_decimals says how
 * many (see gw_reading_t.decimals), 0 for other types. */
int gw_modbus_decode_prec(const gw_config_modbus_reg_t *r, const uint16_t *words, size_t n,
                          gw_value_t *out, char *strbuf, size_t strsize, int *out_decimals);

/* The inverse for a Write: (v - offset) / scale into r->count words in r's
 * order (bool: one word, 0 or 1; a coil bit field: r->count words of 0 or
 * 1, first coil first); f32 takes the nearest float. Returns 0, -ERANGE
 * when the value does not fit the type (a bit field: 0..2^count-1), -EDOM
 * when an integer type or bit field would have to round it (12.34 on a
 * register with scale 0.1, 1.5 on a u16: never stored as 12.3 or 2),
 * -EINVAL for NaN, a string type, or max < r->count. */
int gw_modbus_encode(const gw_config_modbus_reg_t *r, double v, uint16_t *out_words, size_t max);

/* The numbers a Write of r accepts, lo..hi, in the value's terms (scale
 * and offset applied): a s16 with scale 0.1 takes -3276.8..3276.7, a bit
 * field of 3 coils 0..7. Returns 0, or -ENOTSUP for string and bool
 * entries (no numeric range), -EINVAL for a bad entry. */
int gw_modbus_range(const gw_config_modbus_reg_t *r, double *out_lo, double *out_hi);

/* The step a Write of r can hold, in the value's terms: |scale| for
 * integer types and bit fields (s16 with scale 0.1: 0.1). Returns 0,
 * -ENOTSUP for float, bool and string entries, -EINVAL for a bad entry. */
int gw_modbus_step(const gw_config_modbus_reg_t *r, double *out_step);

/* "holding register", "input register", "coil", "discrete input". */
const char *gw_modbus_table_name(uint8_t table);
/* The function code a request on table uses (Modbus Application Protocol
 * V1.1b3, 6): reads 1-4, writes 5/15 (coils) and 6/16 (registers) as
 * count is 1 or more. */
int gw_modbus_function_code(uint8_t table, bool write, uint16_t count);
/* "FC03 read holding registers 100..104 (address 100, count 5)" into buf. */
void gw_modbus_describe(uint8_t table, bool write, uint16_t start, uint16_t count, char *buf,
                        size_t size);

/* One read request covering regs[first .. first + n) of a sorted list. */
typedef struct gw_modbus_block {
    uint8_t table;
    uint16_t start, count;
    uint32_t first, n;
} gw_modbus_block_t;

/* Order register entries for planning: by table, then address. */
int gw_modbus_reg_cmp(const gw_config_modbus_reg_t *a, const gw_config_modbus_reg_t *b);

/* Merge regs[0..n) (sorted with gw_modbus_reg_cmp) into reads: one block
 * grows while the next entry is in the same table, starts at most max_gap
 * registers after the block's end, and the block stays within 125
 * registers (2000 bits). Returns the number of blocks written to out, or
 * -ENOSPC when more than max are needed, -EINVAL for an entry longer than
 * one read allows. */
int gw_modbus_plan(const gw_config_modbus_reg_t *const *regs, size_t n, int max_gap,
                   gw_modbus_block_t *out, size_t max);

#endif
