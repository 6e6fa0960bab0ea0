/*
 * lwm2m/registry_internal.h - what registry.c and ddf.c share; not for other
 * modules.
 */
#ifndef GW_LWM2M_REGISTRY_INTERNAL_H
#define GW_LWM2M_REGISTRY_INTERNAL_H

#include "registry.h"

/* Hard limits that keep a hostile DDF from exhausting memory. */
#define GW_DDF_MAX_FILE_SIZE (4u * 1024u * 1024u)
#define GW_DDF_MAX_RESOURCES 65535u

/* Adds a loaded object (heap-allocated by ddf.c, every string and the res
 * array malloc'd) to r, replacing an earlier loaded one with the same id.
 * Ownership of o is transferred, also on failure. 0 or -ENOMEM. */
int gw_registry_add_loaded(gw_registry_t *r, gw_objdef_t *o);
/* Frees an object built by ddf.c (NULL is fine). */
void gw_registry_free_loaded(gw_objdef_t *o);

#endif
