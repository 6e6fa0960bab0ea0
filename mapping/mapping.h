/*
 * mapping/mapping.h - where readings land: the only place where sensor
 * vocabulary (device keys, field names, units) meets LwM2M vocabulary
 * (objects, instances, resources).
 *
 * For each device the configuration's field overrides and the default
 * semantic map (temperature -> 3303/x/5700 "Cel", humidity -> 3304, ...)
 * are resolved once into targets; a reading then costs one hash lookup of
 * the device key, a search among its few fields, a conversion and one
 * gw_store_set (plus the IPSO housekeeping 5601/5602/5518 of that instance).
 *
 * Loop thread only.
 */
#ifndef GW_MAPPING_MAPPING_H
#define GW_MAPPING_MAPPING_H

#include "../adapters/reading.h"
#include "../lwm2m/store.h"
#include "config.h"

/* Unit conversions the mapping applies before scale/offset are not needed:
 * order is value -> unit conversion -> *scale + offset -> clamp to min/max. */
typedef enum gw_unit_conv {
    GW_CONV_NONE = 0,
    GW_CONV_F_TO_C,    /* Fahrenheit -> Cel */
    GW_CONV_K_TO_C,    /* K -> Cel */
    GW_CONV_WH_TO_KWH,
    GW_CONV_PA_TO_HPA,
    GW_CONV_KPA_TO_HPA,
    GW_CONV_MV_TO_V,
    GW_CONV_MA_TO_A,
    GW_CONV_W_TO_KW,
    GW_CONV_V_TO_MV,   /* V -> mV (/3/0/7 Power Source Voltage is in mV) */
} gw_unit_conv_t;

/* One resolved field of one device. Strings point into the config or into
 * static tables: the config must outlive anything built from it. */
typedef struct gw_map_target {
    const char *field;
    gw_path_t path;            /* 3 levels, e.g. /3303/1/5700, or 4 for an instance of a
                                  multiple resource, e.g. /3/0/7/0 */
    gw_type_t type;            /* the resource's type in the registry */
    double scale, offset;
    bool has_min, has_max;
    double min, max;
    gw_unit_conv_t conv;       /* from the configured unit to the object's unit */
    const char *lwm2m_unit;    /* written to 5701 when the object has it, NULL otherwise */
    const char *application_type; /* written to 5750 when set */
    bool writable;
    int line;                  /* config line of the override, 0 for a default */
} gw_map_target_t;

/* Default semantic map: field kind -> object, resource, LwM2M unit.
 * Returns 0 or -ENOENT. Known kinds: temperature, humidity, pressure,
 * illuminance, voltage, current, power, energy, acceleration_x/_y/_z,
 * battery (/3/0/9), battery_voltage (/3/0/7/0, mV), rssi (/4/0/2),
 * snr / link_quality (/4/0/3),
 * latitude/longitude/altitude (/6/0/0,1,2), digital_input (3200/5500),
 * digital_output (3201/5550), on_off (3342/5500), ... (see ipso_defaults.c). */
typedef struct gw_field_default {
    const char *kind;
    uint16_t oid, rid;
    const char *unit;          /* LwM2M unit of the object, NULL for none */
    bool per_instance;         /* several fields of this kind get instances 0, 1, 2... */
    bool has_riid;             /* rid is a multiple resource: the kind lands on its
                                  instance riid (/3/0/7/0) */
    uint16_t riid;
    /* For /3/0/7 (Power Source Voltage) instances: the /3/0/6 (Available
     * Power Sources) code of the same instance the mapping fills when
     * nothing else set it (1 = internal battery); 0 for none. */
    uint8_t power_source;
} gw_field_default_t;
/* The path of kind d at object instance iid: /oid/iid/rid, or
 * /oid/iid/rid/riid when d->has_riid. */
gw_path_t gw_mapping_default_path(const gw_field_default_t *d, uint16_t iid);
const gw_field_default_t *gw_mapping_default(const char *field);

/* Unit conversion from a unit name as configs and adapters spell it
 * ("F", "°F", "Fahrenheit", "Wh", "Pa", ...) to the LwM2M unit `to`
 * ("Cel", "kWh", "hPa", ...). Returns 0 (with GW_CONV_NONE when they are
 * the same unit) or -EINVAL when no conversion exists. */
