/*
 * adapters/ble/scan.c - `lwm2m-gateway --scan-ble [SECONDS]`: the adapter
 * without devices, on its own loop, runs discovery for a while and lists
 * every device heard: address, name, RSSI, the decoder that recognises its
 * adverts with the values it decoded, and a configuration entry to paste.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/log.h"
#include "ble_internal.h"

#define SCAN_MAX 512

typedef struct scan_dev {
    uint64_t mac;
    char name[64];
    int16_t rssi;
    bool has_rssi;
    const gw_ble_decoder_t *dec;
    char values[256];  /* the last decode, "temperature=25 Cel ..." */
    gw_ble_src_t src;  /* the first data entry no decoder knew */
    uint16_t id;
    size_t len;
} scan_dev_t;

struct gw_ble_scan {
    scan_dev_t devs[SCAN_MAX];
    size_t n;
};

static void mac_text(uint64_t m, char *buf, size_t size)
{
    snprintf(buf, size, "%02X:%02X:%02X:%02X:%02X:%02X", (unsigned)(m >> 40) & 0xFF,
             (unsigned)(m >> 32) & 0xFF, (unsigned)(m >> 24) & 0xFF, (unsigned)(m >> 16) & 0xFF,
             (unsigned)(m >> 8) & 0xFF, (unsigned)m & 0xFF);
}

static void describe(const gw_ble_decoded_t *out, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < out->n && k + 1 < size; i++) {
        const gw_ble_val_t *v = &out->v[i];
        int w;
        if (v->value.type == GW_TYPE_FLOAT)
            w = snprintf(buf + k, size - k, "%s%s=%.*f%s%s", k ? " " : "", v->field,
                         v->decimals > 0 ? v->decimals : 0, v->value.v.f, v->unit ? " " : "",
                         v->unit ? v->unit : "");
        else if (v->value.type == GW_TYPE_BOOLEAN)
            w = snprintf(buf + k, size - k, "%s%s=%s", k ? " " : "", v->field,
                         v->value.v.b ? "true" : "false");
        else
            w = snprintf(buf + k, size - k, "%s%s=%lld%s%s", k ? " " : "", v->field,
                         (long long)v->value.v.i, v->unit ? " " : "", v->unit ? v->unit : "");
        if (w < 0 || (size_t)w >= size - k)
            break;
        k += (size_t)w;
    }
}

void gw_ble_scan_seen(gw_adapter_t *a, uint64_t mac, const ble_advert_t *adv)
{
    gw_ble_scan_t *s = a->scan;
    scan_dev_t *d = NULL;
    for (size_t i = 0; i < s->n && !d; i++)
        if (s->devs[i].mac == mac)
            d = &s->devs[i];
    if (!d) {
        if (s->n == SCAN_MAX)
            return; /* the list is long enough to choose from */
        d = &s->devs[s->n++];
        memset(d, 0, sizeof *d);
        d->mac = mac;
    }
    if (adv->name)
        snprintf(d->name, sizeof d->name, "%s", adv->name);
    if (adv->has_rssi)
        d->rssi = adv->rssi, d->has_rssi = true;
    for (size_t j = 0; j < adv->n_blobs; j++) {
        const ble_blob_t *b = &adv->blobs[j];
        bool known = false;
        for (size_t k = 0; gw_ble_decoders[k]; k++) {
            const gw_ble_decoder_t *dec = gw_ble_decoders[k];
            gw_ble_decoded_t out;
            if (dec->src != b->src || dec->id != b->id)
                continue;
            known = true;
            int rc = dec->decode(b->p, b->n, &out);
            if (rc == 0) {
                d->dec = dec;
                describe(&out, d->values, sizeof d->values);
            } else if (!d->dec || d->dec == dec) {
                d->dec = dec;
                snprintf(d->values, sizeof d->values, "(%s)",
                         rc == -ENOTSUP ? "encrypted or another version: a bindkey may be needed"
                                        : "a frame it refuses");
            }
        }
        if (!known && !d->len) {
            d->src = b->src, d->id = b->id, d->len = b->n ? b->n : 1;
        }
    }
}

static void print(const gw_ble_scan_t *s, FILE *out)
{
    fprintf(out, "%zu BLE device%s heard\n", s->n, s->n == 1 ? "" : "s");
    for (size_t i = 0; i < s->n; i++) {
        const scan_dev_t *d = &s->devs[i];
        char mac[18], ep[80];
        mac_text(d->mac, mac, sizeof mac);
        fprintf(out, "\n%s  %s", mac, d->name[0] ? d->name : "(no name)");
        if (d->has_rssi)
            fprintf(out, "  %d dBm", d->rssi);
        fputc('\n', out);
        snprintf(ep, sizeof ep, "ble-%s", mac);
        for (char *p = ep; *p; p++)
            if (*p == ':')
                *p = '-';
        if (d->dec) {
            fprintf(out, "  %s: %s\n", d->dec->name, d->values);
            fprintf(out, "  { endpoint = \"%s\"; adapter = \"ble\"; address = \"%s\"; decoder = "
                         "\"%s\"; },\n", ep, mac, d->dec->name);
        } else if (d->len) {
            fprintf(out, "  no decoder knows its %s 0x%04X (%zu bytes): read it with an "
                         "advert_codec (docs/ble.md)\n",
                    d->src == GW_BLE_SRC_MFR ? "ManufacturerData of company" : "ServiceData of UUID",
                    d->id, d->len);
            fprintf(out, "  { endpoint = \"%s\"; adapter = \"ble\"; address = \"%s\"; %s = %s%04X%s; "
                         "advert_codec = { type = \"layout\"; uplinks = ( { fport = 0; fields = "
                         "( ... ); } ); }; },\n", ep, mac,
                    d->src == GW_BLE_SRC_MFR ? "company_id" : "service_data",
                    d->src == GW_BLE_SRC_MFR ? "0x" : "\"", d->id,
                    d->src == GW_BLE_SRC_MFR ? "" : "\"");
        } else {
            fprintf(out, "  no advertised data (a GATT sensor? see gatt in docs/ble.md)\n");
        }
    }
}

extern const gw_adapter_ops_t gw_adapter_ble;

int gw_ble_scan_run(const char *bus, const char *controller, double seconds, FILE *out)
{
    gw_loop_t *loop = NULL;
    gw_adapter_t *a = NULL;
    gw_ble_scan_t *s = calloc(1, sizeof *s);
    int rc = s ? gw_loop_new(&loop) : -ENOMEM;
    gw_ble_section_t sec = {.controller = (char *)(controller ? controller : "hci0"),
                            .bus = (char *)bus};
    gw_adapter_env_t env = {.loop = loop};
    if (rc == 0)
        rc = gw_adapter_ble.create(&env, &sec, NULL, 0, &a);
    if (rc == 0) {
        a->scan = s;
        rc = gw_adapter_ble.start(a);
    }
    if (rc == 0) {
        /* bounded by the deadline: each round waits at most 100 ms */
        int64_t end = gw_now_ms() + (int64_t)(seconds * 1000.0);
        while (gw_now_ms() < end)
            gw_loop_run_once(loop, 100);
        print(s, out);
        if (!a->discovering) {
            fprintf(stderr, "lwm2m-gateway: discovery did not run on %s (is bluetoothd running "
                            "and the controller powered? see docs/ble.md)\n", sec.controller);
            rc = -ENODEV;
        }
    }
    gw_adapter_ble.destroy(&a);
    gw_loop_free(&loop);
    free(s);
    return rc;
}
