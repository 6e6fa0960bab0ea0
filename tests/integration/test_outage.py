"""Server outages: the test server is killed and restarted on the same port
while simulated sensors go on reading. Observed clients notice, keep every
reading once, come back at the server's first answer and deliver the backlog
with Send; abandoned sockets send nothing; the log stays bounded."""

import os
import re
import socket
import struct
import time

from harness import (check_contiguous, check_outage_junction, decode_senml_cbor, decode_senml_json, Gateway,
                     reserve_port, TestServer, _wait_cond, wait_probes)

SIM = ('simulate = ( { field = "temperature"; wave = "sawtooth"; min = 0.0; max = 10.0; '
       'period = 5.0; interval = 0.5; } );')


def _conf(eps, confirmable=False, report=None, lifetime=300, store_max=None, rps=50):
    devs = []
    for ep in eps:
        devs.append('{ endpoint = "%s"; adapter = "simulated"; device = { manufacturer = "Sim"; model = "S-1"; };\n'
                    '  %s %s }' % (ep, SIM, 'report = "%s"; send_interval = 1;' % report if report else ""))
    gw = 'gateway = { name = "test-gw"; state_dir = "@TMP@"; %s };\n' % (
        "offline_store_max = %d;" % store_max if store_max is not None else "")
    return (gw + 'servers = ( { uri = "@SERVER_URI@"; lifetime = %d; registrations_per_second = %d; %s } );\n'
            'devices = ( %s );\n' % (lifetime, rps, "confirmable_notifications = true;" if confirmable else "",
                                     ",\n".join(devs)))


def _observe(srv, ep, path):
    req = srv.send_command("observe", ep=ep, path=path, accept=110)
    first = srv.wait_response(req, timeout=20)
    assert first["code"] == "2.05", first
    return req


def _value(ev, path="/3303/0/5700"):
    return dict(decode_senml_json(bytes.fromhex(ev["payload_hex"])))[path]


def _got(srv, reqs, path="/3303/0/5700"):
    """(value, arrival time) of path in the answers and notifications of
    the observations reqs, in arrival order."""
    out = []
    for e in list(srv.events):
        if e.get("req") in reqs and e.get("event") in ("notify", "response") and e.get("code") == "2.05":
            v = dict(decode_senml_json(bytes.fromhex(e["payload_hex"]))).get(path)
            if v is not None:
                out.append((v, e["ts"]))
    return out


def _sent(srv, ep):
    """(value, time) of /3303/0/5700 in every Send of ep, in arrival order."""
    out = []
    for ev in list(srv.events):
        if ev.get("event") == "send" and ev.get("ep") == ep:
            assert ev["cf"] == 112, ev
            recs = decode_senml_cbor(bytes.fromhex(ev["payload_hex"]), with_time=True)
            out += [(v, t) for n, v, t in recs if n == "/3303/0/5700"]
    return out


def _wait_delivered(srv, count):
    """Until srv reported count readings in Sends (the gateway logs them
    delivered when answered; the server's events may be read a bit later)."""
    def total():
        n = sum(len(decode_senml_cbor(bytes.fromhex(e["payload_hex"]), with_time=True))
                for e in list(srv.events) if e.get("event") == "send")
        return True if n >= count else None
    _wait_cond(srv._cond, total, 20, "%d readings in Sends" % count)


