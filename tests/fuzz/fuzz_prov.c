/*
 * libFuzzer target for the provisioning file parser (lwm2m/prov_file.c):
 * whatever parses must encode again to a file that parses to the same
 * records.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/prov_file.h"

static gw_registry_t *reg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gw_record_t *recs = NULL, *again = NULL;
    size_t n = 0, n2 = 0;
    char why[160] = "";
    if (!reg && gw_registry_new(&reg) < 0)
        abort();
    int rc = gw_prov_parse(data, size, reg, &recs, &n, why, sizeof why);
    if (rc == 0) {
        gw_buf_t out = {0};
        if (gw_prov_encode(recs, n, &out) != 0)
            abort(); /* every parsed record must be encodable */
        if (gw_prov_parse(out.data, out.len, reg, &again, &n2, why, sizeof why) != 0 || n2 != n)
            abort();
        for (size_t i = 0; i < n; i++)
            if (gw_path_cmp(&recs[i].path, &again[i].path) != 0 || recs[i].value.type != again[i].value.type)
                abort();
        free(again);
        gw_buf_free(&out);
    } else if (rc == -EINVAL && !why[0]) {
        abort(); /* a refusal always says why */
    }
    free(recs);
    return 0;
}
