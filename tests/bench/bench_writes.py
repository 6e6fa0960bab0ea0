#!/usr/bin/python3
"""Benchmark: how long another client's Read waits while a Write-Composite
to a silent Modbus unit is pending (issue 10).

  tests/bench/bench_writes.py [BUILD_DIR]

The gateway serves two clients: mb-1, on a Modbus TCP unit (an in-process
MuteUnit) with timeout_ms = 2000, and a static client. The unit answers
until mb-1 has its values, then falls silent; a Write-Composite of two of
its registers is sent, and while it is pending (until its 5.03) the static
client is read again and again, one Read at a time (at most READS). Prints

  BENCH write_stall_ms <ms> ms   the longest Read round trip meanwhile
  BENCH write_stall_reads <n> reads  how many Reads were answered meanwhile
  BENCH read_max_idle_ms <ms> ms  the longest of as many Reads with no write
                                   pending (the machine's own noise)

Target: write_stall_ms under 5 (a Read alone is about 1 ms over loopback).
Before writes took one asynchronous path it was the unit's timeout
(about 2000)."""

import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import configs  # noqa: E402
from harness import Gateway, TestServer  # noqa: E402
from modbus_mute import MuteUnit  # noqa: E402

READS = 500  # bound on the Reads made while one write is pending (and without one)


def log(msg):
    sys.stderr.write("bench_writes: %s\n" % msg)


def conf(port):
    dev = ('{ endpoint = "mb-1"; adapter = "modbus"; bus = "mute"; unit_id = 1;\n'
           '  registers = ( { field = "sp"; table = "holding"; address = 0; type = "s16"; scale = 0.1; '
           'interval = 0.3; writable = true; path = "/3308/0/5900"; },\n'
           '    { field = "sp2"; table = "holding"; address = 1; type = "u16"; '
           'interval = 0.3; writable = true; path = "/3308/1/5900"; } ); }')
    return (configs.gateway([dev, configs.device("other")]) +
            'adapters = { modbus = ( { name = "mute"; type = "tcp"; host = "127.0.0.1"; port = %d; '
            'timeout_ms = 2000; } ); };\n' % port)


def main(argv):
    build = argv[1] if len(argv) > 1 else "build"
    os.environ["GW_BUILD"] = build
    tmp = tempfile.mkdtemp(prefix="gw-bench-writes-")
    with MuteUnit({0: 215, 1: 7}) as unit, TestServer() as srv:
        with Gateway(tmp, conf(unit.port), server=srv):
            srv.wait_register("mb-1")
            srv.wait_register("other")
            # mb-1 has read its registers once they are in a Read's answer
            deadline = time.monotonic() + 20
            while srv.read("mb-1", "/3308/1/5900", accept=0).get("payload_text") != "7":
                if time.monotonic() > deadline:
                    raise RuntimeError("mb-1 never read its registers")
                unit.wait(lambda u: True, 1)
            # the same Reads with no write pending: the machine's own noise
            base = 0.0
            for _ in range(READS):
                t0 = time.monotonic()
                if srv.read("other", "/3303/0/5700", accept=0).get("code") != "2.05":
                    raise RuntimeError("Read failed")
                base = max(base, (time.monotonic() - t0) * 1000.0)
            with unit.cond:
                unit.silent = True
            pack = '[{"n":"/3308/0/5900","v":50},{"n":"/3308/1/5900","v":70}]'
            comp = srv.send_command("raw", ep="mb-1", path="/", method="ipatch", cf=110,
                                    payload_hex=pack.encode().hex(), timeout=20)
            unit.wait(lambda u: len(u.writes) >= 1, 10, "a write frame")
            worst, n = 0.0, 0
            while n < READS:
                if any(e.get("req") == comp and e["event"] != "notify" for e in srv.events):
                    break
                t0 = time.monotonic()
                r = srv.read("other", "/3303/0/5700", accept=0)
                dt = (time.monotonic() - t0) * 1000.0
                if r.get("code") != "2.05":
                    raise RuntimeError("Read failed: %r" % r)
                worst = max(worst, dt)
                n += 1
            r = srv.wait_response(comp)
            log("Write-Composite answered %s after %d Reads" % (r.get("code"), n))
            if r.get("code") != "5.03" or n == 0:
                raise RuntimeError("expected 5.03 after at least one Read, got %r" % r)
    sys.stdout.write("BENCH write_stall_ms %.2f ms\n" % worst)
    sys.stdout.write("BENCH write_stall_reads %d reads\n" % n)
    sys.stdout.write("BENCH read_max_idle_ms %.2f ms\n" % base)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
