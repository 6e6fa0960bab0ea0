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


# ---- attributes on every level (LwM2M 1.1 5.1.2) ----------------------------

LEVELS_DEV = ('{ path = "/19/0/0"; value = ["0x01", "0x02"]; }, { path = "/2/0/2"; value = [1, 5]; }')


def _levels_start(tmp, srv):
    return _start(tmp, srv, LEVELS_DEV)


def _attrs(srv, path, query):
    r = srv.request("write_attributes", ep=EP, path=path, query=query)
    assert r["code"] == "2.04", (path, query, r)


def _cancel(srv, gw, req, path):
    assert srv.request("cancel_observe", observe_req=req)["code"] == "2.05"
    gw.wait_log(r"observation of %s cancelled by the server" % path)


def test_pmax_acts_on_every_level_down_to_the_resource_instance(tmp):
    """pmax written on the object, the instance, the resource or the
    resource instance forces notifications of a resource-instance
    observation: each level carries attributes and they are inherited."""
    with TestServer() as srv, _levels_start(tmp, srv) as gw:
        for level in ("/19", "/19/0", "/19/0/0", "/19/0/0/1"):
            _attrs(srv, level, "pmax=1")
            req = srv.send_command("observe", ep=EP, path="/19/0/0/1", accept=110)
            first = srv.wait_response(req)
            assert first["code"] == "2.05" and "observe" in first, first
            n1 = srv.wait_notify(req, timeout=5)
            n2 = srv.wait_notify(req, timeout=5)
            assert n2["observe"] > n1["observe"] > first["observe"], level
            assert n2["ts"] - first["ts"] >= 1.9, (level, n2["ts"] - first["ts"])
            assert dict(decode_senml_json(bytes.fromhex(n2["payload_hex"]))) == {"/19/0/0/1": b"\x02"}
            _cancel(srv, gw, req, "/19/0/0/1")
            _attrs(srv, level, "pmax")  # removed again before the next level


def test_resource_instance_observation_notifies_its_changes_only(tmp):
    with TestServer() as srv, _levels_start(tmp, srv):
        req = srv.send_command("observe", ep=EP, path="/2/0/2/1")
        assert srv.wait_response(req)["payload_text"] == "5"
        _write(srv, "/2/0/2/0", "3")   # the other instance: no notification
        _write(srv, "/2/0/2/1", "7")
        n = srv.wait_notify(req)
        assert n["payload_text"] == "7", n


def test_value_attributes_on_a_resource_instance_and_inherited_from_its_resource(tmp):
    with TestServer() as srv, _levels_start(tmp, srv):
        _attrs(srv, "/2/0/2/1", "gt=10")
        req = srv.send_command("observe", ep=EP, path="/2/0/2/1")
        assert srv.wait_response(req)["payload_text"] == "5"
        _write(srv, "/2/0/2/1", "8")    # no crossing of 10: silent
        _write(srv, "/2/0/2/1", "12")   # crossing
        assert srv.wait_notify(req)["payload_text"] == "12"
        _write(srv, "/2/0/2/1", "11")   # same side: silent
        _write(srv, "/2/0/2/1", "9")
        assert srv.wait_notify(req)["payload_text"] == "9"
        # st on the resource reaches its instances
        _attrs(srv, "/2/0/2", "st=4")
        req0 = srv.send_command("observe", ep=EP, path="/2/0/2/0")
        assert srv.wait_response(req0)["payload_text"] == "1"
        _write(srv, "/2/0/2/0", "3")    # moved 2 < 4: silent
        _write(srv, "/2/0/2/0", "6")    # moved 5 from the last notified 1
        assert srv.wait_notify(req0)["payload_text"] == "6"


def test_pmin_on_the_object_holds_a_resource_instance_observation(tmp):
    with TestServer() as srv, _levels_start(tmp, srv):
        _attrs(srv, "/2", "pmin=2")
        req = srv.send_command("observe", ep=EP, path="/2/0/2/1")
        first = srv.wait_response(req)
        _write(srv, "/2/0/2/1", "20")
        _write(srv, "/2/0/2/1", "21")
        n = srv.wait_notify(req)
        assert n["payload_text"] == "21" and n["ts"] - first["ts"] >= 1.9, (n, n["ts"] - first["ts"])


def test_epmin_defers_the_evaluation_of_a_change(tmp):
    with TestServer() as srv, _start(tmp, srv):
        _attrs(srv, "/3303/0/5750", "epmin=2")
        req = srv.send_command("observe", ep=EP, path="/3303/0/5750")
        first = srv.wait_response(req)
        _write(srv, "/3303/0/5750", "early")
        n = srv.wait_notify(req)
        assert n["payload_text"] == "early" and n["ts"] - first["ts"] >= 1.9, (n, n["ts"] - first["ts"])


def test_epmax_samples_a_value_nothing_else_refreshes(tmp):
    """/3/0/13 (Current Time) is only sampled when read; epmax makes the
    client sample and judge it, so the observation reports the time."""
    with TestServer() as srv, _start(tmp, srv):
        _attrs(srv, "/3/0/13", "epmax=1")
        req = srv.send_command("observe", ep=EP, path="/3/0/13")
        t0 = int(srv.wait_response(req)["payload_text"])
        t1 = int(srv.wait_notify(req, timeout=5)["payload_text"])
        t2 = int(srv.wait_notify(req, timeout=5)["payload_text"])
        assert t0 < t1 < t2, (t0, t1, t2)


def test_write_attributes_on_a_missing_resource_instance_is_404(tmp):
    with TestServer() as srv, _levels_start(tmp, srv):
        r = srv.request("write_attributes", ep=EP, path="/19/0/0/7", query="pmax=1")
        assert r["code"] == "4.04", r
        r = srv.request("write_attributes", ep=EP, path="/3303/0/5700/0", query="pmax=1")
        assert r["code"] == "4.04", r  # a single resource has no instances


def test_write_of_one_resource_instance_keeps_its_siblings(tmp):
    with TestServer() as srv, _levels_start(tmp, srv):
        _write(srv, "/2/0/2/1", "9")
        assert srv.read(EP, "/2/0/2/0")["payload_text"] == "1"
        assert srv.read(EP, "/2/0/2/1")["payload_text"] == "9"
