/*
 * lwm2m/uri.h - is this an LwM2M server URI the gateway can use? The one
 * check of a server's or bootstrap server's `uri` in the configuration and
 * of a Server URI (/0/x/0) a bootstrap server wrote, at Bootstrap-Finish
 * and when a persisted provisioning is loaded (Core E.1; RFC 7252 6.1,
 * 6.2): "coap://host[:port]" or "coaps://host[:port]", host a name (letters,
 * digits, '-', '.', '_'), an IPv4 address or a bracketed IPv6 address, port
 * 1..65535, no path but a lone "/", no query. Needs no libcoap.
 */
#ifndef GW_LWM2M_URI_H
#define GW_LWM2M_URI_H

#include <stddef.h>

/* uri[0..len) checked (a NUL inside is refused). Returns 0 (coap), 1
 * (coaps), or -EINVAL with why (size bytes, NUL-terminated) a phrase that
 * follows the URI, e.g. "has a bad port, expected 1 to 65535". */
int gw_uri_check(const char *uri, size_t len, char *why, size_t size);

#endif
