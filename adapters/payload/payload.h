/*
 * adapters/payload/payload.h - payload codecs shared by the radio adapters
 * (LoRaWAN, BLE): the bytes a device sends become named fields (readings
 * without a device key), and a field written from LwM2M becomes the bytes
 * of a downlink.
 *
 * Three kinds, chosen by the `codec` group of a device entry (docs/lora.md,
 * "Payload codecs"):
 *   - "lpp":    Cayenne Low Power Payload (myDevices CayenneLPP, with the
 *               extended types of the CayenneLPP library): self-describing
 *               [channel, type, value] triples; LPP type + 3200 is the IPSO
 *               object, the channel its instance.
 *   - "layout": a declarative byte layout per FPort (offset, length, bits,
 *               signedness, endianness, scale/offset, field name).
 *   - "js":     a JavaScript codec in the convention of The Things Network
 *               device repository and ChirpStack (decodeUplink/encodeDownlink),
 *               run in an embedded duktape heap with a time and a memory
 *               limit per call.
 *
 * A codec is built once from the configuration (gw_payload_parse, which
 * reports every problem through the shared diagnostics as "file:line: what
 * is wrong, what is expected"; a JS codec that does not compile is refused
 * there) and is then immutable apart from the JS engine's own heap.
 *
 * Threads: a codec is used by one thread at a time (the loop thread). It
 * may be shared by several devices (a template's codec), through
 * gw_payload_ref / gw_payload_free.
 */
#ifndef GW_ADAPTERS_PAYLOAD_PAYLOAD_H
#define GW_ADAPTERS_PAYLOAD_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../../lwm2m/value.h"
#include "../adapter_config.h"

typedef struct gw_payload_codec gw_payload_codec_t;

typedef enum gw_payload_kind {
    GW_PAYLOAD_LPP = 1,
    GW_PAYLOAD_LAYOUT,
    GW_PAYLOAD_JS,
} gw_payload_kind_t;

/* One decoded field: what becomes a gw_reading_t once the adapter adds its
 * device key and time. Every pointer is borrowed for the duration of the
 * emit call only (copy what must live longer). */
typedef struct gw_payload_field {
    const char *name;  /* "temperature_3", "wind.speed", "levels.0", ... */
    gw_value_t value;  /* FLOAT, INTEGER, UNSIGNED, BOOLEAN, STRING or TIME */
    const char *unit;  /* unit the value is in, NULL: the field's usual unit */
    bool has_decimals; /* as gw_reading_t: the value is a decimal already */
    int8_t decimals;   /*   rounded to `decimals` decimals (LPP 0.1 Cel: 1) */
} gw_payload_field_t;

/* Called once per decoded field, in payload order. A negative return stops
 * the decode and is what gw_payload_decode returns. */
typedef int (*gw_payload_emit_fn)(void *ctx, const gw_payload_field_t *f);

/* Limits of a JS codec call, unless the configuration gives others. */
#define GW_PAYLOAD_JS_TIMEOUT_MS 100      /* per decode/encode call */
#define GW_PAYLOAD_JS_MEMORY_KB 4096      /* the heap of one codec */
/* The biggest downlink an encoder produces (LoRaWAN's largest FRMPayload
 * is 242 bytes at the fastest data rates; BLE writes are smaller). */
#define GW_PAYLOAD_MAX_BYTES 242

/* The key table entry an adapter puts in its device keys for the codec
 * group: {"codec", GW_CFG_GROUP | GW_CFG_STRING, GW_PAYLOAD_CODEC_EXPECT, ...}.
 * The short form codec = "lpp" is an LPP codec without declared channels. */
#define GW_PAYLOAD_CODEC_EXPECT                                                               \
    "a group such as { type = \"lpp\"; channels = (...) }, { type = \"layout\"; uplinks = "   \
    "(...) } or { type = \"js\"; script = \"file.js\"; fields = (...) }, or \"lpp\""

/* Parse the `codec` setting s of a device or template entry (a group, or
 * the string "lpp") into a new codec. where names the entry in messages
 * ("devices[2].codec"). Every problem is reported through gw_config_error
 * at its own line (unknown keys with "did you mean", wrong types, ranges,
 * overlapping or out-of-range layouts, a JS script that cannot be read or
 * compiled, with the engine's message). A relative `script` path is taken
 * from the directory of the file s was read from.
 * Returns 0 with *out set (a new reference, the caller owns it), 0 with
 * *out NULL when problems were reported (gw_config_errors tells), or
 * -ENOMEM (load aborted). s, ctx and where are borrowed. */
