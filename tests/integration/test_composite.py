"""LwM2M 1.1 composite operations: Read-Composite and Observe-Composite
(FETCH) and Write-Composite (iPATCH), sent through the test server's "raw"
op with payloads built here and answers read with the harness's own SenML
decoders."""

import contextlib
import json

import cbor2

import configs
from harness import Gateway, TestServer, decode_senml_cbor, decode_senml_json

EP = "composite-dev"
SENML_JSON, SENML_CBOR = 110, 112


@contextlib.contextmanager
def _start(tmp, srv):
    """The gateway, which must then exit cleanly (sanitizer and valgrind
    runs report errors through the exit status)."""
    gw = Gateway(tmp, configs.gateway([configs.device(EP)]), server=srv).start()
    try:
        srv.wait_register(EP)
        yield gw
    except BaseException:
        gw.stop()
        raise
    assert gw.stop() == 0, gw.log_tail()


def _json(records):
    return json.dumps(records).encode().hex()


def _cbor(records):
    """SenML CBOR with the integer labels of RFC 8428 table 6."""
    labels = {"bn": -2, "n": 0, "v": 2, "vs": 3, "vb": 4}
    return cbor2.dumps([{labels[k]: v for k, v in r.items()} for r in records]).hex()


def _fetch(srv, payload_hex, cf=SENML_JSON, accept=None, **kw):
    args = dict(ep=EP, path="/", method="fetch", cf=cf, payload_hex=payload_hex, **kw)
    if accept is not None:
        args["accept"] = accept
    return srv.request("raw", **args)


def _ipatch(srv, payload_hex, cf=SENML_JSON):
    return srv.request("raw", ep=EP, path="/", method="ipatch", cf=cf, payload_hex=payload_hex)


def _decode(resp):
    data = bytes.fromhex(resp.get("payload_hex", ""))
    return dict(decode_senml_cbor(data) if resp["cf"] == SENML_CBOR else decode_senml_json(data))


# bn carries over to the later records (RFC 8428 4.5.1)
PATHS = [{"n": "/3303/0/5700"}, {"bn": "/3303/0/", "n": "5750"}, {"bn": "", "n": "/3304/0"},
         {"n": "/3/0/0"}, {"n": "/3303/0/5700"}, {"n": "/7/0"}, {"n": "/3303/9"}]


def _check_read(values):
    assert values["/3303/0/5700"] == 21.5
    assert values["/3303/0/5750"] == "boiler"
    assert values["/3304/0/5700"] == 45.0 and values["/3304/0/5701"] == "%RH"
    assert values["/3/0/0"] == "Acme"
    # only what was asked: nothing else of /3303/0 or /3/0, nothing of the missing paths
    assert "/3303/0/5701" not in values and "/3/0/1" not in values
    assert not [n for n in values if n.startswith("/7/") or n.startswith("/3303/9")]


def test_read_composite_senml_json(tmp):
    with TestServer() as srv, _start(tmp, srv):
        r = _fetch(srv, _json(PATHS))
        assert r["code"] == "2.05" and r["cf"] == SENML_JSON, r
        recs = decode_senml_json(bytes.fromhex(r["payload_hex"]))
        names = [n for n, _ in recs]
        assert len(names) == len(set(names)), names  # /3303/0/5700 asked twice, sent once
        _check_read(dict(recs))


def test_read_composite_senml_cbor_and_accept(tmp):
    with TestServer() as srv, _start(tmp, srv):
        r = _fetch(srv, _cbor(PATHS), cf=SENML_CBOR)
        assert r["code"] == "2.05" and r["cf"] == SENML_CBOR, r
        _check_read(_decode(r))
        # request in JSON, answer in CBOR as the Accept asks
        r = _fetch(srv, _json(PATHS), accept=SENML_CBOR)
        assert r["code"] == "2.05" and r["cf"] == SENML_CBOR, r
        _check_read(_decode(r))


