"""A minimal LwM2M server over a raw UDP socket, for tests that need CoAP
bytes exactly as they are on the wire (RFC 7252, RFC 7959 block-wise).

It shares no code with the gateway or with tests/server: every message is
built and parsed here by hand with the socket module. It accepts Register
(also block-wise: it answers 2.31 Continue, optionally asking for smaller
blocks), acknowledges confirmable messages from the client, and sends
requests to the address the Register came from, on the socket the client
registered with, as a real server does.
"""

import socket
import struct
import threading
import time

CON, NON, ACK, RST = 0, 1, 2, 3
GET, POST, PUT, DELETE, FETCH, PATCH, IPATCH = 1, 2, 3, 4, 5, 6, 7
OBSERVE, LOCATION_PATH, URI_PATH, CONTENT_FORMAT, MAX_AGE, URI_QUERY, ACCEPT = 6, 8, 11, 12, 14, 15, 17
BLOCK2, BLOCK1, SIZE2, SIZE1 = 23, 27, 28, 60


def code(c, d):
    return c << 5 | d


def code_str(c):
    return "%d.%02d" % (c >> 5, c & 31)


def uint_bytes(v):
    return v.to_bytes((v.bit_length() + 7) // 8, "big") if v else b""


def block_value(num, more, szx):
    return num << 4 | (8 if more else 0) | szx


def block_parse(v):
    """(num, more, szx) of a Block1/Block2 option value (bytes)."""
    n = int.from_bytes(v, "big")
    return n >> 4, bool(n & 8), n & 7


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
    if len(data) < 4 or data[0] >> 6 != 1:
        raise ValueError("not CoAP version 1")
    mtype, tkl = data[0] >> 4 & 3, data[0] & 15
    msg = {"type": mtype, "code": data[1], "mid": struct.unpack(">H", data[2:4])[0],
           "token": bytes(data[4:4 + tkl]), "options": [], "payload": b""}
    i, num = 4 + tkl, 0
    while i < len(data):
        if data[i] == 0xFF:
            msg["payload"] = bytes(data[i + 1:])
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
            elif x == 15:
                raise ValueError("reserved option nibble")
            else:
                vals.append(x)
        num += vals[0]
        msg["options"].append((num, bytes(data[i:i + vals[1]])))
        i += vals[1]
    return msg


def opts(msg, num):
    return [v for n, v in msg["options"] if n == num]


def opt_uint(msg, num):
    v = opts(msg, num)
    return int.from_bytes(v[0], "big") if v else None


def path_of(msg):
    return "/" + "/".join(v.decode() for v in opts(msg, URI_PATH))


def path_options(path):
    return [(URI_PATH, p) for p in path.strip("/").split("/") if p]


class RawServer:
    """One LwM2M server on 127.0.0.1; `register_szx` makes it ask for
    smaller blocks in its 2.31 answers to a block-wise Register."""

    def __init__(self, register_szx=None):
        self.hold_updates = False  # leave Updates unanswered until release_updates()
        self.held = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.uri = "coap://127.0.0.1:%d" % self.port
        self.register_szx = register_szx
        self.location = None     # Location-Path segments to answer Register with (default rd/cN)
        self.clients = {}        # endpoint -> (host, port)
        self.registers = []      # (endpoint, query, links bytes, [Block1 requests])
        self.responses = []      # responses to our requests
        self.notifications = []  # notifications (Observe) outside a request we wait on
        self._reg_blocks = {}    # client address -> (bytearray, [requests])
        self._cond = threading.Condition()
        self._mid = 0x4000
        self._token = 0x7100
        self._stop = False
        self._waiting = set()    # tokens of our requests awaiting an answer
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def close(self):
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- plumbing
    def next_mid(self):
        self._mid = (self._mid + 1) & 0xFFFF
        return self._mid

    def new_token(self):
        self._token += 1
        return struct.pack(">I", self._token)

    def _send(self, addr, data):
        self.sock.sendto(data, addr)

    def _run(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                m = decode(data)
            except ValueError:
                continue
            m["addr"] = addr
            self._dispatch(m)

    def _dispatch(self, m):
        cls = m["code"] >> 5
        if m["code"] == 0:          # empty ACK / RST
            with self._cond:
                self.responses.append(m)
                self._cond.notify_all()
            return
        if cls == 0:                # a request from the client
            self._on_request(m)
            return
        # a response (piggybacked, separate) or a notification
        if m["type"] == CON:
            self._send(m["addr"], encode(ACK, 0, m["mid"]))
        with self._cond:
            if opts(m, OBSERVE) and m["type"] != ACK and not self._awaited(m):
                self.notifications.append(m)
            else:
                self.responses.append(m)
            self._cond.notify_all()

    def _awaited(self, m):
        return m["token"] in self._waiting

    def _on_request(self, m):
        p = path_of(m)
        if m["code"] == POST and p == "/rd":
            self._on_register(m)
        elif m["code"] == POST and p.startswith("/rd/"):
            with self._cond:
                if self.hold_updates:
                    self.held.append(m)
                    self._cond.notify_all()
                    return
            self._send(m["addr"], encode(ACK, code(2, 4), m["mid"], m["token"]))
        elif m["code"] == DELETE and p.startswith("/rd/"):
            self._send(m["addr"], encode(ACK, code(2, 2), m["mid"], m["token"]))
        else:
            self._send(m["addr"], encode(ACK, code(4, 4), m["mid"], m["token"]))

    def _on_register(self, m):
        addr = m["addr"]
        b1 = opts(m, BLOCK1)
        body, reqs = self._reg_blocks.get(addr, (bytearray(), []))
        if b1:
            num, more, szx = block_parse(b1[0])
            if num == 0:
                body, reqs = bytearray(), []
            size = 16 << szx
            if num * size != len(body):
                self._send(addr, encode(ACK, code(4, 8), m["mid"], m["token"]))
                return
            body += m["payload"]
            reqs.append(m)
            if more:
                self._reg_blocks[addr] = (body, reqs)
                ask = szx if self.register_szx is None else min(szx, self.register_szx)
                self._send(addr, encode(ACK, code(2, 31), m["mid"], m["token"],
                                        [(BLOCK1, block_value(num, True, ask))]))
                return
            self._reg_blocks.pop(addr, None)
        else:
            body, reqs = bytearray(m["payload"]), [m]
        query = dict(q.decode().split("=", 1) for q in opts(m, URI_QUERY))
        ep = query.get("ep")
        loc = self.location or ["rd", "c%d" % (len(self.registers) + 1)]
        o = [(LOCATION_PATH, seg) for seg in loc]
        if b1:
            o.append((BLOCK1, b1[0]))
        # Answered before anyone hears of it: a request sent to the client
        # must not overtake its 2.01 (a new registration drops observations).
        self._send(addr, encode(ACK, code(2, 1), m["mid"], m["token"], o))
        with self._cond:
            self.clients[ep] = addr
            self.registers.append((ep, query, bytes(body), reqs))
            self._cond.notify_all()

    def release_updates(self):
        with self._cond:
            held, self.held, self.hold_updates = self.held, [], False
        for m in held:
            self._send(m["addr"], encode(ACK, code(2, 4), m["mid"], m["token"]))

    def send_rst(self, ep, mid):
        """A Reset for the client's message mid (RFC 7252 4.2, 4.3)."""
        self._send(self.clients[ep], encode(RST, 0, mid))

    # -- waiting
    def wait(self, pred, timeout=10, what="event"):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                r = pred()
                if r:
                    return r
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("raw server: timed out waiting for %s" % what)
                self._cond.wait(left)

    def wait_register(self, ep, timeout=10):
        return self.wait(lambda: next((r for r in self.registers if r[0] == ep), None),
                         timeout, "Register of " + ep)

    def wait_notification(self, token, since=0, timeout=10):
        return self.wait(lambda: next((n for n in self.notifications[since:] if n["token"] == token),
                                      None), timeout, "notification")

    # -- requests to a client
    def request(self, ep, mcode, path="", options=(), payload=b"", token=None, mtype=CON,
                timeout=10):
        """Sends one request to ep; returns the (final) response."""
        addr = self.clients[ep]
        token = self.new_token() if token is None else token
        mid = self.next_mid()
        o = (path_options(path) if path else []) + list(options)
        with self._cond:
            self._waiting.add(token)
            start = len(self.responses)
        self._send(addr, encode(mtype, mcode, mid, token, o, payload))

        def got():
            for r in self.responses[start:]:
                if r["token"] == token and r["code"] != 0:
                    return r
            return None
        try:
            return self.wait(got, timeout, "response to %s %s" % (code_str(mcode), path))
        finally:
            with self._cond:
                self._waiting.discard(token)
