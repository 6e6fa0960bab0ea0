/* Unit tests for adapters/lora/mac.c against published and independently
 * computed vectors:
 *   - data frames: npm package lora-packet, its __tests__/ (as listed in
 *     shared/test-vectors/README.md): NwkSKey 44024241ed4ce9a68c6a8bc055233fd3,
 *     AppSKey ec925802ae430ca77fd3dd73cb2cc588;
 *   - Join-Request, Join-Accept, session keys and a downlink: computed with
 *     lora-packet 0.9.3 (an implementation independent of this one), inputs
 *     AppKey B6B53F4A168A7A88BDF7EA135CE9CFCA, AppNonce C6B2A5, NetID 000013,
 *     DevAddr 26011BDA, DevNonce 3B5A, AppEUI 70B3D57ED0000001, DevEUI
 *     0004A30B001C0530. */
#include "gwtest.h"

#include "adapters/lora/mac.h"

#include <errno.h>

static const char *NWK = "44024241ed4ce9a68c6a8bc055233fd3";
static const char *APP = "ec925802ae430ca77fd3dd73cb2cc588";

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2;
    CHECK(lora_hex_parse(h, out, n) == 0);
    return n;
}

GW_TEST(test_uplink_test)
{
    uint8_t p[64], nwk[16], app[16], mic[4], clear[64];
    size_t n = unhex("40F17DBE4900020001954378762B11FF0D", p);
    unhex(NWK, nwk);
    unhex(APP, app);
    lora_frame_t f;
    CHECK_EQ_INT(lora_frame_parse(p, n, &f), 0);
    CHECK_EQ_INT(f.mtype, LORA_MT_UNCONF_UP);
    CHECK_EQ_INT(f.devaddr, 0x49BE7DF1u);
    CHECK_EQ_INT(f.fcnt16, 2);
    CHECK_EQ_INT(f.fport, 1);
    CHECK_EQ_INT(f.frm_len, 4);
    CHECK_EQ_INT(lora_data_mic(nwk, 0, f.devaddr, 2, p, f.msg_len, mic), 0);
    CHECK_EQ_MEM(mic, 4, "\x2B\x11\xFF\x0D", 4);
    CHECK_EQ_MEM(f.mic, 4, mic, 4);
    CHECK_EQ_INT(lora_payload_crypt(app, 0, f.devaddr, 2, f.frm, f.frm_len, clear), 0);
    CHECK_EQ_MEM(clear, 4, "test", 4);
    /* The wrong key or counter fails the MIC. */
    CHECK_EQ_INT(lora_data_mic(app, 0, f.devaddr, 2, p, f.msg_len, mic), 0);
    CHECK(memcmp(mic, f.mic, 4) != 0);
    CHECK_EQ_INT(lora_data_mic(nwk, 0, f.devaddr, 0x10002, p, f.msg_len, mic), 0);
    CHECK(memcmp(mic, f.mic, 4) != 0);
}

GW_TEST(test_uplink_three_blocks)
{
    uint8_t p[128], nwk[16], app[16], mic[4], clear[64];
    size_t n = unhex("40f17dbe490004000155332de41a11adc072553544429ce7787707d1c316e027e7e5e334263376"
                     "affb8aa17ad30075293f28dea8a20af3c5e7", p);
    unhex(NWK, nwk);
    unhex(APP, app);
    lora_frame_t f;
    CHECK_EQ_INT(lora_frame_parse(p, n, &f), 0);
    CHECK_EQ_INT(f.fcnt16, 4);
    CHECK_EQ_INT(f.frm_len, 44);
    CHECK_EQ_INT(lora_data_mic(nwk, 0, f.devaddr, 4, p, f.msg_len, mic), 0);
    CHECK_EQ_MEM(mic, 4, "\x0a\xf3\xc5\xe7", 4);
    CHECK_EQ_INT(lora_payload_crypt(app, 0, f.devaddr, 4, f.frm, f.frm_len, clear), 0);
    CHECK_EQ_MEM(clear, 44, "The quick brown fox jumps over the lazy dog.", 44);
}

GW_TEST(test_join_request)
{
    uint8_t p[32], key[16], mic[4];
    size_t n = unhex("00010000d07ed5b37030051c000ba304005a3bc1d0aec3", p);
    unhex("B6B53F4A168A7A88BDF7EA135CE9CFCA", key);
    lora_join_req_t jr;
    CHECK_EQ_INT(lora_join_req_parse(p, n, &jr), 0);
    CHECK(jr.join_eui == 0x70B3D57ED0000001ull);
    CHECK(jr.dev_eui == 0x0004A30B001C0530ull);
    CHECK_EQ_INT(jr.dev_nonce, 0x3B5A);
    CHECK_EQ_INT(lora_join_mic(key, p, 19, mic), 0);
    CHECK_EQ_MEM(mic, 4, jr.mic, 4);
    CHECK_EQ_INT(lora_join_req_parse(p, n - 1, &jr), -EBADMSG);
    p[0] = 0x20;
    CHECK_EQ_INT(lora_join_req_parse(p, n, &jr), -EBADMSG);
}

