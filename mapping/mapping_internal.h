/*
 * mapping/mapping_internal.h - what the files of the mapping runtime share
 * and nothing outside mapping/ should use.
 */
#ifndef GW_MAPPING_MAPPING_INTERNAL_H
#define GW_MAPPING_MAPPING_INTERNAL_H

#include "mapping.h"

/* Resource ids of the IPSO sensor housekeeping (IPSO reusable resources). */
enum {
    GW_RID_DIGITAL_STATE = 5500,
    GW_RID_TIMESTAMP = 5518,
    GW_RID_MIN_MEASURED = 5601,
    GW_RID_MAX_MEASURED = 5602,
    GW_RID_SENSOR_VALUE = 5700,
    GW_RID_SENSOR_UNITS = 5701,
    GW_RID_APPLICATION_TYPE = 5750,
};

/* The default entry whose object and resource are oid/rid (first in table
 * order), so an explicit path such as /3303/1/5700 still learns "Cel".
 * NULL when none. */
const gw_field_default_t *gw_mapping_default_for_path(uint16_t oid, uint16_t rid);

/* Fill t from the default d for field (borrowed) at instance iid, with
 * scale 1 and no clamping. */
void gw_mapping_target_from_default(gw_map_target_t *t, const char *field,
                                    const gw_field_default_t *d, uint16_t iid,
                                    const gw_registry_t *reg);

#endif
