"""Device management interface of a virtual client, checked through the
independent test server and the harness's own decoders."""

import struct

import configs
from harness import (Gateway, TestServer, decode_senml_cbor, decode_senml_json, decode_tlv,
                     decode_tlv_entries, parse_link_format, tlv_float, tlv_int, tlv_str)

EP = "boiler-room-temp"


def _tlv(kind, ident, value):
    """A TLV entry, built here (not by the gateway's encoder)."""
    t = kind << 6
    idb = ident.to_bytes(2 if ident > 255 else 1, "big")
    if ident > 255:
        t |= 0x20
    n = len(value)
    if n < 8:
        t |= n
        lb = b""
    elif n < 256:
        t |= 1 << 3
        lb = bytes([n])
    else:
        t |= 2 << 3
        lb = n.to_bytes(2, "big")
    return bytes([t]) + idb + lb + value


def _start(tmp, srv, extra=""):
    gw = Gateway(tmp, configs.gateway([configs.device(EP, extra)]), server=srv).start()
    srv.wait_register(EP)
    return gw


def _ok(resp, code="2.05"):
    assert resp.get("code") == code, resp
    return resp


def _payload(resp):
    return bytes.fromhex(resp.get("payload_hex", ""))


def test_read_device_object_tlv(tmp):
    with TestServer() as srv, _start(tmp, srv):
        r = _ok(srv.read(EP, "/3/0", accept=11542))
        assert r["cf"] == 11542
        d = decode_tlv(_payload(r))
        assert tlv_str(d[0]) == "Acme"
        assert tlv_str(d[1]) == "T-100"
        assert tlv_str(d[2]) == "0001"
        assert tlv_str(d[3]) == "1.0"
        assert {k: tlv_int(v) for k, v in d[11].items()} == {0: 0}
        assert tlv_str(d[16]) == "U"
        assert abs(tlv_int(d[13]) - r["ts"]) < 60  # current time is the wall clock
        kinds = {ident: kind for kind, ident, _ in decode_tlv_entries(_payload(r))}
        assert kinds[11] == 2 and kinds[0] == 3  # multiple resource vs single resource


def test_read_device_object_senml_json(tmp):
    with TestServer() as srv, _start(tmp, srv):
        r = _ok(srv.read(EP, "/3/0", accept=110))
        assert r["cf"] == 110
        vals = dict(decode_senml_json(_payload(r)))
        assert vals["/3/0/0"] == "Acme"
        assert vals["/3/0/1"] == "T-100"
        assert vals["/3/0/11/0"] == 0
        assert vals["/3/0/16"] == "U"


def test_read_device_object_senml_cbor(tmp):
    with TestServer() as srv, _start(tmp, srv):
        r = _ok(srv.read(EP, "/3/0", accept=112))
        assert r["cf"] == 112
        vals = dict(decode_senml_cbor(_payload(r)))
        assert vals["/3/0/0"] == "Acme"
        assert vals["/3/0/3"] == "1.0"
        assert vals["/3/0/11/0"] == 0


def test_read_sensor_in_every_format(tmp):
    with TestServer() as srv, _start(tmp, srv):
        r = _ok(srv.read(EP, "/3303/0/5700"))
        assert r["cf"] == 0 and r["payload_text"] == "21.5"
        r = _ok(srv.read(EP, "/3303/0/5700", accept=11542))
        assert tlv_float(decode_tlv(_payload(r))[5700]) == 21.5
        r = _ok(srv.read(EP, "/3303/0", accept=110))
        vals = dict(decode_senml_json(_payload(r)))
        assert vals == {"/3303/0/5700": 21.5, "/3303/0/5701": "Cel", "/3303/0/5601": 20.0,
                        "/3303/0/5602": 23.0, "/3303/0/5750": "boiler"}, vals
        r = _ok(srv.read(EP, "/3304", accept=112))
        assert dict(decode_senml_cbor(_payload(r)))["/3304/0/5700"] == 45.0
        r = _ok(srv.read(EP, "/3304", accept=11542))
        assert tlv_float(decode_tlv(_payload(r))[0][5700]) == 45.0


