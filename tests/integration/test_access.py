"""Access Control (object 2, LwM2M 1.1.1 Core 7.3) with two servers: each
can do exactly what /2 grants it and gets 4.01 otherwise. Two independent
test servers (short server ids 101 and 102) talk to one virtual client."""

import json
import re
import struct

import configs
from harness import Gateway, TestServer, decode_senml_json, parse_link_format

EP = "acl-dev"
A, B = 101, 102

# /2/0 governs /3303/0 (owner A, B may read), /2/1 /3304/0 (owner A, any
# other server may read and write), /2/2 the Create rights on 3303 (B
# only), /2/3 /3/0 (owner A, B reads). /3308/0 has no Access Control
# instance: no server may touch it.
ACCESS = '''access = (
    { object = 3303; instance = 0; owner = 101; acl = { s102 = "R"; }; },
    { object = 3304; instance = 0; owner = 101; acl = { default = "RW"; }; },
    { object = 3303; instance = 65535; owner = 65535; acl = { s102 = "C"; }; },
    { object = 3; instance = 0; owner = 101; acl = { s102 = "R"; }; }
  );'''


def _tlv(kind, ident, value):
    t = kind << 6
    idb = ident.to_bytes(2 if ident > 255 else 1, "big")
    if ident > 255:
        t |= 0x20
    n = len(value)
    if n < 8:
        return bytes([t | n]) + idb + value
    return bytes([t | 1 << 3]) + idb + bytes([n]) + value  # this test's values are < 256 bytes


def _config(a, b, access=ACCESS):
    dev = configs.device(EP, '{ path = "/3308/0/5900"; value = 20.0; }')
    dev = dev[:-1] + " " + access + " }"
    return ('gateway = { name = "acl-gw"; state_dir = "@TMP@"; };\n'
            'servers = ( { uri = "%s"; short_server_id = %d; lifetime = 60; registrations_per_second = 0; },\n'
            '            { uri = "%s"; short_server_id = %d; lifetime = 60; registrations_per_second = 0; } );\n'
            'devices = ( %s );\n' % (a.uri, A, b.uri, B, dev))


def _start(tmp, a, b, **kw):
    gw = Gateway(tmp, _config(a, b, **kw)).start()
    ra, rb = a.wait_register(EP), b.wait_register(EP)
    return gw, ra, rb


def _code(resp):
    return resp.get("code")


def _links(reg):
    return dict(parse_link_format(reg["links"]))


def test_each_server_does_exactly_what_acl_grants(tmp):
    with TestServer() as a, TestServer() as b:
        gw, ra, rb = _start(tmp, a, b)
        with gw:
            # Register: every server hears of every instance (Core 5.3.1: the
            # instances available on the client), /3308/0 too.
            for reg in (ra, rb):
                links = _links(reg)
                assert "/3303/0" in links and "/3304/0" in links and "/3/0" in links, links
                assert "/3308/0" in links and "/0/0" not in links, links
                assert "/2/0" in links
            # Read: both on /3303/0 (A owner, B "R"); nobody on /3308/0.
            assert a.read(EP, "/3303/0/5700")["payload_text"] == "21.5"
            assert b.read(EP, "/3303/0/5700")["payload_text"] == "21.5"
            r = a.read(EP, "/3308/0/5900")
            assert _code(r) == "4.01" and "Read" in r.get("payload_text", ""), r
            assert _code(b.read(EP, "/3308/0")) == "4.01"
            # Write: A (owner) yes, B (R only) no; /3304/0 by the default RW.
            w = dict(ep=EP, path="/3303/0/5750", cf=0, payload_text="loop A")
            assert _code(a.request("write", **w)) == "2.04"
            w["payload_text"] = "loop B"
            assert _code(b.request("write", **w)) == "4.01"
            assert a.read(EP, "/3303/0/5750")["payload_text"] == "loop A"
            assert _code(b.request("write", ep=EP, path="/3304/0/5750", cf=0, payload_text="hum")) == "2.04"
            # Execute (Reset Min and Max): E is A's as owner, not B's.
            assert _code(b.request("execute", ep=EP, path="/3303/0/5605")) == "4.01"
            assert _code(a.request("execute", ep=EP, path="/3303/0/5605")) == "2.04"
            # Write-Attributes and Observe need R; Discover none (Core 7.3.2).
            assert _code(b.request("write_attributes", ep=EP, path="/3303/0/5700", query="pmin=1")) == "2.04"
            assert _code(a.request("write_attributes", ep=EP, path="/3308/0/5900", query="pmin=1")) == "4.01"
            assert _code(b.request("observe", ep=EP, path="/3308/0/5900")) == "4.01"
            assert _code(b.request("discover", ep=EP, path="/3308/0")) == "2.05"
            d = b.request("discover", ep=EP, path="/3308")
            assert _code(d) == "2.05" and "/3308/0" in d["payload_text"], d
            assert _code(b.request("discover", ep=EP, path="/3303/0")) == "2.05"
            # Delete: B has no D on /3303/0.
            assert _code(b.request("delete", ep=EP, path="/3303/0")) == "4.01"
            # /0 is never reachable.
            assert _code(a.read(EP, "/0")) == "4.01"


