/*
 * lwm2m/prov_file.h - the file a client's provisioned Security (/0),
 * Server (/1) and Access Control (/2) instances are kept in
 * (state_dir/provisioned/<endpoint>.prov), so a restart registers without
 * bootstrapping again.
 *
 * Layout (all integers big-endian):
 *   "GWPROV1\n"                   8 bytes, the magic and version
 *   u32 count                     records that follow (at most 4096)
 *   count records:
 *     u16 oid, iid, rid, riid     riid 0xFFFF for a single resource
 *     u8  type                    gw_type_t, must be the registry's type
 *     u32 len                     value bytes that follow (at most 4096)
 *     value                       Integer/Time: 8 bytes two's complement;
 *                                 Unsigned: 8; Float: 8 (IEEE 754, finite);
 *                                 Boolean: 1 (0 or 1); Objlnk: 4 (oid, iid);
 *                                 String: UTF-8 without NUL; Opaque: raw
 *   u32 crc                       CRC-32 (IEEE 802.3) of everything before it
 * Only objects 0, 1 and 2, only resources the registry defines, each path
 * once. The file holds keys: written 0600 in a 0700 directory.
 */
#ifndef GW_LWM2M_PROV_FILE_H
#define GW_LWM2M_PROV_FILE_H

#include "registry.h"
#include "value.h"

#define GW_PROV_MAGIC "GWPROV1\n"
#define GW_PROV_MAX_RECORDS 4096
#define GW_PROV_MAX_VALUE 4096

/* Parse a file's bytes (data, len) into records checked against reg:
 * *out (malloc'd, freed by the caller; values borrow data) and *out_n.
 * 0; -EINVAL with a reason in why (why_size bytes, NUL-terminated) for
 * anything wrong: bad magic, cut short, trailing bytes, bad checksum, an
 * object other than 0/1/2, an unknown resource, a type other than the
 * registry's, a bad value, a path twice; -ENOMEM. */
int gw_prov_parse(const uint8_t *data, size_t len, const gw_registry_t *reg, gw_record_t **out,
                  size_t *out_n, char *why, size_t why_size);

/* Append the file's bytes for n records to out. 0, -EINVAL (a record
 * this format cannot hold: object not 0/1/2, a value too long, a type with
 * no encoding), -ENOMEM. */
int gw_prov_encode(const gw_record_t *recs, size_t n, gw_buf_t *out);

#endif