int gw_payload_parse(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *where,
                     gw_payload_codec_t **out);

/* Another reference to c (for a template's codec shared by its entries);
 * returns c. NULL gives NULL. */
gw_payload_codec_t *gw_payload_ref(gw_payload_codec_t *c);
/* Drop the reference *c and set *c to NULL; the last one frees the codec
 * (and its JS heap). NULL or *c NULL: nothing. */
void gw_payload_free(gw_payload_codec_t **c);

gw_payload_kind_t gw_payload_kind(const gw_payload_codec_t *c);

/* Equal configurations give equal fingerprints (kind, every layout field,
 * the JS source text and limits, declared channels and fields): a reload
 * keeps a device whose codec did not change. Start value GW_FNV_OFFSET is
 * fed in by the caller's hash h (gw_fnv_bytes style). */
void gw_payload_fingerprint(const gw_payload_codec_t *c, uint64_t *h);

/* Decode one uplink (fport 1..223 for LoRaWAN application data; BLE passes
 * 0) of len bytes (borrowed) and call emit for each field.
 * The decode is all or nothing for malformed input: LPP and layout check
 * the whole payload before the first emit; JS emits only once the script
 * returned a well-formed result.
 * msg (may be NULL) gets a one-line explanation: on error what was wrong
 * ("LPP channel 3 type 103 (temperature) needs 2 bytes, 1 left"); on
 * success the JS codec's warnings joined by "; " (empty when none), for
 * the caller to log.
 * Returns 0, or
 *   -EBADMSG   malformed payload (truncated, unknown LPP type, a JS result
 *              with errors or without an object `data`),
 *   -ENOENT    a layout codec with no layout for this fport,
 *   -ETIMEDOUT the JS call ran past its time limit (the heap is rebuilt),
 *   -ENOMEM    the JS call hit its memory limit (the heap is rebuilt), or
 *              the process is out of memory,
 *   -EINVAL    c or emit NULL, or bytes NULL with len > 0,
 *   what emit returned when negative. */
int gw_payload_decode(gw_payload_codec_t *c, unsigned fport, const uint8_t *bytes, size_t len,
                      gw_payload_emit_fn emit, void *ctx, char *msg, size_t msg_size);

/* Encode a write of value to field (a name the codec declares writable: an
 * LPP digital/analog output channel "digital_output_<ch>" /
 * "analog_output_<ch>", a layout field with `writable = true`, any field a
 * JS codec's encodeDownlink accepts as {data: {<field>: value}}) into
 * out[0..cap) with *out_len bytes and the FPort to send on in *out_fport.
 * LPP: [channel, type, value big-endian], analog outputs 0.01 signed,
 * rounded to the nearest step (half away from zero), never truncated.
 * Nothing is kept between calls apart from the JS heap: a write_check may
 * call it and discard the bytes. value is borrowed.
 * Returns 0, or
 *   -ENOENT    the field is not a writable field of this codec,
 *   -EINVAL    the value's type does not fit the field (a string to a
 *              number), or a NaN/infinite number,
 *   -ERANGE    the value is outside what the bytes hold (msg says the range),
 *   -ENOSPC    cap is too small for the encoding,
 *   -EBADMSG   the JS encoder reported errors or returned no `bytes` array
 *              of 0..255 integers / an fPort outside 1..223,
 *   -ETIMEDOUT, -ENOMEM as for decode,
 *   -ENOTSUP   the codec has no encoder (a JS script without
 *              encodeDownlink). */
int gw_payload_encode(gw_payload_codec_t *c, const char *field, const gw_value_t *value,
                      unsigned *out_fport, uint8_t *out, size_t cap, size_t *out_len, char *msg,
                      size_t msg_size);

/* Append the fields c produces to (*decls, *n) with gw_field_decl_add:
 * LPP: every configured channel, with its explicit path
 * /<type+3200>/<channel>/<resource> (so the channel is the instance);
 * layout: every field of every FPort once, with its path when configured;
 * JS: the configured `fields`. line is the config line of each. Returns 0
 * or -ENOMEM (what was appended stays, for gw_field_decls_free). */
int gw_payload_declare(const gw_payload_codec_t *c, gw_field_decl_t **decls, size_t *n);

/* Lines "    codec ...\n" for --print-mapping: the kind and, per FPort,
 * the layout's fields (offset, length, type, scale) or the JS script. */
void gw_payload_describe(const gw_payload_codec_t *c, FILE *out);

#endif