int gw_unit_conv_find(const char *from, const char *to, gw_unit_conv_t *out);
double gw_unit_conv_apply(gw_unit_conv_t c, double v);
/* Decimals a value with `decimals` decimals has after conversion c
 * (lwm2m/precision.h): Wh -> kWh adds 3, K -> Cel keeps at least 2,
 * Fahrenheit -> Cel (a factor 5/9, no short decimal) adds 2. */
int gw_unit_conv_decimals(gw_unit_conv_t c, int decimals);

/* Resolve every field of device d (its `resources` field overrides, the
 * fields its adapter declares (d->decls), and default-map kinds listed in
 * the overrides) into targets, in config order, allocating instances for
 * per-instance kinds after the instances the config uses explicitly.
 * *out is malloc'd (free()). On a problem returns -EINVAL with a message
 * "what is wrong, what is expected" in err (used by the config loader
 * for file:line reports and by --print-mapping). */
int gw_mapping_resolve(const gw_config_device_t *d, const gw_registry_t *reg, gw_map_target_t **out,
                       size_t *out_n, char *err, size_t err_size);

typedef struct gw_mapping gw_mapping_t;

/* Called when a reading of an unforeseen field made the mapping create a
 * new object instance on a client, so the owner sends a Registration
 * Update. */
typedef void (*gw_mapping_objects_fn)(void *ctx, gw_sclient_t *c);

/* store and reg are borrowed and outlive the mapping. */
int gw_mapping_new(gw_store_t *store, const gw_registry_t *reg, gw_mapping_t **out);
void gw_mapping_free(gw_mapping_t **m);
void gw_mapping_set_objects_hook(gw_mapping_t *m, gw_mapping_objects_fn fn, void *ctx);

/* Bind device_key (copied) to the store client c: resolves d's targets,
 * creates the instances they need in c (with 5701 units / 5750 application
 * type where the object has them). d is borrowed and must outlive the
 * binding (until remove or free). 0, -EEXIST, -EINVAL, -ENOMEM. */
int gw_mapping_add_device(gw_mapping_t *m, const char *device_key, gw_sclient_t *c,
                          const gw_config_device_t *d);
int gw_mapping_remove_device(gw_mapping_t *m, const char *device_key);
/* A reload's new definition d of a bound device (its key may change from
 * old_key to device_key, its client c stays): the binding is made again
 * against d, as gw_mapping_add_device does, and the fields its readings
 * brought at run time (in the default map but neither configured nor
 * declared: a decoder's new output) keep the instances they were given,
 * created again if the caller deleted them. One that d now configures or
 * declares follows d; one whose resource d gives to another field loses
 * it (logged) and takes a free instance at its next reading. No objects
 * hook is called: the caller compares the client's instances itself.
 * 0, -EINVAL, -ENOMEM, or what gw_mapping_add_device returns (the device
 * is then unbound). */
int gw_mapping_rebind_device(gw_mapping_t *m, const char *old_key, const char *device_key, gw_sclient_t *c,
                             const gw_config_device_t *d);
/* The device's resolved targets (borrowed), for --print-mapping and tests. */
int gw_mapping_targets(const gw_mapping_t *m, const char *device_key, const gw_map_target_t **out,
                       size_t *out_n);

/* The hot path: convert and store one reading. Unknown device: -ENOENT;
 * a field that is neither configured nor in the default map: -ENOENT;
 * a value that cannot be converted to the resource's type: -EINVAL. Every
 * failure is counted and logged (rate-limited per device and field), never
 * silent. Sensor housekeeping on success: 5601/5602 (min/max measured)
 * follow the value, 5518 (timestamp) gets the reading's time, when the
 * object defines them. */
int gw_mapping_reading(gw_mapping_t *m, const gw_reading_t *r);

/* For LwM2M Write/Execute routing: which device field a path is. 0 and
 * borrowed pointers, or -ENOENT. */
int gw_mapping_find_path(const gw_mapping_t *m, const gw_sclient_t *c, const gw_path_t *p,
                         const char **out_device_key, const gw_map_target_t **out_target);

typedef struct gw_mapping_stats {
    uint64_t readings;   /* stored */
    uint64_t unknown;    /* unknown device or field */
    uint64_t rejected;   /* conversion or store failure */
} gw_mapping_stats_t;
void gw_mapping_get_stats(const gw_mapping_t *m, gw_mapping_stats_t *out);

#endif
