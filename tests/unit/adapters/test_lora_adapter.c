/* Unit tests for the LoRaWAN adapter's region table, session files and
 * reconfigure, driven by hand (no loop, no socket): datagrams go to
 * gw_lora_datagram. Frames: lora-packet's uplink vector
 * 40F17DBE4900020001954378762B11FF0D (FCnt 2, DevAddr 49BE7DF1; keys in
 * shared/test-vectors/README.md). */
#include "gwtest.h"

#include "adapters/lora/lora.h"
#include "adapters/lora/semtech.h"
#include "adapters/lora/state.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

extern const gw_adapter_ops_t gw_adapter_lora;

GW_TEST(test_regions)
{
    const lora_region_t *eu = lora_region_find("eu868"), *us = lora_region_find("US915");
    CHECK(eu && us);
    CHECK(lora_region_find("AS923-9") == NULL);
    double f = 0;
    const char *dr = NULL;
    CHECK_EQ_INT(lora_region_rx1(eu, 868.3, "SF9BW125", 0, &f, &dr), 0);
    CHECK_NEAR(f, 868.3, 1e-9);
    CHECK_EQ_STR(dr, "SF9BW125");
    CHECK_EQ_INT(lora_region_rx1(eu, 868.3, "SF9BW125", 2, &f, &dr), 0);
    CHECK_EQ_STR(dr, "SF11BW125");
    /* US915: uplink channel 9 (904.1 MHz) -> RX1 channel 1, 923.9 MHz; DR0 -> DR10 */
    CHECK_EQ_INT(lora_region_rx1(us, 904.1, "SF10BW125", 0, &f, &dr), 0);
    CHECK_NEAR(f, 923.9, 1e-9);
    CHECK_EQ_STR(dr, "SF10BW500");
    /* 500 kHz channel 65 (904.6 MHz), DR4 -> DR13, RX1 channel 1 */
    CHECK_EQ_INT(lora_region_rx1(us, 904.6, "SF8BW500", 0, &f, &dr), 0);
    CHECK_NEAR(f, 923.9, 1e-9);
    CHECK_EQ_STR(dr, "SF7BW500");
    CHECK_EQ_INT(lora_region_rx1(us, 868.1, "SF10BW125", 0, &f, &dr), -EINVAL);
    CHECK_EQ_INT(lora_region_rx1(eu, 868.1, "SF12BW500", 0, &f, &dr), -EINVAL);
}

GW_TEST(test_state_file)
{
    char dir[] = "/tmp/test-lora-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    lora_state_t st = {.identity = 0x1234, .have_fcnt_up = true, .fcnt_up = 70000,
                       .fcnt_down = 3, .joined = true, .devaddr = 0x26011bda};
    st.nwk_skey[0] = 0xAB;
    st.app_skey[15] = 0xCD;
    CHECK_EQ_INT(lora_state_add_nonce(&st, 0x3b5a), 0);
    CHECK_EQ_INT(lora_state_save(dir, "dev", &st), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/dev.lora", dir);
    struct stat sb;
    CHECK_EQ_INT(stat(path, &sb), 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0600);
    lora_state_t back;
    CHECK_EQ_INT(lora_state_load(dir, "dev", &back), 0);
    CHECK(back.identity == 0x1234 && back.have_fcnt_up && back.fcnt_up == 70000);
    CHECK(back.fcnt_down == 3 && back.joined && back.devaddr == 0x26011bda);
    CHECK(back.nwk_skey[0] == 0xAB && back.app_skey[15] == 0xCD);
    CHECK(lora_state_has_nonce(&back, 0x3b5a) && !lora_state_has_nonce(&back, 1));
    lora_state_free(&back);
    FILE *f = fopen(path, "a");
    fputs("fcnt_up -1\n", f);
    fclose(f);
    CHECK_EQ_INT(lora_state_load(dir, "dev", &back), -EBADMSG);
    CHECK_EQ_INT(lora_state_load(dir, "none", &back), -ENOENT);
    lora_state_free(&st);
    char name[32];
    lora_state_name("../x/y", name, sizeof name);
    CHECK_EQ_STR(name, "_._x_y");
    unlink(path);
    rmdir(dir);
}

static int n_readings;

static int on_reading(void *ctx, const gw_reading_t *r)
{
    (void)ctx, (void)r;
    n_readings++;
    return 0;
}

