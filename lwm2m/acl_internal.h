/*
 * lwm2m/acl_internal.h - the hooks of Access Control (acl.h) in the
 * request dispatch: what one registration (one server) may do. Not for use
 * outside lwm2m/.
 */
#ifndef GW_LWM2M_ACL_INTERNAL_H
#define GW_LWM2M_ACL_INTERNAL_H

#include "acl.h"
#include "links.h"
#include "lwm2m_internal.h"

/* True when the rights are checked for r's client: more than one
 * management server account (gw_acl_server_accounts; a bootstrap server
 * does not count). With one, every operation is allowed (Core 7.3, the
 * shortcut). */
bool gw_acl_active(const struct gw_reg *r);

/* The rights r's server has on (oid, iid) of its client (gw_acl_decide);
 * with the client's access owner set (gw_vclient_set_access_owner), an
 * instance no /2 instance names is that owner's.
 * An Access Control instance itself (oid 2) is readable by every server
 * (a server must be able to learn what it may do) and writable by its
 * owner only; none may execute, delete or create one. */
uint8_t gw_acl_rights(const struct gw_reg *r, uint16_t oid, uint16_t iid);

/* True when r's server may perform op on (oid, iid). */
bool gw_acl_may(const struct gw_reg *r, uint16_t oid, uint16_t iid, gw_acl_op_t op);

/* The check a request of r gets before it is handled (dm.c): method is
 * the CoAP request code, path its path, discover/write_attrs what a GET or
 * PUT means. Operations on an instance or below need their right there;
 * Create needs C in the Access Control instance (oid, 65535); operations
 * on an object (Read, Observe, Discover, Write-Attributes) and composite
 * ones are filtered member by member by their handlers instead. Returns 0
 * or COAP_RESPONSE_CODE(401) with diag saying which right is missing. */
int gw_acl_request(const struct gw_reg *r, int method, const gw_path_t *path, bool discover,
                   bool write_attrs, char *diag, size_t diag_size);

/* r's server created (oid, iid) (Core 7.3.1): with several servers, a new
 * Access Control instance makes it the owner, with every right (no ACL
 * entry: the owner without one has all). 0 or a negative errno (logged). */
int gw_acl_created(struct gw_reg *r, uint16_t oid, uint16_t iid);

/* (oid, iid) of vc was deleted: the Access Control instances naming it
 * go too (their observations end as a Delete's do). */
void gw_acl_removed(gw_vclient_t *vc, uint16_t oid, uint16_t iid);

#endif
