"""Values a server sends that the client must refuse (issue 8, section 4):
each is answered 4.00 with a diagnostic, nothing is stored, and every Read
and Discover afterwards still answers 2.05 with the old value. Payloads are
built here, not by the gateway's encoders."""

import contextlib
import json
import struct

import cbor2

import configs
from harness import Gateway, TestServer, decode_senml_json, parse_link_format

EP = "values-dev"
TEXT, TLV, SENML_JSON, SENML_CBOR = 0, 11542, 110, 112

# a writable Float (Set Point Value), a writable Integer with a registry
# range (Dimmer, 0..100), besides the fixture's String /3303/0/5750
EXTRA = '{ path = "/3308/0/5900"; value = 20.0; }, { path = "/3311/0/5851"; value = 40; }'


@contextlib.contextmanager
def _start(tmp, srv):
    """The gateway, which must then exit cleanly (sanitizer and valgrind
    runs report errors through the exit status)."""
    gw = Gateway(tmp, configs.gateway([configs.device(EP, EXTRA)]), server=srv,
                 extra_args=["--log-level", "debug"]).start()
    try:
        srv.wait_register(EP)
        yield gw
    except BaseException:
        gw.stop()
        raise
    assert gw.stop() == 0, gw.log_tail()


def _ok(resp, code="2.05"):
    assert resp.get("code") == code, resp
    return resp


def _refused(resp, diag):
    """4.00 with a diagnostic payload naming what was wrong."""
    assert resp.get("code") == "4.00", resp
    assert diag in resp.get("payload_text", ""), resp
    return resp


def _tlv_res(rid, value):
    """A single-resource TLV (type 11, id of 1 or 2 bytes, length 0..255)."""
    t = 0xC0 | (0x20 if rid > 255 else 0)
    idb = rid.to_bytes(2 if rid > 255 else 1, "big")
    if len(value) < 8:
        return bytes([t | len(value)]) + idb + value
    return bytes([t | 0x08]) + idb + bytes([len(value)]) + value


def _put(srv, path, cf, body):
    return srv.request("write", ep=EP, path=path, cf=cf, payload_hex=body.hex())


def _read_all_formats(srv, path, text):
    """The resource reads as text in every format; its instance and object
    read as valid SenML JSON; all of it 2.05."""
    assert _ok(srv.read(EP, path))["payload_text"] == text
    inst, obj = path.rsplit("/", 1)[0], path.rsplit("/", 2)[0]
    for p in (path, inst, obj):
        for accept in (TLV, SENML_JSON, SENML_CBOR):
            r = _ok(srv.read(EP, p, accept=accept))
            if accept == SENML_JSON:
                json.loads(bytes.fromhex(r["payload_hex"]).decode("utf-8"))  # valid JSON, valid UTF-8
        _ok(srv.request("discover", ep=EP, path=p))


