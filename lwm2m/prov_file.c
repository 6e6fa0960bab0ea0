/*
 * lwm2m/prov_file.c - provisioned /0, /1 and /2 instances of a client, kept
 * in state_dir/provisioned/<endpoint>.prov (layout in prov_file.h).
 *
 * A file is replaced whole and atomically: written to a temporary file,
 * fsync'd, renamed over the old one, and the directory fsync'd, so a crash
 * or power cut at any moment leaves either the old file or the new one,
 * never a mix. A checksum guards against what rename cannot (a disk that
 * returns other bytes, an edit by hand): a file that does not parse in
 * full is refused whole, logged, and the client bootstraps again.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../gateway/log.h"
#include "check.h"
#include "lwm2m_internal.h"

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    /* Bitwise: files are a few hundred bytes, written on bootstrap only. */
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

static int encode_one(const gw_record_t *r, gw_buf_t *out)
{
    uint8_t h[13], v[8];
    const uint8_t *val = v;
    size_t len;
    if (r->path.len < 3 || r->path.id[0] > 2)
        return -EINVAL;
    switch (r->value.type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        put64(v, (uint64_t)r->value.v.i);
        len = 8;
        break;
    case GW_TYPE_UNSIGNED:
        put64(v, r->value.v.u);
        len = 8;
        break;
    case GW_TYPE_FLOAT: {
        uint64_t bits;
        memcpy(&bits, &r->value.v.f, sizeof bits);
        put64(v, bits);
        len = 8;
        break;
    }
    case GW_TYPE_BOOLEAN:
        v[0] = r->value.v.b ? 1 : 0;
        len = 1;
        break;
    case GW_TYPE_OBJLNK:
        put16(v, r->value.v.objlnk.oid);
        put16(v + 2, r->value.v.objlnk.iid);
        len = 4;
        break;
    case GW_TYPE_STRING:
    case GW_TYPE_OPAQUE:
        val = r->value.v.bytes.ptr;
        len = r->value.v.bytes.len;
        if (len > GW_PROV_MAX_VALUE)
            return -EINVAL;
        break;
    default:
        return -EINVAL;
    }
    put16(h, r->path.id[0]);
    put16(h + 2, r->path.id[1]);
    put16(h + 4, r->path.id[2]);
    put16(h + 6, r->path.len == 4 ? r->path.id[3] : GW_ID_NONE);
    h[8] = (uint8_t)r->value.type;
    put32(h + 9, (uint32_t)len);
    if (gw_buf_append(out, h, sizeof h) < 0 || (len && gw_buf_append(out, val, len) < 0))
        return -ENOMEM;
    return 0;
}

int gw_prov_encode(const gw_record_t *recs, size_t n, gw_buf_t *out)
{
    uint8_t c[4];
    size_t start = out->len;
    if (n > GW_PROV_MAX_RECORDS)
        return -EINVAL;
    put32(c, (uint32_t)n);
    if (gw_buf_append(out, GW_PROV_MAGIC, sizeof GW_PROV_MAGIC - 1) < 0 || gw_buf_append(out, c, 4) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = encode_one(&recs[i], out);
        if (rc < 0)
            return rc;
    }
    put32(c, crc32_ieee(out->data + start, out->len - start));
    return gw_buf_append(out, c, 4) < 0 ? -ENOMEM : 0;
}

static int refuse(char *why, size_t size, const char *fmt, size_t at)
{
    snprintf(why, size, fmt, at);
    return -EINVAL;
}

static int cmp_path(const void *a, const void *b)
{
    return gw_path_cmp(&((const gw_record_t *)a)->path, &((const gw_record_t *)b)->path);
}

