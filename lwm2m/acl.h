/*
 * lwm2m/acl.h - LwM2M Access Control (object 2; LwM2M 1.1.1 Core 7.3):
 * which operations each server may perform on each object instance of a
 * virtual client.
 *
 * Access Control object instances are ordinary instances of object 2 in the
 * client's store (from the configuration's `access` lists, from a bootstrap
 * server's Bootstrap-Write, or made by the client when a server Creates an
 * instance), so whatever writes the store writes them:
 *   /2/x/0  Object ID            the object the instance governs (1..65534, not 2)
 *   /2/x/1  Object Instance ID   its instance; 65535 (MAX_ID): Create on the object
 *   /2/x/2/s ACL                 rights of the server with Short Server ID s
 *                                (s = 0: the default for servers without their own)
 *   /2/x/3  Access Control Owner the one server that may change this instance
 *                                (65535: set by bootstrap only, no server may)
 *
 * The decision (gw_acl_decide) is a pure function so that it can be tested
 * as a table; the rest reads the store. Every lookup walks the client's
 * object-2 instances: O(number of /2 instances) per operation, a handful on
 * a gateway, and nothing at all with one server (the shortcut below).
 */
#ifndef GW_LWM2M_ACL_H
#define GW_LWM2M_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Rights bits of an ACL resource instance (object 2 resource 2; Core
 * 7.3.1, the object's definition in LwM2M 1.1). Other bits are reserved:
 * a value above 31 is refused when written. */
enum {
    GW_ACL_R = 1 << 0, /* Read, Observe, Write-Attributes */
    GW_ACL_W = 1 << 1, /* Write (replace, partial update, Write-Composite member) */
    GW_ACL_E = 1 << 2, /* Execute */
    GW_ACL_D = 1 << 3, /* Delete */
    GW_ACL_C = 1 << 4, /* Create (on the instance 65535 of the object) */
    GW_ACL_ALL = 31,
};

#define GW_ACL_OID 2
#define GW_ACL_RID_OBJECT 0
#define GW_ACL_RID_INSTANCE 1
#define GW_ACL_RID_ACL 2
#define GW_ACL_RID_OWNER 3
#define GW_ACL_MAX_ID 65535 /* Object Instance ID of the Create rights; owner set by bootstrap */
#define GW_ACL_DEFAULT_SSID 0 /* ACL resource instance of the default rights */

/* Operations as the access rights see them. */
typedef enum {
    GW_ACL_OP_READ = 0, /* Read, Read-Composite member, notification */
    GW_ACL_OP_OBSERVE,
    GW_ACL_OP_WRITE_ATTRS,
    GW_ACL_OP_DISCOVER,
    GW_ACL_OP_WRITE,
    GW_ACL_OP_EXECUTE,
    GW_ACL_OP_DELETE,
    GW_ACL_OP_CREATE,
} gw_acl_op_t;

/* What the Access Control instance of one object instance says for one
 * server, as gw_acl_decide needs it. */
typedef struct gw_acl_view {
    bool found;        /* an Access Control instance names the object instance */
    uint16_t owner;    /* its Access Control Owner (0 when it has none) */
    bool has_own;      /* an ACL resource instance for this server ... */
    uint8_t own;       /* ... and its value */
    bool has_default;  /* the default ACL resource instance (0) ... */
    uint8_t dflt;      /* ... and its value */
} gw_acl_view_t;

/* The rights (GW_ACL_* bits) server ssid has, Core 7.3.2.1 (Obtaining
 * Access Right): with at most one server every right (the single-server
 * shortcut: the Access Control object need not even exist); else none
 * without an Access Control instance; else its own ACL resource instance;
 * else, for the Access Control Owner, every right; else the default ACL
 * resource instance; else none. Reserved bits are dropped. v may be NULL
 * (no instance). */
uint8_t gw_acl_decide(size_t n_servers, uint16_t ssid, const gw_acl_view_t *v);

/* True when rights allow op (Core 7.3.2, the table of minimum access
 * rights): Read, Observe and Write-Attributes need R; Write W; Execute E;
 * Delete D; Create C. Discover needs none ("-" in that table; 7.3.2.4: on
 * an object "no access right is needed"): LwM2M 1.0 counted it under R,
 * 1.1 took it out. */
bool gw_acl_op_allowed(uint8_t rights, gw_acl_op_t op);

/* The view of client c's Access Control instance for (oid, iid) and server
 * ssid (c borrowed). *out_aco_iid (may be NULL) gets the /2 instance id.
 * 0, or -ENOENT when no Access Control instance names (oid, iid) (out then
 * says found = false). */
int gw_acl_lookup(const gw_sclient_t *c, uint16_t oid, uint16_t iid, uint16_t ssid, gw_acl_view_t *out,
                  uint16_t *out_aco_iid);

/* A new Access Control instance in c (its lowest free /2 id) for (oid,
 * iid), owned by owner, with n ACL entries (ssid[i], rights[i]); ssid 0 is
 * the default. *out_iid (may be NULL) gets its id. 0, -EINVAL (oid 0 or 2,
 * owner 0, rights above 31), -EEXIST (one already names (oid, iid)),
 * -ENOENT (object 2 not in the registry), -ENOMEM. */
int gw_acl_instance_add(gw_store_t *s, gw_sclient_t *c, uint16_t oid, uint16_t iid, uint16_t owner,
                        const uint16_t *ssid, const uint8_t *rights, size_t n, uint16_t *out_iid);

/* The management server accounts of client c (c borrowed): /1 instances
 * with a Short Server ID 1..65534 that a /0 instance which is not a
 * bootstrap server's (/0/x/1 false) names (Core 7.3: "several servers"
 * counts Server Accounts; a bootstrap server has none, an account whose
 * server is disabled or cannot be reached still counts). O(accounts^2),
 * a handful. */
size_t gw_acl_server_accounts(const gw_sclient_t *c);

/* The `access_owner` shortcut: every object instance of c that no Access
 * Control instance names gets one owned by owner with no ACL entry (every
 * right for owner, none for other servers until owner writes some); a /1
 * instance is owned by the server it describes instead (each server
 * manages its own account). Each multiple-instance object with an
 * instance (not /1) also gets the Create rights of owner (Object Instance
 * ID 65535, owner 65535, ACL entry owner = C; Core 7.3.1.2.1). Existing
 * Access Control instances are kept. *out_added (may be NULL) gets how
 * many were made. 0, -EINVAL (owner 0 or 65535), -ENOMEM. */
int gw_acl_fill_owner(gw_store_t *s, gw_sclient_t *c, uint16_t owner, size_t *out_added);

/* Value check of an object-2 resource written by a server or a bootstrap
 * server, beyond the registry's ranges (called by gw_value_check_res):
 * /2/x/0 is not 2 (Access Control instances have none of their own),
 * /2/x/3 is a Short Server ID 1..65534 or 65535. 0 or -EINVAL with why
 * filled. */
int gw_acl_value_check(const gw_path_t *path, const gw_value_t *v, char *why, size_t why_size);

#endif
