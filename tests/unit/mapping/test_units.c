/* Unit tests for mapping/units.c and the default map (mapping/ipso_defaults.c). */
#include "gwtest.h"

#include "mapping/mapping.h"

#include <errno.h>
#include <string.h>

static gw_unit_conv_t conv_of(const char *from, const char *to)
{
    gw_unit_conv_t c = (gw_unit_conv_t)-1;
    CHECK_EQ_INT(gw_unit_conv_find(from, to, &c), 0);
    return c;
}

GW_TEST(test_identity)
{
    static const char *units[] = {"Cel", "%RH", "kWh", "hPa", "V", "A", "W", "dBm", "lx"};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        CHECK_EQ_INT(conv_of(units[i], units[i]), GW_CONV_NONE);
    CHECK_EQ_INT(conv_of("°C", "Cel"), GW_CONV_NONE);
    CHECK_EQ_INT(conv_of("degC", "Cel"), GW_CONV_NONE);
    CHECK_EQ_INT(conv_of("%", "%RH"), GW_CONV_NONE);
}

GW_TEST(test_spellings)
{
    CHECK_EQ_INT(conv_of("F", "Cel"), GW_CONV_F_TO_C);
    CHECK_EQ_INT(conv_of("°F", "Cel"), GW_CONV_F_TO_C);
    CHECK_EQ_INT(conv_of("degF", "Cel"), GW_CONV_F_TO_C);
    CHECK_EQ_INT(conv_of("Fahrenheit", "Cel"), GW_CONV_F_TO_C);
    CHECK_EQ_INT(conv_of("fahrenheit", "Cel"), GW_CONV_F_TO_C);
    CHECK_EQ_INT(conv_of("K", "Cel"), GW_CONV_K_TO_C);
    CHECK_EQ_INT(conv_of("Kelvin", "Cel"), GW_CONV_K_TO_C);
    CHECK_EQ_INT(conv_of("Wh", "kWh"), GW_CONV_WH_TO_KWH);
    CHECK_EQ_INT(conv_of("Pa", "hPa"), GW_CONV_PA_TO_HPA);
    CHECK_EQ_INT(conv_of("kPa", "hPa"), GW_CONV_KPA_TO_HPA);
    CHECK_EQ_INT(conv_of("mV", "V"), GW_CONV_MV_TO_V);
    CHECK_EQ_INT(conv_of("mA", "A"), GW_CONV_MA_TO_A);
    CHECK_EQ_INT(conv_of("W", "kW"), GW_CONV_W_TO_KW);
    CHECK_EQ_INT(conv_of("V", "mV"), GW_CONV_V_TO_MV);
}

GW_TEST(test_no_conversion)
{
    gw_unit_conv_t c;
    CHECK_EQ_INT(gw_unit_conv_find("furlong", "Cel", &c), -EINVAL);
    CHECK_EQ_INT(gw_unit_conv_find("Wh", "Cel", &c), -EINVAL);
    CHECK_EQ_INT(gw_unit_conv_find("MV", "V", &c), -EINVAL); /* symbols are case-sensitive */
    CHECK_EQ_INT(gw_unit_conv_find("cel", "Cel", &c), -EINVAL);
    CHECK_EQ_INT(gw_unit_conv_find(NULL, "Cel", &c), -EINVAL);
    CHECK_EQ_INT(gw_unit_conv_find("F", NULL, &c), -EINVAL);
}

GW_TEST(test_apply)
{
    CHECK_NEAR(gw_unit_conv_apply(GW_CONV_NONE, 21.5), 21.5, 1e-12);
    CHECK_NEAR(gw_unit_conv_apply(GW_CONV_F_TO_C, 212), 100, 1e-9);
    CHECK_NEAR(gw_unit_conv_apply(GW_CONV_F_TO_C, -40), -40, 1e-9);
    CHECK_NEAR(gw_unit_conv_apply(GW_CONV_K_TO_C, 273.15), 0, 1e-9);
    CHECK_NEAR(gw_unit_conv_apply(GW_CONV_WH_TO_KWH, 1500), 1.5, 1e-12);
    CHECK_NEAR(gw_unit_conv_apply(GW_CONV_PA_TO_HPA, 101325), 1013.25, 1e-9);
    CHECK_NEAR(gw_unit_conv_apply(GW_CONV_KPA_TO_HPA, 101.325), 1013.25, 1e-9);
    CHECK_NEAR(gw_unit_conv_apply(GW_CONV_MV_TO_V, 3300), 3.3, 1e-12);
    CHECK_NEAR(gw_unit_conv_apply(GW_CONV_MA_TO_A, 250), 0.25, 1e-12);
    CHECK_NEAR(gw_unit_conv_apply(GW_CONV_W_TO_KW, 2000), 2, 1e-12);
    CHECK_NEAR(gw_unit_conv_apply(GW_CONV_V_TO_MV, 3.007), 3007, 1e-9);
    /* A Ruuvi's 3.007 V (3 decimals) is a whole number of mV. */
    CHECK_EQ_INT(gw_unit_conv_decimals(GW_CONV_V_TO_MV, 3), 0);
}

