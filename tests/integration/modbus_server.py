#!/usr/bin/python3
"""A Modbus TCP (or RTU) server for the integration tests, on Debian's pymodbus.

  modbus_server.py --port P [--units 1,2] [--size N] [--values FILE]
  modbus_server.py --serial /dev/pts/N [--units 1,2] ...

FILE is JSON: {"hr": {"addr": [words...]}, "ir": {...}, "co": {...}, "di": {...}};
every unit gets the same tables of --size entries from address 0. Reads past
--size answer with exception 2 (illegal data address).

Over TCP, "ready" on stdout says the port is listening: tests wait for that
line instead of probing the port. A port it cannot bind ends the process
with exit code 2 and the reason on stderr.
"""

import argparse
import asyncio
import json
import logging
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext


def block(spec, size):
    vals = [0] * size
    for addr, words in (spec or {}).items():
        for i, w in enumerate(words):
            if int(addr) + i < size:  # beyond size: left out, so reads get exception 2
                vals[int(addr) + i] = w
    return ModbusSequentialDataBlock(0, vals)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--serial")
    ap.add_argument("--units", default="1")
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--values")
    a = ap.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    spec = {}
    if a.values:
        with open(a.values) as f:
            spec = json.load(f)
    slaves = {}
    for u in a.units.split(","):
        slaves[int(u)] = ModbusSlaveContext(
            di=block(spec.get("di"), a.size), co=block(spec.get("co"), a.size),
            hr=block(spec.get("hr"), a.size), ir=block(spec.get("ir"), a.size), zero_mode=True)
    ctx = ModbusServerContext(slaves=slaves, single=False)
    if a.serial:
        from pymodbus.server import StartSerialServer
        from pymodbus.transaction import ModbusRtuFramer
        StartSerialServer(context=ctx, framer=ModbusRtuFramer, port=a.serial, baudrate=9600,
                          timeout=0.01)
    else:
        sys.exit(asyncio.run(serve_tcp(ctx, a.port)))


async def serve_tcp(ctx, port):
    from pymodbus.server.async_io import ModbusTcpServer
    # Reuse: the port of a server stopped a moment ago still has connections
    # in TIME_WAIT, which would make the bind fail.
    server = ModbusTcpServer(ctx, address=("127.0.0.1", port), allow_reuse_address=True)
    task = asyncio.create_task(server.serve_forever())
    await asyncio.wait({task, server.serving}, return_when=asyncio.FIRST_COMPLETED)
    if not server.serving.done():
        exc = task.exception()
        print("modbus_server: cannot listen on 127.0.0.1:%d: %s" % (port, exc), file=sys.stderr)
        return 2
    print("ready", flush=True)
    await task
    return 0


if __name__ == "__main__":
    main()
