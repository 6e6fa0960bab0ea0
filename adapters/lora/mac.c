/*
 * adapters/lora/mac.c - LoRaWAN 1.0.x frame parsing and cryptography on
 * mbedtls (AES-128 ECB, AES-CMAC). See mac.h for the spec sections.
 */
#include <errno.h>
#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/cipher.h>
#include <mbedtls/cmac.h>

#include "mac.h"

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static int aes_ecb(const uint8_t key[LORA_KEY_LEN], bool encrypt, const uint8_t *in, size_t n,
                   uint8_t *out)
{
    mbedtls_aes_context ctx;
    mbedtls_aes_init(&ctx);
    int rc = encrypt ? mbedtls_aes_setkey_enc(&ctx, key, 128) : mbedtls_aes_setkey_dec(&ctx, key, 128);
    for (size_t i = 0; rc == 0 && i < n; i += 16)
        rc = mbedtls_aes_crypt_ecb(&ctx, encrypt ? MBEDTLS_AES_ENCRYPT : MBEDTLS_AES_DECRYPT,
                                   in + i, out + i);
    mbedtls_aes_free(&ctx);
    return rc ? -EIO : 0;
}

static int cmac4(const uint8_t key[LORA_KEY_LEN], const uint8_t *msg, size_t len, uint8_t out[4])
{
    const mbedtls_cipher_info_t *ci = mbedtls_cipher_info_from_type(MBEDTLS_CIPHER_AES_128_ECB);
    uint8_t full[16];
    if (!ci || mbedtls_cipher_cmac(ci, key, 128, msg, len, full) != 0)
        return -EIO;
    memcpy(out, full, 4);
    return 0;
}

int lora_frame_parse(const uint8_t *p, size_t n, lora_frame_t *f)
{
    if (!p || !f)
        return -EINVAL;
    memset(f, 0, sizeof *f);
    if (n < 12)
        return -EBADMSG;
    f->mhdr = p[0];
    f->mtype = p[0] >> 5;
    if ((p[0] & 0x03) != 0 || f->mtype < LORA_MT_UNCONF_UP || f->mtype > LORA_MT_CONF_DOWN)
        return -EBADMSG;
    f->devaddr = get_le32(p + 1);
    f->fctrl = p[5];
    f->fcnt16 = (uint16_t)(p[6] | p[7] << 8);
    f->fopts_len = f->fctrl & 0x0F;
    size_t end = n - 4; /* MIC */
    if (8 + f->fopts_len > end)
        return -EBADMSG;
    f->fopts = p + 8;
    size_t pos = 8 + f->fopts_len;
    f->fport = -1;
    if (pos < end) {
        f->fport = p[pos++];
        f->frm = p + pos;
        f->frm_len = end - pos;
        /* Port 0 carries MAC commands in FRMPayload, which excludes FOpts. */
        if (f->fport == 0 && f->fopts_len)
            return -EBADMSG;
    }
    f->mic = p + end;
    f->msg_len = end;
    return 0;
}

int lora_join_req_parse(const uint8_t *p, size_t n, lora_join_req_t *out)
{
    if (!p || !out)
        return -EINVAL;
    if (n != 23 || p[0] != 0x00)
        return -EBADMSG;
    out->join_eui = get_le64(p + 1);
    out->dev_eui = get_le64(p + 9);
    out->dev_nonce = (uint16_t)(p[17] | p[18] << 8);
    out->mic = p + 19;
    return 0;
}

int lora_data_mic(const uint8_t key[LORA_KEY_LEN], int dir, uint32_t devaddr, uint32_t fcnt,
                  const uint8_t *msg, size_t msg_len, uint8_t out[4])
{
    if (!key || !msg || !out || msg_len > LORA_MAX_PHY - 4)
        return -EINVAL;
    uint8_t buf[16 + LORA_MAX_PHY];
    memset(buf, 0, 16);
    buf[0] = 0x49;
    buf[5] = (uint8_t)(dir ? 1 : 0);
    put_le32(buf + 6, devaddr);
    put_le32(buf + 10, fcnt);
    buf[15] = (uint8_t)msg_len;
    memcpy(buf + 16, msg, msg_len);
    return cmac4(key, buf, 16 + msg_len, out);
}

int lora_payload_crypt(const uint8_t key[LORA_KEY_LEN], int dir, uint32_t devaddr, uint32_t fcnt,
                       const uint8_t *in, size_t len, uint8_t *out)
{
    if (!key || (len && (!in || !out)) || len > LORA_MAX_PHY)
        return -EINVAL;
    if (len == 0)
        return 0;
    size_t blocks = (len + 15) / 16;
    uint8_t a[LORA_MAX_PHY + 16], s[LORA_MAX_PHY + 16];
    for (size_t i = 0; i < blocks; i++) {
        uint8_t *ai = a + 16 * i;
        memset(ai, 0, 16);
        ai[0] = 0x01;
        ai[5] = (uint8_t)(dir ? 1 : 0);
        put_le32(ai + 6, devaddr);
        put_le32(ai + 10, fcnt);
        ai[15] = (uint8_t)(i + 1);
    }
    int rc = aes_ecb(key, true, a, 16 * blocks, s);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < len; i++)
        out[i] = in[i] ^ s[i];
    return 0;
}

