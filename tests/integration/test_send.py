"""Client-initiated Send (POST /dp, SenML CBOR) and readings kept while the
server is away, against the independent test server."""

import os
import time

from harness import Gateway, TestServer, decode_senml_cbor

EP = "send-dev"
SIM = ('simulate = ( { field = "temperature"; wave = "sawtooth"; min = 0.0; max = 10.0; '
       'period = 5.0; interval = 0.5; } );')


def _conf(report="send", interval=1, store_max=None, lifetime=60, extra_gw=""):
    dev = ('{ endpoint = "%s"; adapter = "simulated"; device = { manufacturer = "Sim"; model = "S-1"; };\n'
           '  %s %s }' % (EP, SIM, 'report = "%s"; send_interval = %d;' % (report, interval)
                          if report else ""))
    gw = 'gateway = { name = "test-gw"; state_dir = "@TMP@"; %s %s };\n' % (
        "offline_store_max = %d;" % store_max if store_max is not None else "", extra_gw)
    return (gw + 'servers = ( { uri = "@SERVER_URI@"; lifetime = %d; } );\n'
            'devices = ( %s );\n' % (lifetime, dev))


def _sends(srv, since=0):
    """Send events of EP from index since on, decoded (name, value, time)."""
    out = []
    for ev in srv.events[since:]:
        if ev.get("event") == "send" and ev.get("ep") == EP:
            out.append(ev)
    return out


def _payload(ev):
    assert ev["cf"] == 112, ev
    return decode_senml_cbor(bytes.fromhex(ev["payload_hex"]), with_time=True)


def _temps(recs):
    return [(v, t) for n, v, t in recs if n == "/3303/0/5700"]


def test_send_carries_senml_cbor_with_timestamps(tmp):
    with TestServer() as srv, Gateway(tmp, _conf(interval=1), server=srv):
        srv.wait_register(EP)
        first = srv.wait_event(lambda e: e["event"] == "send" and e["ep"] == EP, 10, "a Send")
        second = srv.wait_event(lambda e: e["event"] == "send" and e["ep"] == EP, 10, "a second Send")
        third = srv.wait_event(lambda e: e["event"] == "send" and e["ep"] == EP, 10, "a third Send")
        # at most one Send per send_interval (1 s), measured on the server
        assert third["ts"] - second["ts"] >= 0.8, (second["ts"], third["ts"])
        recs = _payload(second) + _payload(third)
        temps = _temps(recs)
        # a reading every 0.5 s, batched: several per Send, each with its own time
        assert len(_temps(_payload(third))) >= 2, _payload(third)
        now = time.time()
        for v, t in temps:
            assert 0.0 <= v <= 10.0, temps
            assert now - 30 < t <= now + 1, (t, now)
        times = [t for _, t in temps]
        assert times == sorted(times) and len(set(times)) == len(times), times
        # sensor objects only: nothing of /1 or /3 is pushed
        assert all(n.startswith("/3303/") for n, _, _ in recs), recs
        assert first


def test_mute_send_stops_sends(tmp):
    with TestServer() as srv, Gateway(tmp, _conf(interval=1), server=srv):
        srv.wait_register(EP)
        srv.wait_event(lambda e: e["event"] == "send" and e["ep"] == EP, 10, "a Send")
        r = srv.request("write", ep=EP, path="/1/0/23", cf=0, payload_text="1")
        assert r["code"] == "2.04", r
        time.sleep(1.5)  # a Send already on its way may still arrive
        mark = len(srv.events)
        time.sleep(3)
        assert not _sends(srv, mark), "muted, yet Sends came"
        # unmuted: Sends resume, and what was read while muted is not there
        muted_until = time.time()
        r = srv.request("write", ep=EP, path="/1/0/23", cf=0, payload_text="0")
        assert r["code"] == "2.04", r
        ev = srv.wait_event(lambda e: e["event"] == "send" and e["ep"] == EP and e["ts"] > muted_until - 0.1,
                            10, "a Send after unmute")
        for v, t in _temps(_payload(ev)):
            assert t >= muted_until - 1.2, (t, muted_until)


def _check_every_reading(srv, t_stop, t_back):
    """Every Send event together: no duplicates, oldest first, and no gap
    over the outage (readings every 0.5 s)."""
    temps = []
    for ev in _sends(srv):
        temps += _temps(_payload(ev))
    times = [t for _, t in temps]
    assert len(set(times)) == len(times), "duplicates: %r" % times
    assert times == sorted(times), times
    during = [t for t in times if t_stop + 1 < t < t_back - 1]
    expected = (t_back - t_stop - 2) / 0.5
    assert len(during) >= expected - 2, (len(during), expected, times)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) < 1.6, (max(gaps), times)
    return times


