/*
 * Unit tests for lwm2m/offline.c: the bounded ring, overflow order, the
 * file round trip and corrupt files, one file per client and server
 * (version 2 header), version 1 files loaded and merged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gwtest.h"
#include "lwm2m/offline.h"


static gw_value_t F(double f)
{
    gw_value_t v = {.type = GW_TYPE_FLOAT};
    v.v.f = f;
    return v;
}

static gw_value_t S(const char *s)
{
    gw_value_t v = {.type = GW_TYPE_STRING};
    v.v.bytes.ptr = (const uint8_t *)s;
    v.v.bytes.len = strlen(s);
    return v;
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gwoffXXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
}

static void rm_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
}

static char *file_in_tmp(const char *ep)
{
    char *f = NULL;
    CHECK_EQ_INT(gw_offline_file_name_server(tmpdir, ep, 1, &f), 0);
    return f;
}

GW_TEST(test_fifo_and_times)
{
    gw_offline_t *o;
    CHECK_EQ_INT(gw_offline_new(10, NULL, 1, &o), 0);
    for (int i = 0; i < 5; i++) {
        gw_value_t v = F(i);
        CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3303, 0, 5700, 0}, 3}, &v, 1000 + i * 500, false, NULL), 0);
    }
    CHECK_EQ_INT(gw_offline_count(o), 5);
    gw_record_t r[8];
    size_t n;
    gw_offline_peek(o, 3, r, &n);
    CHECK_EQ_INT(n, 3);
    CHECK(r[0].has_time && r[0].time == 1.0 && r[0].value.v.f == 0.0);
    CHECK(r[2].time == 2.0 && r[2].value.v.f == 2.0);
    gw_offline_consume(o, 2);
    gw_offline_peek(o, 8, r, &n);
    CHECK_EQ_INT(n, 3);
    CHECK(r[0].value.v.f == 2.0 && r[2].value.v.f == 4.0);
    CHECK(r[2].time == 3.0);
    gw_offline_consume(o, 99);
    CHECK_EQ_INT(gw_offline_count(o), 0);
    gw_offline_free(&o);
    CHECK(o == NULL);
}

GW_TEST(test_overflow_drops_oldest)
{
    gw_offline_t *o;
    CHECK_EQ_INT(gw_offline_new(40, NULL, 1, &o), 0);
    int dropped = 0;
    for (int i = 0; i < 100; i++) {
        gw_value_t v = F(i);
        bool d;
        CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3303, 0, 5700, 0}, 3}, &v, i, false, &d), 0);
        dropped += d;
        if (i == 25) /* the ring wraps while it is partly consumed */
            gw_offline_consume(o, 5);
    }
    CHECK_EQ_INT(gw_offline_count(o), 40);
    CHECK_EQ_INT(dropped, 55);
    gw_record_t r[40];
    size_t n;
    gw_offline_peek(o, 40, r, &n);
    CHECK_EQ_INT(n, 40);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT((int)r[i].value.v.f, 60 + (int)i);
    gw_offline_free(&o);
}

GW_TEST(test_zero_bound_keeps_nothing)
{
    gw_offline_t *o;
    CHECK_EQ_INT(gw_offline_new(0, NULL, 1, &o), 0);
    gw_value_t v = F(1);
    bool d = false;
    CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3303, 0, 5700, 0}, 3}, &v, 1, true, &d), 0);
    CHECK(d);
    CHECK_EQ_INT(gw_offline_count(o), 0);
    gw_offline_free(&o);
}

GW_TEST(test_rejects_bad_readings)
{
    gw_offline_t *o;
    CHECK_EQ_INT(gw_offline_new(4, NULL, 1, &o), 0);
    gw_value_t v = F(1), none = {.type = GW_TYPE_NONE};
    CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3303, 0, 0, 0}, 2}, &v, 1, false, NULL), -EINVAL);
    CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3303, 0, 1, 0}, 3}, &none, 1, false, NULL), -EINVAL);
    CHECK_EQ_INT(gw_offline_count(o), 0);
    gw_offline_free(&o);
}