def test_create_makes_the_server_owner_and_delete_removes_it(tmp):
    with TestServer() as a, TestServer() as b:
        gw, _, _ = _start(tmp, a, b)
        with gw:
            body = _tlv(0, 1, _tlv(3, 5700, struct.pack(">d", 18.25)) + _tlv(3, 5701, b"Cel"))
            # Only B has C in the Access Control instance of /3303/65535.
            assert _code(a.request("create", ep=EP, path="/3303", cf=11542, payload_hex=body.hex())) == "4.01"
            r = b.request("create", ep=EP, path="/3303", cf=11542, payload_hex=body.hex())
            assert _code(r) == "2.01", r
            # B now owns /3303/1 (a new /2 instance, owner 102, no ACL): every
            # right for B, none for A (both are told of it: Core 5.3.1).
            upd_b, upd_a = b.wait_update(EP), a.wait_update(EP)
            assert "/3303/1" in _links(upd_b) and "/3303/1" in _links(upd_a)
            assert b.read(EP, "/3303/1/5700")["payload_text"] == "18.25"
            assert _code(a.read(EP, "/3303/1/5700")) == "4.01"
            acos = [p for p in _links(upd_b) if p.startswith("/2/")]
            owner = None
            for p in acos:
                if b.read(EP, p + "/0")["payload_text"] == "3303" and b.read(EP, p + "/1")["payload_text"] == "1":
                    owner = p
            assert owner, acos
            assert b.read(EP, owner + "/3")["payload_text"] == str(B)
            assert _code(a.request("delete", ep=EP, path="/3303/1")) == "4.01"
            assert _code(b.request("delete", ep=EP, path="/3303/1")) == "2.02"
            # Its Access Control instance went with it.
            assert _code(b.read(EP, owner)) == "4.04"


def test_only_the_owner_changes_an_acl(tmp):
    with TestServer() as a, TestServer() as b:
        gw, _, _ = _start(tmp, a, b)
        with gw:
            acl_b = dict(ep=EP, path="/2/0/2/%d" % B, cf=0, payload_text="3")
            # B may read its rights (/2/0 governs /3303/0) but not change them.
            assert b.read(EP, "/2/0/2/%d" % B)["payload_text"] == "1"
            assert _code(b.request("write", **acl_b)) == "4.01"
            assert _code(b.request("write", ep=EP, path="/2/0/3", cf=0, payload_text=str(B))) == "4.01"
            # A, the owner, may; then B writes /3303/0.
            assert _code(a.request("write", **acl_b)) == "2.04"
            assert _code(b.request("write", ep=EP, path="/3303/0/5750", cf=0, payload_text="by B")) == "2.04"
            # Rights are 0..31 (R W E D C); anything else is refused.
            bad = a.request("write", ep=EP, path="/2/0/2/%d" % B, cf=0, payload_text="32")
            assert _code(bad) == "4.00", bad
            assert _code(a.request("write", ep=EP, path="/2/0/3", cf=0, payload_text="0")) == "4.00"
            # Neither may create or delete Access Control instances.
            assert _code(a.request("delete", ep=EP, path="/2/0")) == "4.01"


