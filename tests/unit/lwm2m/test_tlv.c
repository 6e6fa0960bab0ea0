/* tests/unit/lwm2m/test_tlv.c - OMA-TLV encoder and decoder. */
#include "gwtest.h"
#include "codec_fixture.h"

/* Read of /3/0, OMA LwM2M Core TS (TLV example of the Device object), as
 * re-checked in /work/shared/test-vectors/README.md. 121 bytes. */
static const uint8_t vec[] = {
    0xC8, 0x00, 0x14, 'O', 'p', 'e', 'n', ' ', 'M', 'o', 'b', 'i', 'l', 'e', ' ', 'A', 'l', 'l',
    'i', 'a', 'n', 'c', 'e',
    0xC8, 0x01, 0x16, 'L', 'i', 'g', 'h', 't', 'w', 'e', 'i', 'g', 'h', 't', ' ', 'M', '2', 'M',
    ' ', 'C', 'l', 'i', 'e', 'n', 't',
    0xC8, 0x02, 0x09, '3', '4', '5', '0', '0', '0', '1', '2', '3',
    0xC3, 0x03, '1', '.', '0',
    0x86, 0x06, 0x41, 0x00, 0x01, 0x41, 0x01, 0x05,
    0x88, 0x07, 0x08, 0x42, 0x00, 0x0E, 0xD8, 0x42, 0x01, 0x13, 0x88,
    0x87, 0x08, 0x41, 0x00, 0x7D, 0x42, 0x01, 0x03, 0x84,
    0xC1, 0x09, 0x64,
    0xC1, 0x0A, 0x0F,
    0x83, 0x0B, 0x41, 0x00, 0x00,
    0xC4, 0x0D, 0x51, 0x82, 0x42, 0x8F,
    0xC6, 0x0E, 0x2B, 0x30, 0x32, 0x3A, 0x30, 0x30,
    0xC1, 0x10, 0x55,
};
/* Offsets where a TLV ends: a prefix cut there is itself valid. */
static const size_t vec_bounds[] = {0, 23, 48, 60, 65, 73, 84, 93, 96, 99, 104, 110, 118, 121};

GW_TEST(vector_decodes_to_published_values)
{
    gw_record_t want[32];
    size_t nw = fx_device_records(want);
    gw_path_t base = gw_path_make(3, 0, GW_ID_NONE, GW_ID_NONE);
    gw_decoded_t d = {0};
    CHECK_EQ_INT(sizeof vec, 121);
    CHECK_EQ_INT(gw_tlv_decode(&base, vec, sizeof vec, fx_lookup, NULL, &d), 0);
    CHECK_EQ_INT(d.n, 16);
    CHECK(fx_recs_eq(want, nw, d.recs, d.n));
    gw_decoded_free(&d);
}

GW_TEST(vector_encodes_to_published_bytes)
{
    gw_record_t recs[32];
    size_t n = fx_device_records(recs);
    gw_path_t base = gw_path_make(3, 0, GW_ID_NONE, GW_ID_NONE);
    gw_buf_t b = {0};
    CHECK_EQ_INT(gw_tlv_encode(&base, recs, n, &b), 0);
    CHECK_EQ_MEM(b.data, b.len, vec, sizeof vec);
    gw_buf_free(&b);
}

GW_TEST(vector_wrapped_in_instance_and_at_object_level)
{
    uint8_t w[3 + sizeof vec];
    w[0] = 0x08; /* object instance, 8-bit id, 1-byte length */
    w[1] = 0x00;
    w[2] = sizeof vec;
    memcpy(w + 3, vec, sizeof vec);
    gw_record_t want[32];
    size_t nw = fx_device_records(want);
    gw_decoded_t d = {0};
    gw_path_t inst = gw_path_make(3, 0, GW_ID_NONE, GW_ID_NONE);
    CHECK_EQ_INT(gw_tlv_decode(&inst, w, sizeof w, fx_lookup, NULL, &d), 0);
    CHECK(fx_recs_eq(want, nw, d.recs, d.n));
    gw_decoded_free(&d);

    gw_path_t obj = gw_path_make(3, GW_ID_NONE, GW_ID_NONE, GW_ID_NONE);
    memset(&d, 0, sizeof d);
    CHECK_EQ_INT(gw_tlv_decode(&obj, w, sizeof w, fx_lookup, NULL, &d), 0);
    CHECK(fx_recs_eq(want, nw, d.recs, d.n));
    gw_decoded_free(&d);

    /* And the encoder at object level gives exactly that wrapper. */
    gw_buf_t b = {0};
    CHECK_EQ_INT(gw_tlv_encode(&obj, want, nw, &b), 0);
    CHECK_EQ_MEM(b.data, b.len, w, sizeof w);
    gw_buf_free(&b);

    /* Wrong instance id in the wrapper. */
    w[1] = 1;
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &inst, w, sizeof w, -EINVAL));
}