static void push_all_types(gw_offline_t *o, int64_t ts)
{
    gw_value_t v;
    v = (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = -5};
    CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3300, 0, 5700, 0}, 3}, &v, ts, true, NULL), 0);
    v = (gw_value_t){.type = GW_TYPE_UNSIGNED, .v.u = 18446744073709551615ull};
    CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3300, 0, 5701, 0}, 3}, &v, ts + 1, true, NULL), 0);
    v = F(-21.25);
    CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3303, 1, 5700, 0}, 3}, &v, ts + 2, true, NULL), 0);
    v = (gw_value_t){.type = GW_TYPE_BOOLEAN, .v.b = true};
    CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3342, 0, 5500, 0}, 3}, &v, ts + 3, true, NULL), 0);
    v = (gw_value_t){.type = GW_TYPE_OBJLNK, .v.objlnk = {3, 0}};
    CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{9, 0, 17, 2}, 4}, &v, ts + 4, true, NULL), 0);
    v = S("Cel");
    CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3303, 0, 5701, 0}, 3}, &v, ts + 5, true, NULL), 0);
    v = (gw_value_t){.type = GW_TYPE_OPAQUE};
    v.v.bytes.ptr = (const uint8_t *)"\0\1\2";
    v.v.bytes.len = 3;
    CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3300, 0, 5750, 0}, 3}, &v, ts + 6, true, NULL), 0);
    v = (gw_value_t){.type = GW_TYPE_TIME, .v.i = 1700000000};
    CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3, 0, 13, 0}, 3}, &v, ts + 7, true, NULL), 0);
}

static void check_all_types(gw_offline_t *o, int64_t ts)
{
    gw_record_t r[8];
    size_t n;
    gw_offline_peek(o, 8, r, &n);
    CHECK_EQ_INT(n, 8);
    if (n != 8)
        return;
    CHECK(r[0].value.type == GW_TYPE_INTEGER && r[0].value.v.i == -5);
    CHECK(r[1].value.type == GW_TYPE_UNSIGNED && r[1].value.v.u == 18446744073709551615ull);
    CHECK(r[2].value.type == GW_TYPE_FLOAT && r[2].value.v.f == -21.25 && r[2].path.id[1] == 1);
    CHECK(r[3].value.type == GW_TYPE_BOOLEAN && r[3].value.v.b);
    CHECK(r[4].value.type == GW_TYPE_OBJLNK && r[4].value.v.objlnk.oid == 3 && r[4].path.len == 4 &&
          r[4].path.id[3] == 2);
    CHECK_EQ_MEM(r[5].value.v.bytes.ptr, r[5].value.v.bytes.len, "Cel", 3);
    CHECK_EQ_MEM(r[6].value.v.bytes.ptr, r[6].value.v.bytes.len, "\0\1\2", 3);
    CHECK(r[7].value.type == GW_TYPE_TIME && r[7].value.v.i == 1700000000);
    for (int i = 0; i < 8; i++)
        CHECK(r[i].time * 1000.0 == (double)(ts + i));
}

GW_TEST(test_file_round_trip)
{
    make_tmpdir();
    char *f = file_in_tmp("dev/a b");
    gw_offline_t *o;
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0);
    push_all_types(o, 1700000000123);
    gw_offline_free(&o);
    struct stat st;
    CHECK_EQ_INT(stat(f, &st), 0);
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0); /* a restart */
    check_all_types(o, 1700000000123);
    /* delivered in part: the file follows */
    gw_offline_consume(o, 3);
    gw_offline_free(&o);
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0);
    CHECK_EQ_INT(gw_offline_count(o), 5);
    gw_record_t r[8];
    size_t n;
    gw_offline_peek(o, 8, r, &n);
    CHECK(n == 5 && r[0].value.type == GW_TYPE_BOOLEAN);
    gw_offline_consume(o, 5);
    CHECK(stat(f, &st) < 0 && errno == ENOENT); /* all delivered: no file */
    gw_offline_free(&o);
    free(f);
    rm_tmpdir();
}

/* A FIFO where the store's file goes (put there by mistake or malice) is
 * neither read nor written: before, open() waited for a writer and stopped
 * the whole daemon. The store keeps its readings in memory and writes its
 * own file in place of the FIFO. */
