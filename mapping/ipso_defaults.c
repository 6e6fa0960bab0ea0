/*
 * mapping/ipso_defaults.c - the default semantic map: which LwM2M object and
 * resource a sensor field lands in when the configuration does not say.
 *
 * Object and resource ids, types and units were checked against the OMA DDF
 * files of ../shared/lwm2m-registry (OpenMobileAlliance/lwm2m-registry);
 * units are the SenML/IPSO spellings that the DDF descriptions give as
 * examples ("Cel", "%RH", "hPa", ...).
 *
 * A per-instance kind also matches "<kind>_<suffix>" and "<kind><digits>"
 * ("temperature_outdoor", "temperature2"), so a device with several probes
 * gets /3303/0, /3303/1, ... without any configuration.
 */
#include <string.h>

#include "mapping_internal.h"

/* Designated, so that the resource-instance fields stay 0 where unset. */
#define KIND(k, o, r, u, per) {.kind = k, .oid = o, .rid = r, .unit = u, .per_instance = per}

static const gw_field_default_t defaults[] = {
    KIND("temperature", 3303, 5700, "Cel", true),
    KIND("humidity", 3304, 5700, "%RH", true),
    /* 3315 Barometer is "an air pressure sensor to report a barometer
     * measurement", which is what the environmental sensors bridged here
     * (BME280, BTHome, weather stations) measure; 3323 Pressure is the
     * generic object for fluids and is left to explicit paths. hPa is how
     * those sensors and weather services report air pressure. */
    KIND("pressure", 3315, 5700, "hPa", true),
    KIND("illuminance", 3301, 5700, "lx", true),
    KIND("voltage", 3316, 5700, "V", true),
    /* /3/0/7 Power Source Voltage is a multiple Integer resource in mV
     * (3.xml's description; its Units element is empty), one instance per
     * power source of /3/0/6: a device's battery is its first power source,
     * instance 0, and /3/0/6/0 then says 1 (internal battery). */
    {.kind = "battery_voltage", .oid = 3, .rid = 7, .unit = "mV", .has_riid = true, .riid = 0,
     .power_source = 1},
    KIND("current", 3317, 5700, "A", true),
    KIND("power", 3328, 5700, "W", true),
    KIND("energy", 3331, 5700, "kWh", true),
    KIND("frequency", 3318, 5700, "Hz", true),
    KIND("distance", 3330, 5700, "m", true),
    KIND("co2", 3325, 5700, "ppm", true),
    KIND("concentration", 3325, 5700, "ppm", true),
    KIND("loudness", 3324, 5700, "dB", true),
    KIND("percentage", 3320, 5700, "%", true),
    KIND("depth", 3319, 5700, "mm", true),
    KIND("ph", 3326, 5700, "pH", true),
    KIND("power_factor", 3329, 5700, NULL, true),
    KIND("generic", 3300, 5700, NULL, true),
    /* One accelerometer, three axes: the axes share instance 0. */
    KIND("acceleration_x", 3313, 5702, "G", false),
    KIND("acceleration_y", 3313, 5703, "G", false),
    KIND("acceleration_z", 3313, 5704, "G", false),
    KIND("digital_input", 3200, 5500, NULL, true),
    KIND("digital_output", 3201, 5550, NULL, true),
    KIND("on_off", 3342, 5500, NULL, true),
    KIND("presence", 3302, 5500, NULL, true),
    /* Device, Connectivity Monitoring and Location are single-instance. */
    KIND("battery", 3, 9, "%", false),            /* Battery Level, Integer 0..100 */
    KIND("rssi", 4, 2, "dBm", false),             /* Radio Signal Strength, Integer */
    KIND("link_quality", 4, 3, NULL, false),      /* Link Quality, Integer */
    /* The 1.2 Connectivity Monitoring object has a SignalSNR resource (dB):
     * an SNR is not a link quality, so it goes there rather than to /4/0/3. */
    KIND("snr", 4, 11, "dB", false),
    KIND("latitude", 6, 0, "lat", false),
    KIND("longitude", 6, 1, "lon", false),
    KIND("altitude", 6, 2, "m", false),
};

#define N_DEFAULTS (sizeof defaults / sizeof defaults[0])

static bool suffix_ok(const char *rest)
{
    if (*rest == '_')
        return rest[1] != '\0';
    if (*rest < '0' || *rest > '9')
        return false;
    for (; *rest; rest++)
        if (*rest < '0' || *rest > '9')
            return false;
    return true;
}

const gw_field_default_t *gw_mapping_default(const char *field)
{
    if (!field)
        return NULL;
    for (size_t i = 0; i < N_DEFAULTS; i++)
        if (strcmp(field, defaults[i].kind) == 0)
            return &defaults[i];
    /* Prefix matches come second so "battery_voltage" is never read as a
     * "battery" with a suffix, nor "power_factor" as a "power". */
    for (size_t i = 0; i < N_DEFAULTS; i++) {
        size_t n = strlen(defaults[i].kind);
        if (defaults[i].per_instance && strncmp(field, defaults[i].kind, n) == 0 &&
            suffix_ok(field + n))
            return &defaults[i];
    }
    return NULL;
}

const gw_field_default_t *gw_mapping_default_for_path(uint16_t oid, uint16_t rid)
{
    for (size_t i = 0; i < N_DEFAULTS; i++)
        if (defaults[i].oid == oid && defaults[i].rid == rid)
            return &defaults[i];
    return NULL;
}

gw_path_t gw_mapping_default_path(const gw_field_default_t *d, uint16_t iid)
{
    if (d->has_riid)
        return (gw_path_t){{d->oid, iid, d->rid, d->riid}, 4};
    return (gw_path_t){{d->oid, iid, d->rid, GW_ID_NONE}, 3};
}

void gw_mapping_target_from_default(gw_map_target_t *t, const char *field,
                                    const gw_field_default_t *d, uint16_t iid,
                                    const gw_registry_t *reg)
{
    const gw_resdef_t *rd = gw_objdef_find_res(gw_registry_find(reg, d->oid), d->rid);
    *t = (gw_map_target_t){
        .field = field,
        .path = gw_mapping_default_path(d, iid),
        .type = rd ? (gw_type_t)rd->type : GW_TYPE_NONE,
        .scale = 1.0,
        .conv = GW_CONV_NONE,
        .lwm2m_unit = d->unit,
    };
}
