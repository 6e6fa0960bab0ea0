/* Unit tests for the BLE advertisement decoders (adapters/ble/): the
 * published vectors, their extremes, and bad input (truncated, unknown
 * ids, wrong versions), which must be refused without reading past the
 * end (run under ASan: each bad input is copied to a buffer of its exact
 * size). */
#include "gwtest.h"

#include "adapters/ble/decoder.h"
#include "lwm2m/precision.h"

#include <errno.h>
#include <stdlib.h>

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*h && n < cap) {
        if (*h == ' ') {
            h++;
            continue;
        }
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return n;
}

static const gw_ble_val_t *val(const gw_ble_decoded_t *d, const char *field)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->v[i].field, field) == 0)
            return &d->v[i];
    return NULL;
}

static double fval(const gw_ble_decoded_t *d, const char *field)
{
    const gw_ble_val_t *v = val(d, field);
    if (!v)
        return NAN;
    return v->value.type == GW_TYPE_FLOAT ? v->value.v.f : (double)v->value.v.i;
}

/* Decode hex through an exact-size heap copy, so ASan sees any overread. */
static int decode_hex(const gw_ble_decoder_t *dec, const char *hex, gw_ble_decoded_t *out)
{
    uint8_t tmp[256];
    size_t n = unhex(hex, tmp, sizeof tmp);
    uint8_t *p = malloc(n ? n : 1);
    memcpy(p, tmp, n);
    int rc = dec->decode(p, n, out);
    free(p);
    return rc;
}

GW_TEST(test_table)
{
    CHECK(gw_ble_decoder_find("bthome") == &gw_ble_dec_bthome);
    CHECK(gw_ble_decoder_find("ruuvi") == &gw_ble_dec_ruuvi);
    CHECK(gw_ble_decoder_find("atc") == &gw_ble_dec_atc);
    CHECK(gw_ble_decoder_find("mibeacon") == &gw_ble_dec_mibeacon);
    CHECK(gw_ble_decoder_find("nope") == NULL);
    CHECK(gw_ble_decoder_find(NULL) == NULL);
    for (size_t i = 0; gw_ble_decoders[i]; i++) {
        CHECK(gw_ble_decoders[i]->decode(NULL, 0, NULL) == -EINVAL);
        CHECK(gw_ble_decoders[i]->n_decls > 0);
    }
}

/* bthome.io format page: advertisement 02 01 06 0B 09 "DIY-sensor" 0A 16
 * D2 FC 40 02 C4 09 03 BF 13; its service data for 0xFCD2 follows the UUID. */
GW_TEST(test_bthome_vector)
{
    gw_ble_decoded_t d;
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_bthome, "40 02 C4 09 03 BF 13", &d), 0);
    CHECK_EQ_INT(d.n, 2);
    CHECK(fval(&d, "temperature") == 25.00);
    CHECK(fval(&d, "humidity") == 50.55);
    CHECK_EQ_INT(val(&d, "temperature")->decimals, 2);
    CHECK_EQ_STR(val(&d, "humidity")->unit, "%RH");
    CHECK(!d.has_mac);
}

/* Objects of each size and sign: packet id, battery, negative temperature,
 * pressure (3 bytes), a boolean, count u32, voltage, text and raw skipped,
 * temperature 0x58 (factor 0.35). */
