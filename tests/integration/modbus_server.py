#!/usr/bin/python3
"""A Modbus TCP (or RTU) server for the integration tests, on Debian's pymodbus
(3.0 in Debian 12, 3.8 in Debian 13; both work).

  modbus_server.py --port P [--units 1,2] [--size N] [--values FILE]
  modbus_server.py --serial /dev/pts/N [--units 1,2] ...

FILE is JSON: {"hr": {"addr": [words...]}, "ir": {...}, "co": {...}, "di": {...}};
every unit gets the same tables of --size entries from address 0. Reads past
--size answer with exception 2 (illegal data address).

Over TCP, --port 0 takes any free port. "ready PORT" on stdout says the port
is listening and which it is: tests wait for that line instead of probing
the port. A port it cannot bind ends the process with exit code 2 and the
reason on stderr. The socket has SO_REUSEADDR, so a port the test holds (a
bound socket that does not listen, see harness.PortReservation) can be
served.
"""

import argparse
import asyncio
import json
import logging
import socket
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext


def block(spec, size):
    vals = [0] * size
    for addr, words in (spec or {}).items():
        for i, w in enumerate(words):
            if int(addr) + i < size:  # beyond size: left out, so reads get exception 2
                vals[int(addr) + i] = w
    # pymodbus adds 1 to every request's address before looking in a block
    # (3.0 unless zero_mode, which 3.8 no longer has): the block starts at 1
    # so request address 0 is vals[0] in both.
    return ModbusSequentialDataBlock(1, vals)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--serial")
    ap.add_argument("--units", default="1")
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--values")
    a = ap.parse_args()
    if a.port is None and not a.serial:
        ap.error("--port or --serial is needed")
    logging.basicConfig(level=logging.CRITICAL)
    spec = {}
    if a.values:
        with open(a.values) as f:
            spec = json.load(f)
    slaves = {}
    for u in a.units.split(","):
        slaves[int(u)] = ModbusSlaveContext(
            di=block(spec.get("di"), a.size), co=block(spec.get("co"), a.size),
            hr=block(spec.get("hr"), a.size), ir=block(spec.get("ir"), a.size))
    ctx = ModbusServerContext(slaves=slaves, single=False)
    if a.serial:
        from pymodbus.server import StartSerialServer
        try:
            from pymodbus import FramerType   # 3.7 and later
            framer = FramerType.RTU
        except ImportError:
            from pymodbus.transaction import ModbusRtuFramer
            framer = ModbusRtuFramer
        StartSerialServer(context=ctx, framer=framer, port=a.serial, baudrate=9600, timeout=0.01)
    else:
        sys.exit(asyncio.run(serve_tcp(ctx, a.port)))


def listen(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(16)
    except OSError:
        s.close()
        raise
    s.setblocking(False)
    return s


async def serve_tcp(ctx, port):
    try:
        sock = listen(port)
    except OSError as e:
        print("modbus_server: cannot listen on 127.0.0.1:%d: %s" % (port, e), file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    try:
        from pymodbus.server import ModbusTcpServer   # 3.8
    except ImportError:
        from pymodbus.server.async_io import ModbusTcpServer   # 3.0
    # pymodbus binds its own socket, with arguments that differ between its
    # versions; both call the loop's create_server, so it is handed the
    # socket bound above instead (the port is then known before pymodbus
    # starts, and a bind error is reported here, once).
    loop = asyncio.get_running_loop()
    create_server = loop.create_server
    listening = asyncio.Event()

    async def create_on_sock(factory, *args, **kw):
        for k in ("host", "port", "reuse_address", "reuse_port", "backlog"):
            kw.pop(k, None)
        server = await create_server(factory, sock=sock, **kw)
        listening.set()
        return server
    loop.create_server = create_on_sock
    server = ModbusTcpServer(ctx, address=("127.0.0.1", port))
    task = asyncio.create_task(server.serve_forever())
    waiter = asyncio.create_task(listening.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if not listening.is_set():
        exc = task.exception() if task.done() else None
        print("modbus_server: pymodbus did not start serving on 127.0.0.1:%d: %s" % (port, exc),
              file=sys.stderr)
        return 2
    print("ready %d" % port, flush=True)
    await task
    return 0


if __name__ == "__main__":
    main()
