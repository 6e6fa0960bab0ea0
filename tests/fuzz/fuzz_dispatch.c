/*
 * libFuzzer target for the request dispatcher's parse stage
 * (lwm2m/request.c, as dm.c, composite.c and registration.c use it): Uri-Path
 * options, Write-Attributes queries, Execute arguments, payloads of
 * Write/Create, composite path lists and values, and the Location-Path of a
 * Register's answer. No session, store or network.
 *
 * Input: byte 0 picks the method (0: Location-Path instead of a request),
 * byte 1 the Content-Format, byte 2 the number of Uri-Path (or
 * Location-Path) options, each then as one length byte and its bytes; one
 * length byte and the query; the rest is the payload.
 *
 * Beyond "never crashes", what parses must mean one thing: a path that
 * parses formats and parses again to itself, and a Location-Path that joins
 * splits back into the same options.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/codec.h"
#include "lwm2m/registry.h"
#include "lwm2m/request.h"

static const gw_registry_t *registry(void)
{
    static gw_registry_t *reg;
    if (!reg && gw_registry_new(&reg) < 0)
        abort();
    return reg;
}

static void check_location(const gw_req_seg_t *segs, size_t n)
{
    char out[128];
    if (gw_req_location_join(segs, n, out, sizeof out) < 0)
        return;
    /* Split as add_location_path does: the same segments come back. */
    const char *p = out;
    size_t i = 0;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (i >= n || len != segs[i].len || memcmp(p, segs[i].p, len) != 0)
            abort();
        i++;
        p += len;
        if (*p == '/')
            p++;
    }
    if (i != n)
        abort();
}

static void check_path(const gw_req_seg_t *segs, size_t n)
{
    gw_path_t a, b;
    if (gw_req_path_parse(segs, n, &a) < 0)
        return;
    char s[40];
    gw_path_format(&a, s, sizeof s);
    if (gw_path_parse(s, &b) < 0 || a.len != b.len || memcmp(a.id, b.id, sizeof a.id[0] * a.len) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int methods[8] = {0, GW_REQ_GET, GW_REQ_POST, GW_REQ_PUT, GW_REQ_DELETE, GW_REQ_FETCH,
                                   GW_REQ_IPATCH, 6 /* PATCH: not answered */};
    static const int cfs[8] = {-1, GW_CF_TEXT, GW_CF_OPAQUE, GW_CF_SENML_JSON, GW_CF_SENML_CBOR,
                               GW_CF_LWM2M_TLV, GW_CF_LWM2M_JSON, GW_CF_CBOR};
    if (size < 3)
        return 0;
    gw_req_seg_t segs[8];
    size_t n = data[2] % 8, pos = 3;
    for (size_t i = 0; i < n; i++) {
        size_t len = pos < size ? data[pos++] : 0;
        if (len > size - pos)
            len = size - pos;
        segs[i].p = data + pos;
        segs[i].len = len;
        pos += len;
    }
    size_t qlen = pos < size ? data[pos++] : 0;
    if (qlen > size - pos)
        qlen = size - pos;
    const uint8_t *query = data + pos;
    pos += qlen;
    int method = methods[data[0] % 8];
    if (method == 0) {
        check_location(segs, n);
        return 0;
    }
    check_path(segs, n);
    gw_req_t req = {
        .method = method,
        .uri = segs,
        .n_uri = n,
        .query = qlen ? query : NULL,
        .query_len = qlen,
        .cf = cfs[data[1] % 8],
        .payload = data + pos,
        .len = size - pos,
    };
    char diag[160];
    int code = gw_req_parse(registry(), &req, diag, sizeof diag);
    /* A refusal always says why. */
    if (code != 0 && diag[0] == '\0')
        abort();
    return 0;
}
