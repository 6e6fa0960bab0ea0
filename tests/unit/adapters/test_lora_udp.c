/* Unit tests for adapters/lora/semtech.c. Header vectors from
 * chirpstack-gateway-bridge's packet tests (shared/test-vectors/README.md):
 * PUSH_DATA 02 7B 00 00 0102030405060708 {} and PULL_DATA 02 7B 00 02
 * 0102030405060708. The rxpk data is lora-packet's uplink
 * 40F17DBE4900020001954378762B11FF0D in base64. */
#include "gwtest.h"

#include "adapters/lora/semtech.h"

#include <errno.h>

GW_TEST(test_headers)
{
    const uint8_t push[] = {0x02, 0x7B, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, '{', '}'};
    const uint8_t pull[] = {0x02, 0x7B, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8};
    sem_hdr_t h;
    const char *why = NULL;
    CHECK_EQ_INT(sem_parse_header(push, sizeof push, &h, &why), 0);
    CHECK_EQ_INT(h.id, SEM_PUSH_DATA);
    CHECK_EQ_INT(h.token[0], 0x7B);
    CHECK_EQ_INT(h.token[1], 0x00);
    CHECK(h.eui == 0x0102030405060708ull);
    CHECK_EQ_INT(h.json_len, 2);
    CHECK_EQ_INT(sem_parse_header(pull, sizeof pull, &h, &why), 0);
    CHECK_EQ_INT(h.id, SEM_PULL_DATA);
    CHECK_EQ_INT(h.json_len, 0);
    /* Truncated, wrong version, unknown identifier, PUSH_DATA without JSON. */
    for (size_t n = 0; n < 12; n++)
        CHECK_EQ_INT(sem_parse_header(pull, n, &h, &why), -EBADMSG);
    uint8_t v1[sizeof push];
    memcpy(v1, push, sizeof push);
    v1[0] = 1;
    CHECK_EQ_INT(sem_parse_header(v1, sizeof v1, &h, &why), -EBADMSG);
    CHECK(strstr(why, "version") != NULL);
    v1[0] = 2;
    v1[3] = 0x07;
    CHECK_EQ_INT(sem_parse_header(v1, sizeof v1, &h, &why), -EBADMSG);
    CHECK_EQ_INT(sem_parse_header(push, 12, &h, &why), -EBADMSG);
}

typedef struct got {
    int n_rx, n_bad, n_stat;
    sem_rxpk_t last;
    char why[128];
    sem_stat_t stat;
} got_t;

static void on_rx(void *ctx, const sem_rxpk_t *pk)
{
    got_t *g = ctx;
    g->n_rx++;
    g->last = *pk;
}

static void on_bad(void *ctx, int i, const char *why)
{
    got_t *g = ctx;
    (void)i;
    g->n_bad++;
    snprintf(g->why, sizeof g->why, "%s", why);
}

static void on_stat(void *ctx, const sem_stat_t *st)
{
    got_t *g = ctx;
    g->n_stat++;
    g->stat = *st;
}

#define GOOD "{\"tmst\":3512348611,\"chan\":2,\"rfch\":0,\"freq\":868.5,\"stat\":1," \
             "\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/5\",\"rssi\":-35," \
             "\"lsnr\":5.1,\"size\":17,\"data\":\"QPF9vkkAAgABlUN4disR/w0=\"}"

static int push(const char *json, got_t *g)
{
    memset(g, 0, sizeof *g);
    sem_push_cb_t cb = {on_rx, on_stat, on_bad, g};
    const char *why = NULL;
    return sem_parse_push(json, strlen(json), &cb, &why);
}

GW_TEST(test_rxpk)
{
    got_t g;
    CHECK_EQ_INT(push("{\"rxpk\":[" GOOD "]}", &g), 0);
    CHECK_EQ_INT(g.n_rx, 1);
    CHECK_EQ_INT(g.n_bad, 0);
    CHECK_EQ_INT(g.last.tmst, 3512348611u);
    CHECK_EQ_INT(g.last.stat, 1);
    CHECK(g.last.lora);
    CHECK_EQ_STR(g.last.datr, "SF7BW125");
    CHECK_NEAR(g.last.rssi, -35, 1e-9);
    CHECK_NEAR(g.last.lsnr, 5.1, 1e-9);
    CHECK_EQ_INT(g.last.size, 17);
    CHECK_EQ_MEM(g.last.data, 4, "\x40\xF1\x7D\xBE", 4);
}

GW_TEST(test_bad_rxpk_dropped_alone)
{
    static const char *bad[] = {
        "{\"freq\":868.5,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"rssi\":-35,\"lsnr\":5,\"size\":1,\"data\":\"AA==\"}",
        "{\"tmst\":\"x\",\"freq\":868.5,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"rssi\":-35,\"lsnr\":5,\"size\":1,\"data\":\"AA==\"}",
        "{\"tmst\":1,\"freq\":868.5,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"rssi\":-35,\"lsnr\":5,\"size\":1,\"data\":\"A*==\"}",
        "{\"tmst\":1,\"freq\":868.5,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"rssi\":-35,\"lsnr\":5,\"size\":2,\"data\":\"AA==\"}",
        "{\"tmst\":1,\"freq\":868.5,\"stat\":1,\"modu\":\"LORA\",\"datr\":7,\"rssi\":-35,\"lsnr\":5,\"size\":1,\"data\":\"AA==\"}",
        "{\"tmst\":1.5,\"freq\":868.5,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"rssi\":-35,\"lsnr\":5,\"size\":1,\"data\":\"AA==\"}",
        "{\"tmst\":1,\"freq\":868.5,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"lsnr\":5,\"size\":1,\"data\":\"AA==\"}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[1024];
        snprintf(json, sizeof json, "{\"rxpk\":[%s," GOOD "]}", bad[i]);
        got_t g;
        CHECK_EQ_INT(push(json, &g), 0);
        CHECK_EQ_INT(g.n_bad, 1);
        CHECK_EQ_INT(g.n_rx, 1);
        CHECK(g.why[0] != '\0');
    }
}

