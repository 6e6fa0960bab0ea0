"""Several servers: every virtual client registers with each configured
server, and Send, the offline store and notification storing work per
server. Two independent test servers; one is killed (a server that quits
would cancel its observations first) and started again on the same port
while the other stays. Readings are compared by value and timestamp: each
server gets every reading once, oldest first, whatever the other does."""

import os
import re
import struct
import time

from harness import (check_contiguous, check_outage_junction, decode_senml_cbor, decode_senml_json, Gateway,
                     reserve_port, TestServer, _wait_cond, wait_probes)

EP = "multi-dev"
SIM = ('simulate = ( { field = "temperature"; wave = "sawtooth"; min = 0.0; max = 10.0; '
       'period = 5.0; interval = 0.5; } );')
PATH = "/3303/0/5700"


# With two servers, Access Control (/2) applies: each server owns its /1
# instance, A owns the sensor and B may read it.
ACCESS = ('access = ( { object = 1; instance = 0; owner = 1; }, { object = 1; instance = 1; owner = 2; },\n'
          '           { object = 3303; instance = 0; owner = 1; acl = { s2 = "R"; }; } );')


def _conf(uri_b, report="send", lifetime=3, store_max=None, access=ACCESS):
    dev = ('{ endpoint = "%s"; adapter = "simulated"; device = { manufacturer = "Sim"; model = "S-1"; };\n'
           '  %s %s %s }' % (EP, SIM, 'report = "%s"; send_interval = 1;' % report if report else "", access))
    gw = 'gateway = { name = "multi-gw"; state_dir = "@TMP@"; %s };\n' % (
        "offline_store_max = %d;" % store_max if store_max is not None else "")
    # A is the first server (/1/0, short server id 1), B the second (/1/1, 2)
    return (gw + 'servers = ( { uri = "@SERVER_URI@"; lifetime = %d; },\n'
                 '            { uri = "%s"; lifetime = %d; } );\n'
                 'devices = ( %s );\n' % (lifetime, uri_b, lifetime, dev))


def _is_send(e):
    return e["event"] == "send" and e["ep"] == EP


def _temps(ev):
    assert ev["cf"] == 112, ev
    return [(v, t) for n, v, t in decode_senml_cbor(bytes.fromhex(ev["payload_hex"]), with_time=True) if n == PATH]


def _sent(*servers):
    """(value, time) of every Send reading of EP at these servers, in arrival order."""
    return [vt for srv in servers for e in list(srv.events) if e.get("event") == "send" and e.get("ep") == EP
            for vt in _temps(e)]


def _kill(srv):
    srv.proc.kill()
    srv.proc.wait()


def _live_after(srv, t, what):
    """A Send to srv with a reading taken after t (wall clock): every
    reading before it has arrived there (oldest first)."""
    return srv.wait_event(lambda e: _is_send(e) and any(ts > t for _, ts in _temps(e)), 30, what)


def test_send_goes_to_every_server(tmp):
    with TestServer() as a, TestServer() as b, Gateway(tmp, _conf(b.uri), server=a) as gw:
        a.wait_register(EP)
        b.wait_register(EP)
        a.wait_register("multi-gw")
        b.wait_register("multi-gw")
        t0 = time.time()
        for srv in (a, b):
            _live_after(srv, t0 + 2, "a Send with a reading 2 s after both registered")
        ta, tb = _sent(a), _sent(b)
        check_contiguous(ta)
        check_contiguous(tb)
        # the same readings (value and timestamp) reach both, each once
        common = set(ta) & set(tb)
        assert len([t for _, t in common if t > t0]) >= 3, (ta, tb)
        assert gw.has_log(r"%s: registered with %s" % (EP, re.escape(b.uri))), gw.log_tail()


def test_send_only_where_the_server_may_read(tmp):
    """B has no right on the sensor's instance: it gets no Send of it (as a
    Read by it would be refused), A gets every reading."""
    access = ACCESS.replace('acl = { s2 = "R"; };', "")
    with TestServer() as a, TestServer() as b, Gateway(tmp, _conf(b.uri, lifetime=60, access=access),
                                                       server=a) as gw:
        a.wait_register(EP)
        b.wait_register(EP)
        t0 = time.time()
        _live_after(a, t0 + 2, "a Send to A with a reading 2 s after the registrations")
        check_contiguous(_sent(a))
        assert not _sent(b), _sent(b)
        r = b.read(EP, PATH)
        assert r["code"] == "4.01", r
        assert gw.proc.poll() is None