GW_TEST(test_bthome_objects)
{
    gw_ble_decoded_t d;
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_bthome,
                            "40 00 2A 01 64 02 18 FC 04 13 8A 01 21 01 3E 01 02 03 04"
                            " 0C B8 0B 53 02 68 69 54 00 58 F6",
                            &d), 0);
    CHECK(d.has_counter && d.counter == 42);
    CHECK_EQ_INT(fval(&d, "battery"), 100);
    CHECK(fval(&d, "temperature") == -10.00);
    CHECK(fval(&d, "pressure") == 1008.83);
    CHECK(val(&d, "motion") && val(&d, "motion")->value.v.b);
    CHECK_EQ_INT(fval(&d, "count"), 0x04030201);
    CHECK(fval(&d, "voltage") == 3.0);
    CHECK_NEAR(d.v[d.n - 1].value.v.f, -3.5, 1e-9);
    CHECK(!val(&d, "text") && !val(&d, "raw"));
    /* the minimum and maximum of a signed 16-bit temperature */
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_bthome, "40 02 00 80", &d), 0);
    CHECK(fval(&d, "temperature") == -327.68);
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_bthome, "40 02 FF 7F", &d), 0);
    CHECK(fval(&d, "temperature") == 327.67);
    /* device info alone: a valid, empty frame */
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_bthome, "40", &d), 0);
    CHECK_EQ_INT(d.n, 0);
}

/* Each of the 89 object ids of the table is found (its binary search needs
 * the rows sorted), every other id is refused. */
GW_TEST(test_bthome_every_id)
{
    int known = 0;
    for (int id = 0; id < 256; id++) {
        uint8_t f[12] = {0x40, (uint8_t)id, 4}; /* a length byte of 4 for text/raw */
        gw_ble_decoded_t d;
        int rc = gw_ble_dec_bthome.decode(f, 2, &d);
        if (rc == -ENOTSUP)
            continue;
        CHECK_EQ_INT(rc, -EBADMSG); /* known, and its value is missing */
        known++;
    }
    CHECK_EQ_INT(known, 89);
}

GW_TEST(test_bthome_bad)
{
    gw_ble_decoded_t d;
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_bthome, "", &d), -EBADMSG);
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_bthome, "40 02 C4", &d), -EBADMSG);    /* cut value */
    CHECK_EQ_INT(d.n, 0);
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_bthome, "40 53 05 61 62", &d), -EBADMSG); /* text past end */
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_bthome, "40 53", &d), -EBADMSG);       /* no length */
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_bthome, "40 02 C4 09 E7 01", &d), -ENOTSUP); /* unknown id */
    CHECK_EQ_INT(d.n, 0);
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_bthome, "41 02 C4 09", &d), -ENOTSUP); /* encrypted */
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_bthome, "20 02 C4 09", &d), -ENOTSUP); /* version 1 */
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_bthome, "40 01 65", &d), -EBADMSG);    /* battery 101 % */
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_bthome, "40 21 02", &d), -EBADMSG);    /* boolean 2 */
}

/* ruuvi docs, data format 5: the "valid data" vector. */
GW_TEST(test_ruuvi_vector)
{
    gw_ble_decoded_t d;
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_ruuvi,
                            "05 12FC 5394 C37C 0004 FFFC 040C AC36 42 00CD CBB8334C884F", &d), 0);
    CHECK(fval(&d, "temperature") == 24.3);
    CHECK(fval(&d, "humidity") == 53.49);
    CHECK(fval(&d, "pressure") == 1000.44);
    CHECK_EQ_STR(val(&d, "pressure")->unit, "hPa");
    CHECK(fval(&d, "acceleration_x") == 0.004);
    CHECK(fval(&d, "acceleration_y") == -0.004);
    CHECK(fval(&d, "acceleration_z") == 1.036);
    CHECK(fval(&d, "battery_voltage") == 2.977);
    CHECK_EQ_INT(fval(&d, "tx_power"), 4);
    CHECK_EQ_INT(fval(&d, "movement_counter"), 66);
    CHECK_EQ_INT(fval(&d, "measurement_sequence"), 205);
    static const uint8_t mac[6] = {0xCB, 0xB8, 0x33, 0x4C, 0x88, 0x4F};
    CHECK(d.has_mac && memcmp(d.mac, mac, 6) == 0);
    CHECK(d.has_counter && d.counter == 205);
}