def test_write_then_read(tmp):
    with TestServer() as srv, _start(tmp, srv):
        _ok(srv.request("write", ep=EP, path="/3303/0/5750", cf=0, payload_text="heating loop"), "2.04")
        assert _ok(srv.read(EP, "/3303/0/5750"))["payload_text"] == "heating loop"
        # TLV partial update (POST) of the instance
        body = _tlv(3, 5750, b"return pipe")
        _ok(srv.request("write", ep=EP, path="/3303/0", method="post", cf=11542,
                        payload_hex=body.hex()), "2.04")
        assert _ok(srv.read(EP, "/3303/0/5750"))["payload_text"] == "return pipe"
        # SenML JSON replace of a resource
        _ok(srv.request("write", ep=EP, path="/3303/0/5750", cf=110,
                        payload_text='[{"bn":"/3303/0/5750","vs":"flow"}]'), "2.04")
        assert _ok(srv.read(EP, "/3303/0/5750"))["payload_text"] == "flow"
        # the server's lifetime, written, travels in the next Update
        _ok(srv.request("write", ep=EP, path="/1/0/1", cf=0, payload_text="45"), "2.04")
        upd = srv.wait_update(EP)
        assert upd["query"].get("lt") == "45", upd


def test_write_read_only_gives_405(tmp):
    with TestServer() as srv, _start(tmp, srv):
        r = srv.request("write", ep=EP, path="/3303/0/5700", cf=0, payload_text="3")
        assert r["code"] == "4.05", r
        r = srv.request("write", ep=EP, path="/3/0/0", cf=0, payload_text="Evil")
        assert r["code"] == "4.05", r
        assert _ok(srv.read(EP, "/3/0/0"))["payload_text"] == "Acme"


def test_execute_non_executable_gives_405(tmp):
    with TestServer() as srv, _start(tmp, srv):
        assert srv.request("execute", ep=EP, path="/3303/0/5700")["code"] == "4.05"
        assert srv.request("execute", ep=EP, path="/3/0/0")["code"] == "4.05"


def test_unknown_paths_give_404(tmp):
    with TestServer() as srv, _start(tmp, srv):
        for path in ("/9999/0", "/3303/7", "/3303/0/9999", "/3303/0/5604", "/3315"):
            assert srv.read(EP, path)["code"] == "4.04", path


def test_accept_and_content_format_errors(tmp):
    with TestServer() as srv, _start(tmp, srv):
        assert srv.read(EP, "/3/0", accept=50)["code"] == "4.06"
        assert srv.read(EP, "/3/0", accept=0)["code"] == "4.06"  # text is one value only
        r = srv.request("write", ep=EP, path="/3303/0/5750", cf=50, payload_text='{"a":1}')
        assert r["code"] == "4.15", r


def test_bad_payloads_give_400(tmp):
    with TestServer() as srv, _start(tmp, srv) as gw:
        bad = [
            (11542, bytes([0xC8, 0x00, 0x14, 0x41])),             # length past the buffer
            (11542, bytes([0xC8])),                                # truncated header
            (110, b'[{"bn":"/3303/0/5750","v":1.5}]'),            # number for a string resource
            (110, b'[{"bn":"/3303/0/5750",'),                     # invalid JSON
            (112, b"\x81\xa1"),                                   # truncated CBOR
        ]
        for cf, body in bad:
            r = srv.request("write", ep=EP, path="/3303/0", method="post", cf=cf, payload_hex=body.hex())
            assert r["code"] == "4.00", (cf, body, r)
        r = srv.request("write", ep=EP, path="/1/0/1", cf=0, payload_text="abc")
        assert r["code"] == "4.00", r
        assert srv.request("execute", ep=EP, path="/1/0/8", payload_text="0='unterminated")["code"] == "4.00"
        # the client is still alive and answering
        assert _ok(srv.read(EP, "/3303/0/5750"))["payload_text"] == "boiler"
        assert gw.proc.poll() is None