GW_TEST(test_fifo_in_place_of_the_file_never_blocks)
{
    make_tmpdir();
    char *f = file_in_tmp("ep");
    char dir[128];
    snprintf(dir, sizeof dir, "%s/offline", tmpdir);
    CHECK_EQ_INT(mkdir(dir, 0700), 0);
    CHECK_EQ_INT(mkfifo(f, 0600), 0);
    gw_offline_t *o;
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0);
    CHECK_EQ_INT(gw_offline_count(o), 0);
    gw_value_t v = F(1.5);
    CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3303, 0, 5700, 0}, 3}, &v, 1700000000000, true,
                                 NULL), 0);
    CHECK_EQ_INT(gw_offline_count(o), 1);
    gw_offline_free(&o);
    free(f);
    rm_tmpdir();
}

GW_TEST(test_file_name_escapes)
{
    char *f = NULL;
    CHECK_EQ_INT(gw_offline_file_name("/var/lib/gw", "urn:dev/../x", &f), 0);
    CHECK_EQ_STR(f, "/var/lib/gw/offline/urn%3Adev%2F..%2Fx.rec");
    free(f);
    CHECK_EQ_INT(gw_offline_file_name("/s", ".hidden", &f), 0);
    CHECK_EQ_STR(f, "/s/offline/%2Ehidden.rec");
    free(f);
}

GW_TEST(test_memory_only_until_persisted)
{
    make_tmpdir();
    char *f = file_in_tmp("ep");
    gw_offline_t *o;
    struct stat st;
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0);
    gw_value_t v = F(1);
    CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3303, 0, 5700, 0}, 3}, &v, 1, false, NULL), 0);
    CHECK(stat(f, &st) < 0); /* a client that reports normally never writes */
    gw_offline_persist(o);   /* a Send failed: what is held goes to disk */
    v = F(2);
    CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3303, 0, 5700, 0}, 3}, &v, 2, false, NULL), 0);
    gw_offline_free(&o);
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0);
    CHECK_EQ_INT(gw_offline_count(o), 2);
    gw_offline_free(&o);
    free(f);
    rm_tmpdir();
}

GW_TEST(test_file_overflow_and_smaller_bound)
{
    make_tmpdir();
    char *f = file_in_tmp("ep");
    gw_offline_t *o;
    CHECK_EQ_INT(gw_offline_new(10, f, 1, &o), 0);
    for (int i = 0; i < 95; i++) {
        gw_value_t v = F(i);
        CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3303, 0, 5700, 0}, 3}, &v, i, true, NULL), 0);
    }
    gw_offline_free(&o);
    struct stat st;
    CHECK_EQ_INT(stat(f, &st), 0);
    CHECK(st.st_size < 8 + 21 * 24); /* compacted: never more than twice the bound */
    CHECK_EQ_INT(gw_offline_new(4, f, 1, &o), 0); /* restarted with a smaller bound */
    gw_record_t r[4];
    size_t n;
    gw_offline_peek(o, 4, r, &n);
    CHECK_EQ_INT(n, 4);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT((int)r[i].value.v.f, 91 + (int)i);
    gw_offline_free(&o);
    free(f);
    rm_tmpdir();
}

static void write_file(const char *f, const void *p, size_t len)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/offline", tmpdir);
    mkdir(dir, 0700);
    FILE *fp = fopen(f, "wb");
    CHECK(fp != NULL);
    if (!fp)
        return;
    CHECK_EQ_INT(fwrite(p, 1, len, fp), len);
    fclose(fp);
}

GW_TEST(test_corrupt_file_keeps_good_prefix)
{
    make_tmpdir();
    char *f = file_in_tmp("ep");
    gw_offline_t *o;
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0);
    push_all_types(o, 5000);
    gw_offline_free(&o);
    /* a crash in the middle of an append leaves a truncated last reading */
    FILE *fp = fopen(f, "ab");
    CHECK(fp != NULL);
    fwrite("\x04\x03\x0c\xe7", 1, 4, fp);
    fclose(fp);
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0);
    check_all_types(o, 5000);
    gw_offline_free(&o);
    /* the file was rewritten without the broken tail */
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0);
    CHECK_EQ_INT(gw_offline_count(o), 8);
    gw_offline_free(&o);

    write_file(f, "garbage, not readings", 21);
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0);
    CHECK_EQ_INT(gw_offline_count(o), 0);
    gw_offline_free(&o);
    struct stat st;
    CHECK(stat(f, &st) < 0); /* nothing good in it: removed */
    free(f);
    rm_tmpdir();
}

