/*
 * lwm2m/request.h - the parse stage of a request a server sends to a
 * virtual client, as pure functions of its bytes: the Uri-Path options, the
 * Write-Attributes query, Execute arguments, the payload (single values,
 * instances, composite path lists and values) and the Location-Path of a
 * Register's answer. No session, no store, no network: the dispatcher
 * (dm.c, composite.c, registration.c) calls them on what libcoap hands it,
 * and tests/fuzz/fuzz_dispatch.c calls them on arbitrary bytes.
 *
 * Every function refuses bad input with a negative errno and, where it
 * takes why/diag, a sentence saying what is wrong and what is expected;
 * none reads outside the lengths given.
 */
#ifndef GW_LWM2M_REQUEST_H
#define GW_LWM2M_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "store.h"
#include "value.h"

/* One Uri-Path or Location-Path option as it came: len bytes, not
 * NUL-terminated, any byte possible. Borrowed. */
typedef struct gw_req_seg {
    const uint8_t *p;
    size_t len;
} gw_req_seg_t;

/* The LwM2M path named by Uri-Path options (RFC 7252 5.10.1: one option per
 * segment; LwM2M 1.1 Core 6: /oid/iid/rid/riid): 0 to 4 segments, each a
 * decimal 0..65534 without leading zero. A segment that holds '/', a NUL or
 * anything else is refused, never re-split or cut short. 0 and *out set,
 * or -EINVAL. */
int gw_req_path_parse(const gw_req_seg_t *segs, size_t n, gw_path_t *out);

/* A Write-Attributes query (LwM2M 1.1 Core 5.1.2, 5.4.4: the Uri-Query
 * options joined by '&', len bytes): each "name=value" sets that attribute
 * in *inout, a bare "name" removes it; names pmin, pmax, gt, lt, st, epmin,
 * epmax, each at most once; values as gw_attr_value_parse takes them.
 * numeric says the path is a numeric resource (gt, lt and st apply only
 * there). Does not judge the resulting set (gw_attrs_check does). 0, or
 * -EINVAL with why filled and *inout partly changed. */
int gw_req_attrs_parse(const uint8_t *query, size_t len, bool numeric, gw_attrs_t *inout, char *why,
                       size_t why_size);

/* The Location-Path options of a Register's 2.01 (LwM2M 1.1 Core 5.3.1,
 * e.g. "rd", "5a3f") joined with '/' into out (size bytes, NUL-terminated),
 * the form Update and De-register split again into one Uri-Path option per
 * piece. A segment holding '/' (node-coap sends "/rd/5" as one option) is
 * split the same way and empty pieces are dropped, so what is sent back is
 * the path the server named. Refused: a piece "." or ".." or a NUL
 * (-EINVAL); more than fits in size (-ENOSPC). No segment at all gives ""
 * (the caller picks its default). */
int gw_req_location_join(const gw_req_seg_t *segs, size_t n, char *out, size_t size);

/* CoAP request codes (RFC 7252 12.1.1, RFC 8132). */
enum {
    GW_REQ_GET = 1,
    GW_REQ_POST = 2,
    GW_REQ_PUT = 3,
    GW_REQ_DELETE = 4,
    GW_REQ_FETCH = 5,
    GW_REQ_IPATCH = 7,
};

/* A request as the dispatcher sees it; every pointer borrowed. */
typedef struct gw_req {
    int method;              /* GW_REQ_* */
    const gw_req_seg_t *uri; /* Uri-Path options */
    size_t n_uri;
    const uint8_t *query;    /* Uri-Query options joined by '&', NULL when none */
    size_t query_len;
    int cf;                  /* Content-Format, -1 when absent */
    const uint8_t *payload;
    size_t len;
} gw_req_t;

/* Everything the dispatcher parses in a request before it looks at a
 * client's store, in the order it does: the path (4.04), the Security
 * object (4.01), the operation the method and path select (4.05), then
 * that operation's input: Write-Attributes query (checked as a whole on an
 * empty set), Execute arguments, the payload of Write/Create/partial
 * update decoded at the path, a Read-Composite's path list, a
 * Write-Composite's values (4.00, 4.04 for a path the registry lacks,
 * 4.15 for a Content-Format without a codec). Returns 0 when the request
 * parses, or the CoAP response code the dispatcher answers (class << 5 |
 * detail, as COAP_RESPONSE_CODE(400) gives), diag telling why. */
int gw_req_parse(const gw_registry_t *reg, const gw_req_t *req, char *diag, size_t diag_size);

#endif