GW_TEST(truncated_vector_at_every_length)
{
    gw_path_t base = gw_path_make(3, 0, GW_ID_NONE, GW_ID_NONE);
    size_t bi = 0;
    for (size_t len = 0; len <= sizeof vec; len++) {
        /* Copy to an exact-size heap block so ASan sees any over-read. */
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, vec, len);
        gw_decoded_t d = {0};
        int rc = gw_tlv_decode(&base, p, len, fx_lookup, NULL, &d);
        if (bi < sizeof vec_bounds / sizeof vec_bounds[0] && vec_bounds[bi] == len) {
            CHECK_EQ_INT(rc, 0);
            bi++;
        } else {
            CHECK_EQ_INT(rc, -EINVAL);
            CHECK(d.error[0] != '\0');
        }
        gw_decoded_free(&d);
        free(p);
    }
}

GW_TEST(length_past_buffer_and_bad_sizes)
{
    gw_path_t inst = gw_path_make(3, 0, GW_ID_NONE, GW_ID_NONE);
    gw_path_t x = gw_path_make(9999, 0, GW_ID_NONE, GW_ID_NONE);
    static const uint8_t past1[] = {0xC8, 0x00, 0x05, 'a', 'b'};
    static const uint8_t past2[] = {0xD0, 0x00, 0xFF, 0xFF, 'a'};
    static const uint8_t past3[] = {0xD8, 0x00, 0xFF, 0xFF, 0xFF};
    static const uint8_t multi_past[] = {0x86, 0x06, 0x41, 0x00, 0x01, 0x41, 0x01}; /* inner cut */
    static const uint8_t inner_past[] = {0x84, 0x06, 0x45, 0x00, 0x01, 0x41}; /* inner len 5 */
    static const uint8_t int3[] = {0xC3, 0x09, 0x00, 0x00, 0x01};
    static const uint8_t float5[] = {0xC5, 0x00, 0, 0, 0, 0, 0};
    static const uint8_t float2[] = {0xC2, 0x00, 0, 0};
    static const uint8_t bool2[] = {0xC1, 0x01, 0x02};
    static const uint8_t bool_len2[] = {0xC2, 0x01, 0x00, 0x01};
    static const uint8_t objlnk3[] = {0xC3, 0x03, 0, 3, 0};
    static const uint8_t uns3[] = {0xC3, 0x04, 0, 0, 1};
    static const uint8_t int0[] = {0xC0, 0x05};
    static const uint8_t exec[] = {0xC1, 0x14, 0x01};
    static const uint8_t unknown[] = {0xC1, 0x63, 0x01};
    static const uint8_t inst_in_inst[] = {0x03, 0x00, 0x00, 0x00, 0x00};
    static const uint8_t res_in_multi[] = {0x83, 0x06, 0xC1, 0x00, 0x01};
    static const uint8_t two_wrappers[] = {0x03, 0x00, 0xC1, 0x09, 0x01, 0x00, 0x00};
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &inst, past1, sizeof past1, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &inst, past2, sizeof past2, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &inst, past3, sizeof past3, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &inst, multi_past, sizeof multi_past, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &inst, inner_past, sizeof inner_past, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &inst, int3, sizeof int3, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &x, float5, sizeof float5, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &x, float2, sizeof float2, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &x, bool2, sizeof bool2, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &x, bool_len2, sizeof bool_len2, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &x, objlnk3, sizeof objlnk3, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &x, uns3, sizeof uns3, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &x, int0, sizeof int0, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &x, exec, sizeof exec, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &x, unknown, sizeof unknown, -ENOENT));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &inst, inst_in_inst, sizeof inst_in_inst, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &inst, res_in_multi, sizeof res_in_multi, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &inst, two_wrappers, sizeof two_wrappers, -EINVAL));
}