static int count_cb(void *ctx, const gw_path_t *path, const gw_value_t *v, int64_t ts)
{
    (void)path;
    (void)v;
    (void)ts;
    (*(int *)ctx)++;
    return 0;
}

GW_TEST(test_parse_rejects)
{
    static const struct {
        const char *why;
        const char *bytes;
        size_t len;
    } bad[] = {
        {"empty", "", 0},
        {"bad magic", "GWOFFL3\n", 8},
        {"v2 header cut short", "GWOFFL2\n\x00", 9},
        {"v2 server id 0", "GWOFFL2\n\x00\x00", 10},
        {"v2 server id 65535", "GWOFFL2\n\xff\xff", 10},
        {"type 0", "GWOFFL1\n\x00\x03\x00\x01\x00\x00\x00\x01" "\0\0\0\0\0\0\0\0" "\0\0\0\0\0\0\0\0", 34},
        {"type 10", "GWOFFL1\n\x0a\x03\x00\x01\x00\x00\x00\x01" "\0\0\0\0\0\0\0\0" "\0\0\0\0\0\0\0\0", 34},
        {"path of 2", "GWOFFL1\n\x02\x02\x00\x01\x00\x00" "\0\0\0\0\0\0\0\0" "\0\0\0\0\0\0\0\0", 32},
        {"id 65535", "GWOFFL1\n\x02\x03\xff\xff\x00\x00\x00\x01" "\0\0\0\0\0\0\0\0" "\0\0\0\0\0\0\0\0", 34},
        {"bool 2", "GWOFFL1\n\x05\x03\x00\x01\x00\x00\x00\x01" "\0\0\0\0\0\0\0\0" "\x02", 27},
        {"huge string", "GWOFFL1\n\x01\x03\x00\x01\x00\x00\x00\x01" "\0\0\0\0\0\0\0\0" "\xff\xff\xff\xff", 30},
        {"short string", "GWOFFL1\n\x01\x03\x00\x01\x00\x00\x00\x01" "\0\0\0\0\0\0\0\0" "\0\0\0\x05" "ab", 32},
        {"short int", "GWOFFL1\n\x02\x03\x00\x01\x00\x00\x00\x01" "\0\0\0\0\0\0\0\0" "\0\0\0", 29},
        {"float NaN", "GWOFFL1\n\x04\x03\x00\x01\x00\x00\x00\x01" "\0\0\0\0\0\0\0\0" "\x7f\xf8\0\0\0\0\0\0", 32},
        {"float -Inf", "GWOFFL1\n\x04\x03\x00\x01\x00\x00\x00\x01" "\0\0\0\0\0\0\0\0" "\xff\xf0\0\0\0\0\0\0", 32},
        {"string not UTF-8", "GWOFFL1\n\x01\x03\x00\x01\x00\x00\x00\x01" "\0\0\0\0\0\0\0\0" "\0\0\0\x03" "\xc3\xa9\xff", 31},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[128] = "";
        size_t good = 99;
        int n = 0;
        uint16_t ssid = 7;
        int rc = gw_offline_parse((const uint8_t *)bad[i].bytes, bad[i].len, &ssid, count_cb, &n, &good, err,
                                  sizeof err);
        if (rc != -EINVAL || n != 0 || good != 0 || !err[0])
            fprintf(stderr, "  case %s: rc %d n %d err \"%s\"\n", bad[i].why, rc, n, err);
        CHECK_EQ_INT(rc, -EINVAL);
        CHECK_EQ_INT(n, 0);
        CHECK(err[0] != '\0');
    }
    /* the header alone is a valid, empty file, of either version */
    char err[64];
    size_t good;
    int n = 0;
    uint16_t ssid = 7;
    CHECK_EQ_INT(gw_offline_parse((const uint8_t *)"GWOFFL1\n", 8, &ssid, count_cb, &n, &good, err, sizeof err), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ssid, 0);
    CHECK_EQ_INT(gw_offline_parse((const uint8_t *)"GWOFFL2\n\x01\x02", 10, &ssid, count_cb, &n, &good, err,
                                  sizeof err), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ssid, 0x102);
}

