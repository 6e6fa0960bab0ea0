/*
 * tests/unit/adapters/test_payload_js.c - JavaScript codecs: decodeUplink
 * fields (nested objects as dotted names, arrays by index), warnings and
 * errors, encodeDownlink, the time and memory limits, a script that
 * throws, and scripts refused at configuration time.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "gwtest.h"
#include "payload_test.h"

static gw_payload_codec_t *js(const char *body, const char *extra, pt_diags_t *d)
{
    static char text[4096];
    /* Generous unless the test is about the limit: valgrind runs 50x slower. */
    bool limit = extra && strstr(extra, "timeout_ms");
    snprintf(text, sizeof text, "codec = { type = \"js\"; source = \"%s\"; %s %s };", body,
             extra ? extra : "", limit ? "" : "timeout_ms = 10000;");
    return pt_parse(text, d, NULL);
}

GW_TEST(test_decode_fields)
{
    pt_diags_t d;
    gw_payload_codec_t *c = js(
        "function decodeUplink(input) { return { data: { temperature: "
        "((input.bytes[0] << 8) | input.bytes[1]) / 10, port: input.fPort, on: true, "
        "label: 'ok', wind: { speed: 3.5, dir: 'N' }, levels: [1, 2], nothing: null } , "
        "warnings: ['low battery'] }; }",
        "fields = ( { name = \"temperature\"; unit = \"Cel\"; }, \"wind.speed\" );", &d);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s", d.text);
        return;
    }
    const uint8_t b[] = {0x01, 0x10};
    pt_fields_t o = {0};
    char msg[256];
    CHECK_EQ_INT(gw_payload_decode(c, 7, b, sizeof b, pt_emit, &o, msg, sizeof msg), 0);
    CHECK_EQ_STR(msg, "low battery");
    CHECK_EQ_INT(o.n, 8);
    CHECK_EQ_STR(o.name[0], "temperature");
    CHECK(o.v[0].type == GW_TYPE_FLOAT && o.v[0].v.f == 27.2 && o.dec[0] == 1);
    CHECK_EQ_STR(o.unit[0], "Cel");
    CHECK_EQ_STR(o.name[1], "port");
    CHECK(o.v[1].type == GW_TYPE_INTEGER && o.v[1].v.i == 7);
    CHECK(o.v[2].type == GW_TYPE_BOOLEAN && o.v[2].v.b);
    CHECK_EQ_STR(o.str[3], "ok");
    CHECK_EQ_STR(o.name[4], "wind.speed");
    CHECK_EQ_STR(o.name[5], "wind.dir");
    CHECK_EQ_STR(o.name[6], "levels.0");
    CHECK_EQ_STR(o.name[7], "levels.1");
    gw_field_decl_t *decls = NULL;
    size_t n = 0;
    CHECK_EQ_INT(gw_payload_declare(c, &decls, &n), 0);
    CHECK(n == 2 && strcmp(decls[1].field, "wind.speed") == 0 && decls[0].unit &&
          strcmp(decls[0].unit, "Cel") == 0);
    gw_field_decls_free(&decls, &n);
    gw_payload_free(&c);
}

GW_TEST(test_errors_and_bad_results)
{
    pt_diags_t d;
    gw_payload_codec_t *c = js(
        "function decodeUplink(input) { if (input.bytes.length == 0) return { errors: ['empty "
        "frame'] }; if (input.bytes[0] == 1) throw new Error('boom'); if (input.bytes[0] == 2) "
        "return 5; if (input.bytes[0] == 3) return { data: [1] }; var o = {}; o.self = o; "
        "return { data: o }; }",
        NULL, &d);
    CHECK(c != NULL);
    char msg[256];
    pt_fields_t o = {0};
    CHECK_EQ_INT(gw_payload_decode(c, 1, NULL, 0, pt_emit, &o, msg, sizeof msg), -EBADMSG);
    CHECK(strstr(msg, "empty frame") != NULL);
    const uint8_t b1[] = {1}, b2[] = {2}, b3[] = {3}, b4[] = {4};
    CHECK_EQ_INT(gw_payload_decode(c, 1, b1, 1, pt_emit, &o, msg, sizeof msg), -EBADMSG);
    CHECK(strstr(msg, "threw: Error: boom") != NULL);
    CHECK_EQ_INT(gw_payload_decode(c, 1, b2, 1, pt_emit, &o, msg, sizeof msg), -EBADMSG);
    CHECK_EQ_INT(gw_payload_decode(c, 1, b3, 1, pt_emit, &o, msg, sizeof msg), -EBADMSG);
    CHECK_EQ_INT(gw_payload_decode(c, 1, b4, 1, pt_emit, &o, msg, sizeof msg), -EBADMSG);
    CHECK(strstr(msg, "deeper than") != NULL);
    CHECK_EQ_INT(o.n, 0);
    /* no encoder */
    unsigned fp;
    uint8_t out[8];
    size_t n;
    gw_value_t v = {.type = GW_TYPE_INTEGER, .v.i = 1};
    CHECK_EQ_INT(gw_payload_encode(c, "x", &v, &fp, out, sizeof out, &n, msg, sizeof msg),
                 -ENOTSUP);
    gw_payload_free(&c);
}

