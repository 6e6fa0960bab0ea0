"""Tests of the test LwM2M server itself, with a tiny fake LwM2M client that
builds CoAP (RFC 7252) messages by hand over a raw UDP socket."""

import socket
import struct
import threading

from harness import TestServer

CON, NON, ACK, RST = 0, 1, 2, 3
GET, POST, PUT, DELETE = 1, 2, 3, 4
OBSERVE, LOCATION_PATH, URI_PATH, CONTENT_FORMAT, URI_QUERY, ACCEPT = 6, 8, 11, 12, 15, 17
BLOCK2, BLOCK1 = 23, 27


def code(c, d):
    return c << 5 | d


def uint_bytes(v):
    return v.to_bytes((v.bit_length() + 7) // 8, "big") if v else b""


def _ext(v):
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, struct.pack(">H", v - 269)


def encode(mtype, mcode, mid, token=b"", options=(), payload=b""):
    out = bytearray([0x40 | mtype << 4 | len(token), mcode]) + struct.pack(">H", mid) + token
    last = 0
    for num, val in sorted(options, key=lambda o: o[0]):
        if isinstance(val, int):
            val = uint_bytes(val)
        elif isinstance(val, str):
            val = val.encode()
        d, dx = _ext(num - last)
        ln, lx = _ext(len(val))
        out += bytes([d << 4 | ln]) + dx + lx + val
        last = num
    if payload:
        out += b"\xff" + payload
    return bytes(out)


def decode(data):
    assert data[0] >> 6 == 1, "CoAP version"
    mtype, tkl = data[0] >> 4 & 3, data[0] & 15
    msg = {"type": mtype, "code": data[1], "mid": struct.unpack(">H", data[2:4])[0],
           "token": data[4:4 + tkl], "options": [], "payload": b""}
    i, num = 4 + tkl, 0
    while i < len(data):
        if data[i] == 0xFF:
            msg["payload"] = data[i + 1:]
            break
        d, ln = data[i] >> 4, data[i] & 15
        i += 1
        vals = []
        for x in (d, ln):
            if x == 13:
                vals.append(data[i] + 13)
                i += 1
            elif x == 14:
                vals.append(struct.unpack(">H", data[i:i + 2])[0] + 269)
                i += 2
            else:
                vals.append(x)
        num += vals[0]
        msg["options"].append((num, data[i:i + vals[1]]))
        i += vals[1]
    return msg


def opts(msg, num):
    return [v for n, v in msg["options"] if n == num]


def opt_uint(msg, num):
    v = opts(msg, num)
    return int.from_bytes(v[0], "big") if v else None


def path_of(msg):
    return "/" + "/".join(v.decode() for v in opts(msg, URI_PATH))


class FakeClient:
    """One virtual LwM2M client: a UDP socket connected to the server."""

    def __init__(self, port, ep):
        self.ep = ep
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(5)
        self.mid = 1000
        self.location = None

    def close(self):
        self.sock.close()

    def request(self, mcode, path, query=(), payload=b"", cf=None, token=b"\x01\x02"):
        self.mid += 1
        o = [(URI_PATH, p) for p in path.strip("/").split("/") if p]
        o += [(URI_QUERY, q) for q in query]
        if cf is not None:
            o.append((CONTENT_FORMAT, cf))
        self.sock.send(encode(CON, mcode, self.mid, token, o, payload))
        while True:
            m = decode(self.sock.recv(2048))
            if m["type"] == ACK and m["mid"] == self.mid:
                return m

    def register(self, lt=60, links=b"</1/0>,</3/0>"):
        r = self.request(POST, "/rd", ["ep=" + self.ep, "lt=%d" % lt, "lwm2m=1.1", "b=U"],
                         links, cf=40)
        if r["code"] == code(2, 1):
            self.location = "/" + "/".join(v.decode() for v in opts(r, LOCATION_PATH))
        return r

    def recv_request(self):
        m = decode(self.sock.recv(2048))
        assert m["code"] >> 5 == 0, "expected a request, got %r" % m
        return m

    def answer(self, req, mcode, payload=b"", options=()):
        self.sock.send(encode(ACK, mcode, req["mid"], req["token"], options, payload))


def test_register_update_deregister():
    with TestServer() as srv:
        c = FakeClient(srv.port, "fake-1")
        r = c.register(lt=120)
        assert r["code"] == code(2, 1)
        assert c.location.startswith("/rd/") and len(c.location) > 4
        ev = srv.wait_register("fake-1")
        assert ev["lt"] == 120 and ev["lwm2m"] == "1.1" and ev["b"] == "U"
        assert ev["links"] == "</1/0>,</3/0>"
        assert ev["query"]["ep"] == "fake-1"
        assert ev["addr"] == "127.0.0.1:%d" % c.sock.getsockname()[1]
        assert "/rd/" + ev["id"] == c.location

        r = c.request(POST, c.location, ["lt=30"])
        assert r["code"] == code(2, 4)
        ev = srv.wait_update("fake-1")
        assert ev["lt"] == 30 and "links" not in ev
        r = c.request(POST, c.location, [], b"</1/0>,</3/0>,</3303/0>", cf=40)
        assert r["code"] == code(2, 4)
        assert srv.wait_update("fake-1")["links"].endswith("</3303/0>")

        assert [x["ep"] for x in srv.clients()] == ["fake-1"]
        r = c.request(DELETE, c.location)
        assert r["code"] == code(2, 2)
        srv.wait_deregister("fake-1")
        assert srv.clients() == []
        r = c.request(POST, c.location, ["lt=30"])
        assert r["code"] == code(4, 4)
        c.close()


def test_bad_registrations_are_rejected():
    with TestServer() as srv:
        c = FakeClient(srv.port, "x")
        assert c.request(POST, "/rd", ["lt=60"], b"</3/0>", cf=40)["code"] == code(4, 0)
        assert c.request(POST, "/rd", ["ep=x", "lt=abc"], b"</3/0>", cf=40)["code"] == code(4, 0)
        assert c.request(POST, "/rd", ["ep=x"], b"</3/0>", cf=0)["code"] == code(4, 15)
        assert c.request(GET, "/nothing")["code"] == code(4, 4)
        ev = srv.wait_event(lambda e: e["event"] == "rejected")
        assert ev["reason"] == "missing ep"
        c.close()


def test_forget_makes_update_fail():
    with TestServer() as srv:
        c = FakeClient(srv.port, "fake-f")
        c.register()
        srv.wait_register("fake-f")
        assert srv.request("forget", ep="fake-f")["ok"] is True
        assert srv.request("forget", ep="fake-f")["ok"] is False
        assert c.request(POST, c.location, ["lt=60"])["code"] == code(4, 4)
        # re-registration works and gets a new location
        old = c.location
        assert c.register()["code"] == code(2, 1)
        assert c.location != old
        srv.wait_register("fake-f")
        c.close()


def test_read_from_client_socket():
    with TestServer() as srv:
        c = FakeClient(srv.port, "fake-r")
        c.register()
        srv.wait_register("fake-r")
        req = srv.send_command("read", ep="fake-r", path="/3/0", accept=11542)
        m = c.recv_request()
        assert m["type"] == CON and m["code"] == GET
        assert path_of(m) == "/3/0"
        assert opt_uint(m, ACCEPT) == 11542
        assert 1 <= len(m["token"]) <= 8
        c.answer(m, code(2, 5), b"\xc8\x00\x03abc", [(CONTENT_FORMAT, 11542)])
        ev = srv.wait_response(req)
        assert ev["code"] == "2.05" and ev["cf"] == 11542 and ev["ep"] == "fake-r"
        assert ev["payload_hex"] == "c80003616263"
        assert "payload_text" not in ev or ev["payload_text"] == "\u00c8\x00\x03abc"

        req = srv.send_command("read", ep="fake-r", path="/3/0/0")
        m = c.recv_request()
        assert opts(m, ACCEPT) == []
        c.answer(m, code(2, 5), b"Open Mobile Alliance", [(CONTENT_FORMAT, 0)])
        ev = srv.wait_response(req)
        assert ev["payload_text"] == "Open Mobile Alliance" and ev["cf"] == 0

        req = srv.send_command("read", ep="fake-r", path="/5/0")
        c.answer(c.recv_request(), code(4, 4))
        assert srv.wait_response(req)["code"] == "4.04"
        assert srv.read("nobody", "/3/0")["error"] == "unknown endpoint"
        c.close()


def test_dm_operations_on_the_wire():
    with TestServer() as srv:
        c = FakeClient(srv.port, "fake-dm")
        c.register()
        srv.wait_register("fake-dm")

        def roundtrip(op, reply=code(2, 4), reply_opts=(), **kw):
            req = srv.send_command(op, ep="fake-dm", **kw)
            m = c.recv_request()
            c.answer(m, reply, b"", reply_opts)
            return m, srv.wait_response(req)

        m, ev = roundtrip("write", path="/3/0/14", cf=0, payload_text="+01:00")
        assert m["code"] == PUT and m["payload"] == b"+01:00" and opt_uint(m, CONTENT_FORMAT) == 0
        assert ev["code"] == "2.04"
        m, _ = roundtrip("write", path="/3/0", method="post", cf=11542, payload_hex="c10e00")
        assert m["code"] == POST and m["payload"] == b"\xc1\x0e\x00"
        m, _ = roundtrip("execute", path="/3/0/4")
        assert m["code"] == POST and path_of(m) == "/3/0/4" and m["payload"] == b""
        m, _ = roundtrip("execute", path="/3/0/4", payload_text="0='x'")
        assert m["payload"] == b"0='x'"
        m, ev = roundtrip("create", reply=code(2, 1), reply_opts=[(LOCATION_PATH, "3303"),
                                                                  (LOCATION_PATH, "1")],
                          path="/3303", cf=11542, payload_hex="c100")
        assert m["code"] == POST and path_of(m) == "/3303" and ev["location"] == "/3303/1"
        m, ev = roundtrip("delete", reply=code(2, 2), path="/3303/1")
        assert m["code"] == DELETE and ev["code"] == "2.02"
        m, _ = roundtrip("discover", reply=code(2, 5), path="/3")
        assert m["code"] == GET and opt_uint(m, ACCEPT) == 40
        m, _ = roundtrip("write_attributes", path="/3303/0/5700", query="pmin=5&gt=20")
        assert m["code"] == PUT and m["payload"] == b""
        assert [q.decode() for q in opts(m, URI_QUERY)] == ["pmin=5", "gt=20"]
        m, _ = roundtrip("raw", method="fetch", path="/", cf=11545, payload_hex="81",
                         options=[[2048, "abc"], [2049, 7], [2050, {"hex": "00ff"}]])
        assert m["code"] == 5 and opts(m, 2048) == [b"abc"] and opt_uint(m, 2049) == 7
        assert opts(m, 2050) == [b"\x00\xff"]
        c.close()


def test_observe_notify_cancel():
    with TestServer() as srv:
        c = FakeClient(srv.port, "fake-o")
        c.register()
        srv.wait_register("fake-o")
        req = srv.send_command("observe", ep="fake-o", path="/3303/0/5700", accept=0)
        m = c.recv_request()
        assert m["code"] == GET and opt_uint(m, OBSERVE) == 0 and opt_uint(m, ACCEPT) == 0
        token = m["token"]
        c.answer(m, code(2, 5), b"21.5", [(OBSERVE, 1), (CONTENT_FORMAT, 0)])
        ev = srv.wait_response(req)
        assert ev["observe"] == 1 and ev["payload_text"] == "21.5"

        for seq, val in ((2, b"22"), (3, b"23")):
            c.mid += 1
            c.sock.send(encode(CON, code(2, 5), c.mid, token,
                               [(OBSERVE, seq), (CONTENT_FORMAT, 0)], val))
            ack = decode(c.sock.recv(2048))
            assert ack["type"] == ACK and ack["mid"] == c.mid
            ev = srv.wait_notify(req)
            assert ev["observe"] == seq and ev["payload_text"] == val.decode()
            assert ev["code"] == "2.05"

        creq = srv.send_command("cancel_observe", observe_req=req)
        m = c.recv_request()
        assert m["code"] == GET and opt_uint(m, OBSERVE) == 1 and m["token"] == token
        assert path_of(m) == "/3303/0/5700"
        c.answer(m, code(2, 5), b"24", [(CONTENT_FORMAT, 0)])
        ev = srv.wait_response(creq)
        assert ev["code"] == "2.05" and "observe" not in ev

        # a notification after the cancel is refused with RST
        c.mid += 1
        c.sock.send(encode(CON, code(2, 5), c.mid, token, [(OBSERVE, 9)], b"25"))
        assert decode(c.sock.recv(2048))["type"] == RST
        assert srv.request("cancel_observe", observe_req=req)["error"] == "no such observation"
        c.close()


def test_block2_read_is_reassembled():
    body = bytes(range(256)) * 4 + b"tail"
    with TestServer() as srv:
        c = FakeClient(srv.port, "fake-b")
        c.register()
        srv.wait_register("fake-b")
        req = srv.send_command("read", ep="fake-b", path="/3/0", accept=11542)
        size, num, seen = 64, 0, 0
        while True:
            m = c.recv_request()
            assert path_of(m) == "/3/0"
            b2 = opt_uint(m, BLOCK2)
            if b2 is not None:
                num = b2 >> 4
            chunk = body[num * size:(num + 1) * size]
            more = (num + 1) * size < len(body)
            c.answer(m, code(2, 5), chunk, [(CONTENT_FORMAT, 11542),
                                            (BLOCK2, num << 4 | more << 3 | 2)])
            seen += 1
            if not more:
                break
        ev = srv.wait_response(req)
        assert ev["code"] == "2.05" and ev["cf"] == 11542
        assert bytes.fromhex(ev["payload_hex"]) == body
        assert seen == (len(body) + size - 1) // size
        c.close()


def test_block1_write_is_split():
    body = b"A" * 3000
    with TestServer() as srv:
        c = FakeClient(srv.port, "fake-b1")
        c.register()
        srv.wait_register("fake-b1")
        req = srv.send_command("write", ep="fake-b1", path="/5/0/0", cf=42,
                               payload_hex=body.hex())
        got = b""
        while True:
            m = c.recv_request()
            assert m["code"] == PUT and path_of(m) == "/5/0/0"
            b1 = opt_uint(m, BLOCK1)
            got += m["payload"]
            if b1 is None or not b1 & 8:
                c.answer(m, code(2, 4), b"", [(BLOCK1, b1)] if b1 is not None else [])
                break
            c.answer(m, code(2, 31), b"", [(BLOCK1, b1)])
        assert got == body
        assert srv.wait_response(req)["code"] == "2.04"
        c.close()


def test_timeout_and_send():
    with TestServer() as srv:
        c = FakeClient(srv.port, "fake-t")
        c.register()
        srv.wait_register("fake-t")
        ev = srv.read("fake-t", "/3/0", timeout=1)
        assert ev["error"] == "timeout"
        c.mid += 1
        c.sock.send(encode(CON, POST, c.mid, b"\x07", [(URI_PATH, "dp"), (CONTENT_FORMAT, 112)],
                           b"\x81\xa1\x00\x61x"))
        while True:
            m = decode(c.sock.recv(2048))
            if m["mid"] == c.mid:
                break
        assert m["code"] == code(2, 4)
        ev = srv.wait_event(lambda e: e["event"] == "send")
        assert ev["ep"] == "fake-t" and ev["cf"] == 112 and ev["payload_hex"] == "81a1006178"
        c.close()


def _answer_loop(clients, stop):
    """Answers every GET on the given sockets with 2.05 until stop is set."""
    import select
    socks = {cl.sock.fileno(): cl for cl in clients}
    while not stop.is_set():
        r, _, _ = select.select(list(socks), [], [], 0.1)
        for fd in r:
            cl = socks[fd]
            try:
                m = decode(cl.sock.recv(2048))
            except OSError:
                continue
            if m["type"] == CON and m["code"] == GET:
                cl.answer(m, code(2, 5), b"x", [(CONTENT_FORMAT, 0)])


def test_many_clients_and_bench():
    n = 300
    with TestServer() as srv:
        clients = [FakeClient(srv.port, "bench-%d" % i) for i in range(n)]
        for cl in clients:
            assert cl.register()["code"] == code(2, 1)
        assert srv.request("clients")["count"] == n
        stop = threading.Event()
        t = threading.Thread(target=_answer_loop, args=(clients, stop), daemon=True)
        t.start()
        try:
            ev = srv.request("bench_read", path="/3/0/0", count=2000, parallel=50, accept=0)
        finally:
            stop.set()
            t.join(5)
        assert ev["event"] == "bench_result"
        assert ev["ok"] == 2000 and ev["failed"] == 0, ev
        assert ev["p99_us"] >= ev["p50_us"] > 0
        for cl in clients:
            cl.close()


def test_bench_without_clients_fails_cleanly():
    with TestServer() as srv:
        ev = srv.request("bench_read", path="/3/0/0", count=10, parallel=5)
        assert ev["ok"] == 0 and ev["failed"] == 10
        assert srv.request("nonsense")["error"] == "unknown op"
        assert srv.stop() == 0
