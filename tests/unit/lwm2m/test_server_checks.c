/*
 * Unit tests for the checks the configuration and Bootstrap-Finish share:
 * lwm2m/uri.c (a server URI) and gw_dtls_creds_check (dtls_creds.c, the
 * credentials of a Security instance).
 */
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <string.h>

#include "gwtest.h"
#include "lwm2m/dtls.h"
#include "lwm2m/uri.h"

static int uri(const char *u, char *why)
{
    return gw_uri_check(u, strlen(u), why, 128);
}

GW_TEST(test_uri_usable_and_not)
{
    char why[128];
    CHECK_EQ_INT(uri("coap://127.0.0.1:5683", why), 0);
    CHECK_EQ_INT(uri("coaps://[::1]:5684", why), 1);
    CHECK_EQ_INT(uri("coap://lwm2m.example.com/", why), 0);
    CHECK_EQ_INT(uri("coap://127.0.0.1:0", why), -EINVAL);
    CHECK(strstr(why, "bad port, expected 1 to 65535") != NULL);
    CHECK_EQ_INT(uri("coap://127.0.0.1:70000", why), -EINVAL);
    CHECK_EQ_INT(uri("coap://127.0.0.1:", why), -EINVAL);
    CHECK_EQ_INT(uri("coap://[::1", why), -EINVAL);
    CHECK(strstr(why, "IPv6") != NULL);
    CHECK_EQ_INT(uri("coap://", why), -EINVAL);
    CHECK(strstr(why, "no host") != NULL);
    CHECK_EQ_INT(uri("coap://a b", why), -EINVAL);
    CHECK(strstr(why, "bad host") != NULL);
    CHECK_EQ_INT(uri("http://127.0.0.1", why), -EINVAL);
    CHECK(strstr(why, "coap:// or coaps://") != NULL);
    CHECK_EQ_INT(uri("coap://h/rd?x=1", why), -EINVAL);
    CHECK(strstr(why, "has a path") != NULL);
    CHECK_EQ_INT(gw_uri_check("coap://h\0x", 10, why, sizeof why), -EINVAL);
    CHECK(strstr(why, "NUL") != NULL);
}

/* A fresh EC key as DER PKCS#8, and its public key as DER SPKI. */
static void ec_pair(uint8_t **key, size_t *key_len, uint8_t **pub, size_t *pub_len)
{
    gnutls_x509_privkey_t k;
    gnutls_datum_t d = {NULL, 0};
    CHECK_EQ_INT(gnutls_x509_privkey_init(&k), 0);
    CHECK_EQ_INT(gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                              0),
                 0);
    CHECK_EQ_INT(gnutls_x509_privkey_export2_pkcs8(k, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN, &d), 0);
    *key = malloc(d.size);
    memcpy(*key, d.data, d.size);
    *key_len = d.size;
    gnutls_free(d.data);
    gnutls_x509_privkey_deinit(k);
    CHECK_EQ_INT(gw_dtls_public_of_key(*key, *key_len, pub, pub_len), 0);
}

GW_TEST(test_creds_check_by_mode)
{
    char why[192];
    int res = 0;
    uint8_t garbage[] = {0x30, 0x00};
    uint8_t *key1, *pub1, *key2, *pub2;
    size_t key1_len, pub1_len, key2_len, pub2_len;
    ec_pair(&key1, &key1_len, &pub1, &pub1_len);
    ec_pair(&key2, &key2_len, &pub2, &pub2_len);

    gw_dtls_creds_t c = {.mode = GW_DTLS_MODE_NOSEC};
    CHECK_EQ_INT(gw_dtls_creds_check(&c, &res, why, sizeof why), 0);

    c = (gw_dtls_creds_t){.mode = GW_DTLS_MODE_PSK};
    CHECK_EQ_INT(gw_dtls_creds_check(&c, &res, why, sizeof why), -EINVAL);
    CHECK_EQ_INT(res, 3);
    c.own = (uint8_t *)"id";
    c.own_len = 2;
    CHECK_EQ_INT(gw_dtls_creds_check(&c, &res, why, sizeof why), -EINVAL);
    CHECK_EQ_INT(res, 5);
    c.secret = garbage;
    c.secret_len = 2;
    CHECK_EQ_INT(gw_dtls_creds_check(&c, &res, why, sizeof why), 0);

    /* certificate mode with keys that do not parse (the QA's 30 00) */
    c = (gw_dtls_creds_t){.mode = GW_DTLS_MODE_CERT, .own = garbage, .own_len = 2, .secret = garbage,
                          .secret_len = 2};
    CHECK_EQ_INT(gw_dtls_creds_check(&c, &res, why, sizeof why), -EINVAL);
    CHECK_EQ_INT(res, 5);
    CHECK(strstr(why, "does not parse as a private key") != NULL);
    c.secret = key1;
    c.secret_len = key1_len;
    CHECK_EQ_INT(gw_dtls_creds_check(&c, &res, why, sizeof why), -EINVAL);
    CHECK_EQ_INT(res, 3);
    CHECK(strstr(why, "certificate") != NULL);

    /* RPK: no secret, a public key of another key, then right; a server key that does not parse */
    c = (gw_dtls_creds_t){.mode = GW_DTLS_MODE_RPK, .own = pub1, .own_len = pub1_len};
    CHECK_EQ_INT(gw_dtls_creds_check(&c, &res, why, sizeof why), -EINVAL);
    CHECK_EQ_INT(res, 5);
    c.secret = key2;
    c.secret_len = key2_len;
    CHECK_EQ_INT(gw_dtls_creds_check(&c, &res, why, sizeof why), -EKEYREJECTED);
    CHECK_EQ_INT(res, 5);
    CHECK(strstr(why, "does not belong") != NULL);
    c.secret = key1;
    c.secret_len = key1_len;
    CHECK_EQ_INT(gw_dtls_creds_check(&c, &res, why, sizeof why), 0);
    c.server_key = garbage;
    c.server_key_len = 2;
    CHECK_EQ_INT(gw_dtls_creds_check(&c, &res, why, sizeof why), -EINVAL);
    CHECK_EQ_INT(res, 4);
    c.server_key = pub2;
    c.server_key_len = pub2_len;
    CHECK_EQ_INT(gw_dtls_creds_check(&c, &res, why, sizeof why), 0);

    c.mode = 4;
    CHECK_EQ_INT(gw_dtls_creds_check(&c, &res, why, sizeof why), -EINVAL);
    CHECK_EQ_INT(res, 2);
    free(key1);
    free(pub1);
    free(key2);
    free(pub2);
}

GW_TEST_MAIN(test_uri_usable_and_not, test_creds_check_by_mode)
