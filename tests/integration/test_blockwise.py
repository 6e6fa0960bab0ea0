"""Block-wise transfers (RFC 7959) between a raw-UDP LwM2M server and the
gateway's virtual clients: Block1 request bodies (Write, Write-Composite,
Create) in every shape a server may send them, Block2 Reads and
notifications, and a Register too long for one datagram.

The server is tests/integration/raw_lwm2m.py: CoAP built by hand, no CoAP
library, nothing shared with the gateway. It registers the clients and
then speaks to each from the address it registered with.
"""

import json

import configs
from harness import Gateway, TestServer, decode_senml_json
from raw_lwm2m import (CON, NON, BLOCK1, BLOCK2, CONTENT_FORMAT, FETCH, GET, IPATCH, LOCATION_PATH, OBSERVE, POST, PUT,
                       SIZE1, SIZE2, RawServer, block_parse, block_value, code_str, opt_uint, opts)

EP = "blk-1"
TEXT, SENML_JSON = 0, 110
APP = "/3303/0/5750"      # Application Type, a writable String
APP2 = "/3304/0/5750"


def _conf(extra=""):
    res = '{ path = "/3304/0/5750"; value = "humid"; }'
    if extra:
        res += ", " + extra
    return configs.gateway([configs.device(EP, res)], server="@SERVER_URI@")


def _start(tmp, srv, extra=""):
    gw = Gateway(tmp, _conf(extra), server=srv.uri).start()
    srv.wait_register(EP)
    # the client's own view: it took the 2.01 (its log line comes after the
    # server's answer, so a later mark must not see it)
    gw.wait_log(r"%s: registered with" % EP)
    return gw


def _c(r):
    return code_str(r["code"])


def _read_text(srv, path):
    """Reads path (Block2 as the gateway offers it); the whole value."""
    out, num = b"", 0
    while True:
        o = [(BLOCK2, block_value(num, False, 6))] if num else []
        r = srv.request(EP, GET, path, o)
        assert _c(r) == "2.05", (path, _c(r), r["payload"])
        out += r["payload"]
        b2 = opts(r, BLOCK2)
        if not b2 or not block_parse(b2[0])[1]:
            return out.decode()
        num = block_parse(b2[0])[0] + 1
        assert num < 1000