def test_write_attributes_refuse_nan_inf_and_bad_relations(tmp):
    with TestServer() as srv, _start(tmp, srv):
        path = "/3308/0/5900"
        _ok(srv.request("write_attributes", ep=EP, path=path, query="pmin=5&gt=30"), "2.04")
        bad = [("gt=nan", "gt must be a finite decimal number"),
               ("lt=inf", "lt must be a finite decimal number"),
               ("gt=-inf", "gt must be"), ("st=NaN", "st must be"), ("lt=1e999", "lt must be"),
               ("gt=0x10", "gt must be"), ("gt=5x", "gt must be"), ("st=0", "st must be greater than 0"),
               ("pmin=1.5", "pmin must be whole seconds"), ("pmax=-1", "pmax must be whole seconds"),
               ("epmin=1e3", "epmin must be whole seconds"), ("pmax=2147483648", "pmax must be"),
               ("epmin=10&epmax=2", "epmax (2) must be greater than epmin (10)"),
               # Core 5.1.2: epmax MUST be greater than epmin (pmax may equal pmin)
               ("epmin=2&epmax=2", "epmax (2) must be greater than epmin (2)"),
               ("epmin=0&epmax=0", "epmax (0) must be greater than epmin (0)"),
               # each attribute once: no "last one wins"
               ("gt=1&gt=2", "attribute gt given twice, expected each attribute once"),
               ("pmin=1&pmin=2", "attribute pmin given twice, expected each attribute once"),
               ("pmin&pmin=2", "attribute pmin given twice, expected each attribute once")]
        for level in (path, "/3308/0", "/3308"):
            for q, diag in bad:
                if q.startswith(("gt", "lt", "st")) and level != path:
                    diag = "gt, lt and st apply to numeric resources only"
                _refused(srv.request("write_attributes", ep=EP, path=level, query=q), diag)
        # judged with the attributes the path already holds (pmin=5, gt=30)
        for q, diag in (("pmax=3", "pmax (3) must not be less than pmin (5)"),
                        ("lt=40", "need lt + 2*st < gt"), ("lt=20&st=5", "need lt + 2*st < gt")):
            _refused(srv.request("write_attributes", ep=EP, path=path, query=q), diag)
        # nothing was kept: every level still discovers, with the old attributes
        for p in (path, "/3308/0", "/3308"):
            links = dict(parse_link_format(_ok(srv.request("discover", ep=EP, path=p))["payload_text"]))
            assert links[path] == {"pmin": "5", "gt": "30"}, links
        _read_all_formats(srv, path, "20")
        # the edges that are fine
        _ok(srv.request("write_attributes", ep=EP, path=path, query="lt=-40.5&gt=1e3&st=10"), "2.04")
        _ok(srv.request("write_attributes", ep=EP, path=path, query="pmin=0&pmax=2147483647&epmin=0&epmax=1"),
            "2.04")
        _ok(srv.request("write_attributes", ep=EP, path="/3308/0", query="pmin=7&pmax=7"), "2.04")
        links = dict(parse_link_format(_ok(srv.request("discover", ep=EP, path="/3308"))["payload_text"]))
        assert links[path] == {"pmin": "0", "pmax": "2147483647", "gt": "1000", "lt": "-40.5", "st": "10",
                               "epmin": "0", "epmax": "1"}, links


def test_float_nan_and_inf_refused_in_every_format(tmp):
    with TestServer() as srv, _start(tmp, srv) as gw:
        path = "/3308/0/5900"
        since = gw.mark()
        cases = [
            (TEXT, b"nan"), (TEXT, b"inf"), (TEXT, b"-inf"), (TEXT, b"1e999"),
            (TLV, _tlv_res(5900, struct.pack(">f", float("nan")))),
            (TLV, _tlv_res(5900, struct.pack(">f", float("-inf")))),
            (TLV, _tlv_res(5900, struct.pack(">d", float("inf")))),
            (TLV, _tlv_res(5900, struct.pack(">d", float("nan")))),
            (SENML_JSON, b'[{"bn":"/3308/0/5900","v":1e999}]'),
            (SENML_JSON, b'[{"bn":"/3308/0/5900","v":NaN}]'),
            (SENML_CBOR, cbor2.dumps([{-2: path, 2: float("nan")}])),
            (SENML_CBOR, cbor2.dumps([{-2: path, 2: float("inf")}])),
            (SENML_CBOR, bytes.fromhex("81a2") + cbor2.dumps(-2) + cbor2.dumps(path) + bytes.fromhex("02f97c00")),
        ]
        for cf, body in cases:
            r = _put(srv, path, cf, body)
            assert r["code"] == "4.00", (cf, body, r)
            assert r.get("payload_text"), (cf, body, r)  # a diagnostic says why
        gw.wait_log(r"values-dev: /?3308/0/5900 -> 4\.00 .*(finite|out of range|syntax)", since=since)
        # an instance-level partial update and a Create carry the same check
        body = _tlv_res(5900, struct.pack(">d", float("inf")))
        _refused(srv.request("write", ep=EP, path="/3308/0", method="post", cf=TLV, payload_hex=body.hex()),
                 "/3308/0/5900: a Float must be a finite number")
        inst = bytes([0x08, 0x01, len(body)]) + body
        r = srv.request("create", ep=EP, path="/3308", cf=TLV, payload_hex=inst.hex())
        assert r["code"] == "4.00", r
        assert srv.read(EP, "/3308/1")["code"] == "4.04"
        _read_all_formats(srv, path, "20")
        # the largest finite values are fine
        _ok(_put(srv, path, TLV, _tlv_res(5900, struct.pack(">d", 1.7976931348623157e308))), "2.04")
        _ok(_put(srv, path, TEXT, b"-21.5"), "2.04")
        _read_all_formats(srv, path, "-21.5")


