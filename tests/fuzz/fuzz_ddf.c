/*
 * libFuzzer target for the DDF XML loader (lwm2m/ddf.c). One registry lives
 * for the whole run so that overrides replacing earlier overrides (and the
 * retired list behind them) are exercised too; it is rebuilt now and then
 * to keep memory flat.
 */
#include "lwm2m/registry.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void discard(void *ctx, const char *file, int line, const char *msg)
{
    (void)ctx;
    (void)file;
    (void)line;
    (void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gw_registry_t *r;
    static unsigned runs;
    if (!r && gw_registry_new(&r) < 0)
        return 0;
    if (gw_registry_load_buffer(r, "fuzz.xml", (const char *)data, size, discard, NULL) == 0) {
        /* Walk what was accepted: sorted, lookups agree. */
        for (uint16_t oid = 0; oid < 8; oid++) {
            const gw_objdef_t *o = gw_registry_find(r, oid);
            for (uint16_t i = 0; o && i < o->n_res; i++) {
                if (gw_objdef_find_res(o, o->res[i].id) != &o->res[i])
                    __builtin_trap();
                (void)gw_objdef_find_res_by_name(o, o->res[i].name);
            }
        }
    }
    if (++runs % 1024 == 0)
        gw_registry_free(&r);
    return 0;
}
