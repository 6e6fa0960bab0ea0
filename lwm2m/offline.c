/*
 * lwm2m/offline.c - the bounded store of readings a client could not report
 * (see offline.h for the file format): one per virtual client and server,
 * so a server away holds back only its own readings.
 *
 * Memory is a ring that grows by doubling up to its bound, so 10,000
 * clients that never go offline cost a pointer each, not max slots. The
 * file is touched only while it mirrors the ring (the client was away): a
 * client that reports normally never writes to disk.
 *
 * Power loss (the common failure of a Pi) and SD-card wear: every reading
 * kept is appended, and appends, new files, removals and renames are made
 * durable together by one syncfs() at most every GW_OFFLINE_SYNC_MS for the
 * whole store (gw_offline_sync), not by an fsync per reading: 1,000 clients
 * keeping a reading a second would otherwise cost 1,000 flushes a second,
 * each erasing flash pages. A power cut thus loses at most the readings of
 * the last few seconds. A rewrite that replaces a file (readings delivered,
 * a compaction) fsyncs its temporary file before the rename, one flush per
 * rewrite (a Send of up to 64 readings answered): without it a power cut
 * could leave a renamed but empty file, losing every reading of it. Files
 * are 0600 whatever the umask or an older file's mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GW_OFFLINE_REWRITE_MS 1000

/* Something written since the last syncfs (one flag for every store: the
 * files share a directory, and syncfs covers them all). */
static bool unsynced;

#include "../gateway/log.h"
#include "check.h"
#include "offline.h"

typedef struct slot {
    gw_path_t path;
    gw_value_t value; /* bytes malloc'd for STRING/OPAQUE/CORELNK */
    int64_t ts_ms;
} slot_t;

struct gw_offline {
    slot_t *ring;
    size_t cap, max, head, n;
    char *file;
    uint16_t ssid;     /* the server the readings are for (file header) */
    bool mirrored;     /* the file holds every reading of the ring */
    size_t file_recs;  /* readings in the file, dropped or delivered ones included */
    bool stale;        /* the file still begins with delivered readings */
    int64_t stale_ms;  /* monotonic time it first did */
};

static bool has_bytes(gw_type_t t)
{
    return t == GW_TYPE_STRING || t == GW_TYPE_OPAQUE || t == GW_TYPE_CORELNK;
}

static void slot_clear(slot_t *s)
{
    if (has_bytes(s->value.type))
        free((void *)s->value.v.bytes.ptr);
    memset(s, 0, sizeof *s);
}

/* ---- file format ---- */

