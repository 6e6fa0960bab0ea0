/*
 * lwm2m/check.h - may the client keep this value? The checks every value
 * from outside passes before it is stored (a server's Write, Create,
 * Write-Composite; a decoded payload of any content format).
 *
 * Three layers, each refusing with -EINVAL and a one-line reason in why
 * ("what is wrong, what is expected"; why may be NULL):
 * - the data type (LwM2M 1.1 Core, Appendix C): a Float is finite; a String
 *   or Corelnk is valid UTF-8 (RFC 3629: no overlong forms, no surrogates,
 *   nothing above U+10FFFF) without NUL. Integer, Unsigned Integer, Time,
 *   Boolean and Objlnk hold nothing else once decoded;
 * - the resource's RangeEnumeration in the object registry (built-in table
 *   or a DDF file), see gw_range_check;
 * - rules the TS gives in prose for the Server object (/1/x/1 Lifetime,
 *   /1/x/2-3 default periods, /1/x/5 Disable Timeout, /1/x/7 Binding).
 */
#ifndef GW_LWM2M_CHECK_H
#define GW_LWM2M_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "registry.h"
#include "store.h"
#include "value.h"

/* True when p[0..len) is valid UTF-8 (RFC 3629). NUL bytes are valid here. */
bool gw_utf8_valid(const uint8_t *p, size_t len);

/* The data-type layer. 0 or -EINVAL. */
int gw_value_check(const gw_value_t *v, char *why, size_t why_size);

/*
 * The registry layer: does v satisfy the RangeEnumeration text `range`?
 * Machine-readable forms (whitespace around tokens is ignored):
 *   "lo..hi"        numeric types: lo <= value <= hi; String, Opaque and
 *                   Corelnk: a length in bytes (an optional " bytes" suffix)
 *   "a,b,c"         an enumeration of numbers (for strings: of lengths), whose
 *                   items may also be ranges ("1..3,7")
 *   "N" / "N bytes" String, Opaque, Corelnk: at most N bytes. For numeric
 *                   types a lone number says nothing usable (the registry
 *                   uses it for a maximum in some objects and a size in
 *                   others), so it constrains nothing.
 * Any other text (prose, "ON;OFF", "8-Bits") constrains nothing: a value is
 * never refused for a range the client cannot read. Boolean and Objlnk have
 * no ranges. Returns 0 or -EINVAL.
 */
int gw_range_check(const char *range, const gw_value_t *v, char *why, size_t why_size);

/* All three layers for a value written to path (3 or 4 levels) of resource
 * d; why starts with the path ("/1/0/1: lifetime must be ..."). 0 or
 * -EINVAL. */
int gw_value_check_res(const gw_resdef_t *d, const gw_path_t *path, const gw_value_t *v, char *why,
                       size_t why_size);

/* ---- Write-Attributes (LwM2M 1.1 5.1.2) ---- */

/* The value of attribute `name` as a query gives it (len bytes, not
 * NUL-terminated): gt, lt and st (is_float) are Float, written as text/plain
 * writes one (decimal, finite: no "nan", "inf", "1e999", "0x10", " 5");
 * pmin, pmax, epmin and epmax are whole seconds 0..2147483647. 0 and *out
 * set, or -EINVAL. */
int gw_attr_value_parse(const char *name, const char *text, size_t len, bool is_float, double *out,
                        char *why, size_t why_size);

/* The attributes one path will hold, judged together: every number finite,
 * periods non-negative, st > 0, pmin <= pmax, epmin < epmax (LwM2M 1.1
 * Core 5.1.2), and
 * lt + 2*st < gt (so lt < gt). 0 or -EINVAL. */
int gw_attrs_check(const gw_attrs_t *a, char *why, size_t why_size);

#endif