def test_one_server_away_the_other_stays_live_backlog_on_return(tmp):
    port = reserve_port("udp")  # A's address stays free for its restart
    a = TestServer(port=port).start()
    with TestServer() as b, Gateway(tmp, _conf(b.uri), server=a.uri) as gw:
        a.wait_register(EP)
        b.wait_register(EP)
        a.wait_event(_is_send, 10, "a Send to A")
        b.wait_event(_is_send, 10, "a Send to B")
        mark = gw.mark()
        t_kill = time.time()
        _kill(a)
        gw.wait_log(r"server %s unreachable \(" % re.escape(a.uri), timeout=20, since=mark)
        wait_probes(gw, mark, 2)
        # B went on getting live Sends all along: readings of the outage,
        # sent while A was still away
        t_live = time.time()
        _live_after(b, t_live, "a live Send to B while A is away")
        assert not gw.has_log(r"server %s unreachable" % re.escape(b.uri)), gw.log_tail()
        with TestServer(port=port) as a2:
            reg = a2.wait_register(EP, timeout=40)
            _live_after(a2, reg["ts"], "a live Send to A after its backlog")
            gw.wait_log(r"server %s back: \d+ re-registered, \d+ readings delivered" % re.escape(a.uri), timeout=30)
            got_a = _sent(a, a2)
            check_contiguous(got_a)
            away = [t for _, t in got_a if t_kill + 1 < t < reg["ts"]]
            assert len(away) >= 6, (away, t_kill, reg["ts"])
            got_b = _sent(b)
            check_contiguous(got_b)
            # B got the outage's readings live, not as a backlog after it
            b_live = [e["ts"] for e in list(b.events) if e.get("event") == "send" and e.get("ep") == EP
                      and any(t_kill + 1 < t < t_live for _, t in _temps(e))]
            assert b_live and min(b_live) < reg["ts"], (b_live, reg["ts"])
            # both servers have every reading of the outage, once each
            in_a = {vt for vt in got_a if t_kill + 1 < vt[1] < reg["ts"] - 1}
            in_b = {vt for vt in got_b if t_kill + 1 < vt[1] < reg["ts"] - 1}
            assert in_a == in_b, (sorted(in_a ^ in_b), t_kill, reg["ts"])


def test_observed_one_server_away_keeps_its_notifications(tmp):
    """Observations live per server: A's outage keeps what A's observation
    would have notified (delivered to A with Send when it is back), while B
    goes on getting its notifications live and has nothing kept for it."""
    port = reserve_port("udp")
    a = TestServer(port=port).start()
    with TestServer() as b, Gateway(tmp, _conf(b.uri, report=None), server=a.uri) as gw:
        a.wait_register(EP)
        b.wait_register(EP)
        reqs = {}
        for srv in (a, b):
            req = srv.send_command("observe", ep=EP, path="/3303/0", accept=110)
            assert srv.wait_response(req, timeout=20)["code"] == "2.05"
            srv.wait_notify(req)
            reqs[srv] = req
        mark = gw.mark()
        t_kill = time.time()
        _kill(a)
        gw.wait_log(r"server %s unreachable \(.*\): 2 clients keeping" % re.escape(a.uri), timeout=20, since=mark)
        wait_probes(gw, mark, 2)
        t_live = time.time()
        # B notified live meanwhile
        n = b.wait_notify(reqs[b], timeout=10)
        while n["ts"] < t_live:
            n = b.wait_notify(reqs[b], timeout=10)
        with TestServer(port=port) as a2:
            reg = a2.wait_register(EP, timeout=40)
            m = gw.wait_log(r"server %s back: 2 re-registered, (\d+) readings delivered" % re.escape(a.uri), timeout=30)
            assert int(m.group(1)) >= 6, m.group(0)
            # logged when answered; the server's events may come a little later
            def records():
                return sum(len(decode_senml_cbor(bytes.fromhex(e["payload_hex"]), with_time=True))
                           for e in list(a2.events) if e.get("event") == "send")
            _wait_cond(a2._cond, lambda: records() >= int(m.group(1)) or None, 20,
                       "%s readings in Sends" % m.group(1))
            sent = _sent(a2)
            notified = [(dict(decode_senml_json(bytes.fromhex(e["payload_hex"]))).get(PATH), e["ts"])
                        for e in list(a.events) if e.get("req") == reqs[a] and e.get("code") == "2.05"
                        and e.get("event") in ("notify", "response")]
            notified = [vt for vt in notified if vt[0] is not None]
            assert notified, [e for e in list(a.events) if e.get("req") == reqs[a]][:3]
            check_contiguous(sent)
            # none lost: the first kept reading follows the last A was
            # notified of, or is one of those A may not have read before it
            # was killed (the 2 s at-risk window): same value and time again
            check_outage_junction(notified, sent, t_kill)
            assert [t for _, t in sent if t > t_kill + 2], (sent, t_kill)
            assert sent[-1][1] > reg["ts"] - 1.5, (sent[-3:], reg["ts"])
            # B: notifications all along, nothing kept for it, no Send
            b_vals = [e for e in list(b.events) if e.get("event") == "notify" and e.get("req") == reqs[b]]
            assert len([e for e in b_vals if t_kill + 1 < e["ts"] < reg["ts"]]) >= 6, (len(b_vals), t_kill)
            assert not _sent(b), _sent(b)


