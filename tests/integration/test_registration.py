"""Registration interface: Register / Update / De-register against the
independent test server (tests/server), and the daemon's lifecycle."""

import re
import signal
import time

import configs
from harness import Gateway, TestServer, parse_link_format, reserve_port


def _links(ev):
    return {uri: attrs for uri, attrs in parse_link_format(ev["links"])}


def test_register_query_and_links(tmp):
    with TestServer() as srv:
        conf = configs.gateway([configs.device("dev-a"), configs.device("dev-b")], lifetime=90)
        with Gateway(tmp, conf, server=srv):
            for ep in ("test-gw", "dev-a", "dev-b"):
                ev = srv.wait_register(ep)
                assert ev["query"]["ep"] == ep
                assert ev["query"]["lt"] == "90"
                assert ev["query"]["lwm2m"] == "1.1"
                assert ev["query"]["b"] == "U"
                assert ev["cf"] == 40
                links = _links(ev)
                # TLV, the default preferred format, is said by leaving ct
                # out: Wakaama answers 4.00 to a root link with ct=11542
                assert links["/"] == {"rt": "oma.lwm2m"}, links
                assert "/1/0" in links and "/3/0" in links
                # Server and Device are LwM2M 1.1's versions, the enabler's
                # defaults: no ver (the registry's 1.2 would need LwM2M 1.2
                # for Server)
                assert "/1" not in links and "/3" not in links, links
                assert not any(u.startswith("/0") for u in links), "Security object must not be listed"
                if ep != "test-gw":
                    assert "/3303/0" in links and "/3304/0" in links
                    assert links["/3303"] == {"ver": "1.1"}
                    assert ev["links"] == ('</>;rt="oma.lwm2m",</1/0>,</3/0>,</3303>;ver=1.1,</3303/0>,'
                                           '</3304>;ver=1.1,</3304/0>'), ev["links"]


def test_preferred_content_format_per_server(tmp):
    """content_format names the server's preferred format in Register
    (ct) and is the format of Reads of several values without Accept."""
    with TestServer() as srv:
        conf = configs.gateway([configs.device("dev-a")], security='content_format = "senml-cbor";')
        with Gateway(tmp, conf, server=srv):
            links = _links(srv.wait_register("dev-a"))
            assert links["/"] == {"rt": "oma.lwm2m", "ct": "112"}, links
            r = srv.read("dev-a", "/3303/0")
            assert r["code"] == "2.05" and r["cf"] == 112, r
            assert srv.read("dev-a", "/3303/0/5700")["cf"] == 0  # one value: plain text
    with TestServer() as srv:
        with Gateway(tmp, configs.gateway([configs.device("dev-a")]), server=srv):
            srv.wait_register("dev-a")
            assert srv.read("dev-a", "/3303/0")["cf"] == 11542


def test_update_sent_before_lifetime_ends(tmp):
    with TestServer() as srv:
        conf = configs.gateway([configs.device("dev-a")], lifetime=4)
        with Gateway(tmp, conf, server=srv):
            reg = srv.wait_register("dev-a")
            upd = srv.wait_update("dev-a", timeout=10)
            assert upd["id"] == reg["id"]
            # the server's own clock: the Update came before the lifetime ran out
            assert upd["ts"] - reg["ts"] < 4.0, upd["ts"] - reg["ts"]
            assert upd["ts"] - reg["ts"] > 1.0
            srv.wait_update("dev-a", timeout=10)


def test_forgotten_registration_registers_again(tmp):
    with TestServer() as srv:
        conf = configs.gateway([configs.device("dev-a")], lifetime=3)
        with Gateway(tmp, conf, server=srv) as gw:
            srv.wait_register("dev-a")
            srv.request("forget", ep="dev-a")
            ev = srv.wait_register("dev-a", timeout=15)
            assert "/3303/0" in _links(ev)
            gw.wait_log(r"dev-a: .*4\.04 on Update.*registering again")


