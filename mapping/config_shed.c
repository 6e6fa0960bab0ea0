/*
 * mapping/config_shed.c - giving back what a running device no longer needs.
 *
 * With 10,000 devices the initial values and device strings of the parsed
 * file cost about as much memory as the virtual clients themselves, yet
 * once they are in the resource store only a reload looks at a device
 * again, and a reload compares fingerprints and builds changed devices from
 * the freshly loaded file.
 */
#include <stdlib.h>

#include "config_internal.h"

void gw_config_device_shed(gw_config_device_t *d)
{
    for (size_t i = 0; i < d->n_resources; i++)
        gw_config_free_value(&d->resources[i].value);
    free(d->resources);
    d->resources = NULL;
    d->n_resources = 0;
    gw_config_free_access(d); /* in the store as object 2 instances */
    free(d->manufacturer);
    free(d->model);
    free(d->serial);
    free(d->firmware);
    d->manufacturer = d->model = d->serial = d->firmware = NULL;
}
