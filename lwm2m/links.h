/*
 * lwm2m/links.h - link-format payloads (links.c) narrowed to what one
 * server may see (Access Control, acl.h). Not for use outside lwm2m/.
 */
#ifndef GW_LWM2M_LINKS_H
#define GW_LWM2M_LINKS_H

#include <stdbool.h>
#include <stdint.h>

#include "registry.h"
#include "store.h"

/* Whether object instance (oid, iid) is shown; ctx is the caller's. */
typedef bool (*gw_links_filter_fn)(void *ctx, uint16_t oid, uint16_t iid);

/* gw_lwm2m_registration_links (lwm2m.h) listing only the instances keep
 * accepts (keep NULL: all); an object none of whose instances is shown is
 * still listed alone ("</3303>"), as a supported object without instances
 * is. 0 or -ENOMEM. */
int gw_links_registration(const gw_sclient_t *c, const gw_registry_t *reg, int content_format,
                          gw_links_filter_fn keep, void *ctx, gw_buf_t *out);

/* The Discover answer (Core 5.4.2, link format) for path as the server
 * whose Short Server ID is ssid sees it: the attributes shown are that
 * server's only (Core 5.1.2). The object-level answer lists only the
 * instances keep accepts (keep NULL: all). 0, -ENOENT (nothing at path)
 * or -ENOMEM. */
int gw_links_discover_filtered(const gw_sclient_t *c, uint16_t ssid, const gw_registry_t *reg,
                               const gw_path_t *path, gw_links_filter_fn keep, void *ctx, gw_buf_t *out);

#endif
