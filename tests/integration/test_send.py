"""Client-initiated Send (POST /dp, SenML CBOR) and readings kept while the
server is away, against the independent test server."""

import os
import re
import time

from harness import (check_contiguous, decode_senml_cbor, decode_senml_json, Gateway, reserve_port, TestServer,
                     wait_probes)

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


def _is_send(e):
    return e["event"] == "send" and e["ep"] == EP


def _index(srv, ev):
    """Position of event ev (the object) in srv.events."""
    return next(i for i, e in enumerate(srv.events) if e is ev)


def _sent_temps(sends):
    return [vt for ev in sends for vt in _temps(_payload(ev))]


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
        srv.wait_event(_is_send, 10, "a Send")
        muted = srv.request("write", ep=EP, path="/1/0/23", cf=0, payload_text="1")
        assert muted["code"] == "2.04", muted
        # Readings go on while muted: an observation shows each one (every
        # 0.5 s), so six of them span several send_intervals. (The instance:
        # before any observation the resource itself reads 4.04.)
        req = srv.send_command("observe", ep=EP, path="/3303/0")
        first = srv.wait_response(req)
        assert first["code"] == "2.05", first
        for _ in range(6):
            srv.wait_notify(req)
        unmute_at = time.time()
        while_muted = _sends(srv, _index(srv, muted))
        # One Send may have been on its way (or queued behind another
        # confirmable message) when the mute arrived: only readings taken
        # before the mute can be in it, and no other Send follows.
        assert len(while_muted) <= 1, while_muted
        assert all(t < muted["ts"] for _, t in _sent_temps(while_muted)), (while_muted, muted["ts"])
        # unmuted: Sends resume, and what was read while muted is not there
        r = srv.request("write", ep=EP, path="/1/0/23", cf=0, payload_text="0")
        assert r["code"] == "2.04", r
        k = _index(srv, r)
        srv.wait_event(lambda e: _is_send(e) and _index(srv, e) > k, 10, "a Send after unmute")
        srv.wait_event(lambda e: _is_send(e) and _index(srv, e) > k, 10, "a second Send after unmute")
        sent = _sent_temps(_sends(srv))
        assert not [t for _, t in sent if muted["ts"] < t < unmute_at], (sent, muted["ts"], unmute_at)
        assert [t for _, t in sent if t > unmute_at], sent


def test_server_away_every_reading_arrives_oldest_first(tmp):
    port = reserve_port("udp")  # the restarted server's address stays free for it
    srv = TestServer(port=port).start()
    with Gateway(tmp, _conf(interval=1, lifetime=3), server=srv.uri) as gw:
        srv.wait_register(EP)
        srv.wait_event(_is_send, 10, "a Send")
        srv.wait_event(_is_send, 10, "a second Send")
        mark = gw.mark()
        t_stop = time.time()
        srv.stop()
        # away for two backoffs of the registration
        wait_probes(gw, mark, 2)
        with TestServer(port=port) as srv2:
            reg = srv2.wait_register(EP, timeout=40)
            # the backlog, oldest first, then a Send with a reading taken
            # after the registration: everything before it has arrived
            srv2.wait_event(lambda e: _is_send(e) and any(t > reg["ts"] for _, t in _temps(_payload(e))),
                            20, "a live Send after the backlog")
            temps = _sent_temps(_sends(srv) + _sends(srv2))
            check_contiguous(temps)
            away = [t for _, t in temps if t_stop < t < reg["ts"]]
            assert len(away) >= 2, (away, t_stop, reg["ts"])
            assert gw.has_log(r"server .* unreachable \(", mark), gw.log_tail()


