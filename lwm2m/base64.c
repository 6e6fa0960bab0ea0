/*
 * lwm2m/base64.c - base64 (RFC 4648 sec 4) and base64url (sec 5).
 */
#include <errno.h>

#include "codec.h"

static const char std_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int gw_base64_encode(const uint8_t *p, size_t len, bool url, gw_buf_t *out)
{
    const char *a = url ? url_alpha : std_alpha;
    if (len == 0)
        return 0; /* out->data may still be NULL: no pointer arithmetic on it */
    if (len > (SIZE_MAX / 4) * 3 - 3)
        return -ENOMEM;
    int rc = gw_buf_reserve(out, (len + 2) / 3 * 4);
    if (rc)
        return rc;
    uint8_t *w = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *w++ = (uint8_t)a[v >> 18];
        *w++ = (uint8_t)a[(v >> 12) & 63];
        *w++ = (uint8_t)a[(v >> 6) & 63];
        *w++ = (uint8_t)a[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        *w++ = (uint8_t)a[v >> 18];
        *w++ = (uint8_t)a[(v >> 12) & 63];
        if (i + 1 < len)
            *w++ = (uint8_t)a[(v >> 6) & 63];
        else if (!url)
            *w++ = '=';
        if (!url)
            *w++ = '=';
    }
    out->len = (size_t)(w - out->data);
    return 0;
}

static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int gw_base64_decode(const char *s, size_t len, gw_buf_t *out)
{
    /* Padding is optional, but when present it must complete a quantum. */
    size_t pad = 0;
    while (len > 0 && s[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (pad && (len + pad) % 4 != 0)
        return -EINVAL;
    if (len % 4 == 1)
        return -EINVAL;
    int rc = gw_buf_reserve(out, len / 4 * 3 + 2);
    if (rc)
        return rc;
    size_t start = out->len;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = sextet(s[i]);
        if (v < 0) {
            out->len = start;
            return -EINVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits must be zero, or two texts would mean one value. */
    if (acc != 0) {
        out->len = start;
        return -EINVAL;
    }
    return 0;
}