def test_read_composite_errors(tmp):
    with TestServer() as srv, _start(tmp, srv):
        good = _json([{"n": "/3303/0/5700"}])
        assert _fetch(srv, good, cf=0)["code"] == "4.15"
        assert _fetch(srv, good, accept=11542)["code"] == "4.06"
        assert _fetch(srv, "7b7d")["code"] == "4.00"  # "{}": not a pack
        assert _fetch(srv, _json([{"n": "3303/x"}]))["code"] == "4.00"
        assert _fetch(srv, _json([{"n": "/3303/0/5700", "v": 1}]))["code"] == "4.00"
        assert _fetch(srv, _json([]))["code"] == "4.00"
        assert _fetch(srv, "ff", cf=SENML_CBOR)["code"] == "4.00"
        assert _fetch(srv, _json([{"n": "/0/0/0"}]))["code"] == "4.01"
        # the gateway still answers
        assert _decode(_fetch(srv, good))["/3303/0/5700"] == 21.5


def test_observe_composite_notifies_the_set(tmp):
    with TestServer() as srv, _start(tmp, srv) as gw:
        paths = [{"n": "/3303/0/5750"}, {"n": "/3304/0/5700"}, {"n": "/3/0/0"}]
        req = srv.send_command("raw", ep=EP, path="/", method="fetch", cf=SENML_JSON,
                               payload_hex=_json(paths), observe=0)
        first = srv.wait_response(req)
        assert first["code"] == "2.05" and "observe" in first, first
        assert _decode(first)["/3303/0/5750"] == "boiler"
        # a change of one member notifies the whole set
        assert _ipatch(srv, _json([{"n": "/3303/0/5750", "vs": "loop-1"}]))["code"] == "2.04"
        n1 = srv.wait_notify(req)
        v = _decode(n1)
        assert n1["observe"] > first["observe"] and n1["cf"] == SENML_JSON
        assert v == {"/3303/0/5750": "loop-1", "/3304/0/5700": 45.0, "/3/0/0": "Acme"}, v
        # a change outside the set does not notify
        mark = len(srv.events)
        assert srv.request("write", ep=EP, path="/3/0/15", cf=0, payload_text="Europe/Paris")["code"] == "2.04"
        assert srv.read(EP, "/3/0/15")["code"] == "2.05"  # a round trip: a wrong notify would be here by now
        assert not [e for e in srv.events[mark:] if e.get("event") == "notify"]
        # cancel with Observe 1 and the same token
        assert srv.request("cancel_observe", observe_req=req)["code"] == "2.05"
        gw.wait_log(r"observation of .* cancelled by the server")
        assert _ipatch(srv, _json([{"n": "/3303/0/5750", "vs": "after"}]))["code"] == "2.04"
        assert _decode(_fetch(srv, _json([{"n": "/3303/0/5750"}])))["/3303/0/5750"] == "after"
        assert not [e for e in srv.events if e.get("event") == "notify" and "after" in e.get("payload_text", "")]


def test_observe_composite_in_cbor_respects_object_pmin(tmp):
    with TestServer() as srv, _start(tmp, srv):
        assert srv.request("write_attributes", ep=EP, path="/3303", query="pmin=2")["code"] == "2.04"
        paths = [{"n": "/3303/0/5750"}, {"n": "/3303/0/5700"}]
        req = srv.send_command("raw", ep=EP, path="/", method="fetch", cf=SENML_CBOR,
                               payload_hex=_cbor(paths), observe=0)
        first = srv.wait_response(req)
        assert first["code"] == "2.05" and "observe" in first, first
        for i in range(3):
            assert _ipatch(srv, _cbor([{"n": "/3303/0/5750", "vs": "v%d" % i}]), cf=SENML_CBOR)["code"] == "2.04"
        n = srv.wait_notify(req)
        assert n["cf"] == SENML_CBOR
        assert _decode(n) == {"/3303/0/5750": "v2", "/3303/0/5700": 21.5}
        assert n["ts"] - first["ts"] >= 1.9, n["ts"] - first["ts"]


