/*
 * tests/fuzz/fuzz_lpp.c - uplink payloads as any LoRaWAN device may send
 * them, through the Cayenne LPP decoder and a byte-layout codec (bit
 * fields, floats, both endiannesses), from an exact-size copy so that a
 * read past the end is caught. A refusal must emit nothing; every field
 * must have a name and a value of a type the header lists.
 */
#include <errno.h>
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/payload/payload.h"
#include "mapping/config_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gw_payload_codec_t *make(const char *text)
{
    config_t cf;
    config_init(&cf);
    gw_payload_codec_t *c = NULL;
    if (config_read_string(&cf, text)) {
        gw_cfg_ctx_t ctx = {.file = "fuzz"};
        gw_payload_parse(&ctx, config_lookup(&cf, "codec"), "codec", &c);
        gw_config_flush_diags(&ctx);
    }
    config_destroy(&cf);
    if (!c)
        abort();
    return c;
}

static int emit(void *ctx, const gw_payload_field_t *f)
{
    size_t *n = ctx;
    if (!f->name || !f->name[0])
        abort();
    switch (f->value.type) {
    case GW_TYPE_FLOAT:
    case GW_TYPE_INTEGER:
    case GW_TYPE_UNSIGNED:
    case GW_TYPE_BOOLEAN:
    case GW_TYPE_TIME:
        break;
    case GW_TYPE_STRING:
        if (!f->value.v.bytes.ptr)
            abort();
        break;
    default:
        abort();
    }
    (*n)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gw_payload_codec_t *lpp, *lay;
    if (!lpp) {
        lpp = make("codec = \"lpp\";");
        lay = make("codec = { type = \"layout\"; uplinks = ( { fport = 1; fields = ("
                   "{ name = \"a\"; offset = 0; length = 2; type = \"int\"; scale = 0.01; },"
                   "{ name = \"b\"; offset = 2; length = 3; bit = 5; bits = 13; type = \"int\"; },"
                   "{ name = \"c\"; offset = 5; length = 8; endian = \"little\"; },"
                   "{ name = \"d\"; offset = 13; length = 4; type = \"float\"; },"
                   "{ name = \"e\"; offset = 17; length = 8; type = \"float\"; endian = \"little\"; }"
                   "); } ); };");
    }
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);
    gw_payload_codec_t *cs[] = {lpp, lay};
    for (size_t k = 0; k < 2; k++) {
        size_t n = 0;
        char msg[256];
        int rc = gw_payload_decode(cs[k], 1, p, size, emit, &n, msg, sizeof msg);
        if (rc < 0 && n != 0)
            abort();
        if (rc < 0 && rc != -EBADMSG)
            abort();
    }
    free(p);
    return 0;
}