def _udp_ports(pid):
    """Local UDP ports of the sockets process pid holds open now."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[9] in inodes:
                        ports.add(int(cols[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def _outage(tmp, confirmable):
    port = reserve_port("udp")  # the restarted server's address stays free for it
    srv = TestServer(port=port).start()
    eps = ["obs-%d" % i for i in range(3)]
    with Gateway(tmp, _conf(eps, confirmable=confirmable), server=srv.uri) as gw:
        for ep in eps:
            srv.wait_register(ep)
        reqs, inst = {}, {}
        for ep in eps:
            # the instance exists before the first reading (the resource
            # reads 4.04 until then); overlapping observations: the
            # instance covers the resource, yet each reading is kept once
            inst[ep] = _observe(srv, ep, "/3303/0")
            srv.wait_notify(inst[ep])
            reqs[ep] = _observe(srv, ep, "/3303/0/5700")
        for ep in eps:
            srv.wait_notify(reqs[ep])
        mark = gw.mark()
        t_kill = time.time()
        # killed: a server that quits would cancel its observations first
        srv.proc.kill()
        srv.proc.wait()
        gw.wait_log(r"server .* unreachable \(.*\): 4 clients keeping their readings", timeout=20, since=mark)
        wait_probes(gw, mark, 2)
        with TestServer(port=port) as srv2:
            t_back = time.time()
            regs = {ep: srv2.wait_register(ep, timeout=20) for ep in eps}
            srv2.wait_register("test-gw", timeout=20)
            # all back within a few seconds of the server's return
            assert max(r["ts"] for r in regs.values()) - t_back < 6, (regs, t_back)
            m = gw.wait_log(r"server .* back: 4 re-registered, (\d+) readings delivered", timeout=30)
            assert int(m.group(1)) > 0, m.group(0)
            _wait_delivered(srv2, int(m.group(1)))
            for ep in eps:
                # what the server got of the reading through either
                # observation (the instance's carries it too)
                notified = _got(srv, (reqs[ep], inst[ep]))
                sent = _sent(srv2, ep)
                assert sent, (ep, gw.log_tail())
                check_contiguous(sent)
                # no reading lost: the backlog starts right after the last
                # reading the server got, or, for readings of the last 2 s
                # whose notification the server may not have read (NON: a
                # datagram in a killed server's receive buffer is dropped
                # without an ICMP error; CON: got but not acknowledged), at
                # one it got: those come again with the same value and time
                check_outage_junction(notified, sent, t_kill)
                # readings of the whole outage, up to the new registration
                assert [t for _, t in sent if t > t_kill + 2], (sent, t_kill)
                assert sent[-1][1] > regs[ep]["ts"] - 1.5, (sent[-3:], regs[ep]["ts"])
                assert not [t for _, t in sent if t > regs[ep]["ts"] + 0.1], (sent[-3:], regs[ep]["ts"])
            # every Register came from a socket the gateway still holds,
            # once per client: no stale Register from a given-up session
            live = _udp_ports(gw.proc.pid)
            for ev in list(srv2.events):
                if ev.get("event") == "register":
                    assert int(ev["addr"].rsplit(":", 1)[1]) in live, (ev, live)
                    assert "replaced" not in ev, ev


def test_outage_observed_non_every_reading_once(tmp):
    _outage(tmp, confirmable=False)


def test_outage_observed_con_every_reading_once(tmp):
    _outage(tmp, confirmable=True)


def _forge(src_port, dst_ports, count):
    """count UDP datagrams with 127.0.0.1:src_port as their source (raw
    socket: needs root; returns False when that is not allowed)."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    except PermissionError:
        return False
    body = b"\x40\x01\x12\x34garbage"  # a CON GET with a broken option
    with s:
        for i in range(count):
            dport = dst_ports[i % len(dst_ports)]
            udp = struct.pack("!HHHH", src_port, dport, 8 + len(body), 0) + body
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, socket.IPPROTO_UDP, 0,
                             socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1"))
            s.sendto(ip + udp, ("127.0.0.1", 0))
    return True


def test_outage_of_many_observed_clients_logs_little(tmp):
    n = 200
    port = reserve_port("udp")
    srv = TestServer(port=port).start()
    eps = ["many-%03d" % i for i in range(n)]
    # pacing off, so the return is bounded by the probe and the server (at
    # the default 50 per second 201 registrations take 4 s by design)
    with Gateway(tmp, _conf(eps, rps=0), server=srv.uri) as gw:
        regs = {ep: srv.wait_register(ep, timeout=60) for ep in eps}
        reqs = [srv.send_command("observe", ep=ep, path="/3303/0", accept=110) for ep in eps]
        for req in reqs:
            assert srv.wait_response(req, timeout=60)["code"] == "2.05"
        mark = gw.mark()
        # forged datagrams with the server's address: no line each
        forged = _forge(port, [int(r["addr"].rsplit(":", 1)[1]) for r in regs.values()], 2000)
        srv.proc.kill()
        srv.proc.wait()
        gw.wait_log(r"server .* unreachable \(.*\): %d clients keeping" % (n + 1), timeout=20, since=mark)
        wait_probes(gw, mark, 3)
        with TestServer(port=port) as srv2:
            t_back = time.time()
            last = max(srv2.wait_register(ep, timeout=30)["ts"] for ep in eps)
            assert last - t_back < 6, (last, t_back)
            m = gw.wait_log(r"server .* back: %d re-registered, (\d+) readings delivered" % (n + 1), timeout=60)
            _wait_delivered(srv2, int(m.group(1)))
            lines = gw.lines[mark:]
            assert len(lines) < 100, (forged, len(lines), lines[:60])
            live = _udp_ports(gw.proc.pid)
            for ev in list(srv2.events):
                if ev.get("event") == "register":
                    assert int(ev["addr"].rsplit(":", 1)[1]) in live, (ev, live)
                    assert "replaced" not in ev, ev
            for ep in eps[:10]:
                check_contiguous(_sent(srv2, ep))


