/*
 * lwm2m/offline.h - readings a virtual client could not report yet: a
 * bounded FIFO in memory, mirrored in a file so a restart keeps them.
 * Internal to lwm2m/ (send.c), and the file parser for the fuzz target.
 *
 * File format (all integers big-endian), written and read only here:
 *   header  "GWOFFL1\n"
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

#define GW_OFFLINE_MAGIC "GWOFFL1\n"
#define GW_OFFLINE_MAX_BYTES 65536u

typedef struct gw_offline gw_offline_t;

/* A store for at most max readings (max 0 keeps nothing). file (copied,
 * NULL: memory only) is loaded when it exists: a reading that does not
 * parse ends the load with a log line naming the file; the readings before
 * it are kept and the file is rewritten without the rest. 0 or -ENOMEM. */
int gw_offline_new(size_t max, const char *file, gw_offline_t **out);
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

/* Parse file bytes (outside bytes: never trusted). fn gets each reading
 * in order (values borrow p); a non-zero return from fn stops with that
 * value. Returns 0; -EINVAL with a reason in err (and *out_good = readings
 * before the bad one) on a bad header or record. */
typedef int (*gw_offline_reading_fn)(void *ctx, const gw_path_t *path, const gw_value_t *v, int64_t ts_ms);
int gw_offline_parse(const uint8_t *p, size_t len, gw_offline_reading_fn fn, void *ctx, size_t *out_good,
                     char *err, size_t err_size);
/* Append one reading's encoding (no header) to out. 0, -EINVAL, -ENOMEM. */
int gw_offline_encode(const gw_path_t *path, const gw_value_t *v, int64_t ts_ms, gw_buf_t *out);
/* "<state_dir>/offline/<endpoint>.rec" with characters outside
 * [A-Za-z0-9_.-] (and a leading '.') as %XX, so any endpoint is one
 * file name. *out is malloc'd. 0 or -ENOMEM. */
int gw_offline_file_name(const char *state_dir, const char *endpoint, char **out);

#endif
