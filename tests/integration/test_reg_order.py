"""The order of a client's registrations with several servers (LwM2M 1.1.1
Core 6.2.1.1): /1/x/13 Registration Priority Order, /1/x/14 Initial
Registration Delay Timer and /1/x/15 Registration Failure Block, as a
bootstrap server (bs_server.py) writes them, against two test servers."""

import re

from bs_server import BsServer
from harness import Gateway, TestServer
from test_bootstrap import EP, _conf, _provision, _silent_port


def _accounts(first, second):
    """Two accounts: /1/1 (ssid 101) on first's URI, /1/2 (ssid 102) on
    second's, each (uri, {extra /1 resources})."""
    out = []
    for iid, (uri, extra) in ((1, first), (2, second)):
        srv = {0: 100 + iid, 1: 60, 6: True, 7: "U"}
        srv.update(extra)
        out += [("/0/%d" % iid, {0: uri, 1: False, 2: 3, 10: 100 + iid}), ("/1/%d" % iid, srv)]
    return out


def test_priority_order_and_initial_delay(tmp):
    """/1/2 has the lower /1/x/13: its server is registered with first
    (though /1/1 comes first in instance order); /1/1's turn comes when it
    is registered, and /1/1/14 delays that Register by 1 s."""
    with TestServer() as a, TestServer() as b, BsServer() as bs:
        bs.script = lambda s, ep: _provision(s, ep, _accounts((a.uri, {13: 5, 14: 1}), (b.uri, {13: 1})))
        # with two servers Access Control applies: B (102) may execute Reboot
        with Gateway(tmp, _conf(bs, extra_dev="bootstrap = true; access_owner = 102;")) as gw:
            seen = bs.wait_result(EP)
            assert seen["finish"][0] == "2.04", seen
            rb = b.wait_register(EP)
            gw.wait_log(r"%s: registering with %s in 1 s \(/1/1/14 Initial Registration Delay Timer\)"
                        % (EP, re.escape(a.uri)))
            ra = a.wait_register(EP)
            assert ra["ts"] - rb["ts"] >= 0.9, (rb["ts"], ra["ts"])
            # after a bootstrap only: a Reboot (registering again from
            # scratch) keeps the order, not the delay
            mark = gw.mark()
            r = b.request("execute", ep=EP, path="/3/0/4")
            assert r["code"] == "2.04", r
            rb2 = b.wait_register(EP)
            ra2 = a.wait_register(EP)
            assert ra2["ts"] >= rb2["ts"], (rb2, ra2)
            assert not gw.has_log(r"Initial Registration Delay", since=mark), gw.log_tail()


def test_registration_failure_block(tmp):
    """The first server in order never answers: with /1/x/15 true the
    second waits (through the first's retries); with it false (the
    default) the second registers at once."""
    silent = _silent_port()
    dead = "coap://127.0.0.1:%d" % silent.getsockname()[1]
    try:
        with TestServer() as a, BsServer() as bs:
            bs.script = lambda s, ep: _provision(s, ep, _accounts((dead, {13: 1, 15: True}), (a.uri, {13: 2})))
            with Gateway(tmp, _conf(bs)) as gw:
                gw.wait_log(r"%s: registration with %s failed; the servers after it in /1/x/13 order wait until "
                            r"it succeeds \(/1/1/15 Registration Failure Block\)" % (EP, re.escape(dead)))
                # the first server's retries come and go; the second is never tried
                probe = r"server %s unreachable for \d+ s \(\d+ clients? waiting\); next try in" % re.escape(dead)
                gw.wait_log(probe, timeout=20)
                since = gw.mark()
                gw.wait_log(probe, timeout=20, since=since)
                assert not [e for e in list(a.events) if e.get("event") == "register"], list(a.events)
                assert not gw.has_log(r"registered with %s" % re.escape(a.uri)), gw.log_tail()
        with TestServer() as a, BsServer() as bs:
            bs.script = lambda s, ep: _provision(s, ep, _accounts((dead, {13: 1, 15: False}), (a.uri, {13: 2})))
            # a state of its own: the first run's provisioning is persisted
            with Gateway(tmp, _conf(bs).replace("@TMP@/state", "@TMP@/state2")) as gw:
                a.wait_register(EP, timeout=20)
                assert not gw.has_log(r"Registration Failure Block"), gw.log_tail()
    finally:
        silent.close()