static void push(gw_adapter_t *a, const char *phy_hex)
{
    uint8_t phy[64], b64[128], dg[512];
    size_t n = strlen(phy_hex) / 2;
    CHECK_EQ_INT(lora_hex_parse(phy_hex, phy, n), 0);
    sem_b64_encode(phy, n, (char *)b64, sizeof b64);
    int k = snprintf((char *)dg + 12, sizeof dg - 12,
                     "{\"rxpk\":[{\"tmst\":1,\"freq\":868.1,\"stat\":1,\"modu\":\"LORA\","
                     "\"datr\":\"SF7BW125\",\"rssi\":-50,\"lsnr\":7,\"size\":%zu,\"data\":\"%s\"}]}",
                     n, b64);
    memcpy(dg, "\x02\x01\x02\x00\x01\x02\x03\x04\x05\x06\x07\x08", 12);
    gw_lora_datagram(a, dg, 12 + (size_t)k, NULL, 0);
}

GW_TEST(test_reconfigure_keeps_counters)
{
    char dir[] = "/tmp/test-lora-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    lora_section_t sec = {0};
    CHECK_EQ_INT(gw_lora_section_defaults(&sec), 0);
    free(sec.state_dir);
    sec.state_dir = dir;
    sec.dedup_ms = 0;
    sec.flush_ms = 600000;
    lora_part_t abp = {.has_dev_addr = true, .has_nwk = true, .has_app = true,
                       .dev_addr = 0x49BE7DF1};
    lora_hex_parse("44024241ed4ce9a68c6a8bc055233fd3", abp.nwk_skey, 16);
    lora_hex_parse("ec925802ae430ca77fd3dd73cb2cc588", abp.app_skey, 16);
    lora_part_t other = abp;
    other.dev_addr = 0x01020304;
    gw_adapter_device_t devs[2] = {{.key = "lora:49be7df1", .endpoint = "a", .conf = &abp},
                                   {.key = "lora:01020304", .endpoint = "b", .conf = &other}};
    gw_adapter_env_t env = {.emit = on_reading};
    gw_adapter_t *a = NULL;
    CHECK_EQ_INT(gw_adapter_lora.create(&env, &sec, devs, 2, &a), 0);
    push(a, "40F17DBE4900020001954378762B11FF0D");
    CHECK_EQ_INT(gw_lora_counters(a).uplinks, 1);
    CHECK_EQ_INT(n_readings, 2); /* rssi, snr: no codec */
    /* the other device removed: the first keeps its counter */
    gw_adapter_change_t ch = {.kind = GW_ADAPTER_REMOVED, .dev = devs[1]};
    CHECK_EQ_INT(gw_adapter_lora.reconfigure(a, &ch, 1), 0);
    push(a, "40F17DBE4900020001954378762B11FF0D");
    CHECK_EQ_INT(gw_lora_counters(a).replays, 1);
    /* changed, same keys (another absence time): the counter stays */
    lora_part_t abp2 = abp;
    abp2.absent_after_s = 60;
    ch = (gw_adapter_change_t){.kind = GW_ADAPTER_CHANGED,
                               .dev = {.key = "lora:49be7df1", .endpoint = "a", .conf = &abp2}};
    CHECK_EQ_INT(gw_adapter_lora.reconfigure(a, &ch, 1), 0);
    push(a, "40F17DBE4900020001954378762B11FF0D");
    CHECK_EQ_INT(gw_lora_counters(a).replays, 2);
    /* no codec: no write */
    gw_value_t v = {.type = GW_TYPE_BOOLEAN, .v.b = true};
    CHECK_EQ_INT(gw_adapter_lora.write_check(a, "lora:49be7df1", "x", &v, NULL), -ENOTSUP);
    CHECK_EQ_INT(gw_adapter_lora.write_check(a, "lora:nope", "x", &v, NULL), -ENOENT);
    gw_adapter_lora.destroy(&a);
    /* a new instance reads the counter back from state_dir */
    CHECK_EQ_INT(gw_adapter_lora.create(&env, &sec, devs, 1, &a), 0);
    push(a, "40F17DBE4900020001954378762B11FF0D");
    CHECK_EQ_INT(gw_lora_counters(a).replays, 1);
    CHECK_EQ_INT(gw_lora_counters(a).uplinks, 0);
    gw_adapter_lora.destroy(&a);
    char path[128];
    snprintf(path, sizeof path, "%s/49be7df1.lora", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/01020304.lora", dir);
    unlink(path);
    rmdir(dir);
    free(sec.listen);
}

int main(void)
{
    static const struct gwt_case cases[] = {
        GWT_CASE(test_regions),
        GWT_CASE(test_state_file),
        GWT_CASE(test_reconfigure_keeps_counters),
    };
    return gwt_run("test_lora_adapter", cases, sizeof cases / sizeof cases[0]);
}
