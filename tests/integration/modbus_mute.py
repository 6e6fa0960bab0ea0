"""A Modbus TCP unit, in a thread of the test, that can fall silent on
demand: it answers FC03 (read holding registers), FC06 and FC16 (write)
from a table of holding registers while `silent` is false, and reads and
drops every request while it is true, keeping the connection open, as a
unit that hangs does. One register can fail alone: `fail[address]` is
"exception" (a write there is answered with exception 4, Server Device
Failure) or "drop" (a write there is read and left unanswered); the
register keeps its value either way. pymodbus's server cannot be told to do that (stopped,
it refuses connections: a fast failure, not a silent one).

Framing follows the Modbus Messaging on TCP/IP Implementation Guide V1.0b
(MBAP header: transaction id, protocol 0, length, unit id) and the Modbus
Application Protocol V1.1b3 (function codes 3, 6 and 16)."""

import socket
import struct
import threading


class MuteUnit:
    def __init__(self, regs=None):
        self.regs = dict(regs or {})
        self.silent = False
        self.writes = []  # (address, [words]) of every write frame received
        self.dropped = 0  # requests left unanswered while silent
        self.fail = {}    # address -> "exception" or "drop", for writes there
        self.cond = threading.Condition()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def close(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in list(self.conns):
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self.thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def wait(self, pred, timeout=10, what="a condition"):
        with self.cond:
            if not self.cond.wait_for(lambda: pred(self), timeout):
                raise AssertionError("modbus unit: no %s in %ss" % (what, timeout))

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _recv(c, n):
        b = b""
        while len(b) < n:
            part = c.recv(n - len(b))
            if not part:
                raise EOFError
            b += part
        return b

    def _serve(self, c):
        try:
            while not self.stopping:
                tid, proto, length, unit = struct.unpack(">HHHB", self._recv(c, 7))
                if length < 2 or length > 260:
                    return
                pdu = self._recv(c, length - 1)
                with self.cond:
                    reply = self._answer(pdu)
                    if self.silent or reply == b"drop":
                        self.dropped += 1
                        reply = None
                    self.cond.notify_all()
                if reply is not None:
                    c.sendall(struct.pack(">HHHB", tid, proto, len(reply) + 1, unit) + reply)
        except (EOFError, OSError):
            pass

    def _answer(self, pdu):
        fc = pdu[0]
        if fc == 3 and len(pdu) == 5:
            addr, count = struct.unpack(">HH", pdu[1:5])
            words = [self.regs.get(addr + i, 0) for i in range(count)]
            return bytes([3, 2 * count]) + b"".join(struct.pack(">H", w) for w in words)
        if fc in (6, 16) and len(pdu) >= 5:
            addr = struct.unpack(">H", pdu[1:3])[0]
            how = self.fail.get(addr)
            if how == "drop":
                self.writes.append((addr, None))
                return b"drop"
            if how == "exception":
                self.writes.append((addr, None))
                return bytes([fc | 0x80, 4])
        if fc == 6 and len(pdu) == 5:
            addr, value = struct.unpack(">HH", pdu[1:5])
            self.writes.append((addr, [value]))
            if not self.silent:
                self.regs[addr] = value
            return pdu
        if fc == 16 and len(pdu) >= 6:
            addr, count = struct.unpack(">HH", pdu[1:5])
            words = list(struct.unpack(">%dH" % count, pdu[6:6 + 2 * count]))
            self.writes.append((addr, words))
            if not self.silent:
                for i, w in enumerate(words):
                    self.regs[addr + i] = w
            return pdu[:5]
        return bytes([fc | 0x80, 1])  # illegal function