def test_server_object_lifetime_and_binding(tmp):
    with TestServer() as srv, _start(tmp, srv) as gw:
        since = gw.mark()
        for text in (b"0", b"-5", b"4294967296", b"2147483648"):
            _refused(_put(srv, "/1/0/1", TEXT, text), "/1/0/1: lifetime must be 1..2147483647 s, got ")
        gw.wait_log(r"values-dev: /?1/0/1 -> 4\.00 /1/0/1: lifetime must be 1\.\.2147483647 s, got 0", since=since)
        _refused(_put(srv, "/1/0/1", TLV, _tlv_res(1, b"\x00")), "lifetime must be")
        _refused(_put(srv, "/1/0/1", SENML_JSON, b'[{"bn":"/1/0/1","v":-5}]'), "lifetime must be")
        _refused(_put(srv, "/1/0/1", SENML_CBOR, cbor2.dumps([{-2: "/1/0/1", 2: 2 ** 32}])), "lifetime must be")
        _refused(srv.request("write", ep=EP, path="/1/0", method="post", cf=TLV,
                             payload_hex=_tlv_res(1, b"\x00").hex()), "lifetime must be")
        for text in (b"ZZZ", b"u", b"UU", b"U ", b"", b"UTSNQX"):
            _refused(_put(srv, "/1/0/7", TEXT, text), "/1/0/7: binding must be letters from U, T, S, N, Q")
        assert _ok(srv.read(EP, "/1/0/1"))["payload_text"] == "60"
        assert _ok(srv.read(EP, "/1/0/7"))["payload_text"] == "U"
        _read_all_formats(srv, "/1/0/1", "60")
        # the edges that are fine; a new lifetime travels in an Update
        _ok(_put(srv, "/1/0/1", TEXT, b"2147483647"), "2.04")
        assert srv.wait_update(EP)["query"].get("lt") == "2147483647"
        _ok(_put(srv, "/1/0/1", TEXT, b"1"), "2.04")
        assert srv.wait_update(EP)["query"].get("lt") == "1"
        _ok(_put(srv, "/1/0/7", TEXT, b"U"), "2.04")


def test_string_that_is_not_utf8_refused(tmp):
    with TestServer() as srv, _start(tmp, srv):
        path = "/3303/0/5750"
        cases = [
            (TEXT, b"\xc3\xa9\xff", "/3303/0/5750: a String must be valid UTF-8"),
            (TEXT, b"a\x00b", "must not contain NUL"),
            (TEXT, b"\xed\xa0\x80", "UTF-8"),     # a UTF-16 surrogate
            (TEXT, b"\xc0\xaf", "UTF-8"),         # overlong
            (SENML_JSON, b'[{"bn":"/3303/0/5750","vs":"\xc3\xa9\xff"}]', "UTF-8"),
            (SENML_JSON, b'[{"bn":"/3303/0/5750","vs":"a\\u0000b"}]', "NUL"),
            (TLV, _tlv_res(5750, b"\xc3\xa9\xff"), "UTF-8"),
            (SENML_CBOR, bytes.fromhex("81a2") + cbor2.dumps(-2) + cbor2.dumps(path) + b"\x03\x63\xc3\xa9\xff",
             "UTF-8"),
        ]
        for cf, body, diag in cases:
            _refused(_put(srv, path, cf, body), diag)
        _read_all_formats(srv, path, "boiler")
        # real UTF-8 is kept and read back whole in SenML JSON
        _ok(_put(srv, path, TEXT, "chaufferie é €".encode()), "2.04")
        vals = dict(decode_senml_json(bytes.fromhex(_ok(srv.read(EP, "/3303/0", accept=SENML_JSON))["payload_hex"])))
        assert vals[path] == "chaufferie é €"


def test_registry_range(tmp):
    with TestServer() as srv, _start(tmp, srv):
        _refused(_put(srv, "/3311/0/5851", TEXT, b"101"), "/3311/0/5851: 101 is outside the registry range 0..100")
        _refused(_put(srv, "/3311/0/5851", TEXT, b"-1"), "outside the registry range 0..100")
        _refused(srv.request("write", ep=EP, path="/3311/0", method="post", cf=SENML_JSON,
                             payload_text='[{"bn":"/3311/0/","n":"5851","v":250}]'), "0..100")
        assert _ok(srv.read(EP, "/3311/0/5851"))["payload_text"] == "40"
        _ok(_put(srv, "/3311/0/5851", TEXT, b"100"), "2.04")
        _ok(_put(srv, "/3311/0/5851", TEXT, b"0"), "2.04")
        assert _ok(srv.read(EP, "/3311/0/5851"))["payload_text"] == "0"