def test_write_composite_changes_several_resources(tmp):
    with TestServer() as srv, _start(tmp, srv):
        recs = [{"bn": "/3303/0/", "n": "5750", "vs": "kitchen"}, {"bn": "/", "n": "3304/0/5750", "vs": "cellar"},
                {"n": "3/0/15", "vs": "Europe/Berlin"}]
        assert _ipatch(srv, _json(recs))["code"] == "2.04"
        asked = [{"n": "/3303/0/5750"}, {"n": "/3304/0/5750"}, {"n": "/3/0/15"}]
        v = _decode(_fetch(srv, _json(asked)))
        assert v == {"/3303/0/5750": "kitchen", "/3304/0/5750": "cellar", "/3/0/15": "Europe/Berlin"}, v
        cbor_recs = [{"n": "/3303/0/5750", "vs": "attic"}, {"n": "/3/0/15", "vs": "UTC"}]
        assert _ipatch(srv, _cbor(cbor_recs), cf=SENML_CBOR)["code"] == "2.04"
        v = _decode(_fetch(srv, _json(asked)))
        assert v["/3303/0/5750"] == "attic" and v["/3/0/15"] == "UTC"


def test_write_composite_bad_payloads_change_nothing(tmp):
    with TestServer() as srv, _start(tmp, srv):
        ok = {"n": "/3303/0/5750", "vs": "changed"}
        bad = [
            ("4.00", _json([ok, {"n": "/3304/0/5750", "v": 3}]), SENML_JSON),    # wrong type
            ("4.00", _json([ok, {"n": "/3304/0/5750"}]), SENML_JSON),            # no value
            ("4.00", _json([ok])[:-2], SENML_JSON),                               # truncated
            ("4.00", "9f", SENML_CBOR),                                           # truncated CBOR
            ("4.00", _json([]), SENML_JSON),
            ("4.04", _json([ok, {"n": "/3304/7/5750", "vs": "x"}]), SENML_JSON),  # no instance
            ("4.04", _json([ok, {"n": "/3303/0/9999", "vs": "x"}]), SENML_JSON),  # no resource
            ("4.05", _json([ok, {"n": "/3303/0/5700", "v": 1.0}]), SENML_JSON),   # read-only
            ("4.15", _json([ok]), 0),
        ]
        for code, payload, cf in bad:
            r = _ipatch(srv, payload, cf=cf)
            assert r["code"] == code, (code, payload, r)
        v = _decode(_fetch(srv, _json([{"n": "/3303/0/5750"}, {"n": "/3303/0/5700"}])))
        assert v == {"/3303/0/5750": "boiler", "/3303/0/5700": 21.5}, v


# ---- attributes of each member (LwM2M 1.1 5.1.2, 6.4.3) -----------------

@contextlib.contextmanager
def _start_with(tmp, srv, extra):
    gw = Gateway(tmp, configs.gateway([configs.device(EP, extra)]), server=srv).start()
    try:
        srv.wait_register(EP)
        yield gw
    except BaseException:
        gw.stop()
        raise
    assert gw.stop() == 0, gw.log_tail()


def _observe_composite(srv, paths):
    req = srv.send_command("raw", ep=EP, path="/", method="fetch", cf=SENML_JSON, payload_hex=_json(paths), observe=0)
    first = srv.wait_response(req)
    assert first["code"] == "2.05" and "observe" in first, first
    return req, first


def _attrs(srv, path, query):
    r = srv.request("write_attributes", ep=EP, path=path, query=query)
    assert r["code"] == "2.04", (path, query, r)


MEMBERS = ["/3308/0/5900", "/3303/0/5750", "/3304/0", "/3"]


def test_pmax_of_each_member_forces_the_composite_notification(tmp):
    """The issue's case (pmax=2 on /3308/0/5900, then an Observe-Composite
    of it), for every member and every level a member can name."""
    with TestServer() as srv, _start_with(tmp, srv, '{ path = "/3308/0/5900"; value = 20.0; }') as gw:
        for member in MEMBERS:
            _attrs(srv, member, "pmax=1")
            req, first = _observe_composite(srv, [{"n": p} for p in MEMBERS])
            n1 = srv.wait_notify(req, timeout=5)
            n2 = srv.wait_notify(req, timeout=5)
            assert n2["observe"] > n1["observe"] > first["observe"], member
            assert n2["ts"] - first["ts"] >= 1.9, (member, n2["ts"] - first["ts"])
            v = _decode(n2)
            assert v["/3308/0/5900"] == 20.0 and v["/3303/0/5750"] == "boiler" and v["/3/0/0"] == "Acme", v
            assert srv.request("cancel_observe", observe_req=req)["code"] == "2.05"
            gw.wait_log(r"observation of a composite of 4 paths cancelled by the server")
            _attrs(srv, member, "pmax")


