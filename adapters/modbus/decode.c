/*
 * adapters/modbus/decode.c - register words to values and back, and read
 * merging. Byte orders follow the usual naming of Modbus tools: for a 32-bit
 * value with bytes A (most significant) .. D, "ABCD" is big-endian on the
 * wire, "CDAB" swaps the two words, "BADC" swaps the bytes in each word,
 * "DCBA" is little-endian; 64-bit values extend the same two swaps to four
 * words.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../lwm2m/precision.h"
#include "decode.h"

/* The value's bytes, most significant first, from the wire words. */
static void to_bytes(uint8_t order, const uint16_t *w, size_t nw, uint8_t *b)
{
    bool swap_words = order == GW_MODBUS_CDAB || order == GW_MODBUS_DCBA;
    bool swap_bytes = order == GW_MODBUS_BADC || order == GW_MODBUS_DCBA;
    for (size_t i = 0; i < nw; i++) {
        uint16_t x = w[swap_words ? nw - 1 - i : i];
        uint8_t hi = (uint8_t)(x >> 8), lo = (uint8_t)x;
        b[2 * i] = swap_bytes ? lo : hi;
        b[2 * i + 1] = swap_bytes ? hi : lo;
    }
}

/* The inverse permutation is the same one: both swaps are involutions. */
static void from_bytes(uint8_t order, const uint8_t *b, size_t nw, uint16_t *w)
{
    bool swap_words = order == GW_MODBUS_CDAB || order == GW_MODBUS_DCBA;
    bool swap_bytes = order == GW_MODBUS_BADC || order == GW_MODBUS_DCBA;
    for (size_t i = 0; i < nw; i++) {
        uint8_t hi = b[2 * i], lo = b[2 * i + 1];
        uint16_t x = swap_bytes ? (uint16_t)(lo << 8 | hi) : (uint16_t)(hi << 8 | lo);
        w[swap_words ? nw - 1 - i : i] = x;
    }
}

static uint64_t be(const uint8_t *b, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | b[i];
    return v;
}

static size_t type_words(uint8_t type)
{
    switch (type) {
    case GW_MODBUS_BOOL:
    case GW_MODBUS_U16:
    case GW_MODBUS_S16: return 1;
    case GW_MODBUS_U32:
    case GW_MODBUS_S32:
    case GW_MODBUS_F32: return 2;
    case GW_MODBUS_U64:
    case GW_MODBUS_S64:
    case GW_MODBUS_F64: return 4;
    }
    return 0;
}

static bool bit_table(uint8_t table)
{
    return table == GW_MODBUS_COIL || table == GW_MODBUS_DISCRETE;
}

/* Bits a bit field of this type may span: the unsigned types only, since
 * a run of coils has no sign bit a device would agree on. */
static unsigned field_bits(uint8_t type)
{
    return type == GW_MODBUS_U16 ? 16 : type == GW_MODBUS_U32 ? 32 : type == GW_MODBUS_U64 ? 64 : 0;
}

/* A run of coils or discrete inputs read as one unsigned number, the first
 * bit the least significant (the bit order of FC01/FC02/FC15 payloads,
 * Modbus Application Protocol V1.1b3, 6.1). */
/* x (with dec decimals) scaled and offset as r says, rounded to the
 * decimals that leaves (a register 2307 with scale 0.1 is 230.7, not
 * 230.70000000000002). */
static int scaled(const gw_config_modbus_reg_t *r, double x, int dec, gw_value_t *out, int *out_dec)
{
    int d = gw_prec_linear(dec, r->scale, r->offset);
    out->type = GW_TYPE_FLOAT;
    out->v.f = gw_prec_round(x * r->scale + r->offset, d);
    *out_dec = d;
    return isfinite(out->v.f) ? 0 : -EINVAL;
}

static int decode_bits(const gw_config_modbus_reg_t *r, const uint16_t *words, gw_value_t *out,
                       int *out_dec)
{
    if (r->count > field_bits(r->type))
        return -EINVAL;
    uint64_t raw = 0;
    for (unsigned i = 0; i < r->count; i++)
        raw |= (uint64_t)(words[i] != 0) << i;
    if (r->scale == 1.0 && r->offset == 0.0) {
        if (raw > INT64_MAX) {
            out->type = GW_TYPE_UNSIGNED;
            out->v.u = raw;
        } else {
            out->type = GW_TYPE_INTEGER;
            out->v.i = (int64_t)raw;
        }
        return 0;
    }
    return scaled(r, (double)raw, 0, out, out_dec);
}

/* Whether x = (v - offset) / scale is a whole step y. The tolerance only
 * absorbs the binary noise of that arithmetic (12.3 / 0.1 is
 * 123.00000000000001): a few ulps of its operands, in steps. Anything
 * coarser is a value the register cannot hold, refused rather than
 * rounded: the device would keep another number than the server wrote,
 * and the server would see it only on the next poll, if at all. */