int lora_join_mic(const uint8_t key[LORA_KEY_LEN], const uint8_t *msg, size_t msg_len,
                  uint8_t out[4])
{
    if (!key || !msg || !out)
        return -EINVAL;
    return cmac4(key, msg, msg_len, out);
}

int lora_join_accept_build(const uint8_t app_key[LORA_KEY_LEN], const lora_join_accept_t *ja,
                           uint8_t *out, size_t *out_len)
{
    if (!app_key || !ja || !out || !out_len)
        return -EINVAL;
    uint8_t clear[33];
    clear[0] = 0x20;
    clear[1] = (uint8_t)ja->app_nonce;
    clear[2] = (uint8_t)(ja->app_nonce >> 8);
    clear[3] = (uint8_t)(ja->app_nonce >> 16);
    clear[4] = (uint8_t)ja->net_id;
    clear[5] = (uint8_t)(ja->net_id >> 8);
    clear[6] = (uint8_t)(ja->net_id >> 16);
    put_le32(clear + 7, ja->devaddr);
    clear[11] = ja->dl_settings;
    clear[12] = ja->rx_delay;
    size_t n = 13;
    if (ja->cflist) {
        memcpy(clear + 13, ja->cflist, 16);
        n = 29;
    }
    int rc = lora_join_mic(app_key, clear, n, clear + n);
    if (rc < 0)
        return rc;
    n += 4;
    out[0] = clear[0];
    rc = aes_ecb(app_key, false, clear + 1, n - 1, out + 1);
    if (rc < 0)
        return rc;
    *out_len = n;
    return 0;
}

int lora_derive_keys(const uint8_t app_key[LORA_KEY_LEN], uint32_t app_nonce, uint32_t net_id,
                     uint16_t dev_nonce, uint8_t nwk_skey[LORA_KEY_LEN],
                     uint8_t app_skey[LORA_KEY_LEN])
{
    uint8_t in[32] = {0};
    for (int k = 0; k < 2; k++) {
        uint8_t *b = in + 16 * k;
        b[0] = (uint8_t)(k + 1);
        b[1] = (uint8_t)app_nonce;
        b[2] = (uint8_t)(app_nonce >> 8);
        b[3] = (uint8_t)(app_nonce >> 16);
        b[4] = (uint8_t)net_id;
        b[5] = (uint8_t)(net_id >> 8);
        b[6] = (uint8_t)(net_id >> 16);
        b[7] = (uint8_t)dev_nonce;
        b[8] = (uint8_t)(dev_nonce >> 8);
    }
    uint8_t out[32];
    int rc = aes_ecb(app_key, true, in, 32, out);
    if (rc < 0)
        return rc;
    memcpy(nwk_skey, out, 16);
    memcpy(app_skey, out + 16, 16);
    return 0;
}

uint32_t lora_fcnt_next(bool have_last, uint32_t last, uint16_t fcnt16)
{
    if (!have_last)
        return fcnt16;
    uint32_t c = (last & 0xFFFF0000u) | fcnt16;
    if (c <= last)
        c += 0x10000u;
    return c;
}

uint32_t lora_fcnt_same_epoch(uint32_t last, uint16_t fcnt16)
{
    return (last & 0xFFFF0000u) | fcnt16;
}

int lora_frame_build_down(const uint8_t nwk_skey[LORA_KEY_LEN], const uint8_t app_skey[LORA_KEY_LEN],
                          bool confirmed, uint32_t devaddr, uint8_t fctrl_flags, uint32_t fcnt,
                          const uint8_t *fopts, size_t fopts_len, int fport, const uint8_t *payload,
                          size_t len, uint8_t *out, size_t *out_len)
{
    if (!nwk_skey || !app_skey || !out || !out_len || fopts_len > 15 || fport > 255 ||
        (fport < 0 && len) || (fport == 0 && fopts_len) || 13 + fopts_len + len > LORA_MAX_PHY ||
        (fopts_len && !fopts) || (len && !payload))
        return -EINVAL;
    size_t n = 0;
    out[n++] = (uint8_t)((confirmed ? LORA_MT_CONF_DOWN : LORA_MT_UNCONF_DOWN) << 5);
    put_le32(out + n, devaddr);
    n += 4;
    out[n++] = (uint8_t)((fctrl_flags & 0xF0) | fopts_len);
    out[n++] = (uint8_t)fcnt;
    out[n++] = (uint8_t)(fcnt >> 8);
    if (fopts_len)
        memcpy(out + n, fopts, fopts_len);
    n += fopts_len;
    if (fport >= 0) {
        out[n++] = (uint8_t)fport;
        int rc = lora_payload_crypt(fport == 0 ? nwk_skey : app_skey, 1, devaddr, fcnt, payload,
                                    len, out + n);
        if (rc < 0)
            return rc;
        n += len;
    }
    int rc = lora_data_mic(nwk_skey, 1, devaddr, fcnt, out, n, out + n);
    if (rc < 0)
        return rc;
    *out_len = n + 4;
    return 0;
}

int lora_hex_parse(const char *hex, uint8_t *out, size_t n)
{
    if (!hex || !out || strlen(hex) != 2 * n)
        return -EINVAL;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0)
            return -EINVAL;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return 0;
}
