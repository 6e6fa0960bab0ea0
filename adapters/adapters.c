/*
 * adapters/adapters.c - the table of adapters compiled in, chosen by the
 * configuration's adapter = "..." at run time.
 */
#include <string.h>

#include "adapters_internal.h"

const gw_adapter_ops_t *const gw_adapters[] = {&gw_adapter_static, &gw_adapter_simulated, &gw_adapter_modbus, &gw_adapter_ble, &gw_adapter_lora, NULL};

const gw_adapter_ops_t *gw_adapter_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; gw_adapters[i]; i++)
        if (strcmp(gw_adapters[i]->name, name) == 0)
            return gw_adapters[i];
    return NULL;
}