/* One record at p (left bytes); its size in *used. */
static int parse_one(const uint8_t *p, size_t left, const gw_registry_t *reg, gw_record_t *r, size_t *used,
                     char *why, size_t size, size_t k)
{
    if (left < 13)
        return refuse(why, size, "record %zu is cut short", k);
    uint16_t oid = get16(p), iid = get16(p + 2), rid = get16(p + 4), riid = get16(p + 6);
    uint8_t type = p[8];
    uint32_t len = get32(p + 9);
    if (len > GW_PROV_MAX_VALUE || len > left - 13)
        return refuse(why, size, "record %zu: value length past the end of the file", k);
    const uint8_t *v = p + 13;
    *used = 13 + len;
    if (oid > 2 || iid == GW_ID_NONE || rid == GW_ID_NONE)
        return refuse(why, size, "record %zu: not a path of objects 0, 1 or 2", k);
    const gw_objdef_t *o = gw_registry_find(reg, oid);
    const gw_resdef_t *d = o ? gw_objdef_find_res(o, rid) : NULL;
    if (!d)
        return refuse(why, size, "record %zu: resource not defined in the object", k);
    if (d->multiple != (riid != GW_ID_NONE))
        return refuse(why, size, "record %zu: resource instance where there is none, or missing", k);
    if (type != d->type)
        return refuse(why, size, "record %zu: type differs from the object's definition", k);
    memset(r, 0, sizeof *r);
    r->path = gw_path_make(oid, iid, rid, riid);
    r->value.type = (gw_type_t)type;
    switch (type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
    case GW_TYPE_UNSIGNED:
    case GW_TYPE_FLOAT:
        if (len != 8)
            return refuse(why, size, "record %zu: a number takes 8 bytes", k);
        r->value.v.u = get64(v);
        if (type == GW_TYPE_FLOAT) {
            uint64_t bits = get64(v);
            memcpy(&r->value.v.f, &bits, sizeof bits);
            if (!isfinite(r->value.v.f))
                return refuse(why, size, "record %zu: float is not finite", k);
        }
        break;
    case GW_TYPE_BOOLEAN:
        if (len != 1 || v[0] > 1)
            return refuse(why, size, "record %zu: a boolean is one byte, 0 or 1", k);
        r->value.v.b = v[0] == 1;
        break;
    case GW_TYPE_OBJLNK:
        if (len != 4)
            return refuse(why, size, "record %zu: an object link takes 4 bytes", k);
        r->value.v.objlnk.oid = get16(v);
        r->value.v.objlnk.iid = get16(v + 2);
        break;
    case GW_TYPE_STRING:
        if (!gw_utf8_valid(v, len) || memchr(v, 0, len))
            return refuse(why, size, "record %zu: string is not UTF-8 without NUL", k);
        /* fall through */
    case GW_TYPE_OPAQUE:
        r->value.v.bytes.ptr = v;
        r->value.v.bytes.len = len;
        break;
    default:
        return refuse(why, size, "record %zu: type has no encoding here", k);
    }
    char w[96];
    if (gw_value_check_res(d, &r->path, &r->value, w, sizeof w) < 0) {
        snprintf(why, size, "record %zu: %s", k, w);
        return -EINVAL;
    }
    return 0;
}

int gw_prov_parse(const uint8_t *data, size_t len, const gw_registry_t *reg, gw_record_t **out,
                  size_t *out_n, char *why, size_t why_size)
{
    const size_t ml = sizeof GW_PROV_MAGIC - 1;
    *out = NULL;
    *out_n = 0;
    if (len < ml + 8 || memcmp(data, GW_PROV_MAGIC, ml) != 0)
        return refuse(why, why_size, "not a provisioning file (magic \"GWPROV1\" missing, or %zu bytes only)", len);
    if (crc32_ieee(data, len - 4) != get32(data + len - 4))
        return refuse(why, why_size, "checksum mismatch (%zu bytes): the file is damaged or cut short", len);
    uint32_t n = get32(data + ml);
    if (n > GW_PROV_MAX_RECORDS)
        return refuse(why, why_size, "%zu records, more than this format allows", n);
    gw_record_t *recs = calloc(n ? n : 1, sizeof *recs);
    if (!recs)
        return -ENOMEM;
    const uint8_t *p = data + ml + 4, *end = data + len - 4;
    int rc = 0;
    for (uint32_t k = 0; k < n && !rc; k++) {
        size_t used = 0;
        rc = parse_one(p, (size_t)(end - p), reg, &recs[k], &used, why, why_size, k);
        p += used;
    }
    if (!rc && p != end)
        rc = refuse(why, why_size, "%zu bytes after the last record", (size_t)(end - p));
    if (!rc && n > 1) {
        qsort(recs, n, sizeof *recs, cmp_path);
        for (uint32_t k = 1; k < n && !rc; k++)
            if (gw_path_cmp(&recs[k - 1].path, &recs[k].path) == 0)
                rc = refuse(why, why_size, "a path is given twice (record %zu after sorting)", k);
    }
    if (rc) {
        free(recs);
        return rc;
    }
    *out = recs;
    *out_n = n;
    return 0;
}