def _blocks(data, szx):
    size = 16 << szx
    n = max(1, (len(data) + size - 1) // size)
    return [(i, i < n - 1, data[i * size:(i + 1) * size]) for i in range(n)]


def _send_block(srv, method, path, num, more, szx, chunk, cf=TEXT, size1=None, ep=EP):
    o = [(CONTENT_FORMAT, cf), (BLOCK1, block_value(num, more, szx))]
    if size1 is not None:
        o.append((SIZE1, size1))
    return srv.request(ep, method, path, o, chunk)  # a new token for every block


def _transfer(srv, method, path, data, szx, cf=TEXT, size1=None, ep=EP):
    """Every block of data in order; asserts 2.31 with Block1 echoed on each
    block but the last; returns the last response."""
    for num, more, chunk in _blocks(data, szx):
        r = _send_block(srv, method, path, num, more, szx, chunk, cf,
                        len(data) if size1 else None, ep)
        if more:
            assert _c(r) == "2.31", (num, _c(r), r["payload"])
            assert block_parse(opts(r, BLOCK1)[0]) == (num, True, szx)
    return r


def _final_ok(r, num, szx, want="2.04"):
    assert _c(r) == want, (_c(r), r["payload"])
    assert block_parse(opts(r, BLOCK1)[0]) == (num, False, szx), opts(r, BLOCK1)


def test_block1_write_twice_without_size1(tmp):
    """The reported crash: two ordinary two-block Writes without Size1. Each
    block but the last is answered 2.31, the whole value is stored, and
    the second transfer neither crashes the daemon nor mixes with the
    first."""
    with RawServer() as srv:
        gw = _start(tmp, srv)
        first = "A" * 64 + "first-tail"
        _final_ok(_transfer(srv, PUT, APP, first.encode(), 2), 1, 2)
        assert _read_text(srv, APP) == first
        second = "B" * 64 + "second-value-tail"
        _final_ok(_transfer(srv, PUT, APP, second.encode(), 2), 1, 2)
        assert _read_text(srv, APP) == second
        assert gw.proc.poll() is None, gw.log_tail()
        # a body left unfinished at exit is freed (GW_WRAP=valgrind: no leak)
        assert _c(_send_block(srv, PUT, APP, 0, True, 2, b"u" * 64)) == "2.31"
        assert gw.stop() == 0, gw.log_tail()


def test_block1_write_with_size1_in_1024_byte_blocks(tmp):
    with RawServer() as srv:
        _start(tmp, srv)
        value = "".join(chr(ord("a") + i % 26) for i in range(2500))
        _final_ok(_transfer(srv, PUT, APP, value.encode(), 6, size1=True), 2, 6)
        assert _read_text(srv, APP) == value


def test_block1_out_of_order_block_is_4_08_and_changes_nothing(tmp):
    with RawServer() as srv:
        _start(tmp, srv)
        r = _send_block(srv, PUT, APP, 0, True, 1, b"x" * 32)
        assert _c(r) == "2.31"
        r = _send_block(srv, PUT, APP, 2, False, 1, b"late")  # block 1 skipped
        assert _c(r) == "4.08", (_c(r), r["payload"])
        assert not opts(r, BLOCK1)
        # the transfer is gone: block 1 now has nothing to continue
        r = _send_block(srv, PUT, APP, 1, False, 1, b"y")
        assert _c(r) == "4.08"
        assert _read_text(srv, APP) == "boiler"


def test_block1_missing_first_block_is_4_08(tmp):
    with RawServer() as srv:
        _start(tmp, srv)
        r = _send_block(srv, PUT, APP, 1, False, 2, b"tail only")
        assert _c(r) == "4.08", (_c(r), r["payload"])
        assert _read_text(srv, APP) == "boiler"


def test_block1_retransmitted_block_is_answered_again(tmp):
    with RawServer() as srv:
        _start(tmp, srv)
        assert _c(_send_block(srv, PUT, APP, 0, True, 0, b"0123456789abcdef")) == "2.31"
        assert _c(_send_block(srv, PUT, APP, 1, True, 0, b"ghijklmnopqrstuv")) == "2.31"
        r = _send_block(srv, PUT, APP, 1, True, 0, b"ghijklmnopqrstuv")  # duplicate
        assert _c(r) == "2.31" and block_parse(opts(r, BLOCK1)[0]) == (1, True, 0)
        _final_ok(_send_block(srv, PUT, APP, 2, False, 0, b"end"), 2, 0)
        assert _read_text(srv, APP) == "0123456789abcdefghijklmnopqrstuvend"


def test_block1_block_size_change_mid_transfer(tmp):
    """RFC 7959 2.3: the client may go on in smaller blocks; what counts is
    the offset (block 0 of 64 bytes, then blocks 4.. of 16 bytes)."""
    with RawServer() as srv:
        _start(tmp, srv)
        assert _c(_send_block(srv, PUT, APP, 0, True, 2, b"a" * 64)) == "2.31"
        assert _c(_send_block(srv, PUT, APP, 4, True, 0, b"b" * 16)) == "2.31"
        _final_ok(_send_block(srv, PUT, APP, 5, False, 0, b"c" * 5), 5, 0)
        assert _read_text(srv, APP) == "a" * 64 + "b" * 16 + "c" * 5


def test_block1_wrong_size_block_is_4_00(tmp):
    with RawServer() as srv:
        _start(tmp, srv)
        r = _send_block(srv, PUT, APP, 0, True, 2, b"short")  # not 64 bytes
        assert _c(r) == "4.00", (_c(r), r["payload"])
        r = srv.request(EP, PUT, APP, [(CONTENT_FORMAT, TEXT), (BLOCK1, 0x0F)], b"bert")
        assert _c(r) == "4.00"  # SZX 7 (BERT) is for TCP only
        assert _read_text(srv, APP) == "boiler"


def test_block1_oversize_body_is_4_13_with_size1(tmp):
    with RawServer() as srv:
        gw = _start(tmp, srv)
        # announced too large in Size1: refused at once
        r = _send_block(srv, PUT, APP, 0, True, 6, b"z" * 1024, size1=10 ** 6)
        assert _c(r) == "4.13", (_c(r), r["payload"])
        limit = opt_uint(r, SIZE1)
        assert limit == 65536, limit
        # no Size1: refused when the body passes the limit
        codes = []
        for num in range(limit // 1024 + 1):
            r = _send_block(srv, PUT, APP, num, True, 6, b"z" * 1024)
            codes.append(_c(r))
            if codes[-1] != "2.31":
                break
        assert codes[:-1] == ["2.31"] * (limit // 1024) and codes[-1] == "4.13", codes
        assert opt_uint(r, SIZE1) == limit
        assert _read_text(srv, APP) == "boiler"
        assert gw.proc.poll() is None


def test_block1_interleaved_transfers(tmp):
    """Two bodies at once to two resources, each block with its own token:
    blocks belong to a body by path, never by token (RFC 7959 2.4)."""
    with RawServer() as srv:
        _start(tmp, srv)
        a, b = b"A" * 32 + b"-a-end", b"B" * 32 + b"-b-end"
        assert _c(_send_block(srv, PUT, APP, 0, True, 1, a[:32])) == "2.31"
        assert _c(_send_block(srv, PUT, APP2, 0, True, 1, b[:32])) == "2.31"
        _final_ok(_send_block(srv, PUT, APP, 1, False, 1, a[32:]), 1, 1)
        _final_ok(_send_block(srv, PUT, APP2, 1, False, 1, b[32:]), 1, 1)
        assert _read_text(srv, APP) == a.decode()
        assert _read_text(srv, APP2) == b.decode()


def test_block1_write_composite(tmp):
    with RawServer() as srv:
        _start(tmp, srv)
        value = "composite-" + "x" * 150
        body = json.dumps([{"n": APP, "vs": value}, {"n": APP2, "vs": "two"}]).encode()
        r = _transfer(srv, IPATCH, "/", body, 2, cf=SENML_JSON)
        _final_ok(r, (len(body) - 1) // 64, 2)
        assert _read_text(srv, APP) == value
        assert _read_text(srv, APP2) == "two"


def test_block1_read_composite(tmp):
    """A Read-Composite (FETCH) whose list of paths comes block-wise: the
    answer to the last block is the read, with Block1 echoed."""
    with RawServer() as srv:
        _start(tmp, srv)
        body = json.dumps([{"n": APP}, {"n": APP2}, {"n": "/3303/0/5700"}]).encode()
        r = _transfer(srv, FETCH, "/", body, 0, cf=SENML_JSON)
        _final_ok(r, (len(body) - 1) // 16, 0, want="2.05")
        got = dict(decode_senml_json(r["payload"]))
        assert got == {APP: "boiler", APP2: "humid", "/3303/0/5700": 21.5}, got


def test_block1_create(tmp):
    with RawServer() as srv:
        _start(tmp, srv)
        value = "created-" + "y" * 120
        body = json.dumps([{"bn": "/3303/7/", "n": "5700", "v": 19.5},
                           {"n": "5750", "vs": value}]).encode()
        r = _transfer(srv, POST, "/3303", body, 1, cf=SENML_JSON)
        _final_ok(r, (len(body) - 1) // 32, 1, want="2.01")
        assert [v.decode() for v in opts(r, LOCATION_PATH)] == ["3303", "7"]
        assert _read_text(srv, "/3303/7/5750") == value


def test_block2_read_with_early_smaller_size(tmp):
    """The server asks for 32-byte blocks in its first request (RFC 7959
    2.4, early negotiation) and fetches the rest at that size."""
    value = "".join(chr(ord("A") + i % 26) for i in range(300))
    extra = '{ path = "/3303/1/5750"; value = "%s"; }, { path = "/3303/1/5700"; value = 1.0; }' % value
    with RawServer() as srv:
        _start(tmp, srv, extra)
        out, num = b"", 0
        while True:
            r = srv.request(EP, GET, "/3303/1/5750", [(BLOCK2, block_value(num, False, 1))])
            assert _c(r) == "2.05", (_c(r), r["payload"])
            n, more, szx = block_parse(opts(r, BLOCK2)[0])
            assert (n, szx) == (num, 1)
            if num == 0:
                assert opt_uint(r, SIZE2) == len(value)
            assert len(r["payload"]) == (32 if more else len(value) - 32 * num)
            out += r["payload"]
            if not more:
                break
            num += 1
            assert num < 20
        assert out.decode() == value
        r = srv.request(EP, GET, "/3303/1/5750", [(BLOCK2, block_value(99, False, 1))])
        assert _c(r) == "4.02"  # no such block


def test_observe_notification_goes_block_wise(tmp):
    """An observed value grows past one datagram (written block-wise): the
    notification carries its first block and the server fetches the rest
    with Block2 (RFC 7959 2.6)."""
    with RawServer() as srv:
        _start(tmp, srv)
        tok = srv.new_token()
        r = srv.request(EP, GET, APP, [(OBSERVE, 0)], token=tok)
        assert _c(r) == "2.05" and opt_uint(r, OBSERVE) is not None
        since = len(srv.notifications)
        value = "N" * 1500 + "-end"
        _final_ok(_transfer(srv, PUT, APP, value.encode(), 6), 1, 6)
        n = srv.wait_notification(tok, since)
        num, more, szx = block_parse(opts(n, BLOCK2)[0])
        assert num == 0 and more, (num, more)
        out = n["payload"]
        while more:
            r = srv.request(EP, GET, APP, [(BLOCK2, block_value(num + 1, False, szx))])
            assert _c(r) == "2.05"
            num, more, _ = block_parse(opts(r, BLOCK2)[0])
            out += r["payload"]
        assert out.decode() == value


def _many_instances(n):
    return ", ".join('{ path = "/3303/%d/5700"; value = %d.5; }' % (i, i) for i in range(1, n))


def test_large_register_goes_block_wise(tmp):
    """A Register too long for one datagram goes in Block1 blocks with
    Size1, each with a new token; the server asks for 256-byte blocks in
    its first 2.31 and gets them."""
    with RawServer(register_szx=4) as srv:
        gw = Gateway(tmp, _conf(_many_instances(150)), server=srv.uri).start()
        ep, query, links, reqs = srv.wait_register(EP)
        assert len(reqs) > 2, len(reqs)
        assert query["ep"] == EP and query["lwm2m"] == "1.1"
        first = block_parse(opts(reqs[0], BLOCK1)[0])
        assert first[0] == 0 and first[1] and first[2] > 4, first
        assert all(block_parse(opts(q, BLOCK1)[0])[2] == 4 for q in reqs[1:])
        assert all(opt_uint(q, SIZE1) == len(links) for q in reqs)
        assert len({q["token"] for q in reqs}) == len(reqs)
        text = links.decode()
        assert text.startswith('</>;rt="oma.lwm2m"') and "</3303/149>" in text, text[-80:]
        # registered: it answers requests
        assert _read_text(srv, "/3303/149/5700") == "149.5"
        assert gw.stop() == 0, gw.log_tail()


def test_large_register_with_libcoap_server(tmp):
    """The same long Register against tests/server (libcoap's own Block1
    reassembly, fed Size1)."""
    with TestServer() as srv:
        with Gateway(tmp, _conf(_many_instances(150)), server=srv):
            ev = srv.wait_register(EP)
            assert "</3303/149>" in ev["links"], ev["links"][-80:]


def test_block1_write_to_a_device_that_answers_later(tmp):
    """A Write whose body came block-wise to a value a Modbus device holds:
    the gateway answers the last block later (libcoap's async, a separate
    response), from the body it assembled, echoing Block1; the register
    gets the value."""
    from harness import ModbusServer
    import struct
    from test_modbus import modbus_conf
    regs = ['{ field = "setpoint"; table = "holding"; address = 10; type = "s32"; scale = 0.01; '
            'interval = 0.3; writable = true; path = "/3308/0/5900"; }']
    with ModbusServer(tmp, {"hr": {"10": [0, 1850]}}) as mb, RawServer() as srv:
        conf = modbus_conf(mb.port, regs).replace('"@SERVER_URI@"', '"%s"' % srv.uri)
        gw = Gateway(tmp, conf, server=srv.uri).start()
        srv.wait_register("mb-1")
        body = json.dumps([{"n": "/3308/0/5900", "v": -21.37}]).encode().ljust(40)
        r = _transfer(srv, PUT, "/3308/0/5900", body, 0, cf=SENML_JSON, ep="mb-1")
        _final_ok(r, 2, 0)
        assert r["type"] == CON, r  # a separate response: it waited for the device
        from pymodbus.client import ModbusTcpClient
        c = ModbusTcpClient("127.0.0.1", port=mb.port)
        c.connect()
        try:
            got = c.read_holding_registers(10, count=2, slave=1).registers
        finally:
            c.close()
        assert struct.unpack(">i", struct.pack(">HH", *got))[0] == -2137, got
        assert gw.stop() == 0, gw.log_tail()


def test_reset_of_a_non_notification_is_not_a_registration_failure(tmp):
    """libcoap 4.3.2 and later (Debian 13's 4.3.4) report the Reset of a NON
    notification to the NACK handler without the message (4.3.1 only logs
    it). Either way it
    cancels that observation and nothing else: an Update in flight at that
    moment is not taken for a failed registration."""
    with RawServer() as srv:
        gw = _start(tmp, srv)
        tok = srv.new_token()
        assert _c(srv.request(EP, GET, APP, [(OBSERVE, 0)], token=tok)) == "2.05"
        since = len(srv.notifications)
        assert _c(srv.request(EP, PUT, APP, [(CONTENT_FORMAT, TEXT)], b"changed")) == "2.04"
        n = srv.wait_notification(tok, since)
        assert n["type"] == NON, n
        srv.hold_updates = True
        assert _c(srv.request(EP, PUT, "/1/0/1", [(CONTENT_FORMAT, TEXT)], b"120")) == "2.04"
        srv.wait(lambda: srv.held, what="the Update")
        mark = gw.mark()
        registers = len(srv.registers)
        srv.send_rst(EP, n["mid"])
        gw.wait_log(r"%s: .*cancelled by a Reset" % EP, since=mark)
        srv.release_updates()
        assert _read_text(srv, APP) == "changed"
        assert not gw.has_log(r"%s: registration with .* failed" % EP, since=mark), gw.log_tail()
        assert len(srv.registers) == registers, srv.registers[registers:]
        assert not gw.has_log(r"%s: registered with" % EP, since=mark), gw.log_tail()