static size_t read_all(const char *f, uint8_t *buf, size_t size)
{
    FILE *fp = fopen(f, "rb");
    if (!fp)
        return 0;
    size_t n = fread(buf, 1, size, fp);
    fclose(fp);
    return n;
}

static void push_floats(gw_offline_t *o, int from, int to)
{
    for (int i = from; i < to; i++) {
        gw_value_t v = F(i);
        CHECK_EQ_INT(gw_offline_push(o, &(gw_path_t){{3303, 0, 5700, 0}, 3}, &v, 1000 + i, true, NULL), 0);
    }
}

static void check_floats(gw_offline_t *o, int from, int to)
{
    gw_record_t r[64];
    size_t n;
    gw_offline_peek(o, 64, r, &n);
    CHECK_EQ_INT(n, (size_t)(to - from));
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT((int)r[i].value.v.f, from + (int)i);
}

GW_TEST(test_file_per_server)
{
    char *f = NULL;
    CHECK_EQ_INT(gw_offline_file_name_server("/s", "ep", 2, &f), 0);
    CHECK_EQ_STR(f, "/s/offline/ep@2.rec");
    free(f);
    /* an '@' of an endpoint is escaped: no endpoint's name for one server
     * is another endpoint's name for another */
    CHECK_EQ_INT(gw_offline_file_name_server("/s", "a@1", 2, &f), 0);
    CHECK_EQ_STR(f, "/s/offline/a%401@2.rec");
    free(f);
    CHECK_EQ_INT(gw_offline_file_name_server("/s", "ep", 0, &f), -EINVAL);
    gw_offline_t *o = NULL;
    CHECK_EQ_INT(gw_offline_new(4, NULL, 0, &o), -EINVAL);
    CHECK_EQ_INT(gw_offline_new(4, NULL, 65535, &o), -EINVAL);
    CHECK(o == NULL);

    /* two servers' stores of one client: apart on disk, each header names its server */
    make_tmpdir();
    char *f1 = NULL, *f2 = NULL;
    CHECK_EQ_INT(gw_offline_file_name_server(tmpdir, "ep", 1, &f1), 0);
    CHECK_EQ_INT(gw_offline_file_name_server(tmpdir, "ep", 2, &f2), 0);
    gw_offline_t *a, *b;
    CHECK_EQ_INT(gw_offline_new(100, f1, 1, &a), 0);
    CHECK_EQ_INT(gw_offline_new(100, f2, 2, &b), 0);
    push_floats(a, 0, 5);
    push_floats(b, 10, 12);
    gw_offline_consume(a, 5); /* server 1 got everything: its file goes */
    gw_offline_free(&a);
    gw_offline_free(&b);
    struct stat st;
    CHECK(stat(f1, &st) < 0 && errno == ENOENT);
    uint8_t buf[256];
    size_t len = read_all(f2, buf, sizeof buf);
    CHECK(len == 10 + 2 * 24 && memcmp(buf, "GWOFFL2\n\x00\x02", 10) == 0);
    CHECK_EQ_INT(gw_offline_new(100, f2, 2, &b), 0);
    check_floats(b, 10, 12);
    gw_offline_free(&b);
    free(f1);
    free(f2);
    rm_tmpdir();
}