/* ruuvi docs, data format 5: the maximum, minimum and "invalid" vectors. */
GW_TEST(test_ruuvi_extremes)
{
    gw_ble_decoded_t d;
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_ruuvi,
                            "05 7FFF FFFE FFFE 7FFF 7FFF 7FFF FFDE FE FFFE CBB8334C884F", &d), 0);
    CHECK(fval(&d, "temperature") == 163.835);
    CHECK(fval(&d, "humidity") == 163.835);
    CHECK(fval(&d, "pressure") == 1155.34);
    CHECK(fval(&d, "acceleration_x") == 32.767);
    CHECK(fval(&d, "battery_voltage") == 3.646);
    CHECK_EQ_INT(fval(&d, "tx_power"), 20);
    CHECK_EQ_INT(fval(&d, "movement_counter"), 254);
    CHECK_EQ_INT(fval(&d, "measurement_sequence"), 65534);
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_ruuvi,
                            "05 8001 0000 0000 8001 8001 8001 0000 00 0000 CBB8334C884F", &d), 0);
    CHECK(fval(&d, "temperature") == -163.835);
    CHECK(fval(&d, "humidity") == 0);
    CHECK(fval(&d, "pressure") == 500.0);
    CHECK(fval(&d, "acceleration_z") == -32.767);
    CHECK(fval(&d, "battery_voltage") == 1.6);
    CHECK_EQ_INT(fval(&d, "tx_power"), -40);
    /* every quantity "not available": nothing reported as a number */
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_ruuvi,
                            "05 8000 FFFF FFFF 8000 8000 8000 FFFF FF FFFF FFFFFFFFFFFF", &d), 0);
    CHECK_EQ_INT(d.n, 0);
    CHECK(!d.has_mac && !d.has_counter);
}

GW_TEST(test_ruuvi_bad)
{
    gw_ble_decoded_t d;
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_ruuvi, "", &d), -EBADMSG);
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_ruuvi, "05 12FC 5394 C37C 0004 FFFC 040C AC36 42 00CD CBB8334C88", &d),
                 -EBADMSG); /* 23 bytes */
    CHECK_EQ_INT(d.n, 0);
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_ruuvi, "05", &d), -EBADMSG);
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_ruuvi, "03 29 1A 1E CE 1E FC 18 F9 42 02 CA 0B 53", &d),
                 -ENOTSUP); /* RAWv1 */
}

/* Frames built from the documented layouts (ATC1441's README, pvvx's
 * "custom" format): A4:C1:38:11:22:33, 23.0 / 23.45 Cel. */
GW_TEST(test_atc_layouts)
{
    gw_ble_decoded_t d;
    static const uint8_t mac[6] = {0xA4, 0xC1, 0x38, 0x11, 0x22, 0x33};
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_atc, "A4C138112233 00E6 2D 5A 0B86 07", &d), 0);
    CHECK(fval(&d, "temperature") == 23.0);
    CHECK_EQ_INT(val(&d, "temperature")->decimals, 1);
    CHECK(fval(&d, "humidity") == 45);
    CHECK_EQ_INT(fval(&d, "battery"), 90);
    CHECK(fval(&d, "battery_voltage") == 2.95);
    CHECK(d.has_mac && memcmp(d.mac, mac, 6) == 0);
    CHECK(d.has_counter && d.counter == 7);
    /* ATC1441 below zero: -5.3 */
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_atc, "A4C138112233 FFCB 2D 5A 0B86 08", &d), 0);
    CHECK(fval(&d, "temperature") == -5.3);
    /* pvvx: little-endian, MAC reversed */
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_atc, "332211 38C1A4 2909 AC13 860B 5A 09 05", &d), 0);
    CHECK(fval(&d, "temperature") == 23.45);
    CHECK(fval(&d, "humidity") == 50.36);
    CHECK_EQ_INT(fval(&d, "battery"), 90);
    CHECK(fval(&d, "battery_voltage") == 2.95);
    CHECK(d.has_mac && memcmp(d.mac, mac, 6) == 0);
    CHECK(d.counter == 9);
}