def test_server_away_every_reading_arrives_oldest_first(tmp):
    srv = TestServer().start()
    port = srv.port
    with Gateway(tmp, _conf(interval=1, lifetime=3), server=srv.uri) as gw:
        srv.wait_register(EP)
        srv.wait_event(lambda e: e["event"] == "send" and e["ep"] == EP, 10, "a Send")
        srv.wait_event(lambda e: e["event"] == "send" and e["ep"] == EP, 10, "a Send")
        first_events = list(srv.events)
        t_stop = time.time()
        srv.stop()
        time.sleep(6)
        srv2 = TestServer(args=("--port", str(port))).start()
        t_back = time.time()
        try:
            srv2.wait_register(EP, timeout=40)
            # the backlog, then live Sends again
            deadline = time.time() + 20
            while time.time() < deadline:
                sends = _sends(srv2)
                if sends and max(t for ev in sends for _, t in _temps(_payload(ev))) > t_back + 1:
                    break
                time.sleep(0.5)
            srv2.events[:0] = first_events  # one history over both servers
            _check_every_reading(srv2, t_stop, t_back)
            assert gw.has_log(r"%s: Send of \d+ readings to .* failed" % EP) or \
                gw.has_log(r"registration with .* failed"), gw.log_tail()
        finally:
            srv2.stop()


def test_readings_survive_a_restart(tmp):
    """Readings kept while the server is away are in state_dir and reach the
    server after the gateway itself restarted."""
    srv = TestServer().start()
    port = srv.port
    gw = Gateway(tmp, _conf(interval=1, lifetime=3), server=srv.uri).start()
    try:
        srv.wait_register(EP)
        srv.wait_event(lambda e: e["event"] == "send" and e["ep"] == EP, 10, "a Send")
        first_events = list(srv.events)
        t_stop = time.time()
        srv.stop()
        f = os.path.join(tmp, "offline", EP + ".rec")
        deadline = time.time() + 30
        while time.time() < deadline and not os.path.exists(f):
            time.sleep(0.2)
        assert os.path.exists(f), gw.log_tail()
        time.sleep(2)
    finally:
        gw.stop()
    t_gone = time.time()
    size = os.path.getsize(f)
    assert size > 8
    with TestServer(args=("--port", str(port))) as srv2, Gateway(tmp, _conf(interval=1, lifetime=3),
                                                                   server=srv2.uri) as gw2:
        gw2.wait_log(r"offline store: \d+ readings loaded")
        srv2.wait_register(EP, timeout=20)
        deadline = time.time() + 20
        kept = []
        while time.time() < deadline:
            kept = [t for ev in _sends(srv2) for _, t in _temps(_payload(ev)) if t < t_gone]
            if kept and max(kept) > t_gone - 1.5:
                break
            time.sleep(0.5)
        srv2.events[:0] = first_events
        times = [t for ev in _sends(srv2) for _, t in _temps(_payload(ev))]
        assert len(set(times)) == len(times), "duplicates"
        assert times == sorted(times), times
        between = [t for t in times if t_stop + 1 < t < t_gone - 1]
        assert len(between) >= (t_gone - t_stop - 2) / 0.5 - 2, (between, t_stop, t_gone)


def test_overflow_drops_oldest_and_counts(tmp):
    srv = TestServer().start()
    port = srv.port
    with Gateway(tmp, _conf(interval=1, lifetime=3, store_max=4), server=srv.uri) as gw:
        srv.wait_register(EP)
        srv.wait_event(lambda e: e["event"] == "send" and e["ep"] == EP, 10, "a Send")
        srv.stop()
        gw.wait_log(r"%s: offline store full \(4 readings\): the oldest are dropped \(\d+ dropped" % EP,
                    timeout=30)
        time.sleep(2)
        with TestServer(args=("--port", str(port))) as srv2:
            reg = srv2.wait_register(EP, timeout=40)
            ev = srv2.wait_event(lambda e: e["event"] == "send" and e["ep"] == EP, 10, "the backlog")
            backlog = [t for _, t in _temps(_payload(ev))]
            # the store holds 4: only the newest readings taken while away,
            # delivered at once when the registration is back
            assert 1 <= len(backlog) <= 4, backlog
            assert backlog == sorted(backlog)
            assert reg["ts"] - 3.5 < backlog[0] and backlog[-1] < reg["ts"] + 0.3, (backlog, reg["ts"])


def test_observed_readings_kept_while_away_arrive_with_send(tmp):
    srv = TestServer().start()
    port = srv.port
    with Gateway(tmp, _conf(report=None, lifetime=3), server=srv.uri):
        srv.wait_register(EP)
        time.sleep(1)  # the first simulated reading
        req = srv.send_command("observe", ep=EP, path="/3303/0/5700")
        first = srv.wait_response(req)
        assert first["code"] == "2.05", first
        srv.wait_notify(req)
        t_stop = time.time()
        # killed: a server that quits cancels its observations first
        srv.proc.kill()
        srv.proc.wait()
        time.sleep(5)
        with TestServer(args=("--port", str(port))) as srv2:
            reg = srv2.wait_register(EP, timeout=40)
            ev = srv2.wait_event(lambda e: e["event"] == "send" and e["ep"] == EP, 10, "the kept readings")
            times = [t for _, t in _temps(_payload(ev))]
            assert times == sorted(times) and len(set(times)) == len(times), times
            # readings every 0.5 s from when the registration was found down
            assert len([t for t in times if t_stop + 4 < t < reg["ts"]]) >= 2, (times, t_stop, reg["ts"])