GW_TEST(test_defaults)
{
    const gw_field_default_t *d = gw_mapping_default("temperature");
    CHECK(d && d->oid == 3303 && d->rid == 5700 && d->per_instance);
    CHECK_EQ_STR(d ? d->unit : NULL, "Cel");
    d = gw_mapping_default("humidity");
    CHECK(d && d->oid == 3304 && strcmp(d->unit, "%RH") == 0);
    d = gw_mapping_default("battery");
    CHECK(d && d->oid == 3 && d->rid == 9 && !d->per_instance);
    d = gw_mapping_default("rssi");
    CHECK(d && d->oid == 4 && d->rid == 2);
    d = gw_mapping_default("acceleration_y");
    CHECK(d && d->oid == 3313 && d->rid == 5703 && !d->per_instance);
    d = gw_mapping_default("longitude");
    CHECK(d && d->oid == 6 && d->rid == 1);
    d = gw_mapping_default("temperature_outdoor");
    CHECK(d && d->oid == 3303);
    d = gw_mapping_default("temperature2");
    CHECK(d && d->oid == 3303);
    /* A battery voltage is the device's first power source, in mV. */
    d = gw_mapping_default("battery_voltage");
    CHECK(d && d->oid == 3 && d->rid == 7 && d->has_riid && d->riid == 0 && !d->per_instance);
    CHECK(d && d->power_source == 1 && strcmp(d->unit, "mV") == 0);
    if (d) {
        gw_path_t p = gw_mapping_default_path(d, 0);
        char buf[32];
        CHECK_EQ_STR(gw_path_format(&p, buf, sizeof buf), "/3/0/7/0");
    }
    d = gw_mapping_default("battery");
    CHECK(d && !d->has_riid && d->power_source == 0);
    CHECK(gw_mapping_default("temperaturex") == NULL);
    CHECK(gw_mapping_default("temperature_") == NULL);
    CHECK(gw_mapping_default("battery_2") == NULL); /* single-instance: no suffixes */
    CHECK(gw_mapping_default("t_probe") == NULL);
    CHECK(gw_mapping_default(NULL) == NULL);
}

/* Every default must name a resource the built-in registry has, of a type a
 * reading can fill: single-instance, or an instance of a multiple one. */
GW_TEST(test_defaults_in_registry)
{
    static const char *kinds[] = {
        "temperature", "humidity", "pressure", "illuminance", "voltage", "battery_voltage",
        "current", "power", "energy", "frequency", "distance", "co2", "concentration",
        "loudness", "percentage", "depth", "ph", "power_factor", "generic", "acceleration_x",
        "acceleration_y", "acceleration_z", "digital_input", "digital_output", "on_off",
        "presence", "battery", "rssi", "link_quality", "snr", "latitude", "longitude",
        "altitude"};
    gw_registry_t *reg = NULL;
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const gw_field_default_t *d = gw_mapping_default(kinds[i]);
        CHECK(d != NULL);
        if (!d)
            continue;
        CHECK_EQ_STR(d->kind, kinds[i]);
        const gw_objdef_t *o = gw_registry_find(reg, d->oid);
        const gw_resdef_t *r = gw_objdef_find_res(o, d->rid);
        CHECK(o && r);
        if (!o || !r)
            continue;
        CHECK(r->multiple == d->has_riid);
        CHECK(r->type == GW_TYPE_FLOAT || r->type == GW_TYPE_INTEGER || r->type == GW_TYPE_BOOLEAN);
        CHECK(d->per_instance == o->multiple || !d->per_instance);
    }
    gw_registry_free(&reg);
}

GW_TEST_MAIN(test_identity, test_spellings, test_no_conversion, test_apply, test_defaults,
             test_defaults_in_registry)