def test_outage_with_send_every_reading_once(tmp):
    port = reserve_port("udp")
    srv = TestServer(port=port).start()
    eps = ["snd-%d" % i for i in range(3)]
    with Gateway(tmp, _conf(eps, report="send"), server=srv.uri) as gw:
        for ep in eps:
            srv.wait_register(ep)
        for ep in eps:
            srv.wait_event(lambda e, ep=ep: e["event"] == "send" and e["ep"] == ep, 10, "a Send")
        mark = gw.mark()
        srv.proc.kill()
        srv.proc.wait()
        gw.wait_log(r"server .* unreachable \(.*\): 4 clients keeping", timeout=20, since=mark)
        wait_probes(gw, mark, 2)
        with TestServer(port=port) as srv2:
            t_back = time.time()
            regs = {ep: srv2.wait_register(ep, timeout=20) for ep in eps}
            assert max(r["ts"] for r in regs.values()) - t_back < 6
            gw.wait_log(r"server .* back: 4 re-registered, \d+ readings delivered", timeout=30)
            for ep in eps:
                # a Send with a reading taken after the registration: the
                # backlog came before it
                srv2.wait_event(lambda e, ep=ep: e["event"] == "send" and e["ep"] == ep and any(
                    t > regs[ep]["ts"] for _, t in _sent_one(e)), 20, "a live Send")
                check_contiguous(_sent(srv, ep) + _sent(srv2, ep))


def _sent_one(ev):
    recs = decode_senml_cbor(bytes.fromhex(ev["payload_hex"]), with_time=True)
    return [(v, t) for n, v, t in recs if n == "/3303/0/5700"]


def test_sigkill_while_readings_are_kept_loses_and_corrupts_nothing(tmp):
    """The gateway is killed (SIGKILL) five times while it keeps readings
    for an absent server, each time at a probe (an arbitrary moment of the
    0.5 s reading cycle); every start loads the file whole, and once the
    server is back every reading each run kept arrives, none twice."""
    port = reserve_port("udp")
    uri = "coap://127.0.0.1:%d" % port
    ep = "crash-0"
    conf = _conf([ep], report="send")
    srv = TestServer(port=port).start()
    gw = Gateway(tmp, conf, server=uri).start()
    kills = []
    loaded = []
    try:
        srv.wait_register(ep)
        srv.wait_event(lambda e: e["event"] == "send" and e["ep"] == ep, 10, "a Send")
        srv.proc.kill()
        srv.proc.wait()
        for _ in range(5):
            mark = gw.mark()
            gw.wait_log(r"server .* unreachable for \d+ s", timeout=30, since=mark)
            gw.proc.kill()
            gw.proc.wait()
            kills.append(time.time())
            gw = Gateway(tmp, conf, server=uri).start()
            loaded.append(int(gw.wait_log(r"offline store: (\d+) readings loaded", timeout=20).group(1)))
            assert not gw.has_log(r"offline store: .*(readings before it|not an offline readings file|cannot)"), \
                gw.log_tail()
        # kept readings only grow from one run to the next: none lost
        assert loaded == sorted(loaded) and loaded[0] > 0, loaded
        with TestServer(port=port) as srv2:
            m = gw.wait_log(r"server .* back: \d+ re-registered, (\d+) readings delivered", timeout=40)
            _wait_delivered(srv2, int(m.group(1)))
            sent = _sent(srv2, ep)
            times = [t for _, t in sent]
            assert len(set(times)) == len(times), "duplicates: %r" % sent
            assert times == sorted(times), sent
            # within each run (up to its kill) nothing is missing
            bounds = [0.0] + kills
            for lo, hi in zip(bounds, bounds[1:]):
                run = [vt for vt in sent if lo < vt[1] < hi]
                assert run, (lo, hi, sent)
                check_contiguous(run)
    finally:
        gw.stop()
