"""Notification attributes are each LwM2M Server's own (LwM2M 1.1.1 Core
5.1.2): what server A writes with Write-Attributes on a path changes
neither the notifications of B's observation of that path nor what B's
Discover shows, and each server's default periods (/1/x/2, /1/x/3) are its
own. Two independent test servers, one static device."""

from harness import Gateway, TestServer, parse_link_format

EP = "attrs-dev"
PATH = "/3303/0/5700"
# With two servers, Access Control (/2) applies: A (short server id 1) owns
# the sensor, B (2) may read it (Write-Attributes and Observe need R).
ACCESS = ('access = ( { object = 1; instance = 0; owner = 1; }, { object = 1; instance = 1; owner = 2; },\n'
          '           { object = 3303; instance = 0; owner = 1; acl = { s2 = "R"; }; } );')


def _conf(uri_b, opts_a="", opts_b=""):
    dev = ('{ endpoint = "%s"; adapter = "static"; device = { manufacturer = "Acme"; model = "T-100"; };\n'
           '  resources = ( { path = "/3303/0/5700"; value = 21.5; }, { path = "/3303/0/5701"; value = "Cel"; } );\n'
           '  %s }' % (EP, ACCESS))
    return ('gateway = { name = "attrs-gw"; state_dir = "@TMP@"; };\n'
            'servers = ( { uri = "@SERVER_URI@"; lifetime = 60; %s },\n'
            '            { uri = "%s"; lifetime = 60; %s } );\n'
            'devices = ( %s );\n' % (opts_a, uri_b, opts_b, dev))


def _ok(r, code="2.05"):
    assert r["code"] == code, r
    return r


def _links(srv, path):
    r = _ok(srv.request("discover", ep=EP, path=path))
    return dict(parse_link_format(r["payload_text"]))


def _notifies(srv, req):
    return [e for e in list(srv.events) if e.get("event") == "notify" and e.get("req") == req]


def _observe(srv, path):
    req = srv.send_command("observe", ep=EP, path=path)
    first = srv.wait_response(req)
    assert first["code"] == "2.05" and "observe" in first, first
    return req, first


def test_one_servers_attributes_stay_out_of_the_others_observation_and_discover(tmp):
    with TestServer() as a, TestServer() as b, Gateway(tmp, _conf(b.uri), server=a):
        a.wait_register(EP)
        b.wait_register(EP)
        # B observes first, with no attribute of its own: no period at all
        req_b, first_b = _observe(b, PATH)
        _ok(a.request("write_attributes", ep=EP, path="/3303/0", query="pmax=1"), "2.04")
        _ok(a.request("write_attributes", ep=EP, path=PATH, query="pmin=0&gt=30"), "2.04")
        req_a, first_a = _observe(a, PATH)
        # A's pmax drives A's observation; three of its notifications come
        # and go while B's, under no period, stays silent
        got = [a.wait_notify(req_a, timeout=5) for _ in range(3)]
        assert all(n["payload_text"] == "21.5" for n in got), got
        assert not _notifies(b, req_b), _notifies(b, req_b)
        # Discover: each sees its own attributes only
        la, lb = _links(a, "/3303/0"), _links(b, "/3303/0")
        assert la["/3303/0"] == {"pmax": "1"}, la
        assert la[PATH] == {"pmin": "0", "gt": "30"}, la
        assert lb["/3303/0"] == {} and lb[PATH] == {}, lb
        assert _links(b, PATH)[PATH] == {}
        # B's own pmax on the resource: B's period, not A's
        _ok(b.request("write_attributes", ep=EP, path=PATH, query="pmax=3"), "2.04")
        assert _links(b, PATH)[PATH] == {"pmax": "3"}
        assert _links(a, PATH)[PATH] == {"pmin": "0", "gt": "30"}
        n1 = b.wait_notify(req_b, timeout=8)
        n2 = b.wait_notify(req_b, timeout=8)
        assert n2["ts"] - n1["ts"] >= 2.5, (n1, n2)
        # A went on at its own pace meanwhile: several notifications between B's two
        between = [e for e in _notifies(a, req_a) if n1["ts"] <= e["ts"] <= n2["ts"]]
        assert len(between) >= 2, between
        # A removes its pmax: B's period is untouched
        _ok(a.request("write_attributes", ep=EP, path="/3303/0", query="pmax"), "2.04")
        n3 = b.wait_notify(req_b, timeout=8)
        assert n3["ts"] - n2["ts"] >= 2.5, (n2, n3)
        assert _links(b, PATH)[PATH] == {"pmax": "3"}


def test_each_server_has_its_own_default_periods(tmp):
    """default_pmax of B's account (/1/1/3) drives B's observations only."""
    with TestServer() as a, TestServer() as b, Gateway(tmp, _conf(b.uri, opts_b="default_pmax = 1;"), server=a):
        a.wait_register(EP)
        b.wait_register(EP)
        req_a, _ = _observe(a, "/3303/0/5701")
        req_b, _ = _observe(b, "/3303/0/5701")
        got = [b.wait_notify(req_b, timeout=5) for _ in range(3)]
        assert all(n["payload_text"] == "Cel" for n in got), got
        assert not _notifies(a, req_a), _notifies(a, req_a)
