"""An object the client supports stays supported when its last instance is
deleted (LwM2M 1.1 6.2.1, 6.3.x): it stays in the Register/Update payload,
Read answers 2.05 with an empty content in each format, Discover lists it,
observations of it go on, and Create still works."""

import contextlib
import json

import configs
from harness import Gateway, TestServer, decode_senml_json, parse_link_format

EP = "objects-dev"
SENML_JSON, SENML_CBOR, TLV = 110, 112, 11542


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


def _links(upd):
    return dict(parse_link_format(upd["links"]))


def _create(srv, value):
    body = json.dumps([{"bn": "/3300/0/", "n": "5700", "v": value}]).encode().hex()
    r = srv.request("create", ep=EP, path="/3300", cf=SENML_JSON, payload_hex=body)
    assert r["code"] == "2.01" and r.get("location") == "/3300/0", r
    links = _links(srv.wait_update(EP))
    assert "/3300/0" in links, links


def _delete(srv):
    assert srv.request("delete", ep=EP, path="/3300/0")["code"] == "2.02"
    links = _links(srv.wait_update(EP))
    # the object is still announced, without instances
    assert "/3300" in links and "/3300/0" not in links, links
    assert "/3303/0" in links and "/3/0" in links, links


def test_empty_object_stays_registered_and_reads_empty(tmp):
    with TestServer() as srv, _start(tmp, srv):
        assert srv.read(EP, "/3300")["code"] == "4.04"  # never had an instance: not supported
        _create(srv, 1.5)
        _delete(srv)
        r = srv.read(EP, "/3300")
        assert r["code"] == "2.05" and r["cf"] == TLV and r.get("payload_hex", "") == "", r
        r = srv.read(EP, "/3300", accept=SENML_JSON)
        assert r["code"] == "2.05" and r["cf"] == SENML_JSON and json.loads(r["payload_text"]) == [], r
        r = srv.read(EP, "/3300", accept=SENML_CBOR)
        assert r["code"] == "2.05" and r["cf"] == SENML_CBOR and r["payload_hex"] == "80", r
        assert srv.read(EP, "/3300", accept=0)["code"] == "4.06"  # text carries one value only
        assert srv.read(EP, "/3300/0")["code"] == "4.04"
        # Discover: the object alone; Write-Attributes on it still works
        r = srv.request("discover", ep=EP, path="/3300")
        assert r["code"] == "2.05" and [p for p, _ in parse_link_format(r["payload_text"])] == ["/3300"], r
        assert srv.request("write_attributes", ep=EP, path="/3300", query="pmax=30")["code"] == "2.04"
        # Read-Composite of the empty object: an empty pack
        r = srv.request("raw", ep=EP, path="/", method="fetch", cf=SENML_JSON,
                        payload_hex=json.dumps([{"n": "/3300"}]).encode().hex())
        assert r["code"] == "2.05" and json.loads(r["payload_text"]) == [], r
        # and Create works again
        _create(srv, 2.5)
        assert srv.read(EP, "/3300/0/5700")["payload_text"] == "2.5"
        _delete(srv)  # and again: the object never leaves


def test_observations_across_delete_and_create(tmp):
    with TestServer() as srv, _start(tmp, srv) as gw:
        _create(srv, 1.5)
        obj = srv.send_command("observe", ep=EP, path="/3300", accept=SENML_JSON)
        assert dict(decode_senml_json(bytes.fromhex(srv.wait_response(obj)["payload_hex"]))) == {"/3300/0/5700": 1.5}
        inst = srv.send_command("observe", ep=EP, path="/3300/0", accept=SENML_JSON)
        assert srv.wait_response(inst)["code"] == "2.05"
        _delete(srv)
        # the instance's observation ends with 4.04, the object's reports it empty
        end = srv.wait_notify(inst)
        assert end["code"] == "4.04", end
        gw.wait_log(r"observation of /3300/0 ended \(4\.04\)")
        n = srv.wait_notify(obj)
        assert n["code"] == "2.05" and json.loads(n["payload_text"]) == [], n
        # an observation of the empty object sees the new instance
        _create(srv, 3.5)
        n = srv.wait_notify(obj)
        assert dict(decode_senml_json(bytes.fromhex(n["payload_hex"]))) == {"/3300/0/5700": 3.5}, n


def test_observe_of_an_empty_object(tmp):
    with TestServer() as srv, _start(tmp, srv):
        _create(srv, 1.5)
        _delete(srv)
        req = srv.send_command("observe", ep=EP, path="/3300", accept=SENML_JSON)
        first = srv.wait_response(req)
        assert first["code"] == "2.05" and "observe" in first and json.loads(first["payload_text"]) == [], first
        _create(srv, 4.5)
        n = srv.wait_notify(req)
        assert dict(decode_senml_json(bytes.fromhex(n["payload_hex"]))) == {"/3300/0/5700": 4.5}, n


def test_demo_names_every_server_resource_as_the_registry_does(tmp):
    """The demo's table (tests/demo.py) shows a name for every /1 resource
    (/1/0/23 Mute Send had none), each the registry table's."""
    import os
    import re
    import sys
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    sys.path.insert(0, os.path.join(root, "tests"))
    import demo
    src = open(os.path.join(root, "lwm2m", "registry_table.c")).read()
    block = src[src.index("res_1[] = {"):]
    block = block[:block.index("};")]
    table = {int(rid): name for rid, name in re.findall(r'\{(\d+), GW_TYPE_\w+, [^"]*"([^"]*)"', block)}
    assert table[23] == "Mute Send", table
    for rid, name in table.items():
        assert demo.resource_name("/1/0/%d" % rid) == name, (rid, name)
