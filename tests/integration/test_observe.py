"""Observe / Notify of virtual clients, driven by values the server writes
(static devices) and by attributes."""

import configs
from harness import Gateway, TestServer, decode_senml_json, parse_link_format

EP = "obs-dev"


def _start(tmp, srv, extra=""):
    gw = Gateway(tmp, configs.gateway([configs.device(EP, extra)]), server=srv).start()
    srv.wait_register(EP)
    return gw


def _write(srv, path, text):
    r = srv.request("write", ep=EP, path=path, cf=0, payload_text=text)
    assert r["code"] == "2.04", r


def test_observe_resource_notifies_each_change(tmp):
    with TestServer() as srv, _start(tmp, srv):
        req = srv.send_command("observe", ep=EP, path="/3303/0/5750")
        first = srv.wait_response(req)
        assert first["code"] == "2.05" and "observe" in first, first
        assert first["payload_text"] == "boiler"
        _write(srv, "/3303/0/5750", "loop-1")
        n1 = srv.wait_notify(req)
        assert n1["payload_text"] == "loop-1" and n1["observe"] > first["observe"]
        _write(srv, "/3303/0/5750", "loop-2")
        n2 = srv.wait_notify(req)
        assert n2["payload_text"] == "loop-2" and n2["observe"] > n1["observe"]


def test_pmin_coalesces_to_latest_and_never_faster(tmp):
    with TestServer() as srv, _start(tmp, srv):
        assert srv.request("write_attributes", ep=EP, path="/3303/0/5750", query="pmin=2")["code"] == "2.04"
        req = srv.send_command("observe", ep=EP, path="/3303/0/5750")
        first = srv.wait_response(req)
        for i in range(5):
            _write(srv, "/3303/0/5750", "v%d" % i)
        n = srv.wait_notify(req, timeout=10)
        # the notification carries the latest value, not a backlog
        assert n["payload_text"] == "v4", n
        assert n["ts"] - first["ts"] >= 1.9, n["ts"] - first["ts"]
        _write(srv, "/3303/0/5750", "w")
        n2 = srv.wait_notify(req, timeout=10)
        assert n2["payload_text"] == "w"
        assert n2["ts"] - n["ts"] >= 1.9
        assert not [e for e in srv.events if e.get("event") == "notify" and e.get("payload_text", "").startswith("v")
                    and e["payload_text"] != "v4"]


def test_pmax_forces_notification_without_change(tmp):
    with TestServer() as srv, _start(tmp, srv):
        assert srv.request("write_attributes", ep=EP, path="/3303/0", query="pmax=1")["code"] == "2.04"
        req = srv.send_command("observe", ep=EP, path="/3303/0/5700")
        first = srv.wait_response(req)
        n1 = srv.wait_notify(req, timeout=5)
        n2 = srv.wait_notify(req, timeout=5)
        assert n1["payload_text"] == n2["payload_text"] == "21.5"
        assert n2["observe"] > n1["observe"] > first["observe"]


def test_cancel_with_observe_1_stops_notifications(tmp):
    with TestServer() as srv, _start(tmp, srv) as gw:
        req = srv.send_command("observe", ep=EP, path="/3303/0/5750")
        srv.wait_response(req)
        _write(srv, "/3303/0/5750", "a")
        srv.wait_notify(req)
        assert srv.request("cancel_observe", observe_req=req)["code"] == "2.05"
        gw.wait_log(r"observation of /3303/0/5750 cancelled by the server")
        _write(srv, "/3303/0/5750", "b")
        # a Read after the write proves the write was processed; no notify followed it
        assert srv.read(EP, "/3303/0/5750")["payload_text"] == "b"
        assert not [e for e in srv.events if e.get("event") == "notify" and e.get("payload_text") == "b"]


def test_observe_instance_in_senml_json_uses_accept(tmp):
    with TestServer() as srv, _start(tmp, srv):
        req = srv.send_command("observe", ep=EP, path="/3303/0", accept=110)
        first = srv.wait_response(req)
        assert first["cf"] == 110
        _write(srv, "/3303/0/5750", "senml")
        n = srv.wait_notify(req)
        assert n["cf"] == 110
        assert dict(decode_senml_json(bytes.fromhex(n["payload_hex"])))["/3303/0/5750"] == "senml"


def test_observations_survive_update_and_drop_on_register(tmp):
    with TestServer() as srv, _start(tmp, srv):
        req = srv.send_command("observe", ep=EP, path="/3303/0/5750")
        srv.wait_response(req)
        assert srv.request("execute", ep=EP, path="/1/0/8")["code"] == "2.04"
        srv.wait_update(EP)
        _write(srv, "/3303/0/5750", "after-update")
        assert srv.wait_notify(req)["payload_text"] == "after-update"
        assert srv.request("execute", ep=EP, path="/3/0/4")["code"] == "2.04"  # reboot: new Register
        srv.wait_register(EP)
        _write(srv, "/3303/0/5750", "after-register")
        assert srv.read(EP, "/3303/0/5750")["payload_text"] == "after-register"
        assert not [e for e in srv.events if e.get("event") == "notify" and e.get("payload_text") == "after-register"]


def test_discover_shows_inherited_attributes_per_level(tmp):
    with TestServer() as srv, _start(tmp, srv):
        assert srv.request("write_attributes", ep=EP, path="/3303", query="pmin=3")["code"] == "2.04"
        links = dict(parse_link_format(srv.request("discover", ep=EP, path="/3303")["payload_text"]))
        assert links["/3303"]["pmin"] == "3"