def test_composite_member_by_member(tmp):
    with TestServer() as a, TestServer() as b:
        gw, _, _ = _start(tmp, a, b)
        with gw:
            # Read-Composite: a member the server may not read is left out.
            paths = json.dumps([{"n": "/3303/0/5700"}, {"n": "/3308/0/5900"}]).encode().hex()
            r = b.request("raw", ep=EP, path="/", method="fetch", cf=110, accept=110, payload_hex=paths)
            assert _code(r) == "2.05", r
            got = {rec[0]: rec[1] for rec in decode_senml_json(bytes.fromhex(r["payload_hex"]))}
            assert got == {"/3303/0/5700": 21.5}, got
            # Write-Composite: all or nothing; one member without W refuses it.
            recs = json.dumps([{"n": "/3304/0/5750", "vs": "x"}, {"n": "/3303/0/5750", "vs": "y"}])
            r = b.request("raw", ep=EP, path="/", method="ipatch", cf=110, payload_hex=recs.encode().hex())
            assert _code(r) == "4.01" and "/3303/0/5750" in r.get("payload_text", ""), r
            assert a.read(EP, "/3304/0/5750")["code"] in ("4.04", "2.05")
            assert a.read(EP, "/3304/0/5750").get("payload_text") != "x"


def test_one_server_needs_no_access_control(tmp):
    with TestServer() as srv:
        text = configs.gateway([configs.device(EP)])
        with Gateway(tmp, text, server=srv).start():
            srv.wait_register(EP)
            # No /2 at all: the single server may do everything.
            assert _code(srv.request("write", ep=EP, path="/3303/0/5750", cf=0, payload_text="x")) == "2.04"
            assert _code(srv.request("execute", ep=EP, path="/3303/0/5605")) == "2.04"