GW_TEST(test_time_limit)
{
    pt_diags_t d;
    gw_payload_codec_t *c = js(
        "function decodeUplink(input) { if (input.bytes[0] == 0) { while (true) { try { for (;;) "
        "{} } catch (e) {} } } return { data: { n: input.bytes[0] } }; }",
        "timeout_ms = 50;", &d);
    CHECK(c != NULL);
    char msg[256];
    pt_fields_t o = {0};
    const uint8_t zero[] = {0}, one[] = {1};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ_INT(gw_payload_decode(c, 1, zero, 1, pt_emit, &o, msg, sizeof msg), -ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(strstr(msg, "50 ms limit") != NULL);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK(ms < 2000); /* stopped, not run to completion (there is none) */
    /* the heap is rebuilt: the next frame decodes */
    CHECK_EQ_INT(gw_payload_decode(c, 1, one, 1, pt_emit, &o, msg, sizeof msg), 0);
    CHECK(o.n == 1 && o.v[0].v.i == 1);
    gw_payload_free(&c);
}

GW_TEST(test_memory_limit)
{
    pt_diags_t d;
    gw_payload_codec_t *c = js(
        "function decodeUplink(input) { if (input.bytes[0] == 0) { var a = []; for (;;) "
        "a.push('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' + a.length); } "
        "return { data: { n: input.bytes[0] } }; }",
        "memory_kb = 512; timeout_ms = 10000;", &d);
    CHECK(c != NULL);
    char msg[256];
    pt_fields_t o = {0};
    const uint8_t zero[] = {0}, two[] = {2};
    CHECK_EQ_INT(gw_payload_decode(c, 1, zero, 1, pt_emit, &o, msg, sizeof msg), -ENOMEM);
    CHECK(strstr(msg, "512 KiB memory limit") != NULL);
    CHECK_EQ_INT(gw_payload_decode(c, 1, two, 1, pt_emit, &o, msg, sizeof msg), 0);
    CHECK(o.n == 1 && o.v[0].v.i == 2);
    gw_payload_free(&c);
}

GW_TEST(test_encode)
{
    pt_diags_t d;
    gw_payload_codec_t *c = js(
        "function encodeDownlink(input) { if (input.data.setpoint === undefined) return { errors: "
        "['unknown field'] }; var v = Math.round(input.data.setpoint * 10); return { bytes: "
        "[v >> 8, v & 255], fPort: 5 }; } function decodeUplink(i) { return { data: {} }; }",
        "fields = ( { name = \"setpoint\"; path = \"/3308/0/5900\"; writable = true; } );", &d);
    CHECK(c != NULL);
    unsigned fp = 0;
    uint8_t out[8];
    size_t n = 0;
    char msg[256];
    gw_value_t v = {.type = GW_TYPE_FLOAT, .v.f = 21.5};
    CHECK_EQ_INT(gw_payload_encode(c, "setpoint", &v, &fp, out, sizeof out, &n, msg, sizeof msg), 0);
    CHECK_EQ_MEM(out, n, "\x00\xD7", 2);
    CHECK_EQ_INT(fp, 5);
    CHECK_EQ_INT(gw_payload_encode(c, "mode", &v, &fp, out, sizeof out, &n, msg, sizeof msg),
                 -EBADMSG);
    CHECK(strstr(msg, "unknown field") != NULL);
    CHECK_EQ_INT(gw_payload_encode(c, "setpoint", &v, &fp, out, 1, &n, msg, sizeof msg), -ENOSPC);
    gw_field_decl_t *decls = NULL;
    size_t nd = 0;
    CHECK_EQ_INT(gw_payload_declare(c, &decls, &nd), 0);
    CHECK(nd == 1 && decls[0].writable && decls[0].path.len == 3 && decls[0].path.id[0] == 3308);
    gw_field_decls_free(&decls, &nd);
    gw_payload_free(&c);
}

GW_TEST(test_refused_at_check)
{
    pt_diags_t d;
    gw_payload_codec_t *c = js("function decodeUplink(input) { return { data: { ", NULL, &d);
    CHECK(c == NULL);
    CHECK(strstr(d.text, "t.conf:1: devices[0].codec: the JS codec (inline source) cannot run: "
                         "JS: does not compile: SyntaxError") != NULL);
    c = js("var x = 1;", NULL, &d);
    CHECK(c == NULL && strstr(d.text, "defines neither decodeUplink"));
    c = js("throw new Error('top');", NULL, &d);
    CHECK(c == NULL && strstr(d.text, "top level throws: Error: top"));
    c = js("while (true) {}", "timeout_ms = 20;", &d);
    CHECK(c == NULL && strstr(d.text, "top level ran past the time limit"));
    c = pt_parse("codec = { type = \"js\"; script = \"missing.js\"; timout_ms = 5; };", &d, NULL);
    CHECK(c == NULL && strstr(d.text, "cannot open script \"missing.js\""));
    CHECK(strstr(d.text, "did you mean \"timeout_ms\"") != NULL);
    /* a script file beside the configuration */
    char dir[] = "/tmp/gw-js-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[600];
    snprintf(path, sizeof path, "%s/codec.js", dir);
    FILE *f = fopen(path, "w");
    fputs("function decodeUplink(input) { return { data: { b: input.bytes.length } }; }\n", f);
    fclose(f);
    c = pt_parse("codec = { type = \"js\"; script = \"codec.js\"; };", &d, dir);
    CHECK(c != NULL);
    pt_fields_t o = {0};
    const uint8_t b[] = {1, 2, 3};
    CHECK_EQ_INT(gw_payload_decode(c, 1, b, 3, pt_emit, &o, NULL, 0), 0);
    CHECK(o.n == 1 && o.v[0].v.i == 3);
    gw_payload_free(&c);
    unlink(path);
    snprintf(path, sizeof path, "%s/t.conf", dir);
    unlink(path);
    rmdir(dir);
}

GW_TEST_MAIN(test_decode_fields, test_errors_and_bad_results, test_time_limit, test_memory_limit,
             test_encode, test_refused_at_check)