GW_TEST(resource_level_forms)
{
    gw_path_t r7 = gw_path_make(3, 0, 7, GW_ID_NONE);
    gw_path_t r9 = gw_path_make(3, 0, 9, GW_ID_NONE);
    gw_path_t r7i1 = gw_path_make(3, 0, 7, 1);
    static const uint8_t multi7[] = {0x88, 0x07, 0x08, 0x42, 0x00, 0x0E, 0xD8, 0x42, 0x01, 0x13, 0x88};
    static const uint8_t bare7[] = {0x42, 0x00, 0x0E, 0xD8, 0x42, 0x01, 0x13, 0x88};
    static const uint8_t res9[] = {0xC1, 0x09, 0x64};
    static const uint8_t inst1[] = {0x42, 0x01, 0x13, 0x88};
    gw_decoded_t d = {0};
    gw_buf_t b = {0};

    CHECK_EQ_INT(gw_tlv_decode(&r7, multi7, sizeof multi7, fx_lookup, NULL, &d), 0);
    CHECK_EQ_INT(d.n, 2);
    if (d.n == 2) {
        CHECK_EQ_INT(d.recs[1].path.len, 4);
        CHECK_EQ_INT(d.recs[1].path.id[3], 1);
        CHECK_EQ_INT(d.recs[1].value.v.i, 5000);
        CHECK_EQ_INT(gw_tlv_encode(&r7, d.recs, d.n, &b), 0);
        CHECK_EQ_MEM(b.data, b.len, multi7, sizeof multi7);
    }
    gw_decoded_free(&d);
    b.len = 0;

    CHECK_EQ_INT(gw_tlv_decode(&r7, bare7, sizeof bare7, fx_lookup, NULL, &d), 0);
    CHECK_EQ_INT(d.n, 2);
    gw_decoded_free(&d);

    CHECK_EQ_INT(gw_tlv_decode(&r9, res9, sizeof res9, fx_lookup, NULL, &d), 0);
    CHECK_EQ_INT(d.n, 1);
    CHECK_EQ_INT(gw_tlv_encode(&r9, d.recs, d.n, &b), 0);
    CHECK_EQ_MEM(b.data, b.len, res9, sizeof res9);
    gw_decoded_free(&d);
    b.len = 0;

    CHECK_EQ_INT(gw_tlv_decode(&r7i1, inst1, sizeof inst1, fx_lookup, NULL, &d), 0);
    CHECK_EQ_INT(d.n, 1);
    CHECK_EQ_INT(gw_tlv_encode(&r7i1, d.recs, d.n, &b), 0);
    CHECK_EQ_MEM(b.data, b.len, inst1, sizeof inst1);
    gw_decoded_free(&d);
    gw_buf_free(&b);

    /* A multiple resource with no instances, in both forms. */
    static const uint8_t empty7[] = {0x87, 0x07};
    CHECK_EQ_INT(gw_tlv_decode(&r7, empty7, 0, fx_lookup, NULL, &d), 0);
    CHECK_EQ_INT(d.n, 0);
    CHECK_EQ_INT(gw_tlv_decode(&r7, (const uint8_t[]){0x80, 0x07}, 2, fx_lookup, NULL, &d), 0);
    CHECK_EQ_INT(d.n, 0);
    gw_decoded_free(&d);
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &r7i1, empty7, 0, -EINVAL));

    /* Ids that contradict the request path. */
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &r7, res9, sizeof res9, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &r9, multi7, sizeof multi7, -EINVAL));
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &r7i1, bare7, sizeof bare7, -EINVAL));
    gw_path_t obj = gw_path_make(3, GW_ID_NONE, GW_ID_NONE, GW_ID_NONE);
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &obj, res9, sizeof res9, -EINVAL));
    gw_path_t root = gw_path_make(GW_ID_NONE, GW_ID_NONE, GW_ID_NONE, GW_ID_NONE);
    CHECK(fx_decode_fails(GW_CF_LWM2M_TLV, &root, res9, sizeof res9, -EINVAL));
}