def _ipatch(srv, body, cf):
    return srv.request("raw", ep=EP, path="/", method="ipatch", cf=cf, payload_hex=body.hex())


def test_write_composite_all_or_nothing(tmp):
    with TestServer() as srv, _start(tmp, srv):
        good = {"n": "/3303/0/5750", "vs": "changed"}
        bad_members = [
            ({"n": "/1/0/1", "v": 0}, "/1/0/1: lifetime must be"),
            ({"n": "/1/0/7", "vs": "ZZZ"}, "/1/0/7: binding must be"),
            ({"n": "/3311/0/5851", "v": 101}, "/3311/0/5851: 101 is outside"),
        ]
        for member, diag in bad_members:
            for records in ([good, member], [member, good]):
                _refused(_ipatch(srv, json.dumps(records).encode(), SENML_JSON), diag)
                cb = cbor2.dumps([{0 if k == "n" else 2 if k == "v" else 3: v for k, v in r.items()}
                                  for r in records])
                _refused(_ipatch(srv, cb, SENML_CBOR), diag)
        for bad in (float("nan"), float("inf")):
            cb = cbor2.dumps([{0: "/3303/0/5750", 3: "changed"}, {0: "/3308/0/5900", 2: bad}])
            _refused(_ipatch(srv, cb, SENML_CBOR), "/3308/0/5900: a Float must be a finite number")
        cb = (bytes.fromhex("82") + cbor2.dumps({0: "/3308/0/5900", 2: 1.5}) + bytes.fromhex("a2") +
              cbor2.dumps(0) + cbor2.dumps("/3303/0/5750") + b"\x03\x63\xc3\xa9\xff")
        _refused(_ipatch(srv, cb, SENML_CBOR), "/3303/0/5750: a String must be valid UTF-8")
        # nothing of any refused request was stored
        assert _ok(srv.read(EP, "/3303/0/5750"))["payload_text"] == "boiler"
        assert _ok(srv.read(EP, "/3308/0/5900"))["payload_text"] == "20"
        assert _ok(srv.read(EP, "/1/0/1"))["payload_text"] == "60"
        assert _ok(srv.read(EP, "/3311/0/5851"))["payload_text"] == "40"
        _ok(_ipatch(srv, json.dumps([good, {"n": "/3311/0/5851", "v": 100}]).encode(), SENML_JSON), "2.04")
        assert _ok(srv.read(EP, "/3303/0/5750"))["payload_text"] == "changed"
        assert _ok(srv.read(EP, "/3311/0/5851"))["payload_text"] == "100"


def test_senml_base_value_version_and_sum(tmp):
    """RFC 8428 4.1: bv is added to v (bv 10 and v 4 store 14, in SenML JSON
    and CBOR); a bver above 10 is refused (4.4); a sum ("s", "bs") has no
    LwM2M resource to go to and is refused naming the path; "u" is read past."""
    with TestServer() as srv, _start(tmp, srv):
        path = "/3308/0/5900"
        _ok(_put(srv, path, SENML_JSON, b'[{"bn":"/3308/0/","bv":10,"n":"5900","v":4}]'), "2.04")
        assert _ok(srv.read(EP, path))["payload_text"] == "14"
        _ok(_put(srv, path, SENML_CBOR, cbor2.dumps([{-2: "/3308/0/", -5: 10, 0: "5900", 2: 2.5}])), "2.04")
        assert _ok(srv.read(EP, path))["payload_text"] == "12.5"
        _ok(_put(srv, "/3311/0", SENML_JSON, b'[{"bn":"/3311/0/","bv":40,"n":"5851","v":-1,"u":"%"}]'),
            "2.04")
        assert _ok(srv.read(EP, "/3311/0/5851"))["payload_text"] == "39"
        for cf, body, diag in (
                (SENML_JSON, b'[{"bver":11,"bn":"/3308/0/5900","v":4}]',
                 "/3308/0/5900: SenML version 11 is not supported (this client reads up to 10)"),
                (SENML_CBOR, cbor2.dumps([{-1: 11, -2: path, 2: 4}]),
                 "/3308/0/5900: SenML version 11 is not supported"),
                (SENML_JSON, b'[{"bn":"/3308/0/5900","s":4}]',
                 '/3308/0/5900: SenML "s" (sum) is not used by LwM2M, expected the value in "v"'),
                (SENML_CBOR, cbor2.dumps([{-2: path, 5: 4}]), '/3308/0/5900: SenML "s" (sum)'),
                (SENML_JSON, b'[{"bn":"/3308/0/5900","bs":1,"v":4}]', '/3308/0/5900: SenML "bs" (sum)'),
                (SENML_JSON, b'[{"bn":"/3308/0/","bv":0.5,"n":"5900","v":"x"}]',
                 '/3308/0/5900: SenML "v" must be a number'),
                (SENML_JSON, b'[{"bn":"/3311/0/","bv":0.5,"n":"5851","v":4}]',
                 "/3311/0/5851: number out of range for Integer")):
            target = "/3311/0" if b"3311" in body else path
            _refused(_put(srv, target, cf, body), diag)
        assert _ok(srv.read(EP, path))["payload_text"] == "12.5"
        assert _ok(srv.read(EP, "/3311/0/5851"))["payload_text"] == "39"