def test_config_mistakes_are_reported_at_their_line(tmp):
    import os
    import subprocess
    from harness import build_dir
    path = os.path.join(tmp, "bad.conf")
    with open(path, "w") as f:
        f.write('servers = ( { uri = "coap://127.0.0.1:5683"; short_server_id = 101; } );\n'
                'devices = ( { endpoint = "x"; adapter = "static";\n'
                '  access = ( { object = 2; instance = 0; owner = 101; },\n'
                '             { object = 3304; instance = 0; owner = 101; acl = { x101 = "R"; s102 = "RR"; }; },\n'
                '             { object = 3303; instance = 0; owner = 101; acl = { s102 = "R"; }; },\n'
                '             { object = 3303; instance = 0; owner = 102; } ); } );\n')
    p = subprocess.run([os.path.join(build_dir(), "lwm2m-gateway"), "--check", "-c", path],
                       capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert "bad.conf:3: access[0].object is 2" in out, out
    assert 'bad.conf:4: acl key "x101" is not a server' in out, out
    assert "bad.conf:4: acl.s102: 'R' is given twice" in out, out
    assert "bad.conf:4: acl key \"x101\" is not a server" in out, out
    # servers the file does not have: errors at the entry's line, like access_owner's
    assert ("bad.conf:5: device \"x\": access entry for /3303/0: acl key s102 names server 102, which is "
            "not the short_server_id of any server") in out, out
    assert "bad.conf:6: access[3] governs /3303/0 again (first at line 5)" in out, out
    ok = subprocess.run([os.path.join(build_dir(), "lwm2m-gateway"), "--check", "-c",
                         os.path.join(os.path.dirname(__file__), "..", "..", "examples", "two-servers.conf")],
                        capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_access_naming_unknown_servers_is_an_error_or_with_a_bootstrap_server_a_warning(tmp):
    import os
    import subprocess
    from harness import build_dir
    def check(name, text):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([os.path.join(build_dir(), "lwm2m-gateway"), "--check", "-c", path],
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout + p.stderr
    body = ('devices = ( { endpoint = "x"; adapter = "static";\n'
            '  access = ( { object = 3303; instance = 0; owner = 101; acl = { s103 = "R"; default = "R"; }; },\n'
            '             { object = 3304; instance = 0; owner = 105; } ); } );\n')
    servers = ('servers = ( { uri = "coap://127.0.0.1:5683"; short_server_id = 101; },\n'
               '            { uri = "coap://127.0.0.1:5684"; short_server_id = 102; } );\n')
    rc, out = check("two.conf", servers + body)
    assert rc != 0, out
    assert "two.conf:4: device \"x\": access entry for /3303/0: acl key s103 names server 103" in out, out
    assert "two.conf:5: device \"x\": access entry for /3304/0: owner 105 is not the short_server_id" in out, out
    assert "warning" not in out, out
    rc, out = check("bs.conf", 'gateway = { state_dir = "%s"; bootstrap_all = true; };\n'
                    'bootstrap_server = { uri = "coap://127.0.0.1:5685"; };\n' % tmp + body)
    assert rc == 0, out
    assert re.search(r"bs\.conf:4: warning: .*acl key s103 names server 103.*unless the bootstrap server", out), out
    assert re.search(r"bs\.conf:5: warning: .*owner 105 is not", out), out


def test_observation_ends_when_the_read_right_goes(tmp):
    with TestServer() as a, TestServer() as b:
        gw, _, _ = _start(tmp, a, b)
        with gw:
            req = b.send_command("observe", ep=EP, path="/3303/0/5750")
            assert b.wait_response(req)["code"] == "2.05"
            # A, the owner of /2/0, takes B's R away: B's observation ends with
            # a 4.01 carrying no value (Core 7.3.2.5, RFC 7641 4.2).
            assert _code(a.request("write", ep=EP, path="/2/0/2/%d" % B, cf=0, payload_text="0")) == "2.04"
            n = b.wait_notify(req)
            assert n["code"] == "4.01" and not n.get("payload_text"), n
            gw.wait_log(r"observation of /3303/0/5750 ended \(4\.01\)")
            # A change after that reaches A's reads, not B.
            assert _code(a.request("write", ep=EP, path="/3303/0/5750", cf=0, payload_text="after")) == "2.04"
            assert a.read(EP, "/3303/0/5750")["payload_text"] == "after"
            assert _code(b.read(EP, "/3303/0/5750")) == "4.01"


def _owner_config(a, b, device_extra, gateway_extra=""):
    dev = configs.device(EP, '{ path = "/3308/0/5900"; value = 20.0; }')
    dev = dev[:-1] + " " + device_extra + " }"
    return ('gateway = { name = "acl-gw"; state_dir = "@TMP@"; %s };\n'
            'servers = ( { uri = "%s"; short_server_id = %d; lifetime = 60; registrations_per_second = 0; },\n'
            '            { uri = "%s"; short_server_id = %d; lifetime = 60; registrations_per_second = 0; } );\n'
            'devices = ( %s );\n' % (gateway_extra, a.uri, A, b.uri, B, dev))


def test_access_owner_gives_one_server_everything(tmp):
    with TestServer() as a, TestServer() as b:
        text = _owner_config(a, b, "access_owner = 101;", "access_owner = 101;")
        with Gateway(tmp, text).start() as gw:
            a.wait_register(EP), b.wait_register(EP)
            a.wait_register("acl-gw"), b.wait_register("acl-gw")
            assert not gw.has_log(r"no Access Control instance names")
            # The device: A owns every instance, B may do nothing...
            assert a.read(EP, "/3308/0/5900")["payload_text"] == "20"
            assert _code(a.request("write", ep=EP, path="/3303/0/5750", cf=0, payload_text="x")) == "2.04"
            assert _code(b.read(EP, "/3308/0/5900")) == "4.01"
            # ... but its own Server instance (/1/1 is B's account).
            assert b.read(EP, "/1/1/0")["payload_text"] == str(B)
            assert _code(b.read(EP, "/1/0/0")) == "4.01"
            # A may Create (C in /3303/65535, owner 65535), B may not.
            body = _tlv(0, 7, _tlv(3, 5700, struct.pack(">d", 1.5)))
            assert _code(b.request("create", ep=EP, path="/3303", cf=11542, payload_hex=body.hex())) == "4.01"
            assert _code(a.request("create", ep=EP, path="/3303", cf=11542, payload_hex=body.hex())) == "2.01"
            # The gateway's own endpoint (gateway.access_owner).
            assert a.read("acl-gw", "/3/0/0")["code"] == "2.05"
            assert _code(b.read("acl-gw", "/3/0/0")) == "4.01"


def test_two_servers_without_access_warn_once(tmp):
    import os
    import subprocess
    from harness import build_dir
    with TestServer() as a, TestServer() as b:
        text = _owner_config(a, b, "")
        with Gateway(tmp, text).start() as gw:
            a.wait_register(EP)
            m = gw.wait_log(r"warning: 2 of 2 clients have object instances no Access Control instance names")
            assert 'docs/lwm2m.md "Access control"' in m.string, m.string
            assert sum(1 for line in list(gw.lines) if "no Access Control instance names" in line) == 1
            assert _code(a.read(EP, "/3308/0/5900")) == "4.01"
        path = os.path.join(tmp, "warn.conf")
        with open(path, "w") as f:
            f.write(text.replace("@TMP@", tmp))
        p = subprocess.run([os.path.join(build_dir(), "lwm2m-gateway"), "--check", "-c", path],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
        assert p.stderr.count("no Access Control instance names") == 1, p.stderr
        assert "2 of 2 clients" in p.stderr and "with 2 servers" in p.stderr, p.stderr