def test_readings_survive_a_restart(tmp):
    """Readings kept while the server is away are in state_dir and reach the
    server after the gateway itself restarted."""
    port = reserve_port("udp")  # the restarted server's address stays free for it
    srv = TestServer(port=port).start()
    f = os.path.join(tmp, "offline", EP + "@1.rec")  # this client's readings for server 1
    gw = Gateway(tmp, _conf(interval=1, lifetime=3), server=srv.uri).start()
    try:
        srv.wait_register(EP)
        srv.wait_event(_is_send, 10, "a Send")
        mark = gw.mark()
        t_stop = time.time()
        srv.stop()
        # Away, every reading is written to the file as it is kept; two
        # backoffs of the registration span several readings.
        wait_probes(gw, mark, 2)
        assert os.path.exists(f), gw.log_tail()
    finally:
        gw.stop()
    t_gone = time.time()
    assert os.path.getsize(f) > 8
    with TestServer(port=port) as srv2, Gateway(tmp, _conf(interval=1, lifetime=3),
                                                                   server=srv2.uri) as gw2:
        loaded = int(gw2.wait_log(r"offline store: (\d+) readings loaded").group(1))
        assert loaded >= 1, gw2.log_tail()
        srv2.wait_register(EP, timeout=20)
        # the kept readings first, then one of the restarted gateway's own
        srv2.wait_event(lambda e: _is_send(e) and any(t > t_gone for _, t in _temps(_payload(e))),
                        20, "a Send with a reading of the restarted gateway")
        temps = _sent_temps(_sends(srv) + _sends(srv2))
        times = [t for _, t in temps]
        assert len(set(times)) == len(times), "duplicates: %r" % times
        assert times == sorted(times), times
        # up to the first gateway's end, nothing is missing
        before = [vt for vt in temps if vt[1] < t_gone]
        check_contiguous(before)
        assert len([t for _, t in before if t > t_stop]) >= 2, (before, t_stop)


def test_overflow_drops_oldest_and_counts(tmp):
    port = reserve_port("udp")  # the restarted server's address stays free for it
    srv = TestServer(port=port).start()
    with Gateway(tmp, _conf(interval=1, lifetime=3, store_max=4), server=srv.uri) as gw:
        srv.wait_register(EP)
        srv.wait_event(_is_send, 10, "a Send")
        srv.stop()
        m = gw.wait_log(r"%s: offline store for %s full \(4 readings\): the oldest are dropped \((\d+) dropped"
                        % (EP, re.escape(srv.uri)), timeout=30)
        assert int(m.group(1)) >= 1, m.group(0)
        with TestServer(port=port) as srv2:
            reg = srv2.wait_register(EP, timeout=40)
            # The Sends after the registration: the backlog, then readings
            # taken once registered. Wait for one of the latter: by then
            # the whole backlog has arrived (oldest first).
            srv2.wait_event(lambda e: _is_send(e) and any(t > reg["ts"] for _, t in _temps(_payload(e))),
                            20, "a Send with a reading taken after the registration")
            temps = _sent_temps(_sends(srv2))
            backlog = [t for _, t in temps if t < reg["ts"]]
            # at most the store's 4, and the newest: nothing is missing
            # between them and the first reading taken once registered
            assert 1 <= len(backlog) <= 4, (backlog, reg["ts"], temps)
            check_contiguous(temps)
            # the gateway's own endpoint counts what was dropped
            srv2.wait_register("test-gw", timeout=40)
            r = srv2.read("test-gw", "/3300/0", accept=110)
            vals = dict(decode_senml_json(bytes.fromhex(r["payload_hex"])))
            assert vals["/3300/0/5750"] == "offline readings dropped"
            assert vals["/3300/0/5700"] >= int(m.group(1)), (vals, m.group(0))


def test_observed_readings_kept_while_away_arrive_with_send(tmp):
    port = reserve_port("udp")  # the restarted server's address stays free for it
    srv = TestServer(port=port).start()
    with Gateway(tmp, _conf(report=None, lifetime=3), server=srv.uri) as gw:
        srv.wait_register(EP)
        # the instance, which exists before the first reading; its first
        # notification brings that reading
        req = srv.send_command("observe", ep=EP, path="/3303/0")
        first = srv.wait_response(req)
        assert first["code"] == "2.05", first
        srv.wait_notify(req)
        mark = gw.mark()
        t_stop = time.time()
        # killed: a server that quits cancels its observations first
        srv.proc.kill()
        srv.proc.wait()
        wait_probes(gw, mark, 2)
        with TestServer(port=port) as srv2:
            reg = srv2.wait_register(EP, timeout=40)
            ev = srv2.wait_event(_is_send, 10, "the kept readings")
            temps = _temps(_payload(ev))
            # every change while the registration was down, oldest first
            check_contiguous(temps)
            assert len([t for _, t in temps if t_stop < t < reg["ts"]]) >= 2, (temps, t_stop, reg["ts"])