def test_duplicates_refused_in_every_format(tmp):
    """A Write names each resource (instance) once and a record each field
    once: a repeat is 4.00 naming the path, never "the last one wins"."""
    with TestServer() as srv, _start(tmp, srv):
        two_tlv = _tlv_res(5900, struct.pack(">d", 1.0)) + _tlv_res(5900, struct.pack(">d", 2.0))
        inst_tlv = bytes([0x08, 0x00, len(two_tlv)]) + two_tlv  # the same inside an instance
        rec = b'{"bn":"/3308/0/","n":"5900","v":1}'
        for target, cf, body, diag in (
                ("/3308/0", SENML_JSON, b'[{"bn":"/3308/0/","n":"5900","v":1},{"n":"5900","v":2}]',
                 "/3308/0/5900: two values for one path in one payload"),
                ("/3308/0", SENML_CBOR, cbor2.dumps([{0: "/3308/0/5900", 2: 1}, {0: "/3308/0/5900", 2: 2}]),
                 "/3308/0/5900: two values for one path in one payload"),
                ("/3308/0", TLV, two_tlv, "/3308/0/5900: two values for one path in one payload"),
                ("/3308/0", TLV, inst_tlv, "/3308/0/5900: two values for one path in one payload"),
                ("/3308/0", SENML_JSON, b'[{"n":"/3308/0/5900","n":"/3311/0/5851","v":1}]',
                 '/3308/0/5900: SenML label "n" twice in one record'),
                ("/3308/0", SENML_JSON, b'[{"n":"/3308/0/5900","v":1,"v":2}]',
                 '/3308/0/5900: SenML label "v" twice in one record'),
                ("/3308/0", SENML_CBOR,
                 bytes.fromhex("81a3") + cbor2.dumps(0) + cbor2.dumps("/3308/0/5900") + cbor2.dumps(0) +
                 cbor2.dumps("/3308/0/5800") + cbor2.dumps(2) + cbor2.dumps(1),
                 '/3308/0/5900: SenML label "n" twice in one record')):
            for method in ("post", "put"):  # partial update and replace
                _refused(srv.request("write", ep=EP, path=target, method=method, cf=cf,
                                     payload_hex=body.hex()), diag)
        _refused(_ipatch(srv, json.dumps([{"n": "/3308/0/5900", "v": 1}, {"n": "/3308/0/5900", "v": 2}]).encode(),
                         SENML_JSON), "/3308/0/5900: two values for one path in one payload")
        assert _ok(srv.read(EP, "/3308/0/5900"))["payload_text"] == "20"
        _ok(_put(srv, "/3308/0/5900", SENML_JSON, rec.join([b"[", b"]"])), "2.04")
        assert _ok(srv.read(EP, "/3308/0/5900"))["payload_text"] == "1"


def test_execute_arguments_syntax(tmp):
    with TestServer() as srv, _start(tmp, srv):
        for args in ("0='a b'", "0='a\"b'", "0='x", "0=abc", "a", "10", "0,", "0,0", "1='a',1='b'"):
            r = srv.request("execute", ep=EP, path="/1/0/8", payload_text=args)
            assert r["code"] == "4.00", (args, r)
        _ok(srv.request("execute", ep=EP, path="/1/0/8", payload_text="0='!#$%&()*+-./:;<=>?@[]^_`{|}~',1"),
            "2.04")
        srv.wait_update(EP)
