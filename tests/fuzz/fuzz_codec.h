/*
 * tests/fuzz/fuzz_codec.h - what the codec fuzz targets share: a permissive
 * type lookup, a base path picked by the first input byte, and
 * decode -> re-encode -> decode of the rest.
 */
#ifndef GW_TESTS_FUZZ_CODEC_H
#define GW_TESTS_FUZZ_CODEC_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every type appears, chosen by the resource id; ids ending in 9 are
 * "unknown" so the -ENOENT path runs too. */
static int fz_lookup(void *ctx, const gw_path_t *p, gw_type_t *out_type)
{
    static const gw_type_t t[] = {GW_TYPE_STRING, GW_TYPE_INTEGER, GW_TYPE_UNSIGNED,
                                  GW_TYPE_FLOAT,  GW_TYPE_BOOLEAN, GW_TYPE_OPAQUE,
                                  GW_TYPE_TIME,   GW_TYPE_OBJLNK,  GW_TYPE_CORELNK};
    (void)ctx;
    if (p->len < 3 || p->id[2] % 10 == 9)
        return -ENOENT;
    *out_type = t[p->id[2] % 10];
    return 0;
}

static gw_path_t fz_base(uint8_t b)
{
    switch (b & 7) {
    case 0: return gw_path_make(GW_ID_NONE, GW_ID_NONE, GW_ID_NONE, GW_ID_NONE);
    case 1: return gw_path_make(3, GW_ID_NONE, GW_ID_NONE, GW_ID_NONE);
    case 2: return gw_path_make(3, 0, GW_ID_NONE, GW_ID_NONE);
    case 3: return gw_path_make(3, 0, (uint16_t)(b >> 3), GW_ID_NONE);
    case 4: return gw_path_make(3, 0, (uint16_t)(b >> 3), 1);
    case 5: return gw_path_make(9999, 300, GW_ID_NONE, GW_ID_NONE);
    case 6: return gw_path_make(3, 0, 0, GW_ID_NONE);
    default: return gw_path_make(3, 0, 7, GW_ID_NONE);
    }
}

static int fz_cmp(const void *a, const void *b)
{
    return gw_path_cmp(&((const gw_record_t *)a)->path, &((const gw_record_t *)b)->path);
}

/* Decode data[1..] as cf at the base data[0] picks (with and without the
 * lookup); re-encode what decoded; when must_redecode, the encoder's own
 * output has to decode again. */
static void fz_run(int cf, const uint8_t *data, size_t size, bool must_redecode)
{
    if (size < 1)
        return;
    gw_path_t base = fz_base(data[0]);
    /* A heap copy of exactly the payload, so ASan sees a read past it. */
    size_t len = size - 1;
    uint8_t *p = malloc(len ? len : 1);
    if (!p)
        return;
    memcpy(p, data + 1, len);
    for (int pass = 0; pass < 2; pass++) {
        gw_decoded_t d;
        memset(&d, 0, sizeof d);
        int rc = gw_codec_decode(cf, &base, p, len, pass ? NULL : fz_lookup, NULL, &d);
        if (rc && !d.error[0])
            __builtin_trap(); /* every failure explains itself */
        if (rc == 0) {
            if (d.n > 1)
                qsort(d.recs, d.n, sizeof *d.recs, fz_cmp);
            gw_buf_t out = {0};
            if (gw_codec_encode(cf, &base, d.recs, d.n, &out) == 0 && must_redecode && !pass) {
                gw_decoded_t again;
                memset(&again, 0, sizeof again);
                if (gw_codec_decode(cf, &base, out.data, out.len, fz_lookup, NULL, &again) != 0)
                    __builtin_trap();
                if (again.n != d.n)
                    __builtin_trap();
                gw_decoded_free(&again);
            }
            gw_buf_free(&out);
        }
        gw_decoded_free(&d);
    }
    free(p);
}

#endif