static bool whole_step(const gw_config_modbus_reg_t *r, double v, double x, double y)
{
    double noise = 8 * DBL_EPSILON * ((fabs(v) + fabs(r->offset)) / fabs(r->scale) + fabs(x));
    return fabs(x - y) <= noise;
}

static int encode_bits(const gw_config_modbus_reg_t *r, double v, uint16_t *out_words, size_t max)
{
    if (r->count == 0 || r->count > field_bits(r->type) || max < r->count)
        return -EINVAL;
    double x = (v - r->offset) / r->scale, y = round(x);
    /* 2^count is exact as a double for count <= 64. */
    if (!(y >= 0) || y >= ldexp(1.0, r->count))
        return -ERANGE;
    if (!whole_step(r, v, x, y))
        return -EDOM;
    uint64_t raw = (uint64_t)y;
    for (unsigned i = 0; i < r->count; i++)
        out_words[i] = (uint16_t)(raw >> i & 1);
    return 0;
}

static int decode_string(const gw_config_modbus_reg_t *r, const uint16_t *words, gw_value_t *out,
                         char *strbuf, size_t strsize)
{
    size_t len = 2 * (size_t)r->count;
    if (!strbuf || strsize < len + 1)
        return -ENOSPC;
    /* Strings keep their character order; only the byte swap applies. */
    bool swap = r->order == GW_MODBUS_BADC || r->order == GW_MODBUS_DCBA;
    size_t used = 0;
    bool ended = false;
    for (size_t i = 0; i < len; i++) {
        uint16_t w = words[i / 2];
        bool high = (i % 2 == 0) != swap;
        uint8_t c = high ? (uint8_t)(w >> 8) : (uint8_t)w;
        if (c == 0) {
            ended = true;
            continue;
        }
        if (ended || c < 0x20 || c > 0x7e)
            return -EINVAL; /* garbage after the padding, or not text */
        strbuf[used++] = (char)c;
    }
    while (used > 0 && strbuf[used - 1] == ' ')
        used--;
    strbuf[used] = '\0';
    out->type = GW_TYPE_STRING;
    out->v.bytes.ptr = (const uint8_t *)strbuf;
    out->v.bytes.len = used;
    return 0;
}

int gw_modbus_decode(const gw_config_modbus_reg_t *r, const uint16_t *words, size_t n,
                     gw_value_t *out, char *strbuf, size_t strsize)
{
    int dec;
    return gw_modbus_decode_prec(r, words, n, out, strbuf, strsize, &dec);
}

int gw_modbus_decode_prec(const gw_config_modbus_reg_t *r, const uint16_t *words, size_t n,
                          gw_value_t *out, char *strbuf, size_t strsize, int *out_decimals)
{
    if (!r || !words || !out || !out_decimals || n < r->count || r->count == 0)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    *out_decimals = 0;
    if (r->type == GW_MODBUS_STRING)
        return decode_string(r, words, out, strbuf, strsize);
    if (bit_table(r->table) && r->type != GW_MODBUS_BOOL)
        return decode_bits(r, words, out, out_decimals);
    size_t nw = type_words(r->type);
    if (nw == 0 || nw > n || r->order > GW_MODBUS_DCBA)
        return -EINVAL;
    if (r->type == GW_MODBUS_BOOL) {
        out->type = GW_TYPE_BOOLEAN;
        out->v.b = words[0] != 0;
        return 0;
    }
    uint8_t b[8];
    to_bytes(nw == 1 && r->order == GW_MODBUS_CDAB ? GW_MODBUS_ABCD
             : nw == 1 && r->order == GW_MODBUS_DCBA ? GW_MODBUS_BADC
                                                      : r->order,
             words, nw, b);
    uint64_t raw = be(b, 2 * nw);
    bool plain = r->scale == 1.0 && r->offset == 0.0;
    double x;
    int dec = 0;
    int64_t i = 0;
    bool is_int = true;
    switch (r->type) {
    case GW_MODBUS_U16: i = (int64_t)(uint16_t)raw; break;
    case GW_MODBUS_S16: i = (int16_t)(uint16_t)raw; break;
    case GW_MODBUS_U32: i = (int64_t)(uint32_t)raw; break;
    case GW_MODBUS_S32: i = (int32_t)(uint32_t)raw; break;
    case GW_MODBUS_S64: i = (int64_t)raw; break;
    case GW_MODBUS_U64:
        if (raw > INT64_MAX) {
            if (plain) {
                out->type = GW_TYPE_UNSIGNED;
                out->v.u = raw;
                return 0;
            }
            is_int = false;
            x = (double)raw;
            break;
        }
        i = (int64_t)raw;
        break;
    case GW_MODBUS_F32: {
        uint32_t u = (uint32_t)raw;
        float f;
        memcpy(&f, &u, sizeof f);
        if (!isfinite(f))
            return -EINVAL;
        /* The decimal the device meant: 288.1, not 288.1000061035156. */
        x = gw_prec_float32(f, &dec);
        is_int = false;
        break;
    }
    default: { /* F64 */
        double d;
        memcpy(&d, &raw, sizeof d);
        if (!isfinite(d))
            return -EINVAL;
        x = gw_prec_double(d, &dec);
        is_int = false;
        break;
    }
    }
    if (is_int && plain) {
        out->type = GW_TYPE_INTEGER;
        out->v.i = i;
        return 0;
    }
    if (is_int)
        x = (double)i;
    if (!isfinite(x))
        return -EINVAL;
    if (plain) {
        out->type = GW_TYPE_FLOAT;
        out->v.f = x;
        *out_decimals = dec;
        return 0;
    }
    return scaled(r, x, dec, out, out_decimals);
}

