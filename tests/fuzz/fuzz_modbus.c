/*
 * tests/fuzz/fuzz_modbus.c - register contents as a device may send them:
 * the first bytes choose a register entry (type, order, length, scale), the
 * rest are the words. Decoding must never crash, and a value that decodes
 * must encode back for writable types.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "adapters/modbus/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    static const uint16_t counts[] = {1, 1, 1, 2, 2, 4, 4, 2, 4, 0};
    gw_config_modbus_reg_t r = {.field = "f", .table = GW_MODBUS_HOLDING,
                                .type = (uint8_t)(data[0] % 10), .order = (uint8_t)(data[1] % 5),
                                .scale = (data[2] & 1) ? 0.1 : 1.0};
    r.count = r.type == GW_MODBUS_STRING ? (uint16_t)(data[2] % 126) : counts[r.type];
    uint16_t words[GW_MODBUS_MAX_REGS];
    size_t n = (size - 3) / 2;
    if (n > GW_MODBUS_MAX_REGS)
        n = GW_MODBUS_MAX_REGS;
    for (size_t i = 0; i < n; i++)
        words[i] = (uint16_t)(data[3 + 2 * i] << 8 | data[4 + 2 * i]);
    char str[2 * GW_MODBUS_MAX_REGS + 1];
    gw_value_t v;
    if (gw_modbus_decode(&r, words, n, &v, str, sizeof str) == 0 && v.type == GW_TYPE_FLOAT) {
        uint16_t back[4];
        (void)gw_modbus_encode(&r, v.v.f, back, 4);
    }
    /* The planner on entries made from the same bytes. */
    gw_config_modbus_reg_t regs[16];
    const gw_config_modbus_reg_t *p[16];
    size_t nr = 0;
    for (size_t i = 0; i + 2 < n && nr < 16; i += 3, nr++) {
        regs[nr] = r;
        regs[nr].table = (uint8_t)(words[i] % 4);
        regs[nr].address = words[i + 1];
        regs[nr].count = (uint16_t)(words[i + 2] % 130);
        p[nr] = &regs[nr];
    }
    gw_modbus_block_t b[16];
    (void)gw_modbus_plan(p, nr, (int)(data[2] % 40), b, 16);
    return 0;
}
