/* Every device key belongs to one adapter: the configuration loader finds
 * a key's adapter by its name, so a key two adapters declare is taken by
 * the first and refused on the other's devices (the BLE adapter's advert
 * codec once took lora's "codec"). */
#include "gwtest.h"

#include "adapters/adapter.h"

GW_TEST(test_device_keys_are_unique_across_adapters)
{
    for (size_t a = 0; gw_adapters[a]; a++) {
        const gw_adapter_conf_ops_t *ca = gw_adapters[a]->conf;
        for (size_t i = 0; ca && i < ca->n_keys; i++)
            for (size_t b = a; gw_adapters[b]; b++) {
                const gw_adapter_conf_ops_t *cb = gw_adapters[b]->conf;
                for (size_t j = b == a ? i + 1 : 0; cb && j < cb->n_keys; j++)
                    if (strcmp(ca->keys[i].name, cb->keys[j].name) == 0) {
                        fprintf(stderr, "key \"%s\" of %s and %s\n", ca->keys[i].name,
                                gw_adapters[a]->name, gw_adapters[b]->name);
                        CHECK(0);
                    }
            }
    }
}

GW_TEST_MAIN(test_device_keys_are_unique_across_adapters)