/* ---- files ---- */

/* dir/<endpoint>.prov; characters other than [A-Za-z0-9._-] as %XX, so an
 * endpoint never names another directory. */
static char *file_name(const char *dir, const char *endpoint, const char *suffix)
{
    gw_buf_t b = {0};
    int rc = gw_buf_appendf(&b, "%s/", dir);
    for (const char *e = endpoint; !rc && *e; e++) {
        unsigned char c = (unsigned char)*e;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            (c == '.' && e != endpoint))
            rc = gw_buf_append(&b, e, 1);
        else
            rc = gw_buf_appendf(&b, "%%%02X", c);
    }
    if (!rc)
        rc = gw_buf_appendf(&b, ".prov%s", suffix);
    if (!rc)
        rc = gw_buf_append(&b, "", 1);
    if (rc) {
        gw_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

static int ensure_dir(const char *dir)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    struct stat st;
    if (lstat(dir, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    if ((st.st_mode & 077) && chmod(dir, 0700) < 0)
        return -errno;
    return 0;
}

static int write_fd(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int save_bytes(const char *dir, const char *file, const char *tmp, const gw_buf_t *b)
{
    int rc = ensure_dir(dir);
    if (rc < 0)
        return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    rc = write_fd(fd, b->data, b->len);
    if (!rc && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, file) < 0)
        rc = -errno;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    /* The rename itself durable: the directory's entry. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) < 0)
            rc = -errno;
        close(dfd);
    }
    return rc;
}

int gw_prov_save(const char *dir, const char *endpoint, const gw_sclient_t *sc)
{
    gw_record_t *all = NULL, *part = NULL;
    size_t n_all = 0;
    gw_buf_t b = {0};
    char *file = file_name(dir, endpoint, ""), *tmp = file_name(dir, endpoint, ".tmp");
    int rc = file && tmp ? 0 : -ENOMEM;
    for (uint16_t oid = 0; !rc && oid <= 2; oid++) {
        size_t n = 0;
        gw_path_t p = {{oid, 0, 0, 0}, 1};
        if (!gw_store_object_exists(sc, oid))
            continue;
        rc = gw_store_read(sc, &p, &part, &n);
        if (rc == 0 && n) {
            gw_record_t *grown = realloc(all, (n_all + n) * sizeof *all);
            if (!grown) {
                rc = -ENOMEM;
            } else {
                all = grown;
                memcpy(all + n_all, part, n * sizeof *part);
                n_all += n;
            }
        }
        free(part);
        part = NULL;
    }
    if (!rc)
        rc = gw_prov_encode(all, n_all, &b);
    if (!rc)
        rc = save_bytes(dir, file, tmp, &b);
    if (rc)
        gw_err("%s: cannot persist its provisioned servers in %s: %s", endpoint, file ? file : dir,
               strerror(-rc));
    else
        gw_info("%s: provisioned servers persisted (%zu values, %s)", endpoint, n_all, file);
    free(all);
    gw_buf_free(&b);
    free(file);
    free(tmp);
    return rc;
}

void gw_prov_remove(const char *dir, const char *endpoint)
{
    char *file = file_name(dir, endpoint, "");
    if (file && unlink(file) < 0 && errno != ENOENT)
        gw_warn("%s: cannot remove %s: %s", endpoint, file, strerror(errno));
    free(file);
}

/* The file's bytes; why says what is wrong in words (not ELOOP's "Too
 * many levels of symbolic links" for a link O_NOFOLLOW refused). A file
 * group or others may read is made 0600 with a warning: it holds keys,
 * and the gateway wrote it 0600, so someone changed it (a copy, a
 * restore); refusing it would only make the client bootstrap again and
 * write a new one. */
static int read_file(const char *file, const char *endpoint, gw_buf_t *out, char *why, size_t size)
{
    struct stat st;
    if (lstat(file, &st) < 0)
        return -errno;
    if (S_ISLNK(st.st_mode)) {
        snprintf(why, size, "is a symbolic link, expected a regular file the gateway wrote");
        return -EINVAL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, size, "not a regular file (%s)", S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" : "a device or socket");
        return -EINVAL;
    }
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        snprintf(why, size, "%s", strerror(errno));
        return -errno;
    }
    int rc = 0;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
    } else if (!S_ISREG(st.st_mode)) { /* replaced since lstat: a FIFO or device would block or never end */
        snprintf(why, size, "not a regular file");
        rc = -EINVAL;
    } else if (st.st_size > (off_t)(GW_PROV_MAX_RECORDS * 64)) {
        rc = -EFBIG;
    } else if (st.st_mode & 077) {
        gw_warn("%s: %s was readable by %s (mode %04o): made 0600, it holds the client's keys", endpoint, file,
                (st.st_mode & 070) ? "its group" : "others", (unsigned)(st.st_mode & 07777));
        if (fchmod(fd, 0600) < 0)
            gw_warn("%s: cannot make %s 0600: %s", endpoint, file, strerror(errno));
    }
    while (!rc) {
        uint8_t buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = -errno;
        else if (n == 0)
            break;
        else if (out->len + (size_t)n > (size_t)GW_PROV_MAX_RECORDS * 64)
            rc = -EFBIG;
        else if (gw_buf_append(out, buf, (size_t)n) < 0)
            rc = -ENOMEM;
    }
    close(fd);
    if (rc < 0 && !why[0])
        snprintf(why, size, "%s", strerror(-rc));
    return rc;
}

int gw_prov_load(const char *dir, gw_vclient_t *vc)
{
    gw_buf_t b = {0};
    gw_record_t *recs = NULL;
    size_t n = 0;
    char why[160] = "";
    char *file = file_name(dir, vc->endpoint, "");
    if (!file)
        return -ENOMEM;
    int rc = read_file(file, vc->endpoint, &b, why, sizeof why);
    if (rc == -ENOENT) {
        free(file);
        return 0;
    }
    if (rc == 0)
        rc = gw_prov_parse(b.data, b.len, gw_store_registry(vc->m->store), &recs, &n, why, sizeof why);
    gw_store_t *s = vc->m->store;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const gw_path_t *p = &recs[i].path;
        if (!gw_store_instance_exists(vc->sc, p->id[0], p->id[1]))
            rc = gw_store_instance_create(s, vc->sc, p->id[0], p->id[1]);
        if (rc == 0)
            rc = gw_store_set(s, vc->sc, p, &recs[i].value, 0);
        if (rc)
            snprintf(why, sizeof why, "a value was refused by the store (%s)", strerror(-rc));
    }
    if (rc) {
        gw_err("%s: %s refused, bootstrapping again: %s", vc->endpoint, file, why);
        rc = -EINVAL;
    } else {
        gw_info("%s: provisioned servers loaded from %s (%zu values)", vc->endpoint, file, n);
        rc = 1;
    }
    free(recs);
    gw_buf_free(&b);
    free(file);
    return rc;
}