int gw_modbus_encode(const gw_config_modbus_reg_t *r, double v, uint16_t *out_words, size_t max)
{
    if (!r || !out_words || isnan(v) || r->type == GW_MODBUS_STRING || r->scale == 0.0)
        return -EINVAL;
    if (bit_table(r->table) && r->type != GW_MODBUS_BOOL)
        return encode_bits(r, v, out_words, max);
    size_t nw = type_words(r->type);
    if (nw == 0 || max < nw || r->order > GW_MODBUS_DCBA)
        return -EINVAL;
    double x = (v - r->offset) / r->scale;
    if (r->type == GW_MODBUS_BOOL) {
        out_words[0] = x != 0.0;
        return 0;
    }
    uint64_t raw;
    if (r->type == GW_MODBUS_F32) {
        if (isinf(x) || fabs(x) > 3.4028234663852886e38)
            return -ERANGE;
        float f = (float)x;
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        raw = u;
    } else if (r->type == GW_MODBUS_F64) {
        if (isinf(x))
            return -ERANGE;
        memcpy(&raw, &x, sizeof raw);
    } else {
        double y = round(x);
        double lo, hi;
        switch (r->type) {
        case GW_MODBUS_U16: lo = 0, hi = 65535.0; break;
        case GW_MODBUS_S16: lo = -32768.0, hi = 32767.0; break;
        case GW_MODBUS_U32: lo = 0, hi = 4294967295.0; break;
        case GW_MODBUS_S32: lo = -2147483648.0, hi = 2147483647.0; break;
        /* 2^64 and 2^63 are exact doubles: compare with < against them. */
        case GW_MODBUS_U64: lo = 0, hi = 18446744073709551615.0; break;
        default: lo = -9223372036854775808.0, hi = 9223372036854775807.0; break;
        }
        if (!(y >= lo) || y > hi || (nw == 4 && y >= hi))
            return -ERANGE;
        if (!whole_step(r, v, x, y))
            return -EDOM;
        raw = r->type == GW_MODBUS_U64 ? (uint64_t)y : (uint64_t)(int64_t)y;
    }
    uint8_t b[8];
    size_t nb = 2 * nw;
    for (size_t i = 0; i < nb; i++)
        b[i] = (uint8_t)(raw >> (8 * (nb - 1 - i)));
    from_bytes(nw == 1 && r->order == GW_MODBUS_CDAB ? GW_MODBUS_ABCD
               : nw == 1 && r->order == GW_MODBUS_DCBA ? GW_MODBUS_BADC
                                                        : r->order,
               b, nw, out_words);
    return 0;
}

int gw_modbus_range(const gw_config_modbus_reg_t *r, double *out_lo, double *out_hi)
{
    if (!r || !out_lo || !out_hi || r->scale == 0.0 || !isfinite(r->scale) || !isfinite(r->offset))
        return -EINVAL;
    double lo, hi;
    int dec = 0;
    if (r->type == GW_MODBUS_STRING || r->type == GW_MODBUS_BOOL)
        return -ENOTSUP;
    if (bit_table(r->table)) {
        if (r->count == 0 || r->count > field_bits(r->type))
            return -EINVAL;
        lo = 0;
        hi = ldexp(1.0, r->count) - 1; /* rounds to 2^64 for 64 bits: near enough for a message */
    } else {
        switch (r->type) {
        case GW_MODBUS_U16: lo = 0, hi = 65535.0; break;
        case GW_MODBUS_S16: lo = -32768.0, hi = 32767.0; break;
        case GW_MODBUS_U32: lo = 0, hi = 4294967295.0; break;
        case GW_MODBUS_S32: lo = -2147483648.0, hi = 2147483647.0; break;
        case GW_MODBUS_U64: lo = 0, hi = 18446744073709551615.0; break;
        case GW_MODBUS_S64: lo = -9223372036854775808.0, hi = 9223372036854775807.0; break;
        case GW_MODBUS_F32: lo = -3.4028234663852886e38, hi = 3.4028234663852886e38, dec = 0; break;
        case GW_MODBUS_F64: lo = -1.7976931348623157e308, hi = 1.7976931348623157e308; break;
        default: return -EINVAL;
        }
    }
    int d = gw_prec_linear(dec, r->scale, r->offset);
    double a = gw_prec_round(lo * r->scale + r->offset, d);
    double b = gw_prec_round(hi * r->scale + r->offset, d);
    if (!isfinite(a) || !isfinite(b))
        return -EINVAL;
    *out_lo = a < b ? a : b;
    *out_hi = a < b ? b : a;
    return 0;
}