GW_TEST(test_atc_bad)
{
    gw_ble_decoded_t d;
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_atc, "A4C138112233 00E6 2D 5A 0B86", &d), -EBADMSG);
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_atc, "", &d), -EBADMSG);
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_atc, "0102030405060708", &d), -ENOTSUP); /* pvvx encrypted */
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_atc, "A4C138112233 00E6 65 5A 0B86 07", &d), -EBADMSG);
    CHECK_EQ_INT(d.n, 0);
    CHECK_EQ_INT(decode_hex(&gw_ble_dec_atc, "332211 38C1A4 2909 1227 860B 5A 09 05", &d), -EBADMSG);
}

/* Every byte string up to 4 bytes, and random longer ones: no decoder
 * crashes, and a refusal leaves no values behind. */
GW_TEST(test_all_short_inputs)
{
    uint8_t buf[40];
    gw_ble_decoded_t d;
    uint64_t rng = 88172645463325252ull;
    for (size_t k = 0; gw_ble_decoders[k]; k++) {
        for (uint32_t x = 0; x < 65536; x++) {
            buf[0] = (uint8_t)x, buf[1] = (uint8_t)(x >> 8);
            for (size_t n = 0; n <= 2; n++)
                if (gw_ble_decoders[k]->decode(buf, n, &d) < 0)
                    CHECK_EQ_INT(d.n, 0);
        }
        for (int it = 0; it < 20000; it++) {
            size_t n = (size_t)(rng % sizeof buf);
            for (size_t i = 0; i < n; i++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                buf[i] = (uint8_t)rng;
            }
            if (it & 1)
                buf[0] = 0x40; /* a BTHome v2 header, so objects get parsed */
            int rc = gw_ble_decoders[k]->decode(buf, n, &d);
            CHECK(rc == 0 || rc == -EBADMSG || rc == -ENOTSUP);
            CHECK(d.n <= GW_BLE_MAX_VALS);
            if (rc < 0)
                CHECK_EQ_INT(d.n, 0);
        }
    }
}


/* bthome.io "Encryption": 02CA09 03BF13 (25.06 Cel, 50.55 %) with key
 * 231d39c1d7cc1ab1aee224cd096db932, MAC 54:48:E6:8F:80:A5, counter bytes
 * 00112233 (the frame as bthome-ble's encryption test has it). */