def _sawtooth_gw(tmp, srv):
    dev = ('{ endpoint = "saw"; adapter = "simulated"; simulate = ( { field = "temperature"; '
           'wave = "sawtooth"; min = 0.0; max = 10.0; period = 2.0; interval = 0.1; } ); }')
    gw = Gateway(tmp, configs.gateway([dev]), server=srv).start()
    srv.wait_register("saw")
    _wait_first_reading(srv)
    return gw


def _values(srv, req, n):
    out = []
    while len(out) < n:
        ev = srv.wait_notify(req, timeout=10)
        out.append(float(ev["payload_text"]))
    return out


def _wait_first_reading(srv):
    """Wait (on notifications, not on time) until the first simulated
    reading is in the store, so the resource exists."""
    req = srv.send_command("observe", ep="saw", path="/3303/0", accept=110)
    ev = srv.wait_response(req)
    while "/3303/0/5700" not in dict(decode_senml_json(bytes.fromhex(ev["payload_hex"]))):
        ev = srv.wait_notify(req, timeout=10)
    assert srv.request("cancel_observe", observe_req=req)["code"] == "2.05"


def _observe_when_valued(srv, ep, path):
    req = srv.send_command("observe", ep=ep, path=path)
    ev = srv.wait_response(req)
    assert ev.get("code") == "2.05", ev
    return req, float(ev["payload_text"])


def test_gt_notifies_exactly_at_crossings(tmp):
    with TestServer() as srv, _sawtooth_gw(tmp, srv):
        r = srv.request("write_attributes", ep="saw", path="/3303/0/5700", query="gt=5")
        assert r["code"] == "2.04", r
        req, first = _observe_when_valued(srv, "saw", "/3303/0/5700")
        vals = [first] + _values(srv, req, 6)
        for a, b in zip(vals, vals[1:]):
            assert (a > 5) != (b > 5), vals


def test_st_notifies_on_steps_from_last_notified(tmp):
    with TestServer() as srv, _sawtooth_gw(tmp, srv):
        assert srv.request("write_attributes", ep="saw", path="/3303/0/5700", query="st=3")["code"] == "2.04"
        req, first = _observe_when_valued(srv, "saw", "/3303/0/5700")
        vals = [first] + _values(srv, req, 6)
        for a, b in zip(vals, vals[1:]):
            assert abs(b - a) >= 3 - 1e-9, vals


def test_lt_notifies_exactly_at_crossings(tmp):
    with TestServer() as srv, _sawtooth_gw(tmp, srv):
        assert srv.request("write_attributes", ep="saw", path="/3303/0/5700", query="lt=3")["code"] == "2.04"
        req, first = _observe_when_valued(srv, "saw", "/3303/0/5700")
        vals = [first] + _values(srv, req, 4)
        for a, b in zip(vals, vals[1:]):
            assert (a < 3) != (b < 3), vals


def test_reset_answering_a_confirmable_notification_cancels(tmp):
    conf = configs.gateway([configs.device(EP)], security="confirmable_notifications = true;")
    with TestServer() as srv, Gateway(tmp, conf, server=srv) as gw:
        srv.wait_register(EP)
        req = srv.send_command("observe", ep=EP, path="/3303/0/5750")
        srv.wait_response(req)
        _write(srv, "/3303/0/5750", "one")
        assert srv.wait_notify(req)["payload_text"] == "one"
        assert srv.request("forget_observe", observe_req=req)["ok"] is True
        _write(srv, "/3303/0/5750", "two")  # its notification is answered with a Reset
        gw.wait_log(r"observation of /3303/0/5750 cancelled by a Reset from the server")
        _write(srv, "/3303/0/5750", "three")
        assert srv.read(EP, "/3303/0/5750")["payload_text"] == "three"
        assert not [e for e in srv.events if e.get("event") == "notify" and e.get("payload_text") == "three"]


def test_reset_answering_a_non_notification_cancels(tmp):
    with TestServer() as srv, _start(tmp, srv) as gw:
        req = srv.send_command("observe", ep=EP, path="/3303/0/5750")
        srv.wait_response(req)
        _write(srv, "/3303/0/5750", "one")
        assert srv.wait_notify(req)["payload_text"] == "one"
        assert srv.request("forget_observe", observe_req=req)["ok"] is True
        _write(srv, "/3303/0/5750", "two")  # a NON notification, answered with a Reset
        gw.wait_log(r"observation of /3303/0/5750 cancelled by a Reset from the server")


def test_large_notification_goes_block_wise(tmp):
    long_text = "y" * 1500
    extra = '{ path = "/3303/0/5750"; value = "%s"; }' % long_text
    dev = configs.device(EP).replace('{ path = "/3303/0/5750"; value = "boiler"; },', "") \
        .replace("resources = ( ", "resources = ( " + extra + ", ")
    with TestServer() as srv, Gateway(tmp, configs.gateway([dev]), server=srv):
        srv.wait_register(EP)
        req = srv.send_command("observe", ep=EP, path="/3303/0/5750")
        assert srv.wait_response(req)["payload_text"] == long_text
        _write(srv, "/3303/0/5750", "z" * 1400)
        n = srv.wait_notify(req)
        t = n.get("payload_text", "")
        assert t == "z" * 1400, (len(t), t.count("z"), t.count("y"), t[1000:1100])
