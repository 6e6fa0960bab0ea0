"""Tests of the harness's own decoders (no gateway, no server needed)."""

import cbor2

from harness import (decode_senml_cbor, decode_senml_json, decode_tlv, decode_tlv_entries,
                     parse_link_format, tlv_float, tlv_int, tlv_str, TLV_MULTIPLE_RESOURCE,
                     TLV_RESOURCE)

# OMA LwM2M Core, TLV example: Read of /3/0 (Device), 121 bytes.
DEVICE_TLV = bytes.fromhex(
    "C800144F70656E204D6F62696C6520416C6C69616E6365"
    "C801164C69676874776569676874204D324D20436C69656E74"
    "C80209333435303030313233"
    "C303312E30"
    "86064100014101 05".replace(" ", "")
    + "88070842000ED842011388"
    "870841007D42010384"
    "C10964"
    "C10A0F"
    "830B410000"
    "C40D5182428F"
    "C60E2B30323A3030"
    "C11055")


def expect_error(fn, *args):
    try:
        fn(*args)
    except ValueError:
        return
    raise AssertionError("%s(%r) did not raise ValueError" % (fn.__name__, args))


def test_tlv_device_vector():
    assert len(DEVICE_TLV) == 121
    d = decode_tlv(DEVICE_TLV)
    assert tlv_str(d[0]) == "Open Mobile Alliance"
    assert tlv_str(d[1]) == "Lightweight M2M Client"
    assert tlv_str(d[2]) == "345000123"
    assert tlv_str(d[3]) == "1.0"
    assert {k: tlv_int(v) for k, v in d[6].items()} == {0: 1, 1: 5}
    assert {k: tlv_int(v) for k, v in d[7].items()} == {0: 3800, 1: 5000}
    assert {k: tlv_int(v) for k, v in d[8].items()} == {0: 125, 1: 900}
    assert tlv_int(d[9]) == 100
    assert tlv_int(d[10]) == 15
    assert {k: tlv_int(v) for k, v in d[11].items()} == {0: 0}
    assert tlv_int(d[13]) == 1367491215
    assert tlv_str(d[14]) == "+02:00"
    assert tlv_str(d[16]) == "U"
    assert sorted(d) == [0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 13, 14, 16]
    kinds = {i: k for k, i, _ in decode_tlv_entries(DEVICE_TLV)}
    assert kinds[6] == TLV_MULTIPLE_RESOURCE and kinds[0] == TLV_RESOURCE


def test_tlv_object_instance_and_lengths():
    # instance 0 of an object holding resource 5700 (16-bit id) = 21.5 float
    res = bytes([0xE4, 0x16, 0x44]) + bytes.fromhex("41AC0000")
    inst = bytes([0x08, 0x00, len(res)]) + res
    d = decode_tlv(inst)
    assert tlv_float(d[0][5700]) == 21.5
    # 16-bit length field
    big = b"x" * 300
    d = decode_tlv(bytes([0xD0, 0x01, 0x01, 0x2C]) + big)
    assert d[1] == big


def test_tlv_rejects_bad_input():
    expect_error(decode_tlv, DEVICE_TLV[:-1])          # truncated value
    expect_error(decode_tlv, bytes([0xC8, 0x00]))     # truncated length field
    expect_error(decode_tlv, bytes([0xE1]))           # truncated 16-bit id
    expect_error(decode_tlv, bytes([0x86, 0x06, 0xC1, 0x00, 0x01]))  # resource inside multiple
    expect_error(decode_tlv, bytes([0xC1, 0x01, 0x01, 0xC1, 0x01, 0x02]))  # duplicate id


def test_senml_json_base_fields():
    # RFC 8428 section 5.1.2-style pack with base name and base time
    pack = (b'[{"bn":"/3303/0/","bt":1700000000,"n":"5700","v":21.5},'
            b'{"n":"5701","vs":"Cel","t":1},{"bn":"/3/0/","n":"16","vs":"U"},'
            b'{"n":"9","v":100},{"n":"3","vb":true},{"n":"0","vd":"AAEC"},'
            b'{"n":"1","vlo":"3:0"}]')
    recs = decode_senml_json(pack)
    assert recs == [("/3303/0/5700", 21.5), ("/3303/0/5701", "Cel"), ("/3/0/16", "U"),
                    ("/3/0/9", 100), ("/3/0/3", True), ("/3/0/0", b"\x00\x01\x02"),
                    ("/3/0/1", "3:0")]
    t = decode_senml_json(pack, with_time=True)
    assert t[0][2] == 1700000000 and t[1][2] == 1700000001


def test_senml_json_rejects_bad_input():
    expect_error(decode_senml_json, b'{"n":"x","v":1}')
    expect_error(decode_senml_json, b'[{"n":"x","v":"1"}]')
    expect_error(decode_senml_json, b'[{"n":"x","v":1,"vs":"a"}]')
    expect_error(decode_senml_json, b'[{"v":1}]')
    expect_error(decode_senml_json, b'[{"n":"x","vd":"@@"}]')


def test_senml_cbor_labels():
    pack = cbor2.dumps([{-2: "/3303/0/", -3: 10, 0: "5700", 2: 21.5},
                        {0: "5701", 3: "Cel", 6: 2}, {0: "5750", 8: b"\x01\x02"},
                        {0: "5850", 4: False}])
    assert decode_senml_cbor(pack) == [("/3303/0/5700", 21.5), ("/3303/0/5701", "Cel"),
                                       ("/3303/0/5750", b"\x01\x02"), ("/3303/0/5850", False)]
    assert decode_senml_cbor(pack, with_time=True)[1][2] == 12
    expect_error(decode_senml_cbor, cbor2.dumps([{"n": "x", "v": 1}]))  # text labels
    expect_error(decode_senml_cbor, cbor2.dumps([{0: "x", 8: "AAE"}]))  # vd not bytes
    expect_error(decode_senml_cbor, cbor2.dumps({0: "x"}))


def test_link_format():
    links = parse_link_format('</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,'
                              '</3303>;ver=1.1,</3303/0/5700>;pmin=5;gt="20,5";obs')
    assert links == [("/", {"rt": "oma.lwm2m", "ct": "11543"}), ("/1/0", {}), ("/3/0", {}),
                     ("/3303", {"ver": "1.1"}),
                     ("/3303/0/5700", {"pmin": "5", "gt": "20,5", "obs": None})]
    assert parse_link_format("") == []
    expect_error(parse_link_format, "/3/0")
    expect_error(parse_link_format, "</3/0")
    expect_error(parse_link_format, '</3/0>;rt="x')
    expect_error(parse_link_format, "</3/0> </4/0>")