/* Version 1 files (before one store per server) load as they are. */
GW_TEST(test_v1_file_loads)
{
    make_tmpdir();
    char *f = file_in_tmp("ep");
    gw_buf_t b = {0};
    CHECK_EQ_INT(gw_buf_append(&b, GW_OFFLINE_MAGIC_V1, 8), 0);
    for (int i = 0; i < 3; i++) {
        gw_value_t v = F(i);
        CHECK_EQ_INT(gw_offline_encode(&(gw_path_t){{3303, 0, 5700, 0}, 3}, &v, 1000 + i, &b), 0);
    }
    write_file(f, b.data, b.len);
    gw_buf_free(&b);
    gw_offline_t *o;
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0);
    check_floats(o, 0, 3);
    push_floats(o, 3, 5); /* appended to the version 1 file */
    gw_offline_free(&o);
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0);
    check_floats(o, 0, 5);
    gw_offline_consume(o, 1); /* a rewrite makes it version 2 */
    gw_offline_free(&o);
    uint8_t buf[256];
    CHECK(read_all(f, buf, sizeof buf) == 10 + 4 * 24 && memcmp(buf, "GWOFFL2\n\x00\x01", 10) == 0);
    free(f);
    rm_tmpdir();
}

/* A file naming another server under this server's name is neither loaded
 * nor overwritten: its readings are not this server's to send. */
GW_TEST(test_other_servers_file_left_alone)
{
    make_tmpdir();
    char *f = file_in_tmp("ep");
    gw_offline_t *o;
    char *f2 = NULL;
    CHECK_EQ_INT(gw_offline_file_name_server(tmpdir, "ep", 2, &f2), 0);
    CHECK_EQ_INT(gw_offline_new(100, f2, 2, &o), 0);
    push_floats(o, 0, 3);
    gw_offline_free(&o);
    CHECK_EQ_INT(rename(f2, f), 0);
    uint8_t before[256], after[256];
    size_t len = read_all(f, before, sizeof before);
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0);
    CHECK_EQ_INT(gw_offline_count(o), 0);
    push_floats(o, 7, 9); /* kept in memory only */
    CHECK_EQ_INT(gw_offline_count(o), 2);
    gw_offline_consume(o, 2);
    gw_offline_free(&o);
    CHECK(read_all(f, after, sizeof after) == len && memcmp(before, after, len) == 0);
    free(f2);
    free(f);
    rm_tmpdir();
}

/* A version 1 file merged into a server's own file: all readings kept, in
 * order, the old file removed only once the new one holds them. */
GW_TEST(test_merge_v1_file)
{
    make_tmpdir();
    char *f = file_in_tmp("ep"), *old = NULL;
    CHECK_EQ_INT(gw_offline_file_name(tmpdir, "ep", &old), 0);
    gw_buf_t b = {0};
    CHECK_EQ_INT(gw_buf_append(&b, GW_OFFLINE_MAGIC_V1, 8), 0);
    for (int i = 3; i < 6; i++) {
        gw_value_t v = F(i);
        CHECK_EQ_INT(gw_offline_encode(&(gw_path_t){{3303, 0, 5700, 0}, 3}, &v, 1000 + i, &b), 0);
    }
    gw_offline_t *o;
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0);
    push_floats(o, 0, 3);
    write_file(old, b.data, b.len);
    gw_buf_free(&b);
    CHECK_EQ_INT(gw_offline_merge(o, old), 3);
    check_floats(o, 0, 6);
    struct stat st;
    CHECK(stat(old, &st) < 0 && errno == ENOENT);
    gw_offline_free(&o);
    CHECK_EQ_INT(gw_offline_new(100, f, 1, &o), 0);
    check_floats(o, 0, 6);
    /* a file that is not there: nothing taken, nothing changed */
    CHECK_EQ_INT(gw_offline_merge(o, old), -ENOENT);
    CHECK_EQ_INT(gw_offline_count(o), 6);
    /* the bound holds through a merge (the oldest go) */
    gw_offline_free(&o);
    CHECK_EQ_INT(gw_offline_new(4, f, 1, &o), 0);
    check_floats(o, 2, 6);
    gw_offline_free(&o);
    free(old);
    free(f);
    rm_tmpdir();
}

GW_TEST_MAIN(test_fifo_and_times, test_overflow_drops_oldest,
             test_zero_bound_keeps_nothing, test_rejects_bad_readings,
             test_file_round_trip, test_fifo_in_place_of_the_file_never_blocks,
             test_file_name_escapes,
             test_memory_only_until_persisted, test_file_overflow_and_smaller_bound,
             test_corrupt_file_keeps_good_prefix, test_parse_rejects, test_file_per_server,
             test_v1_file_loads, test_other_servers_file_left_alone, test_merge_v1_file)
