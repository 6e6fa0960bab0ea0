/*
 * adapters/ble/decoder.h - BLE advertisement payload decoders: pure
 * functions from the bytes of one ManufacturerData entry (keyed by its
 * 16-bit company id) or one ServiceData entry (keyed by its 16-bit service
 * UUID) to typed values. No allocation, no I/O, no state: the adapter, the
 * unit tests, the fuzz target and the benchmark call them the same way.
 *
 * A new format joins by adding one file that defines a gw_ble_decoder_t
 * and one line in the table of decoders.c.
 */
#ifndef GW_ADAPTERS_BLE_DECODER_H
#define GW_ADAPTERS_BLE_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../lwm2m/value.h"

/* Where a format's bytes travel in an advertisement. */
typedef enum gw_ble_src { GW_BLE_SRC_MFR = 1, GW_BLE_SRC_SVC = 2 } gw_ble_src_t;

/* One decoded value. field and unit are static strings of the decoder. */
typedef struct gw_ble_val {
    const char *field;  /* reading field name ("temperature", "battery", ...) */
    const char *unit;   /* unit the value is in, NULL when the field's usual one */
    gw_value_t value;   /* FLOAT, INTEGER or BOOLEAN */
    int8_t decimals;    /* FLOAT: decimals the source resolves (0.01 -> 2) */
    uint8_t slot;       /* the decoder's own index of this quantity (0..127), stable
                           across adverts: the adapter remembers per device, by slot,
                           which fields the mapping refused */
} gw_ble_val_t;

/* Most values one advert yields (a BTHome frame carries at most 29 bytes of
 * objects, 1 id + 1 byte each at the least). */
#define GW_BLE_MAX_VALS 32
#define GW_BLE_SLOTS 128

typedef struct gw_ble_decoded {
    gw_ble_val_t v[GW_BLE_MAX_VALS];
    size_t n;
    /* The device's own MAC when the payload carries it (Ruuvi, ATC/pvvx),
     * in display order (AA:BB:... = mac[0], mac[1], ...): matching by a
     * decoder's identity for devices with random addresses. */
    uint8_t mac[6];
    bool has_mac;
    /* A packet/frame counter when the format has one: the same advert seen
     * twice (BlueZ repeats properties) is not a new measurement. */
    bool has_counter;
    uint32_t counter;
} gw_ble_decoded_t;

/* A field a device with this decoder declares before its first advert. */
typedef struct gw_ble_field_decl {
    const char *field;
    const char *unit; /* NULL: the field's usual unit */
} gw_ble_field_decl_t;

typedef struct gw_ble_decoder {
    const char *name;   /* config's decoder = "..." */
    gw_ble_src_t src;
    uint16_t id;        /* company id (MFR) or 16-bit service UUID (SVC) */
    const gw_ble_field_decl_t *decls; /* what every advert of the format carries */
    size_t n_decls;
    /* Decode p[0..n) into *out (out->n counts the values; out is reset by
     * the call). Returns 0, or:
     *   -EBADMSG  truncated, lengths past the end, a field out of its range;
     *   -ENOTSUP  a version, format or object id this decoder does not know
     *             (another format under the same id, an encrypted frame);
     *   -EINVAL   p or out NULL. */
    int (*decode)(const uint8_t *p, size_t n, gw_ble_decoded_t *out);
} gw_ble_decoder_t;

extern const gw_ble_decoder_t gw_ble_dec_bthome; /* bthome.c: BTHome v2, UUID 0xFCD2 */
extern const gw_ble_decoder_t gw_ble_dec_ruuvi;  /* ruuvi.c: RAWv2 (format 5), company 0x0499 */
extern const gw_ble_decoder_t gw_ble_dec_atc;    /* atc.c: LYWSD03MMC ATC1441/pvvx, UUID 0x181A */
extern const gw_ble_decoder_t gw_ble_dec_mibeacon; /* mibeacon.c: Xiaomi MiBeacon v2-v5, 0xFE95 */

/* Encrypted BTHome v2 (bthome_crypt.c): p[0..n) is a frame whose
 * device-information byte has bit 0 set; key is the device's 16-byte bind
 * key, mac its address in display order (AA:BB:... = mac[0], mac[1], ...).
 * On success out[0..*out_n) is the same frame unencrypted (bit 0 cleared,
 * the objects in clear, counter and MIC removed), for gw_ble_dec_bthome,
 * and *out_counter the frame's counter (for the caller's replay check:
 * each frame's counter must be above the last accepted one). out holds
 * n bytes at least. Returns 0, or
 *   -EBADMSG  shorter than 1 + counter + MIC, longer than
 *             GW_BLE_BTHOME_MAX_FRAME, or not marked encrypted;
 *   -EACCES   the MIC does not verify (a wrong key, a changed frame);
 *   -EINVAL   a NULL argument. */
#define GW_BLE_BTHOME_MAX_FRAME 255
int gw_ble_bthome_decrypt(const uint8_t key[16], const uint8_t mac[6], const uint8_t *p, size_t n,
                          uint8_t *out, size_t *out_n, uint32_t *out_counter);

/* Encrypted MiBeacon v4/v5 (mibeacon.c), as gw_ble_bthome_decrypt: mac
 * (display order) is used when the frame does not carry its own; out[0..
 * *out_n) is the frame unencrypted (bit 3 of the frame control cleared,
 * counter extension and MIC removed) for gw_ble_dec_mibeacon, and
 * *out_counter the frame counter with its extension (ext << 8 | counter).
 * Returns 0, -EBADMSG (too short, too long, not encrypted), -ENOTSUP (an
 * encrypted v2/v3 frame), -EACCES (the MIC does not verify), -EINVAL. */
#define GW_BLE_MIBEACON_MAX_FRAME 255
int gw_ble_mibeacon_decrypt(const uint8_t key[16], const uint8_t mac[6], const uint8_t *p,
                            size_t n, uint8_t *out, size_t *out_n, uint32_t *out_counter);

/* NULL-terminated table of every decoder. */
extern const gw_ble_decoder_t *const gw_ble_decoders[];

/* The decoder called name, NULL when none. */
const gw_ble_decoder_t *gw_ble_decoder_find(const char *name);
/* "bthome, ruuvi, atc" for messages. */
const char *gw_ble_decoder_names(void);

/* Appends a value to out; false (nothing added) when out is full. For the
 * decoders' own use. */
bool gw_ble_put_float(gw_ble_decoded_t *out, uint8_t slot, const char *field, const char *unit,
                      double v, int decimals);
bool gw_ble_put_int(gw_ble_decoded_t *out, uint8_t slot, const char *field, const char *unit,
                    int64_t v);
bool gw_ble_put_bool(gw_ble_decoded_t *out, uint8_t slot, const char *field, bool v);

#endif