int gw_modbus_step(const gw_config_modbus_reg_t *r, double *out_step)
{
    if (!r || !out_step || r->scale == 0.0 || !isfinite(r->scale))
        return -EINVAL;
    bool bits = bit_table(r->table) && r->type != GW_MODBUS_BOOL;
    if (!bits && (r->type == GW_MODBUS_F32 || r->type == GW_MODBUS_F64 || r->type == GW_MODBUS_BOOL ||
                  r->type == GW_MODBUS_STRING))
        return -ENOTSUP;
    *out_step = fabs(r->scale);
    return 0;
}

const char *gw_modbus_table_name(uint8_t table)
{
    switch (table) {
    case GW_MODBUS_COIL: return "coil";
    case GW_MODBUS_DISCRETE: return "discrete input";
    case GW_MODBUS_INPUT: return "input register";
    case GW_MODBUS_HOLDING: return "holding register";
    }
    return "unknown table";
}

int gw_modbus_function_code(uint8_t table, bool write, uint16_t count)
{
    switch (table) {
    case GW_MODBUS_COIL: return write ? (count == 1 ? 5 : 15) : 1;
    case GW_MODBUS_DISCRETE: return 2;
    case GW_MODBUS_INPUT: return 4;
    default: return write ? (count == 1 ? 6 : 16) : 3;
    }
}

void gw_modbus_describe(uint8_t table, bool write, uint16_t start, uint16_t count, char *buf,
                        size_t size)
{
    unsigned end = (unsigned)start + (count ? count - 1u : 0u);
    snprintf(buf, size, "FC%02d %s %s%s %u%s%.0u (address %u, count %u)",
             gw_modbus_function_code(table, write, count), write ? "write" : "read",
             gw_modbus_table_name(table), count == 1 ? "" : "s", (unsigned)start, count == 1 ? "" : "..",
             count == 1 ? 0u : end, (unsigned)start, (unsigned)count);
}

int gw_modbus_reg_cmp(const gw_config_modbus_reg_t *a, const gw_config_modbus_reg_t *b)
{
    if (a->table != b->table)
        return a->table < b->table ? -1 : 1;
    if (a->address != b->address)
        return a->address < b->address ? -1 : 1;
    return (a->count > b->count) - (a->count < b->count);
}

int gw_modbus_plan(const gw_config_modbus_reg_t *const *regs, size_t n, int max_gap,
                   gw_modbus_block_t *out, size_t max)
{
    size_t nb = 0;
    if (max_gap < 0)
        max_gap = 0;
    for (size_t i = 0; i < n; i++) {
        const gw_config_modbus_reg_t *r = regs[i];
        bool bits = r->table == GW_MODBUS_COIL || r->table == GW_MODBUS_DISCRETE;
        uint32_t limit = bits ? GW_MODBUS_MAX_BITS : GW_MODBUS_MAX_REGS;
        uint32_t end = (uint32_t)r->address + r->count;
        if (r->count == 0 || r->count > limit || end > 65536)
            return -EINVAL;
        if (nb > 0) {
            gw_modbus_block_t *b = &out[nb - 1];
            uint32_t bend = (uint32_t)b->start + b->count;
            uint32_t new_end = end > bend ? end : bend;
            /* Overlapping entries (two views of one register) merge too. */
            if (b->table == r->table && r->address <= bend + (uint32_t)max_gap &&
                new_end - b->start <= limit) {
                b->count = (uint16_t)(new_end - b->start);
                b->n++;
                continue;
            }
        }
        if (nb == max)
            return -ENOSPC;
        out[nb++] = (gw_modbus_block_t){.table = r->table, .start = r->address,
                                         .count = r->count, .first = (uint32_t)i, .n = 1};
    }
    return (int)nb;
}