GW_TEST(test_bthome_encrypted_vector)
{
    uint8_t key[16], f[32], plain[32];
    static const uint8_t mac[6] = {0x54, 0x48, 0xE6, 0x8F, 0x80, 0xA5};
    unhex("231d39c1d7cc1ab1aee224cd096db932", key, sizeof key);
    size_t n = unhex("41 a47266c95f73 00112233 78237214", f, sizeof f), pn = 0;
    uint32_t ctr = 0;
    CHECK_EQ_INT(gw_ble_bthome_decrypt(key, mac, f, n, plain, &pn, &ctr), 0);
    CHECK_EQ_INT(ctr, 0x33221100u);
    CHECK_EQ_MEM(plain, pn, ((const uint8_t[]){0x40, 0x02, 0xCA, 0x09, 0x03, 0xBF, 0x13}), 7);
    gw_ble_decoded_t d;
    CHECK_EQ_INT(gw_ble_dec_bthome.decode(plain, pn, &d), 0);
    CHECK_NEAR(fval(&d, "temperature"), 25.06, 1e-9);
    CHECK_NEAR(fval(&d, "humidity"), 50.55, 1e-9);
    /* the frame itself stays refused by the plain decoder */
    CHECK_EQ_INT(gw_ble_dec_bthome.decode(f, n, &d), -ENOTSUP);
    /* a wrong key, a changed byte, another MAC or counter: the MIC fails */
    uint8_t bad[16];
    memcpy(bad, key, 16);
    bad[15] ^= 1;
    CHECK_EQ_INT(gw_ble_bthome_decrypt(bad, mac, f, n, plain, &pn, &ctr), -EACCES);
    for (size_t i = 0; i < n; i++) {
        uint8_t g[32];
        memcpy(g, f, n);
        g[i] ^= 0x80;
        CHECK_EQ_INT(gw_ble_bthome_decrypt(key, mac, g, n, plain, &pn, &ctr), -EACCES);
    }
    static const uint8_t mac2[6] = {0x54, 0x48, 0xE6, 0x8F, 0x80, 0xA6};
    CHECK_EQ_INT(gw_ble_bthome_decrypt(key, mac2, f, n, plain, &pn, &ctr), -EACCES);
    /* too short for counter and MIC, unencrypted, NULLs */
    for (size_t k = 0; k < 9; k++) {
        uint8_t *e = malloc(k ? k : 1);
        memcpy(e, f, k);
        CHECK_EQ_INT(gw_ble_bthome_decrypt(key, mac, e, k, plain, &pn, &ctr), -EBADMSG);
        free(e);
    }
    CHECK_EQ_INT(gw_ble_bthome_decrypt(key, mac, (const uint8_t[]){0x40, 2, 0xCA, 9, 0, 0, 0, 0, 0,
                                                                  0, 0, 0},
                                       12, plain, &pn, &ctr),
                 -EBADMSG);
    CHECK_EQ_INT(gw_ble_bthome_decrypt(NULL, mac, f, n, plain, &pn, &ctr), -EINVAL);
}

/* The decoders' fast decimal rounding gives what gw_prec_round (printf and
 * strtod) gives, for every BTHome temperature (0.01) and voltage (0.001)
 * and every Ruuvi temperature (0.005 -> 3 decimals). */
GW_TEST(test_rounding_matches_precision)
{
    gw_ble_decoded_t d;
    for (int32_t raw = -32768; raw <= 32767; raw++) {
        uint8_t f[7] = {0x40, 0x02, (uint8_t)raw, (uint8_t)(raw >> 8), 0x0C, (uint8_t)raw,
                        (uint8_t)(raw >> 8)};
        if (gw_ble_dec_bthome.decode(f, sizeof f, &d) != 0) {
            CHECK(0);
            break;
        }
        double t = fval(&d, "temperature"), v = fval(&d, "voltage");
        double want_t = gw_prec_round(raw / 100.0, 2);
        double want_v = gw_prec_round((uint16_t)raw / 1000.0, 3);
        if (memcmp(&t, &want_t, sizeof t) != 0 || memcmp(&v, &want_v, sizeof v) != 0) {
            fprintf(stderr, "raw %d: %.17g/%.17g vs %.17g/%.17g\n", raw, t, v, want_t, want_v);
            CHECK(0);
            break;
        }
        uint8_t r[24] = {0x05, (uint8_t)(raw >> 8), (uint8_t)raw};
        memset(r + 3, 0xFF, 21);
        r[3] = r[4] = r[5] = r[6] = 0;
        if (raw != -32768 && gw_ble_dec_ruuvi.decode(r, sizeof r, &d) == 0) {
            double rt = fval(&d, "temperature"), want_r = gw_prec_round(raw * 0.005, 3);
            if (memcmp(&rt, &want_r, sizeof rt) != 0) {
                fprintf(stderr, "ruuvi raw %d: %.17g vs %.17g\n", raw, rt, want_r);
                CHECK(0);
                break;
            }
        }
    }
}

/* xiaomi-ble's LYWSD03MMC vectors: MiBeacon v3 with MAC and object 0x100D
 * (27.2 Cel, 49.0 %); v5 encrypted with bind key
 * e9ea895fac7cca6d30532432a516f3a8 (object 0x1006, 46.7 %). */