def test_discover_lists_resources_and_attributes(tmp):
    with TestServer() as srv, _start(tmp, srv):
        _ok(srv.request("write_attributes", ep=EP, path="/3303/0/5700", query="pmin=5&pmax=60&gt=30"), "2.04")
        _ok(srv.request("write_attributes", ep=EP, path="/3303/0", query="pmax=120"), "2.04")
        r = _ok(srv.request("discover", ep=EP, path="/3303/0"))
        assert r["cf"] == 40
        links = dict(parse_link_format(r["payload_text"]))
        assert links["/3303/0"] == {"pmax": "120"}
        assert links["/3303/0/5700"] == {"pmin": "5", "pmax": "60", "gt": "30"}, links
        assert "/3303/0/5701" in links and "/3303/0/5605" in links
        r = _ok(srv.request("discover", ep=EP, path="/3"))
        links = dict(parse_link_format(r["payload_text"]))
        assert "/3/0/11" in links and links["/3/0/11"].get("dim") == "1"
        assert "/3/0/4" in links  # Reboot
        # removing an attribute, and invalid combinations
        _ok(srv.request("write_attributes", ep=EP, path="/3303/0/5700", query="pmin"), "2.04")
        links = dict(parse_link_format(_ok(srv.request("discover", ep=EP, path="/3303/0/5700"))["payload_text"]))
        assert links["/3303/0/5700"] == {"pmax": "60", "gt": "30"}, links
        for q in ("pmin=-1", "lt=40&gt=30", "pmin=10&pmax=5", "bogus=1", "gt=abc"):
            assert srv.request("write_attributes", ep=EP, path="/3303/0/5700", query=q)["code"] == "4.00", q
        assert srv.request("write_attributes", ep=EP, path="/3303/0", query="gt=3")["code"] == "4.00"


def test_execute_reset_min_max_and_update_trigger(tmp):
    with TestServer() as srv, _start(tmp, srv):
        _ok(srv.request("execute", ep=EP, path="/3303/0/5605"), "2.04")
        vals = dict(decode_senml_json(_payload(_ok(srv.read(EP, "/3303/0", accept=110)))))
        assert vals["/3303/0/5601"] == 21.5 and vals["/3303/0/5602"] == 21.5
        _ok(srv.request("execute", ep=EP, path="/1/0/8"), "2.04")
        srv.wait_update(EP)
        _ok(srv.request("execute", ep=EP, path="/3/0/4", payload_text="0='now',1"), "2.04")
        srv.wait_register(EP)  # a rebooted virtual client registers afresh


def test_create_and_delete_instance(tmp):
    with TestServer() as srv, _start(tmp, srv):
        body = _tlv(0, 1, _tlv(3, 5700, struct.pack(">d", 18.25)) + _tlv(3, 5701, b"Cel"))
        r = _ok(srv.request("create", ep=EP, path="/3303", cf=11542, payload_hex=body.hex()), "2.01")
        upd = srv.wait_update(EP)
        assert "/3303/1" in dict(parse_link_format(upd["links"]))
        assert _ok(srv.read(EP, "/3303/1/5700"))["payload_text"] == "18.25"
        assert srv.request("create", ep=EP, path="/3303", cf=11542, payload_hex=body.hex())["code"] == "4.00"
        _ok(srv.request("delete", ep=EP, path="/3303/1"), "2.02")
        upd = srv.wait_update(EP)
        assert "/3303/1" not in dict(parse_link_format(upd["links"]))
        assert srv.read(EP, "/3303/1/5700")["code"] == "4.04"
        assert srv.request("delete", ep=EP, path="/3/0")["code"] == "4.05"
        assert srv.request("delete", ep=EP, path="/3303/9")["code"] == "4.04"


def test_security_object_is_not_readable(tmp):
    with TestServer() as srv, _start(tmp, srv):
        assert srv.read(EP, "/0")["code"] == "4.01"


def test_gateway_endpoint_describes_host(tmp):
    with TestServer() as srv, _start(tmp, srv):
        srv.wait_register("test-gw")
        vals = dict(decode_senml_json(_payload(_ok(srv.read("test-gw", "/3/0", accept=110)))))
        assert vals["/3/0/1"] == "lwm2m-gateway"
        assert vals["/3/0/10"] > 0 and vals["/3/0/21"] >= vals["/3/0/10"]
        with open("/work/main/VERSION" if False else __file__.rsplit("/tests/", 1)[0] + "/VERSION") as f:
            assert vals["/3/0/3"] == f.read().strip()


def test_large_read_uses_block2(tmp):
    long_text = "x" * 1500
    extra = '{ path = "/3303/0/5750"; value = "%s"; }' % long_text
    with TestServer() as srv:
        conf = configs.gateway([configs.device(EP).replace('{ path = "/3303/0/5750"; value = "boiler"; },', "")
                                .replace("resources = ( ", "resources = ( " + extra + ", ")])
        with Gateway(tmp, conf, server=srv):
            srv.wait_register(EP)
            r = _ok(srv.read(EP, "/3303/0/5750"))
            assert r["payload_text"] == long_text
