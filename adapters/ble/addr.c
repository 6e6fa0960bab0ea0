/*
 * adapters/ble/addr.c - Bluetooth addresses and UUIDs as text, parsed
 * without allocation: the adapter runs these on every D-Bus signal, most
 * of them from devices it does not serve.
 */
#include <errno.h>
#include <string.h>

#include "ble.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Six hex pairs separated by sep, nothing after them. */
static int mac_sep(const char *s, char sep, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 6; i++) {
        int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        v = v << 8 | (uint64_t)(hi << 4 | lo);
        s += 2;
        if (i < 5 && *s++ != sep)
            return -EINVAL;
    }
    if (*s)
        return -EINVAL;
    *out = v;
    return 0;
}

int gw_ble_mac_parse(const char *s, uint64_t *out)
{
    if (!s || !out)
        return -EINVAL;
    return mac_sep(s, ':', out);
}

int gw_ble_path_mac(const char *path, uint64_t *out)
{
    if (!path || !out)
        return -EINVAL;
    const char *slash = strrchr(path, '/');
    if (!slash || strncmp(slash + 1, "dev_", 4) != 0)
        return -EINVAL;
    return mac_sep(slash + 5, '_', out);
}

uint64_t gw_ble_mac_from_bytes(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 6; i++)
        v = v << 8 | b[i];
    return v;
}

int gw_ble_uuid16(const char *u)
{
    static const char base[] = "-0000-1000-8000-00805f9b34fb";
    if (!u || strlen(u) != 36 || strncmp(u, "0000", 4) != 0 || strcasecmp(u + 8, base) != 0)
        return -1;
    int v = 0;
    for (int i = 4; i < 8; i++) {
        int h = hexval(u[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}