GW_TEST(test_bad_json)
{
    got_t g;
    CHECK_EQ_INT(push("{\"rxpk\":[", &g), -EBADMSG);
    CHECK_EQ_INT(push("[1]", &g), -EBADMSG);
    CHECK_EQ_INT(push("{\"rxpk\":{}}", &g), -EBADMSG);
    CHECK_EQ_INT(push("{}", &g), 0);
    CHECK_EQ_INT(g.n_rx, 0);
}

GW_TEST(test_stat)
{
    got_t g;
    CHECK_EQ_INT(push("{\"stat\":{\"time\":\"2014-01-12 08:59:28 GMT\",\"lati\":46.24,\"long\":3.2523,"
                      "\"alti\":145,\"rxnb\":2,\"rxok\":2,\"rxfw\":2,\"ackr\":100.0,\"dwnb\":2,"
                      "\"txnb\":2}}", &g),
                 0);
    CHECK_EQ_INT(g.n_stat, 1);
    CHECK_EQ_INT(g.stat.rxnb, 2);
    CHECK(g.stat.has_pos);
    CHECK_NEAR(g.stat.lati, 46.24, 1e-9);
    CHECK_EQ_STR(g.stat.time, "2014-01-12 08:59:28 GMT");
}

GW_TEST(test_pull_resp_and_tx_ack)
{
    uint8_t buf[512];
    const uint8_t tok[2] = {0xAB, 0xCD};
    sem_txpk_t tx = {.tmst = 5000000, .freq = 869.525, .powe = 14, .datr = "SF12BW125",
                     .codr = "4/5", .ipol = true, .data = (const uint8_t *)"\x01\x02\x03", .size = 3};
    int n = sem_build_pull_resp(buf, sizeof buf, tok, &tx);
    CHECK(n > 4);
    CHECK_EQ_MEM(buf, 4, "\x02\xAB\xCD\x03", 4);
    buf[n] = 0;
    CHECK(strstr((char *)buf + 4, "\"data\":\"AQID\"") != NULL);
    CHECK(strstr((char *)buf + 4, "\"tmst\":5000000") != NULL);
    CHECK(strstr((char *)buf + 4, "\"ipol\":true") != NULL);
    CHECK_EQ_INT(sem_build_pull_resp(buf, 40, tok, &tx), -ENOSPC);
    char err[32];
    const char *ok = "{\"txpk_ack\":{\"error\":\"NONE\"}}";
    const char *late = "{\"txpk_ack\":{\"error\":\"TOO_LATE\"}}";
    CHECK_EQ_INT(sem_parse_tx_ack(ok, strlen(ok), err, sizeof err), 0);
    CHECK_EQ_INT(sem_parse_tx_ack("", 0, err, sizeof err), 0);
    CHECK_EQ_INT(sem_parse_tx_ack(late, strlen(late), err, sizeof err), 1);
    CHECK_EQ_STR(err, "TOO_LATE");
    CHECK_EQ_INT(sem_parse_tx_ack("{x", 2, err, sizeof err), -EBADMSG);
}

GW_TEST(test_base64)
{
    uint8_t out[8];
    char enc[16];
    CHECK_EQ_INT(sem_b64_decode("AQID", 4, out, sizeof out), 3);
    CHECK_EQ_INT(sem_b64_decode("AQ==", 4, out, sizeof out), 1);
    CHECK_EQ_INT(sem_b64_decode("AQ", 2, out, sizeof out), 1);
    CHECK_EQ_INT(sem_b64_decode("A", 1, out, sizeof out), -EBADMSG);
    CHECK_EQ_INT(sem_b64_decode("A=Q=", 4, out, sizeof out), -EBADMSG);
    CHECK_EQ_INT(sem_b64_decode("AR==", 4, out, sizeof out), -EBADMSG);
    CHECK_EQ_INT(sem_b64_decode("AQIDBAUGBwgJ", 12, out, sizeof out), -ENOSPC);
    CHECK_EQ_INT(sem_b64_encode((const uint8_t *)"\x01\x02", 2, enc, sizeof enc), 4);
    CHECK_EQ_STR(enc, "AQI=");
}

int main(void)
{
    static const struct gwt_case cases[] = {
        GWT_CASE(test_headers), GWT_CASE(test_rxpk),  GWT_CASE(test_bad_rxpk_dropped_alone),
        GWT_CASE(test_bad_json), GWT_CASE(test_stat), GWT_CASE(test_pull_resp_and_tx_ack),
        GWT_CASE(test_base64),
    };
    return gwt_run("test_lora_udp", cases, sizeof cases / sizeof cases[0]);
}