def test_issue_case_pmax_2_on_a_set_point(tmp):
    with TestServer() as srv, _start_with(tmp, srv, '{ path = "/3308/0/5900"; value = 20.0; }'):
        _attrs(srv, "/3308/0/5900", "pmax=2")
        req, first = _observe_composite(srv, [{"n": "/3308/0/5900"}])
        n = srv.wait_notify(req, timeout=5.5)
        assert _decode(n) == {"/3308/0/5900": 20.0} and n["ts"] - first["ts"] >= 1.9


def test_pmin_of_one_member_holds_only_that_members_changes(tmp):
    with TestServer() as srv, _start_with(tmp, srv, ""):
        _attrs(srv, "/3303/0/5750", "pmin=30")
        req, first = _observe_composite(srv, [{"n": "/3303/0/5750"}, {"n": "/3304/0/5750"}])
        assert _ipatch(srv, _json([{"n": "/3303/0/5750", "vs": "held"}]))["code"] == "2.04"
        # a round trip after the change: a notification would be here by now
        assert _decode(_fetch(srv, _json([{"n": "/3303/0/5750"}])))["/3303/0/5750"] == "held"
        assert not [e for e in srv.events if e.get("event") == "notify" and e.get("req") == req]
        # the other member has no pmin: its change goes out at once, with both values
        assert _ipatch(srv, _json([{"n": "/3304/0/5750", "vs": "free"}]))["code"] == "2.04"
        n = srv.wait_notify(req, timeout=10)
        assert _decode(n) == {"/3303/0/5750": "held", "/3304/0/5750": "free"}, _decode(n)
        assert n["ts"] - first["ts"] < 29


def test_gt_of_a_member_judges_that_members_value(tmp):
    with TestServer() as srv, _start_with(tmp, srv, '{ path = "/3308/0/5900"; value = 20.0; }'):
        _attrs(srv, "/3308/0/5900", "gt=25")
        req, _ = _observe_composite(srv, [{"n": "/3308/0/5900"}, {"n": "/3303/0/5700"}])
        assert _ipatch(srv, _json([{"n": "/3308/0/5900", "v": 22.0}]))["code"] == "2.04"  # below gt: silent
        assert _ipatch(srv, _json([{"n": "/3308/0/5900", "v": 26.0}]))["code"] == "2.04"  # crossing
        assert _decode(srv.wait_notify(req))["/3308/0/5900"] == 26.0


# ---- the root (LwM2M 1.1 6.3.x gives [{"n":"/"}] as an example) --------------

def test_read_composite_of_the_root_reads_every_readable_resource(tmp):
    with TestServer() as srv, _start(tmp, srv):
        for cf, payload in ((SENML_JSON, _json([{"n": "/"}])), (SENML_CBOR, _cbor([{"n": "/"}]))):
            r = _fetch(srv, payload, cf=cf)
            assert r["code"] == "2.05" and r["cf"] == cf, r
            root = _decode(r)
            # the same as reading each registered object
            objs = ["/1", "/3", "/3303", "/3304"]
            each = {}
            for o in objs:
                each.update(_decode(_fetch(srv, _json([{"n": o}]))))
            assert set(root) == set(each), sorted(set(root) ^ set(each))
            # /3/0/13 (Current Time) is sampled at each read
            assert {k: v for k, v in root.items() if k != "/3/0/13"} == \
                {k: v for k, v in each.items() if k != "/3/0/13"}
            assert root["/3/0/0"] == "Acme" and root["/3303/0/5700"] == 21.5 and "/1/0/1" in root
            assert not [n for n in root if n.startswith("/0/")]
        assert _fetch(srv, _json([{"n": "/", "v": 1}]))["code"] == "4.00"  # a value on the root


def test_observe_composite_of_the_root(tmp):
    with TestServer() as srv, _start(tmp, srv):
        req, first = _observe_composite(srv, [{"n": "/"}])
        assert _decode(first)["/3303/0/5750"] == "boiler"
        assert srv.request("write", ep=EP, path="/3304/0/5750", cf=0, payload_text="cellar")["code"] == "2.04"
        v = _decode(srv.wait_notify(req))
        assert v["/3304/0/5750"] == "cellar" and v["/3/0/0"] == "Acme"
