#!/usr/bin/python3
"""A Modbus TCP (or RTU) server for the integration tests, on Debian's pymodbus.

  modbus_server.py --port P [--units 1,2] [--size N] [--values FILE]
  modbus_server.py --serial /dev/pts/N [--units 1,2] ...

FILE is JSON: {"hr": {"addr": [words...]}, "ir": {...}, "co": {...}, "di": {...}};
every unit gets the same tables of --size entries from address 0. Reads past
--size answer with exception 2 (illegal data address).
"""

import argparse
import json
import logging

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
        from pymodbus.server import StartTcpServer
        StartTcpServer(context=ctx, address=("127.0.0.1", a.port))


if __name__ == "__main__":
    main()
