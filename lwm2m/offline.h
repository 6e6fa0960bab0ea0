/*
 * lwm2m/offline.h - readings a virtual client could not report yet: a
 * bounded FIFO in memory, mirrored in a file so a restart keeps them.
 * Internal to lwm2m/ (send.c), and the file parser for the fuzz target.
 *
 * File format (all integers big-endian), written and read only here:
 *   header  "GWOFFL2\n" u16 short server id (1..65534) of the server the
 *           readings are for; version 1 ("GWOFFL1\n", no id) was written
 *           when only the first server had a store, and is still read
 *   record  u8 type (gw_type_t, not NONE), u8 path length (3 or 4),
 *           u16 ids[length], i64 ts_ms (wall clock), then the value:
 *           INTEGER/TIME i64, UNSIGNED u64, FLOAT IEEE-754 binary64 bits,
 *           BOOLEAN u8 0/1, OBJLNK u16 oid u16 iid,
 *           STRING/OPAQUE/CORELNK u32 length (<= GW_OFFLINE_MAX_BYTES) + bytes.
 * Append-only while the client is away; rewritten (temp file + rename) when
 * readings are delivered or the file holds many dropped ones.
 */
#ifndef GW_LWM2M_OFFLINE_H
#define GW_LWM2M_OFFLINE_H

#include "value.h"

#define GW_OFFLINE_MAGIC "GWOFFL2\n"
#define GW_OFFLINE_MAGIC_V1 "GWOFFL1\n"
#define GW_OFFLINE_HEADER_LEN 10 /* version 2: magic and the short server id */
#define GW_OFFLINE_MAX_BYTES 65536u

typedef struct gw_offline gw_offline_t;

/* A store for at most max readings (max 0 keeps nothing) meant for the
 * server with short server id ssid (1..65534; written in the file's
 * header). file (copied, NULL: memory only) is loaded when it exists: a
 * reading that does not parse ends the load with a log line naming the
 * file; the readings before it are kept and the file is rewritten without
 * the rest. A version 1 file (no server id) loads as this server's; a file
 * naming another server is not loaded and never written (logged), so a
 * file put in the wrong place loses nothing. 0, -EINVAL (ssid out of
 * range), -ENOMEM. */
int gw_offline_new(size_t max, const char *file, uint16_t ssid, gw_offline_t **out);
/* Append the readings of another file (version 1 or 2, any server id) to
 * o, make o's file hold them all (written durably first) and then remove
 * the other file: the other file's readings are never only in memory. Used
 * to take over a version 1 file when the server's own file exists too.
 * Returns the number of readings taken (the bound may drop the oldest), or
 * a negative errno (the other file is then left in place). */
int gw_offline_merge(gw_offline_t *o, const char *other);
/* Frees memory; the file stays (it is what a restart loads). */
void gw_offline_free(gw_offline_t **o);

/* Append a reading (value copied). When full, the oldest goes first and
 * *out_dropped (may be NULL) is set. With persist, or when the file already
 * mirrors the store, the file gets it too. 0, -ENOMEM (nothing kept),
 * -EINVAL (a value the file cannot hold). A failing file write is logged
 * and the reading is still kept in memory. */
int gw_offline_push(gw_offline_t *o, const gw_path_t *path, const gw_value_t *v, int64_t ts_ms,
                    bool persist, bool *out_dropped);
/* Make the file mirror every reading held (from now on pushes append). */
void gw_offline_persist(gw_offline_t *o);
size_t gw_offline_count(const gw_offline_t *o);
/* The oldest n (up to max) readings, oldest first, as records with
 * has_time/time = ts_ms / 1000. Values borrow the store's memory, valid
 * until the next push or consume. out has room for max records. */
void gw_offline_peek(const gw_offline_t *o, size_t max, gw_record_t *out, size_t *out_n);
/* Forget the oldest n readings (delivered); the file follows. */
void gw_offline_consume(gw_offline_t *o, size_t n);

/* Make what every store wrote since the last call durable: one syncfs()
 * of the file system holding state_dir (see offline.c for why not an
 * fsync per reading). 0 or a negative errno. gw_offline_unsynced tells
 * whether anything waits for it. */
#define GW_OFFLINE_SYNC_MS 5000
int gw_offline_sync(const char *state_dir);
bool gw_offline_unsynced(void);

/* Parse file bytes (outside bytes: never trusted). *out_ssid gets the
 * header's short server id (0 for a version 1 file, which has none); fn
 * gets each reading in order (values borrow p); a non-zero return from fn
 * stops with that value. Returns 0; -EINVAL with a reason in err (and
 * *out_good = readings before the bad one) on a bad header or record. */
typedef int (*gw_offline_reading_fn)(void *ctx, const gw_path_t *path, const gw_value_t *v, int64_t ts_ms);
int gw_offline_parse(const uint8_t *p, size_t len, uint16_t *out_ssid, gw_offline_reading_fn fn, void *ctx,
                     size_t *out_good, char *err, size_t err_size);
/* Append a version 2 header for server ssid to out. 0 or -ENOMEM. */
int gw_offline_encode_header(uint16_t ssid, gw_buf_t *out);
/* Append one reading's encoding (no header) to out. 0, -EINVAL, -ENOMEM. */
int gw_offline_encode(const gw_path_t *path, const gw_value_t *v, int64_t ts_ms, gw_buf_t *out);
/* "<state_dir>/offline/<endpoint>@<ssid>.rec": the readings of one client
 * for the server with short server id ssid. Characters of the endpoint
 * outside [A-Za-z0-9_.-] (and a leading '.') are %XX, so any endpoint is
 * one file name and the '@' cannot come from it (no two (endpoint, server)
 * pairs share a name). *out is malloc'd. 0 or -ENOMEM. */
int gw_offline_file_name_server(const char *state_dir, const char *endpoint, uint16_t ssid, char **out);
/* "<state_dir>/offline/<endpoint>.rec", the name of version 1 files (one
 * per client, for the first server), looked for to take them over. */
int gw_offline_file_name(const char *state_dir, const char *endpoint, char **out);

#endif
