/*
 * adapters/adapters_internal.h - the adapter tables adapters.c lists.
 */
#ifndef GW_ADAPTERS_ADAPTERS_INTERNAL_H
#define GW_ADAPTERS_ADAPTERS_INTERNAL_H

#include "adapter.h"

extern const gw_adapter_ops_t gw_adapter_static;
extern const gw_adapter_ops_t gw_adapter_simulated;
extern const gw_adapter_ops_t gw_adapter_modbus;
extern const gw_adapter_ops_t gw_adapter_ble;
extern const gw_adapter_ops_t gw_adapter_lora;

#endif