def test_restarted_server_is_registered_with_again(tmp):
    port = reserve_port("udp")  # the restarted server's address stays free for it
    srv = TestServer(port=port).start()
    conf = configs.gateway([configs.device("dev-a")], lifetime=3)
    with Gateway(tmp, conf, server=srv.uri) as gw:
        srv.wait_register("dev-a")
        srv.stop()
        with TestServer(port=port) as srv2:
            assert srv2.port == port
            srv2.wait_register("dev-a", timeout=40)
            srv2.wait_register("test-gw", timeout=40)
        assert gw.proc.poll() is None, "the gateway must not exit when its server goes away"


def test_unreachable_server_retries_with_backoff(tmp):
    # reserved: nothing answers there (ICMP port unreachable) until the
    # test server starts on it
    port = reserve_port("udp")
    conf = configs.gateway([configs.device("dev-%d" % i) for i in range(5)], lifetime=60)
    with Gateway(tmp, conf, server="coap://127.0.0.1:%d" % port) as gw:
        # one line for the whole fleet, not one per client
        gw.wait_log(r"server coap://127\.0\.0\.1:%d unreachable \(.*\): 6 clients keeping" % port, timeout=30)
        # one probe at a time, the interval following the outage's length
        # (at least 2 s -20 %, a fifteenth of the outage +20 %)
        rx = re.compile(r"server .* unreachable for (\d+) s \(6 clients waiting\); next try in ([0-9.]+) s")
        tries = []
        while len(tries) < 3:
            gw.wait_log(rx.pattern, timeout=30, since=len(gw.lines))
            tries = [(int(m.group(1)), float(m.group(2))) for m in map(rx.search, gw.lines) if m]
        for elapsed, delay in tries:
            assert 1.5 <= delay <= max(2.0, elapsed / 15.0) * 1.25 + 0.2, tries
        assert not gw.has_log(r"dev-\d: registration with .* failed"), gw.log_tail()
        with TestServer(port=port) as srv:
            for i in range(5):
                srv.wait_register("dev-%d" % i, timeout=40)
            gw.wait_log(r"server .* back: 6 re-registered", timeout=30)


def test_pacing_limits_registrations_per_second(tmp):
    with TestServer() as srv:
        eps = ["dev-%02d" % i for i in range(12)]
        conf = configs.gateway([configs.device(ep) for ep in eps], rps=4)
        with Gateway(tmp, conf, server=srv):
            regs = [srv.wait_register(ep, timeout=30) for ep in eps + ["test-gw"]]
            times = sorted(r["ts"] for r in regs)
            # token bucket of 4/s: never more than 4 (+1 for a boundary) in any 1 s window
            for i, t in enumerate(times):
                in_window = [x for x in times[i:] if x - t < 1.0]
                assert len(in_window) <= 5, (len(in_window), times)


def test_sigterm_deregisters_every_client_and_exits_0(tmp):
    with TestServer() as srv:
        eps = ["test-gw", "dev-a", "dev-b", "dev-c"]
        conf = configs.gateway([configs.device(ep) for ep in eps[1:]])
        gw = Gateway(tmp, conf, server=srv).start()
        try:
            ids = {ep: srv.wait_register(ep)["id"] for ep in eps}
            gw.signal(signal.SIGTERM)
            for ep in eps:
                assert srv.wait_deregister(ep)["id"] == ids[ep]
            assert gw.wait_exit(30) == 0, gw.log_tail()
        finally:
            gw.stop()


def test_sighup_is_logged_not_fatal(tmp):
    with TestServer() as srv:
        with Gateway(tmp, configs.gateway([configs.device("dev-a")]), server=srv) as gw:
            srv.wait_register("dev-a")
            gw.signal(signal.SIGHUP)
            gw.wait_log(r"SIGHUP")
            assert srv.read("dev-a", "/3303/0/5700")["code"] == "2.05"
