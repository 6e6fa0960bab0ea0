"""The request dispatcher's parse stage over the wire (lwm2m/request.c):
Uri-Path options taken one segment each, and a Register answered with a
Location-Path the gateway could not send back. A raw server on 127.0.0.1
(tests/integration/raw_lwm2m.py) sends exactly the options under test."""

import configs
from harness import Gateway
from raw_lwm2m import CONTENT_FORMAT, GET, PUT, URI_PATH, RawServer, code_str, opts

TEXT = 0  # text/plain Content-Format (RFC 7252 12.3)

EP = "req-1"


def _conf():
    res = '{ path = "/3304/0/5750"; value = "humid"; }'
    return configs.gateway([configs.device(EP, res)], server="@SERVER_URI@")


def test_uri_path_options_are_segments(tmp):
    """/3/0 as two options reads the Device; the same bytes in one option
    ("3/0"), an option cut by a NUL ("0\\0x") or five segments are no LwM2M
    path: 4.04, never read as /3/0."""
    with RawServer() as srv:
        gw = Gateway(tmp, _conf(), server=srv.uri).start()
        srv.wait_register(EP)
        ok = srv.request(EP, GET, options=[(URI_PATH, "3"), (URI_PATH, "0")])
        assert code_str(ok["code"]) == "2.05", ok
        for opts in ([(URI_PATH, "3/0")],
                     [(URI_PATH, "3"), (URI_PATH, b"0\x00x")],
                     [(URI_PATH, "3"), (URI_PATH, "0"), (URI_PATH, "0"), (URI_PATH, "0"), (URI_PATH, "0")],
                     [(URI_PATH, "3"), (URI_PATH, "00")]):
            r = srv.request(EP, GET, options=opts)
            assert code_str(r["code"]) == "4.04", (opts, code_str(r["code"]), r["payload"])
        assert gw.proc.poll() is None, gw.log_tail()


def test_location_path_that_cannot_be_sent_back_is_refused(tmp):
    """A 2.01 whose Location-Path names another resource ("..") is refused:
    the gateway says so and registers again after its back-off, instead of
    sending its Updates elsewhere."""
    with RawServer() as srv:
        srv.location = ["rd", ".."]
        gw = Gateway(tmp, _conf(), server=srv.uri).start()
        gw.wait_log(r"Location-Path that cannot be sent back", timeout=10)
        # the next Register (after the back-off) gets a usable location
        srv.location = ["rd", "ok1"]
        gw.wait_log(r"registered with .* at /rd/ok1", timeout=20)
        assert gw.proc.poll() is None, gw.log_tail()


def test_location_path_as_node_coap_sends_it(tmp):
    """node-coap servers (lwm2m-node-lib) send "/rd/5" as one option, so an
    empty segment and one holding '/' arrive: the Update goes to the path
    the server named, one Uri-Path option per piece."""
    with RawServer() as srv:
        srv.location = ["", "rd", "a/b"]
        gw = Gateway(tmp, _conf(), server=srv.uri).start()
        gw.wait_log(r"%s: registered with .* at /rd/a/b" % EP, timeout=10)
        srv.hold_updates = True
        assert code_str(srv.request(EP, PUT, "/1/0/1", [(CONTENT_FORMAT, TEXT)], b"120")["code"]) == "2.04"
        srv.wait(lambda: srv.held, what="the Update")
        u = srv.held[0]
        assert [o.decode() for o in opts(u, URI_PATH)] == ["rd", "a", "b"], opts(u, URI_PATH)
        srv.release_updates()
        assert gw.proc.poll() is None, gw.log_tail()
