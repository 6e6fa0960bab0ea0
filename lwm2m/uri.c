/*
 * lwm2m/uri.c - the server URI check shared by the configuration and the
 * bootstrap interface (uri.h), so a URI refused in a file is refused the
 * same way when a bootstrap server writes it.
 */
#include "uri.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int bad(char *why, size_t size, const char *text, bool secure)
{
    snprintf(why, size, text, secure ? "s" : "");
    return -EINVAL;
}

int gw_uri_check(const char *uri, size_t len, char *why, size_t size)
{
    const char *end = uri + len, *p;
    bool secure;
    if (memchr(uri, '\0', len))
        return bad(why, size, "holds a NUL byte, expected coap%s://host[:port]", false);
    if (len >= 7 && memcmp(uri, "coap://", 7) == 0) {
        secure = false;
        p = uri + 7;
    } else if (len >= 8 && memcmp(uri, "coaps://", 8) == 0) {
        secure = true;
        p = uri + 8;
    } else {
        return bad(why, size, "must start with coap:// or coaps://%s", false);
    }
    const char *host = p;
    if (p < end && *p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close || close == host + 1)
            return bad(why, size, "has a bad IPv6 host, expected [address]%s", secure);
        for (const char *h = host + 1; h < close; h++)
            if (!isxdigit((unsigned char)*h) && *h != ':' && *h != '.')
                return bad(why, size, "has a bad IPv6 host, expected [address]%s", secure);
        p = close + 1;
    } else {
        for (; p < end && *p != ':' && *p != '/'; p++)
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
                return bad(why, size, "has a bad host, expected a host name or IP address%s", secure);
        if (p == host)
            return bad(why, size, "has no host, expected coap%s://host[:port]", secure);
    }
    if (p < end && *p == ':') {
        const char *port = ++p;
        unsigned long v = 0;
        while (p < end && isdigit((unsigned char)*p) && v <= 65535)
            v = v * 10 + (unsigned long)(*p++ - '0');
        if (p == port || v == 0 || v > 65535 || (p < end && *p != '/'))
            return bad(why, size, "has a bad port, expected 1 to 65535%s", secure);
    }
    if (p < end && !(end - p == 1 && *p == '/'))
        return bad(why, size, "has a path, expected coap%s://host[:port] only", secure);
    return secure ? 1 : 0;
}