GW_TEST(test_mibeacon_vectors)
{
    uint8_t f[64], plain[64], key[16];
    gw_ble_decoded_t d;
    size_t n = unhex("50305b05034c94b438c1a40d10041001ea01", f, sizeof f), pn;
    CHECK_EQ_INT(gw_ble_dec_mibeacon.decode(f, n, &d), 0);
    CHECK(fval(&d, "temperature") == 27.2);
    CHECK(fval(&d, "humidity") == 49.0);
    CHECK(d.has_mac && d.mac[0] == 0xA4 && d.mac[5] == 0x4C);
    CHECK(d.has_counter && d.counter == 3);
    /* every shorter cut is refused, never read past its end */
    for (size_t k = 0; k < n; k++) {
        uint8_t *e = malloc(k ? k : 1);
        memcpy(e, f, k);
        CHECK_EQ_INT(gw_ble_dec_mibeacon.decode(e, k, &d), k == 11 ? 0 : -EBADMSG);
        free(e);
    }
    /* v1 and v6 are not MiBeacon v2-v5 */
    f[1] = 0x10;
    CHECK_EQ_INT(gw_ble_dec_mibeacon.decode(f, n, &d), -ENOTSUP);
    f[1] = 0x60;
    CHECK_EQ_INT(gw_ble_dec_mibeacon.decode(f, n, &d), -ENOTSUP);

    static const uint8_t mac[6] = {0xA4, 0xC1, 0x38, 0x02, 0x83, 0xF4};
    unhex("e9ea895fac7cca6d30532432a516f3a8", key, sizeof key);
    n = unhex("58585b0550f4830238c1a495ef58763c26000097e2abb5", f, sizeof f);
    CHECK_EQ_INT(gw_ble_dec_mibeacon.decode(f, n, &d), -ENOTSUP); /* encrypted */
    uint32_t ctr = 0;
    CHECK_EQ_INT(gw_ble_mibeacon_decrypt(key, mac, f, n, plain, &pn, &ctr), 0);
    CHECK_EQ_INT(ctr, 0x00002650u);
    CHECK_EQ_INT(gw_ble_dec_mibeacon.decode(plain, pn, &d), 0);
    CHECK(fval(&d, "humidity") == 46.7);
    /* the MAC the frame carries is the nonce's, whatever the caller says */
    static const uint8_t other[6] = {1, 2, 3, 4, 5, 6};
    CHECK_EQ_INT(gw_ble_mibeacon_decrypt(key, other, f, n, plain, &pn, &ctr), 0);
    key[0] ^= 1;
    CHECK_EQ_INT(gw_ble_mibeacon_decrypt(key, mac, f, n, plain, &pn, &ctr), -EACCES);
    key[0] ^= 1;
    for (size_t i = 2; i < n; i++) {
        uint8_t g[64];
        memcpy(g, f, n);
        g[i] ^= 0x01;
        CHECK_EQ_INT(gw_ble_mibeacon_decrypt(key, mac, g, n, plain, &pn, &ctr), -EACCES);
    }
    for (size_t k = 0; k < 18; k++) {
        uint8_t *e = malloc(k ? k : 1);
        memcpy(e, f, k);
        int rc = gw_ble_mibeacon_decrypt(key, mac, e, k, plain, &pn, &ctr);
        CHECK(rc == -EBADMSG || rc == -EACCES);
        free(e);
    }
    /* encrypted v3 uses another scheme */
    f[1] = 0x38;
    CHECK_EQ_INT(gw_ble_mibeacon_decrypt(key, mac, f, n, plain, &pn, &ctr), -ENOTSUP);
}

GW_TEST_MAIN(test_table, test_mibeacon_vectors, test_bthome_encrypted_vector, test_rounding_matches_precision, test_bthome_vector, test_bthome_objects, test_bthome_every_id, test_bthome_bad,
             test_ruuvi_vector, test_ruuvi_extremes, test_ruuvi_bad, test_atc_layouts,
             test_atc_bad, test_all_short_inputs)