GW_TEST(encoding_sizes)
{
    gw_path_t x = gw_path_make(9999, 0, GW_ID_NONE, GW_ID_NONE);
    struct {
        gw_value_t v;
        size_t len;
    } cases[] = {
        {{.type = GW_TYPE_INTEGER, .v.i = -128}, 1},
        {{.type = GW_TYPE_INTEGER, .v.i = 128}, 2},
        {{.type = GW_TYPE_INTEGER, .v.i = -32769}, 4},
        {{.type = GW_TYPE_INTEGER, .v.i = INT64_MIN}, 8},
        {{.type = GW_TYPE_UNSIGNED, .v.u = 127}, 1},
        {{.type = GW_TYPE_UNSIGNED, .v.u = 128}, 2},
        {{.type = GW_TYPE_UNSIGNED, .v.u = 40000}, 4},
        {{.type = GW_TYPE_UNSIGNED, .v.u = UINT64_MAX}, 8},
        {{.type = GW_TYPE_FLOAT, .v.f = 21.5}, 4},
        {{.type = GW_TYPE_FLOAT, .v.f = 0.1}, 8},
        {{.type = GW_TYPE_BOOLEAN, .v.b = true}, 1},
        {{.type = GW_TYPE_OBJLNK, .v.objlnk = {3, 0}}, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gw_record_t r = fx_rec(gw_path_make(9999, 0, 5, GW_ID_NONE), cases[i].v);
        gw_buf_t b = {0};
        CHECK_EQ_INT(gw_tlv_encode(&x, &r, 1, &b), 0);
        /* Lengths of 8 and more take a length byte. */
        CHECK_EQ_INT(b.len, (cases[i].len < 8 ? 2 : 3) + cases[i].len);
        CHECK_EQ_INT(cases[i].len < 8 ? (size_t)(b.data[0] & 7) : b.data[2], cases[i].len);
        gw_buf_free(&b);
    }
}

GW_TEST(long_values_and_16bit_ids)
{
    gw_path_t base = gw_path_make(9999, 300, GW_ID_NONE, GW_ID_NONE);
    size_t lens[] = {7, 8, 255, 256, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        char *s = malloc(lens[i]);
        memset(s, 'x', lens[i]);
        gw_record_t r = fx_rec(gw_path_make(9999, 300, 6, GW_ID_NONE),
                               fx_str(GW_TYPE_STRING, s, lens[i]));
        CHECK(fx_roundtrip(GW_CF_LWM2M_TLV, &base, &r, 1));
        gw_path_t obj = gw_path_make(9999, GW_ID_NONE, GW_ID_NONE, GW_ID_NONE);
        CHECK(fx_roundtrip(GW_CF_LWM2M_TLV, &obj, &r, 1));
        free(s);
    }
}

GW_TEST(every_type_round_trips)
{
    gw_record_t all[64];
    size_t n = fx_all_values(all, 64);
    gw_path_t inst = gw_path_make(9999, 0, GW_ID_NONE, GW_ID_NONE);
    for (size_t i = 0; i < n; i++) {
        gw_path_t res = all[i].path;
        CHECK(fx_roundtrip(GW_CF_LWM2M_TLV, &inst, &all[i], 1));
        CHECK(fx_roundtrip(GW_CF_LWM2M_TLV, &res, &all[i], 1));
        /* As resource instance 7 of a multiple resource. */
        gw_record_t ri = all[i];
        ri.path = gw_path_make(9999, 0, res.id[2], 7);
        CHECK(fx_roundtrip(GW_CF_LWM2M_TLV, &ri.path, &ri, 1));
        CHECK(fx_roundtrip(GW_CF_LWM2M_TLV, &res, &ri, 1));
    }
}

GW_TEST(encoder_rejects_bad_input)
{
    gw_buf_t b = {0};
    gw_path_t inst = gw_path_make(3, 0, GW_ID_NONE, GW_ID_NONE);
    gw_record_t outside = fx_rec(gw_path_make(3, 1, 0, GW_ID_NONE), fx_int(1));
    gw_record_t none = fx_rec(gw_path_make(3, 0, 4, GW_ID_NONE), (gw_value_t){.type = GW_TYPE_NONE});
    CHECK_EQ_INT(gw_tlv_encode(&inst, &outside, 1, &b), -EINVAL);
    CHECK_EQ_INT(gw_tlv_encode(&inst, &none, 1, &b), -EINVAL);
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_INT(gw_tlv_encode(&inst, NULL, 0, &b), 0);
    CHECK_EQ_INT(b.len, 0);
    gw_buf_free(&b);
}

GW_TEST(no_lookup_gives_opaque)
{
    gw_path_t base = gw_path_make(3, 0, GW_ID_NONE, GW_ID_NONE);
    gw_decoded_t d = {0};
    CHECK_EQ_INT(gw_tlv_decode(&base, vec, sizeof vec, NULL, NULL, &d), 0);
    CHECK_EQ_INT(d.n, 16);
    if (d.n == 16) {
        CHECK_EQ_INT(d.recs[15].value.type, GW_TYPE_OPAQUE);
        CHECK_EQ_INT(d.recs[15].value.v.bytes.len, 1);
    }
    gw_decoded_free(&d);
}

/* A resource, or a resource instance, twice in one payload: refused with
 * its path, never "the second one wins". */
GW_TEST(duplicates_refused)
{
    static const struct {
        uint16_t oid, iid, rid;
        uint8_t p[16];
        size_t len;
        const char *msg;
    } cases[] = {
        {3, 0, GW_ID_NONE, {0xC1, 0x09, 0x64, 0xC1, 0x0A, 0x0F, 0xC1, 0x09, 0x63}, 9,
         "/3/0/9: two values for one path in one payload, expected each resource (instance) once"},
        {3, 0, 7, {0x86, 0x07, 0x41, 0x01, 0x05, 0x41, 0x01, 0x06}, 8,
         "/3/0/7/1: two values for one path in one payload, expected each resource (instance) once"},
        {3, GW_ID_NONE, GW_ID_NONE, {0x08, 0x00, 0x06, 0xC1, 0x09, 0x64, 0xC1, 0x09, 0x64}, 9,
         "/3/0/9: two values for one path in one payload, expected each resource (instance) once"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gw_path_t base = gw_path_make(cases[i].oid, cases[i].iid, cases[i].rid, GW_ID_NONE);
        gw_decoded_t d = {0};
        CHECK_EQ_INT(gw_codec_decode(GW_CF_LWM2M_TLV, &base, cases[i].p, cases[i].len, fx_lookup, NULL, &d),
                     -EINVAL);
        CHECK_EQ_STR(d.error, cases[i].msg);
        gw_decoded_free(&d);
    }
    /* Distinct instances of one resource are fine. */
    static const uint8_t two[] = {0x86, 0x07, 0x41, 0x00, 0x05, 0x41, 0x01, 0x06};
    gw_path_t r7 = gw_path_make(3, 0, 7, GW_ID_NONE);
    gw_decoded_t d = {0};
    CHECK_EQ_INT(gw_codec_decode(GW_CF_LWM2M_TLV, &r7, two, sizeof two, fx_lookup, NULL, &d), 0);
    CHECK_EQ_INT(d.n, 2);
    gw_decoded_free(&d);
}

GW_TEST_MAIN(vector_decodes_to_published_values, vector_encodes_to_published_bytes,
             vector_wrapped_in_instance_and_at_object_level, truncated_vector_at_every_length,
             length_past_buffer_and_bad_sizes, resource_level_forms, encoding_sizes,
             long_values_and_16bit_ids, every_type_round_trips, encoder_rejects_bad_input,
             no_lookup_gives_opaque, duplicates_refused)