static void put_be(uint8_t *w, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        w[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int gw_offline_encode(const gw_path_t *path, const gw_value_t *v, int64_t ts_ms, gw_buf_t *out)
{
    uint8_t h[2 + 8 + 8 + 4];
    size_t n = 0;
    if ((path->len != 3 && path->len != 4) || v->type == GW_TYPE_NONE || v->type > GW_TYPE_CORELNK)
        return -EINVAL;
    if (has_bytes(v->type) && v->v.bytes.len > GW_OFFLINE_MAX_BYTES)
        return -EINVAL;
    h[n++] = (uint8_t)v->type;
    h[n++] = path->len;
    for (int i = 0; i < path->len; i++, n += 2)
        put_be(h + n, path->id[i], 2);
    put_be(h + n, (uint64_t)ts_ms, 8);
    n += 8;
    int rc = gw_buf_append(out, h, n);
    uint8_t b[8];
    switch (v->type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME: put_be(b, (uint64_t)v->v.i, 8); n = 8; break;
    case GW_TYPE_UNSIGNED: put_be(b, v->v.u, 8); n = 8; break;
    case GW_TYPE_FLOAT: {
        uint64_t bits;
        memcpy(&bits, &v->v.f, 8);
        put_be(b, bits, 8);
        n = 8;
        break;
    }
    case GW_TYPE_BOOLEAN: b[0] = v->v.b ? 1 : 0; n = 1; break;
    case GW_TYPE_OBJLNK:
        put_be(b, v->v.objlnk.oid, 2);
        put_be(b + 2, v->v.objlnk.iid, 2);
        n = 4;
        break;
    default:
        put_be(b, v->v.bytes.len, 4);
        if (!rc)
            rc = gw_buf_append(out, b, 4);
        if (!rc)
            rc = gw_buf_append(out, v->v.bytes.ptr ? v->v.bytes.ptr : (const uint8_t *)"", v->v.bytes.len);
        return rc;
    }
    return rc ? rc : gw_buf_append(out, b, n);
}

/* One reading at p[0..left); *used = its length. NULL on success, else why. */
static const char *parse_one(const uint8_t *p, size_t left, gw_path_t *path, gw_value_t *v, int64_t *ts,
                             size_t *used)
{
    if (left < 2)
        return "truncated reading";
    uint8_t type = p[0], len = p[1];
    if (type == GW_TYPE_NONE || type > GW_TYPE_CORELNK)
        return "unknown value type";
    if (len != 3 && len != 4)
        return "path must have 3 or 4 levels";
    size_t n = 2;
    if (left < n + 2u * len + 8)
        return "truncated reading";
    memset(path, 0, sizeof *path);
    path->len = len;
    for (int i = 0; i < len; i++, n += 2) {
        path->id[i] = (uint16_t)get_be(p + n, 2);
        if (path->id[i] == GW_ID_NONE)
            return "path id 65535";
    }
    *ts = (int64_t)get_be(p + n, 8);
    n += 8;
    memset(v, 0, sizeof *v);
    v->type = (gw_type_t)type;
    size_t need = type == GW_TYPE_BOOLEAN ? 1 : type == GW_TYPE_OBJLNK ? 4 : has_bytes(v->type) ? 4 : 8;
    if (left - n < need)
        return "truncated value";
    const uint8_t *q = p + n;
    n += need;
    switch (v->type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME: v->v.i = (int64_t)get_be(q, 8); break;
    case GW_TYPE_UNSIGNED: v->v.u = get_be(q, 8); break;
    case GW_TYPE_FLOAT: {
        uint64_t bits = get_be(q, 8);
        memcpy(&v->v.f, &bits, 8);
        break;
    }
    case GW_TYPE_BOOLEAN:
        if (q[0] > 1)
            return "boolean not 0 or 1";
        v->v.b = q[0] == 1;
        break;
    case GW_TYPE_OBJLNK:
        v->v.objlnk.oid = (uint16_t)get_be(q, 2);
        v->v.objlnk.iid = (uint16_t)get_be(q + 2, 2);
        break;
    default: {
        uint64_t bl = get_be(q, 4);
        if (bl > GW_OFFLINE_MAX_BYTES)
            return "string longer than 64 KiB";
        if (left - n < bl)
            return "truncated string";
        v->v.bytes.ptr = p + n;
        v->v.bytes.len = (size_t)bl;
        n += (size_t)bl;
    }
    }
    /* The file is outside bytes too: what the store would refuse is never
     * sent (and no encoder of a Send would fail on it later). */
    if (gw_value_check(v, NULL, 0) < 0)
        return "a value its type does not allow (NaN, infinity, a string that is not UTF-8)";
    *used = n;
    return NULL;
}

int gw_offline_encode_header(uint16_t ssid, gw_buf_t *out)
{
    uint8_t h[GW_OFFLINE_HEADER_LEN];
    memcpy(h, GW_OFFLINE_MAGIC, sizeof GW_OFFLINE_MAGIC - 1);
    put_be(h + sizeof GW_OFFLINE_MAGIC - 1, ssid, 2);
    return gw_buf_append(out, h, sizeof h);
}

int gw_offline_parse(const uint8_t *p, size_t len, uint16_t *out_ssid, gw_offline_reading_fn fn, void *ctx,
                     size_t *out_good, char *err, size_t err_size)
{
    size_t ml = sizeof GW_OFFLINE_MAGIC - 1, off, good = 0;
    *out_good = 0;
    *out_ssid = 0;
    if (len >= ml && memcmp(p, GW_OFFLINE_MAGIC_V1, ml) == 0) {
        off = ml;
    } else if (len >= ml && memcmp(p, GW_OFFLINE_MAGIC, ml) == 0) {
        if (len < GW_OFFLINE_HEADER_LEN) {
            snprintf(err, err_size, "header cut short (no server id)");
            return -EINVAL;
        }
        uint16_t ssid = (uint16_t)get_be(p + ml, 2);
        if (ssid == 0 || ssid == 65535) {
            snprintf(err, err_size, "server id %u in the header (1..65534 expected)", ssid);
            return -EINVAL;
        }
        *out_ssid = ssid;
        off = GW_OFFLINE_HEADER_LEN;
    } else {
        snprintf(err, err_size, "not an offline readings file (bad header)");
        return -EINVAL;
    }
    while (off < len) {
        gw_path_t path;
        gw_value_t v;
        int64_t ts;
        size_t used = 0;
        const char *why = parse_one(p + off, len - off, &path, &v, &ts, &used);
        if (why) {
            snprintf(err, err_size, "reading %zu at byte %zu: %s", good + 1, off, why);
            *out_good = good;
            return -EINVAL;
        }
        int rc = fn ? fn(ctx, &path, &v, ts) : 0;
        if (rc)
            return rc;
        off += used;
        *out_good = ++good;
    }
    return 0;
}

/* ssid 0: the version 1 name, without a server. */
static int file_name(const char *state_dir, const char *endpoint, uint16_t ssid, char **out)
{
    gw_buf_t b = {0};
    static const char hex[] = "0123456789ABCDEF";
    int rc = gw_buf_appendf(&b, "%s/offline/", state_dir);
    for (const char *e = endpoint; !rc && *e; e++) {
        char c = *e;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                     c == '-' || (c == '.' && e != endpoint);
        rc = plain ? gw_buf_append(&b, &c, 1)
                   : gw_buf_appendf(&b, "%%%c%c", hex[(uint8_t)c >> 4], hex[(uint8_t)c & 15]);
    }
    if (!rc && ssid)
        rc = gw_buf_appendf(&b, "@%u", ssid);
    if (!rc)
        rc = gw_buf_append(&b, ".rec", 5); /* with the NUL */
    if (rc) {
        gw_buf_free(&b);
        return rc;
    }
    *out = (char *)b.data;
    return 0;
}

int gw_offline_file_name(const char *state_dir, const char *endpoint, char **out)
{
    return file_name(state_dir, endpoint, 0, out);
}

int gw_offline_file_name_server(const char *state_dir, const char *endpoint, uint16_t ssid, char **out)
{
    return ssid ? file_name(state_dir, endpoint, ssid, out) : -EINVAL;
}

/* ---- file I/O ---- */

static void ensure_dir(const char *file)
{
    char *dir = strdup(file);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            gw_warn("offline store: cannot create %s: %s", dir, strerror(errno));
    }
    free(dir);
}

static const slot_t *at(const gw_offline_t *o, size_t i) { return &o->ring[(o->head + i) % o->cap]; }

/* Opens a store file without blocking and only when it is a regular file:
 * a FIFO or a device put in its place would otherwise stop the whole daemon
 * in open() or write(). */
static int open_regular(const char *path, int flags)
{
    int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    return fd;
}

/* durable: fdatasync before close (a file about to replace another). */
static int write_all(const char *path, bool append_to, const gw_buf_t *b, bool durable)
{
    int fd = open_regular(path, O_WRONLY | O_CREAT | (append_to ? O_APPEND : O_TRUNC));
    if (fd < 0)
        return fd;
    int rc = fchmod(fd, 0600) < 0 ? -errno : 0; /* a file left by an older version may be 0644 */
    for (size_t off = 0; off < b->len && !rc;) {
        ssize_t w = write(fd, b->data + off, b->len - off);
        if (w < 0 && errno != EINTR)
            rc = -errno;
        else if (w > 0)
            off += (size_t)w;
    }
    if (!rc && durable && fdatasync(fd) < 0)
        rc = -errno;
    if (close(fd) != 0 && !rc)
        rc = -errno;
    unsynced = true;
    return rc;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The file becomes exactly the ring (or disappears when it is empty). */
static void rewrite(gw_offline_t *o)
{
    if (!o->file)
        return;
    o->stale = false;
    if (o->n == 0) {
        if (unlink(o->file) < 0 && errno != ENOENT)
            gw_warn("offline store: cannot remove %s: %s", o->file, strerror(errno));
        unsynced = true;
        o->mirrored = false;
        o->file_recs = 0;
        return;
    }
    gw_buf_t b = {0};
    char *tmp = NULL;
    int rc = gw_offline_encode_header(o->ssid, &b);
    for (size_t i = 0; !rc && i < o->n; i++)
        rc = gw_offline_encode(&at(o, i)->path, &at(o, i)->value, at(o, i)->ts_ms, &b);
    if (!rc && asprintf(&tmp, "%s.tmp", o->file) < 0) {
        tmp = NULL;
        rc = -ENOMEM;
    }
    if (!rc) {
        ensure_dir(o->file);
        /* Nothing to replace (the first time away): written in place, made
         * durable by the next gw_offline_sync like an append; a cut-short
         * file loads up to its last whole reading. */
        if (!o->file_recs && access(o->file, F_OK) != 0) {
            rc = write_all(o->file, false, &b, false);
            goto done;
        }
        rc = write_all(tmp, false, &b, true);
    }
    if (!rc && rename(tmp, o->file) < 0)
        rc = -errno;
done:
    if (rc) {
        gw_warn("offline store: cannot write %s: %s", o->file, strerror(-rc));
        if (tmp)
            unlink(tmp);
    }
    o->mirrored = rc == 0;
    o->file_recs = rc == 0 ? o->n : 0;
    free(tmp);
    gw_buf_free(&b);
}

static void append(gw_offline_t *o, const slot_t *s)
{
    gw_buf_t b = {0};
    int rc = gw_offline_encode(&s->path, &s->value, s->ts_ms, &b);
    if (!rc)
        rc = write_all(o->file, true, &b, false);
    gw_buf_free(&b);
    if (rc) {
        gw_warn("offline store: cannot append to %s: %s", o->file, strerror(-rc));
        o->mirrored = false;
        return;
    }
    o->file_recs++;
}

/* ---- ring ---- */

static int grow(gw_offline_t *o)
{
    size_t cap = o->cap ? o->cap * 2 : 16;
    if (cap > o->max)
        cap = o->max;
    slot_t *r = calloc(cap, sizeof *r);
    if (!r)
        return -ENOMEM;
    for (size_t i = 0; i < o->n; i++)
        r[i] = *at(o, i);
    free(o->ring);
    o->ring = r;
    o->cap = cap;
    o->head = 0;
    return 0;
}

/* Memory only: the file is the caller's business. */
static int ring_push(gw_offline_t *o, const gw_path_t *path, const gw_value_t *v, int64_t ts_ms,
                     bool *out_dropped)
{
    slot_t s = {.path = *path, .value = *v, .ts_ms = ts_ms};
    if (out_dropped)
        *out_dropped = false;
    if (o->max == 0) {
        if (out_dropped)
            *out_dropped = true;
        return 0;
    }
    if ((path->len != 3 && path->len != 4) || v->type == GW_TYPE_NONE || v->type > GW_TYPE_CORELNK ||
        (has_bytes(v->type) && v->v.bytes.len > GW_OFFLINE_MAX_BYTES))
        return -EINVAL;
    if (has_bytes(v->type)) {
        uint8_t *copy = malloc(v->v.bytes.len + 1);
        if (!copy)
            return -ENOMEM;
        if (v->v.bytes.len)
            memcpy(copy, v->v.bytes.ptr, v->v.bytes.len);
        s.value.v.bytes.ptr = copy;
    }
    if (o->n == o->cap && o->cap < o->max && grow(o) < 0) {
        slot_clear(&s);
        return -ENOMEM;
    }
    if (o->n == o->cap) { /* full: the oldest makes room */
        slot_clear(&o->ring[o->head]);
        o->head = (o->head + 1) % o->cap;
        o->n--;
        if (out_dropped)
            *out_dropped = true;
    }
    o->ring[(o->head + o->n) % o->cap] = s;
    o->n++;
    return 0;
}

static int load_one(void *ctx, const gw_path_t *path, const gw_value_t *v, int64_t ts_ms)
{
    return ring_push(ctx, path, v, ts_ms, NULL);
}

/* The whole file into *b. 0, -ENOENT (logged otherwise). */
static int read_file(const char *file, gw_buf_t *b)
{
    int fd = open_regular(file, O_RDONLY);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
    if (!f) {
        int e = fd < 0 ? -fd : errno;
        if (fd >= 0)
            close(fd);
        if (e == EINVAL)
            gw_warn("offline store: %s is not a regular file; its readings are not loaded", file);
        else if (e != ENOENT)
            gw_warn("offline store: cannot read %s: %s", file, strerror(e));
        return -e;
    }
    uint8_t chunk[4096];
    size_t r;
    int rc = 0;
    while (!rc && (r = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = gw_buf_append(b, chunk, r);
    fclose(f);
    if (rc)
        gw_warn("offline store: cannot read %s: %s", file, strerror(-rc));
    return rc;
}

/* Does the header name another server than o's? Then the file is left
 * alone: o keeps its readings in memory only, and the operator is told. */
static bool foreign(gw_offline_t *o, const gw_buf_t *b)
{
    size_t ml = sizeof GW_OFFLINE_MAGIC - 1;
    if (b->len < GW_OFFLINE_HEADER_LEN || memcmp(b->data, GW_OFFLINE_MAGIC, ml) != 0)
        return false;
    uint16_t ssid = (uint16_t)get_be(b->data + ml, 2);
    if (ssid == o->ssid || ssid == 0 || ssid == 65535)
        return false;
    gw_warn("offline store: %s holds readings for server %u, not %u; not loaded, and left as it is "
            "(this client's readings for server %u are kept in memory only)",
            o->file, ssid, o->ssid, o->ssid);
    free(o->file);
    o->file = NULL;
    return true;
}

static void load(gw_offline_t *o)
{
    gw_buf_t b = {0};
    int rc = read_file(o->file, &b);
    if (rc < 0 || foreign(o, &b)) {
        gw_buf_free(&b);
        return;
    }
    char err[128] = "";
    size_t good = 0;
    uint16_t ssid = 0;
    rc = gw_offline_parse(b.data ? b.data : (const uint8_t *)"", b.len, &ssid, load_one, o, &good, err,
                          sizeof err);
    gw_buf_free(&b);
    if (rc == -EINVAL) {
        gw_warn("offline store: %s: %s; keeping the %zu readings before it", o->file, err, good);
        rewrite(o);
    } else if (rc) {
        gw_warn("offline store: %s: %s", o->file, strerror(-rc));
    } else {
        o->mirrored = o->n > 0;
        o->file_recs = good;
        if (good > o->n)
            rewrite(o); /* the bound shrank since it was written */
    }
    if (o->n)
        gw_info("offline store: %zu readings loaded from %s", o->n, o->file);
}

int gw_offline_sync(const char *state_dir)
{
    if (!unsynced || !state_dir)
        return 0;
    unsynced = false;
    int fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = syncfs(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

bool gw_offline_unsynced(void) { return unsynced; }

int gw_offline_new(size_t max, const char *file, uint16_t ssid, gw_offline_t **out)
{
    *out = NULL;
    if (ssid == 0 || ssid == 65535)
        return -EINVAL;
    gw_offline_t *o = calloc(1, sizeof *o);
    if (!o)
        return -ENOMEM;
    o->max = max;
    o->ssid = ssid;
    if (file && !(o->file = strdup(file))) {
        free(o);
        return -ENOMEM;
    }
    if (o->file)
        load(o);
    *out = o;
    return 0;
}

int gw_offline_merge(gw_offline_t *o, const char *other)
{
    gw_buf_t b = {0};
    int rc = read_file(other, &b);
    if (rc < 0) {
        gw_buf_free(&b);
        return rc;
    }
    char err[128] = "";
    size_t good = 0, before = o->n;
    uint16_t ssid = 0;
    rc = gw_offline_parse(b.data ? b.data : (const uint8_t *)"", b.len, &ssid, load_one, o, &good, err,
                          sizeof err);
    gw_buf_free(&b);
    if (rc == -EINVAL)
        gw_warn("offline store: %s: %s; taking the %zu readings before it", other, err, good);
    else if (rc < 0)
        return rc;
    if (!o->file)
        return -EINVAL;
    rewrite(o);
    if (!o->mirrored && o->n)
        return -EIO; /* logged by rewrite: the other file stays */
    if (unlink(other) < 0 && errno != ENOENT)
        gw_warn("offline store: cannot remove %s: %s", other, strerror(errno));
    unsynced = true;
    return (int)(o->n >= before ? o->n - before : 0);
}

void gw_offline_free(gw_offline_t **po)
{
    gw_offline_t *o = *po;
    if (!o)
        return;
    if (o->stale)
        rewrite(o);
    for (size_t i = 0; i < o->n; i++)
        slot_clear(&o->ring[(o->head + i) % o->cap]);
    free(o->ring);
    free(o->file);
    free(o);
    *po = NULL;
}

int gw_offline_push(gw_offline_t *o, const gw_path_t *path, const gw_value_t *v, int64_t ts_ms,
                    bool persist, bool *out_dropped)
{
    bool dropped = false;
    int rc = ring_push(o, path, v, ts_ms, &dropped);
    if (out_dropped)
        *out_dropped = dropped;
    if (rc < 0 || !o->file || o->max == 0 || !(persist || o->mirrored))
        return rc;
    /* Dropped readings stay in the file until it holds twice the bound:
     * rewriting it on every push of a full store would cost O(max) each. */
    if (!o->mirrored || o->file_recs + 1 > 2 * o->max)
        rewrite(o);
    else
        append(o, at(o, o->n - 1));
    return 0;
}

void gw_offline_persist(gw_offline_t *o)
{
    if (o->file && !o->mirrored && o->n)
        rewrite(o);
}

size_t gw_offline_count(const gw_offline_t *o) { return o->n; }

void gw_offline_peek(const gw_offline_t *o, size_t max, gw_record_t *out, size_t *out_n)
{
    size_t n = o->n < max ? o->n : max;
    for (size_t i = 0; i < n; i++) {
        const slot_t *s = at(o, i);
        memset(&out[i], 0, sizeof out[i]);
        out[i].path = s->path;
        out[i].value = s->value;
        out[i].has_time = true;
        out[i].time = (double)s->ts_ms / 1000.0;
    }
    *out_n = n;
}

void gw_offline_consume(gw_offline_t *o, size_t n)
{
    if (n > o->n)
        n = o->n;
    for (size_t i = 0; i < n; i++) {
        slot_clear(&o->ring[o->head]);
        o->head = (o->head + 1) % o->cap;
    }
    o->n -= n;
    if (o->n == 0)
        o->head = 0;
    if (!n || !(o->mirrored || o->file_recs))
        return;
    /* A backlog goes out a Send (64 readings) at a time, answered within
     * milliseconds: rewriting the file after each would cost a flush per
     * Send. The delivered readings stay at its head until the backlog is
     * gone (the file is removed), until a delivery GW_OFFLINE_REWRITE_MS
     * after the first of them, or gw_offline_free: a crash in between sends
     * them again (at least once). */
    int64_t now = mono_ms();
    if (o->n == 0 || !o->mirrored || (o->stale && now - o->stale_ms >= GW_OFFLINE_REWRITE_MS)) {
        rewrite(o);
    } else if (!o->stale) {
        o->stale = true;
        o->stale_ms = now;
    }
}