def test_mute_send_mutes_only_that_server(tmp):
    with TestServer() as a, TestServer() as b, Gateway(tmp, _conf(b.uri, lifetime=60), server=a) as gw:
        a.wait_register(EP)
        b.wait_register(EP)
        a.wait_event(_is_send, 10, "a Send to A")
        # A mutes its own /1/0/23; B's /1/1/23 stays false
        muted = a.request("write", ep=EP, path="/1/0/23", cf=0, payload_text="1")
        assert muted["code"] == "2.04", muted
        # four live Sends to B after the mute span several send_intervals
        t_mute = time.time()
        for i in range(4):
            _live_after(b, t_mute + i, "a Send to B after A muted")
        after = [e for e in list(a.events) if e.get("event") == "send" and e.get("ep") == EP
                 and e["ts"] > muted["ts"]]
        # one Send may have been on its way when the mute arrived: only
        # readings taken before it, and none after
        assert len(after) <= 1 and all(t < muted["ts"] for e in after for _, t in _temps(e)), after
        unmute = a.request("write", ep=EP, path="/1/0/23", cf=0, payload_text="0")
        assert unmute["code"] == "2.04", unmute
        t_unmute = time.time()
        _live_after(a, t_unmute, "a Send to A after unmute")
        got_a = _sent(a)
        assert not [t for _, t in got_a if muted["ts"] < t < t_unmute - 0.2], (got_a, muted["ts"], t_unmute)
        check_contiguous(_sent(b))
        assert gw.proc.poll() is None


def test_restart_with_backlogs_for_two_servers(tmp):
    """Both servers away: the readings are kept for each, in one file per
    server, and after a gateway restart each server gets its own."""
    pa, pb = reserve_port("udp"), reserve_port("udp")
    a = TestServer(port=pa).start()
    b = TestServer(port=pb).start()
    uri_a, uri_b = a.uri, b.uri
    conf = _conf(uri_b)
    gw = Gateway(tmp, conf, server=uri_a).start()
    files = [os.path.join(tmp, "offline", EP + "@%d.rec" % i) for i in (1, 2)]
    try:
        a.wait_register(EP)
        b.wait_register(EP)
        a.wait_event(_is_send, 10, "a Send to A")
        b.wait_event(_is_send, 10, "a Send to B")
        mark = gw.mark()
        t_kill = time.time()
        _kill(a)
        _kill(b)
        for uri in (uri_a, uri_b):
            gw.wait_log(r"server %s unreachable for \d+ s" % re.escape(uri), timeout=40, since=mark)
        wait_probes(gw, mark, 4)
        for f in files:
            assert os.path.exists(f), (f, gw.log_tail())
    finally:
        gw.stop()
    t_gone = time.time()
    for f, ssid in zip(files, (1, 2)):
        with open(f, "rb") as fp:
            head = fp.read(10)
        assert head == b"GWOFFL2\n" + struct.pack(">H", ssid), (f, head)
    with TestServer(port=pa) as a2, TestServer(port=pb) as b2, Gateway(tmp, conf, server=uri_a) as gw2:
        for f in files:
            m = gw2.wait_log(r"offline store: (\d+) readings loaded from %s" % re.escape(f), timeout=20)
            assert int(m.group(1)) >= 4, m.group(0)
        for srv2 in (a2, b2):
            srv2.wait_register(EP, timeout=20)
            _live_after(srv2, t_gone, "a Send with a reading of the restarted gateway")
        for old, new in ((a, a2), (b, b2)):
            got = _sent(old, new)
            times = [t for _, t in got]
            assert len(set(times)) == len(times), "duplicates: %r" % got
            assert times == sorted(times), got
            before = [vt for vt in got if vt[1] < t_gone]
            check_contiguous(before)
            assert len([t for _, t in before if t > t_kill + 1]) >= 4, (before, t_kill)


def _v1_file(path, readings):
    """A version 1 offline file (one per client, of the first server)."""
    with open(path, "wb") as f:
        f.write(b"GWOFFL1\n")
        for v, ts_ms in readings:
            f.write(struct.pack(">BBHHHqd", 4, 3, 3303, 0, 5700, ts_ms, v))


def test_version_1_file_goes_to_the_first_server(tmp):
    os.makedirs(os.path.join(tmp, "offline"), mode=0o700, exist_ok=True)
    old = os.path.join(tmp, "offline", EP + ".rec")
    t_old = int((time.time() - 3600) * 1000)
    kept = [(1.5, t_old), (2.5, t_old + 500), (3.5, t_old + 1000)]
    _v1_file(old, kept)
    with TestServer() as a, TestServer() as b, Gateway(tmp, _conf(b.uri, lifetime=60), server=a) as gw:
        gw.wait_log(r"offline store: %s taken over as .*%s@1\.rec \(the readings of %s\)"
                    % (re.escape(old), re.escape(EP), re.escape(a.uri)), timeout=10)
        a.wait_register(EP)
        b.wait_register(EP)
        t0 = time.time()
        _live_after(a, t0, "a live Send to A")
        _live_after(b, t0, "a live Send to B")
        old_a = [vt for vt in _sent(a) if vt[1] < t0 - 600]
        assert old_a == [(v, ts / 1000.0) for v, ts in kept], old_a
        assert not [vt for vt in _sent(b) if vt[1] < t0 - 600], _sent(b)
        assert not os.path.exists(old)