GW_TEST(test_join_accept_and_keys)
{
    uint8_t key[16], out[33], want[33], nwk[16], app[16], wn[16], wa[16];
    unhex("B6B53F4A168A7A88BDF7EA135CE9CFCA", key);
    size_t wl = unhex("2097be1da3f136d0c8ea3c42a755ab0af6", want);
    lora_join_accept_t ja = {.app_nonce = 0xC6B2A5, .net_id = 0x000013, .devaddr = 0x26011BDA,
                             .dl_settings = 0, .rx_delay = 1};
    size_t n = 0;
    CHECK_EQ_INT(lora_join_accept_build(key, &ja, out, &n), 0);
    CHECK_EQ_MEM(out, n, want, wl);
    CHECK_EQ_INT(lora_derive_keys(key, 0xC6B2A5, 0x13, 0x3B5A, nwk, app), 0);
    unhex("ece9c490c8973598e8e340e1046317f0", wn);
    unhex("a38605de5de5047d5f88ac6d2943c029", wa);
    CHECK_EQ_MEM(nwk, 16, wn, 16);
    CHECK_EQ_MEM(app, 16, wa, 16);
    uint8_t cf[16] = {0x18, 0x4F, 0x84};
    ja.cflist = cf;
    CHECK_EQ_INT(lora_join_accept_build(key, &ja, out, &n), 0);
    CHECK_EQ_INT(n, 33);
}

GW_TEST(test_downlink_build)
{
    uint8_t nwk[16], app[16], out[LORA_MAX_PHY], want[32];
    unhex(NWK, nwk);
    unhex(APP, app);
    size_t wl = unhex("60f17dbe492007000a153eb0a8bcadfd", want), n = 0;
    CHECK_EQ_INT(lora_frame_build_down(nwk, app, false, 0x49BE7DF1, 0x20, 7, NULL, 0, 10,
                                       (const uint8_t *)"\x01\x02\xff", 3, out, &n),
                 0);
    CHECK_EQ_MEM(out, n, want, wl);
    /* An FPort 0 frame with FOpts is not a frame. */
    CHECK_EQ_INT(lora_frame_build_down(nwk, app, false, 1, 0, 0, out, 1, 0, NULL, 0, out, &n),
                 -EINVAL);
}

GW_TEST(test_fcnt)
{
    CHECK_EQ_INT(lora_fcnt_next(false, 0, 5), 5);
    CHECK_EQ_INT(lora_fcnt_next(true, 5, 6), 6);
    CHECK_EQ_INT(lora_fcnt_next(true, 0xFFFF, 0), 0x10000);
    CHECK_EQ_INT(lora_fcnt_next(true, 0x1FFFE, 3), 0x20003);
    CHECK_EQ_INT(lora_fcnt_next(true, 7, 7), 0x10007);
    CHECK_EQ_INT(lora_fcnt_same_epoch(0x10007, 7), 0x10007);
    CHECK_EQ_INT(lora_fcnt_same_epoch(0x10007, 2), 0x10002);
}

GW_TEST(test_bad_frames)
{
    uint8_t p[64];
    size_t n = unhex("40F17DBE4900020001954378762B11FF0D", p);
    lora_frame_t f;
    for (size_t k = 0; k < 12; k++)
        CHECK_EQ_INT(lora_frame_parse(p, k, &f), -EBADMSG);
    p[5] = 0x0F; /* 15 FOpts bytes do not fit */
    CHECK_EQ_INT(lora_frame_parse(p, n, &f), -EBADMSG);
    p[5] = 0;
    p[0] = 0x41; /* major 1 */
    CHECK_EQ_INT(lora_frame_parse(p, n, &f), -EBADMSG);
    p[0] = 0x00; /* a Join-Request is no data frame */
    CHECK_EQ_INT(lora_frame_parse(p, n, &f), -EBADMSG);
    CHECK_EQ_INT(lora_frame_parse(NULL, n, &f), -EINVAL);
    CHECK_EQ_INT(lora_hex_parse("0g", p, 1), -EINVAL);
    CHECK_EQ_INT(lora_hex_parse("001", p, 1), -EINVAL);
}

int main(void)
{
    static const struct gwt_case cases[] = {
        GWT_CASE(test_uplink_test),          GWT_CASE(test_uplink_three_blocks),
        GWT_CASE(test_join_request),         GWT_CASE(test_join_accept_and_keys),
        GWT_CASE(test_downlink_build),       GWT_CASE(test_fcnt),
        GWT_CASE(test_bad_frames),
    };
    return gwt_run("test_lora_mac", cases, sizeof cases / sizeof cases[0]);
}
