"""Bootstrap (LwM2M 1.1.1 Core 5.2, 6.1) against a raw-UDP bootstrap server
(bs_server.py) and the test LwM2M server (tests/server), /0 and /1 as the
client's connection settings, their persistence in state_dir, and /1/x/4
Disable."""

import os
import re
import signal
import socket
import stat

import configs
from bs_server import LINK, SENML_JSON, BsServer, senml
from harness import Gateway, TestServer, decode_senml_json
from raw_lwm2m import DELETE, GET, PUT

EP = "bs-dev"


def _conf(bs, extra_dev="bootstrap = true;", servers="", bs_extra=""):
    return ('gateway = { name = "bs-gw"; state_dir = "@TMP@/state"; };\n'
            '%s'
            'bootstrap_server = { uri = "%s"; %s };\n'
            'devices = ( { endpoint = "%s"; adapter = "static"; %s\n'
            '  resources = ( { path = "/3303/0/5700"; value = 21.5; } ); } );\n'
            % (servers, bs.uri, bs_extra, EP, extra_dev))


def _account(uri, ssid=101, sec_ssid=None, lifetime=60):
    return [
        ("/0/1", {0: uri, 1: False, 2: 3, 10: sec_ssid or ssid}),
        ("/1/1", {0: ssid, 1: lifetime, 6: True, 7: "U"}),
    ]


def _provision(bs, ep, writes):
    """Delete, writes, Discover, Reads, Finish: the codes seen, in order."""
    seen = {"delete": bs.op(ep, DELETE, "/")[0]}
    for path, values in writes:
        seen[path] = bs.op(ep, PUT, path, cf=SENML_JSON, payload=senml(path, values))[0]
    seen["discover"] = bs.op(ep, GET, "/", accept=LINK)
    seen["read1"] = bs.op(ep, GET, "/1", accept=SENML_JSON)
    seen["read0"] = bs.op(ep, GET, "/0/1", accept=SENML_JSON)[0]
    seen["finish"] = bs.finish(ep)
    return seen


def _prov_file(tmp, ep):
    return os.path.join(tmp, "state", "provisioned", ep + ".prov")


def test_client_with_only_a_bootstrap_uri_is_provisioned_and_restarts_from_state(tmp):
    with TestServer() as srv, BsServer() as bs:
        bs.script = lambda b, ep: _provision(b, ep, _account(srv.uri, lifetime=77))
        with Gateway(tmp, _conf(bs)) as gw:
            bs.wait_bs_request(EP)
            seen = bs.wait_result(EP)
            assert seen["delete"] == "2.02" and seen["/0/1"] == "2.04" and seen["/1/1"] == "2.04", seen
            code, links = seen["discover"]
            assert code == "2.05" and links.startswith(b"</>;lwm2m=1.1"), seen
            assert ('</0/1>;ssid=101;uri="%s"' % srv.uri).encode() in links, links
            assert b"</1/1>;ssid=101" in links and b"</3303/0>" in links, links
            code, body = seen["read1"]
            assert code == "2.05" and dict(decode_senml_json(body))["/1/1/1"] == 77, seen
            assert seen["read0"] == "4.01", seen  # the Security object is never read back
            assert seen["finish"][0] == "2.04", seen
            ev = srv.wait_register(EP)
            assert ev["query"]["lt"] == "77", ev
            gw.wait_log(r"bs-dev: provisioned servers persisted")
            # /0 stays out of reach of the management server
            assert srv.read(EP, "/0/1")["code"] == "4.01"
            assert srv.read(EP, "/1/1/1")["payload_text"] == "77"
        f = _prov_file(tmp, EP)
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(f)).st_mode) == 0o700
        n_requests = len(bs.bs_requests)
        with Gateway(tmp, _conf(bs)) as gw:
            gw.wait_log(r"bs-dev: registering from its persisted provisioning")
            srv.wait_register(EP)  # the first run's was taken above: this one's
        assert [r for r in bs.bs_requests[n_requests:] if r[0] == EP] == [], bs.bs_requests


def test_bootstrap_account_has_no_server_instance(tmp):
    """Core E.1/E.2: the bootstrap account is a /0 instance (Bootstrap-Server
    true) with no /1 instance; a management server sees its own accounts
    only, in a Read of /1 and in the Register link list, and never /0."""
    def script(b, ep):
        # no Bootstrap-Delete: the configuration's bootstrap account stays
        disc = b.op(ep, GET, "/", accept=LINK)
        w = [b.op(ep, PUT, path, cf=SENML_JSON, payload=senml(path, vals))[0]
             for path, vals in _account(srv.uri)]
        return disc, w, b.finish(ep)
    with TestServer() as srv, BsServer() as bs:
        bs.script = script
        with Gateway(tmp, _conf(bs)) as gw:
            disc, w, finish = bs.wait_result(EP)
            code, links = disc
            assert code == "2.05" and b"</0/0>" in links, disc
            assert b"</1/" not in links, links  # nothing at /1 before the bootstrap server writes
            assert w == ["2.04", "2.04"] and finish[0] == "2.04", (w, finish)
            ev = srv.wait_register(EP)
            assert "</1/1>" in ev["links"] and "</1/0>" not in ev["links"], ev["links"]
            assert "</0" not in ev["links"], ev["links"]
            r = srv.read(EP, "/1", accept=110)
            assert r["code"] == "2.05", r
            names = [n for n, _ in decode_senml_json(r["payload_text"])]
            assert names and all(n.startswith("/1/1/") for n in names), names
            assert srv.read(EP, "/1/0")["code"] == "4.04"
            assert srv.read(EP, "/0")["code"] == "4.01"
            gw.wait_log(r"bs-dev: provisioned servers persisted")
        # from the persisted state: still no /1 instance of the bootstrap server
        with Gateway(tmp, _conf(bs)) as gw:
            gw.wait_log(r"bs-dev: registering from its persisted provisioning")
            ev = srv.wait_register(EP)
            assert "</1/1>" in ev["links"] and "</1/0>" not in ev["links"], ev["links"]


def test_unusable_bootstrap_is_refused_at_finish_with_406(tmp):
    def script(b, ep):
        # /1/1 names SSID 101, /0/1 serves 102: no usable account
        bad = _provision(b, ep, _account(srv.uri, ssid=101, sec_ssid=102))
        # a fixed /0/1 then makes the same Finish acceptable
        fixed = b.op(ep, PUT, "/0/1", cf=SENML_JSON, payload=senml("/0/1", {10: 101}))[0]
        return bad, fixed, b.finish(ep)
    with TestServer() as srv, BsServer() as bs:
        bs.script = script
        with Gateway(tmp, _conf(bs)) as gw:
            bad, fixed, finish = bs.wait_result(EP)
            assert bad["finish"][0] == "4.06", bad
            assert b"Short Server ID 101" in bad["finish"][1], bad
            gw.wait_log(r"Bootstrap-Finish from .* refused \(4\.06\)")
            assert fixed == "2.04" and finish[0] == "2.04", (fixed, finish)
            srv.wait_register(EP)


def test_bootstrap_write_of_bad_values_and_foreign_objects(tmp):
    def script(b, ep):
        return {
            "nosec_on_coaps": (b.op(ep, PUT, "/0/1", cf=SENML_JSON, payload=senml(
                "/0/1", {0: "coaps://127.0.0.1:1", 2: 3, 10: 101})), b.op(ep, PUT, "/1/1", cf=SENML_JSON,
                payload=senml("/1/1", {0: 101, 1: 60, 6: True, 7: "U"})), b.finish(ep)),
            "bad_type": b.op(ep, PUT, "/1/1", cf=SENML_JSON, payload=senml("/1/1", {1: "sixty"}))[0],
            "device": b.op(ep, PUT, "/3/0", cf=SENML_JSON, payload=senml("/3/0", {0: "x"}))[0],
            "delete_3": b.op(ep, DELETE, "/3/0")[0],
        }
    with TestServer() as srv, BsServer() as bs:
        bs.script = script
        with Gateway(tmp, _conf(bs)):
            r = bs.wait_result(EP)
            w0, w1, finish = r["nosec_on_coaps"]
            assert w0[0] == "2.04" and w1[0] == "2.04" and finish[0] == "4.06", r
            assert b"NoSec" in finish[1], finish
            assert r["bad_type"] == "4.00" and r["device"] == "4.05" and r["delete_3"] == "4.00", r


def test_server_initiated_bootstrap_changes_the_account(tmp):
    with TestServer() as srv, BsServer() as bs:
        bs.script = lambda b, ep: _provision(b, ep, _account(srv.uri, lifetime=60))
        with Gateway(tmp, _conf(bs)) as gw:
            assert bs.wait_result(EP)["finish"][0] == "2.04"
            assert srv.wait_register(EP)["query"]["lt"] == "60"
            # no Request from the client: the bootstrap server starts it
            mark = gw.mark()
            assert bs.op(EP, PUT, "/1/1", cf=SENML_JSON, payload=senml("/1/1", {1: 90}))[0] == "2.04"
            gw.wait_log(r"bootstrap started by .* \(server-initiated\)", since=mark)
            assert bs.finish(EP)[0] == "2.04"
            gw.wait_log(r"bootstrap finished \(server-initiated\)", since=mark)
            assert srv.wait_register(EP)["query"]["lt"] == "90"
        assert len([r for r in bs.bs_requests if r[0] == EP]) == 1


def test_server_initiated_bootstrap_after_a_restart_from_state(tmp):
    """A client that registered from its persisted file opens its bootstrap
    session once registered; the bootstrap server reaches it there (it
    learns the address the way a deployment would out of band: here from the
    gateway's log line) and provisions another server without a Request."""
    with TestServer() as srv, TestServer() as srv2, BsServer() as bs:
        bs.script = lambda b, ep: _provision(b, ep, _account(srv.uri))
        with Gateway(tmp, _conf(bs)) as gw:
            assert bs.wait_result(EP)["finish"][0] == "2.04"
            gw.wait_log(r"bs-dev: provisioned servers persisted")
        bs.script = None
        n_requests = len([r for r in bs.bs_requests if r[0] == EP])
        with Gateway(tmp, _conf(bs)) as gw:
            gw.wait_log(r"bs-dev: registering from its persisted provisioning")
            srv.wait_register(EP)
            m = gw.wait_log(r"bs-dev: bootstrap session to coap://\S+ open from \[?([0-9a-f.:]+?)\]?:(\d+) ")
            bs.clients[EP] = (m.group(1), int(m.group(2)))
            mark = gw.mark()
            assert bs.op(EP, DELETE, "/1/1")[0] == "2.02"
            assert bs.op(EP, DELETE, "/0/1")[0] == "2.02"
            for path, values in (("/0/2", {0: srv2.uri, 1: False, 2: 3, 10: 102}),
                                 ("/1/2", {0: 102, 1: 66, 6: True, 7: "U"})):
                assert bs.op(EP, PUT, path, cf=SENML_JSON, payload=senml(path, values))[0] == "2.04"
            gw.wait_log(r"bs-dev: bootstrap started by .* \(server-initiated\)", since=mark)
            assert bs.finish(EP)[0] == "2.04"
            gw.wait_log(r"bs-dev: bootstrap finished \(server-initiated\)", since=mark)
            assert srv2.wait_register(EP)["query"]["lt"] == "66"
            srv.wait_deregister(EP)
        assert len([r for r in bs.bs_requests if r[0] == EP]) == n_requests
        # and the new account is what the next start registers with
        with Gateway(tmp, _conf(bs)) as gw:
            gw.wait_log(r"bs-dev: registering from its persisted provisioning")
            assert srv2.wait_register(EP)["query"]["lt"] == "66"


def _silent_port():
    """A loopback UDP port nobody answers on: held by a socket connected
    elsewhere, so the kernel answers datagrams to it with ICMP port
    unreachable (no find-then-bind race)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.connect(("127.0.0.1", 9))
    return s


def test_bootstrap_again_after_the_provisioned_server_never_answers(tmp):
    """Core 6.2.1.1: /1/x/17..20 as the bootstrap server wrote them drive
    the registration attempts (2 attempts 1 s apart, 2 sequences 1 s apart),
    then the client bootstraps again (/1/x/16 unset: true) and registers
    with what the second bootstrap provisions."""
    silent = _silent_port()
    dead = "coap://127.0.0.1:%d" % silent.getsockname()[1]
    runs = []

    def script(b, ep):
        runs.append(ep)
        if ep == EP and runs.count(EP) == 1:
            acc = _account(dead)
            acc[1][1].update({17: 2, 18: 1, 19: 1, 20: 2})
            return _provision(b, ep, acc)
        return _provision(b, ep, _account(srv.uri, lifetime=55))
    try:
        with TestServer() as srv, BsServer() as bs:
            bs.script = script
            with Gateway(tmp, _conf(bs)) as gw:
                gw.wait_log(r"bs-dev: bootstrap finished")
                gw.wait_log(r"bs-dev: registration with %s failed \(.*\): attempt 1 of 2 in sequence 1 "
                            r"of 2; next in 1 s \(/1/1/18\)" % dead)
                gw.wait_log(r"bs-dev: registration with %s failed .*: sequence 1 of 2 failed; next sequence "
                            r"in 1 s \(/1/1/19\)" % dead)
                gw.wait_log(r"attempt 1 of 2 in sequence 2 of 2; next in 1 s")
                gw.wait_log(r"bs-dev: registration with %s failed .*: its communication sequences are "
                            r"exhausted" % dead)
                gw.wait_log(r"bs-dev: registration with %s failed for good: bootstrapping again" % dead)
                bs.wait_bs_request(EP, count=2)
                assert srv.wait_register(EP)["query"]["lt"] == "55"
                # four Registers in all to the silent server, none after
                failed = re.compile(r"bs-dev: registration with %s failed \(" % re.escape(dead))
                assert len([ln for ln in gw.lines if failed.search(ln)]) == 4, gw.log_tail()
    finally:
        silent.close()


def test_no_bootstrap_finish_within_finish_timeout_bootstraps_again(tmp):
    """bootstrap_server.finish_timeout (Core 6.1.7's EXCHANGE_LIFETIME, 247 s
    by default): a bootstrap server that accepts the Request and never
    finishes gets a new Request once it runs out."""
    runs = []

    def script(b, ep):
        runs.append(ep)
        if ep == EP and runs.count(EP) == 1:
            return b.op(ep, PUT, "/1/1", cf=SENML_JSON, payload=senml("/1/1", {0: 101, 1: 60}))[0]
        return _provision(b, ep, _account(srv.uri))
    with TestServer() as srv, BsServer() as bs:
        bs.script = script
        with Gateway(tmp, _conf(bs, bs_extra="finish_timeout = 1;")) as gw:
            bs.wait_bs_request(EP)
            gw.wait_log(r"bs-dev: bootstrap with .* failed \(no Bootstrap-Finish within 1 s\); trying again")
            bs.wait_bs_request(EP, count=2)
            second = bs.wait(lambda: isinstance(bs.results.get(EP), dict) and bs.results[EP], 10,
                             "the second bootstrap of " + EP)
            assert second["finish"][0] == "2.04", second
            srv.wait_register(EP)


def test_kill_9_after_persisting_leaves_a_usable_state(tmp):
    with TestServer() as srv, BsServer() as bs:
        bs.script = lambda b, ep: _provision(b, ep, _account(srv.uri))
        gw = Gateway(tmp, _conf(bs)).start()
        try:
            gw.wait_log(r"bs-dev: provisioned servers persisted")
            gw.signal(signal.SIGKILL)  # right after the write is logged
            gw.wait_exit()
        finally:
            gw.stop()
        # the gateway's own endpoint may have been killed mid-write: its
        # temporary file may be left, never a half .prov file
        n = len([r for r in bs.bs_requests if r[0] == EP])
        with Gateway(tmp, _conf(bs)) as gw:
            gw.wait_log(r"bs-dev: registering from its persisted provisioning")
            gw.wait_log(r"bs-dev: registered with")
            assert not gw.has_log(r"refused, bootstrapping again"), gw.log_tail()
        assert len([r for r in bs.bs_requests if r[0] == EP]) == n


def test_damaged_state_file_is_refused_and_the_client_bootstraps_again(tmp):
    with TestServer() as srv, BsServer() as bs:
        bs.script = lambda b, ep: _provision(b, ep, _account(srv.uri))
        with Gateway(tmp, _conf(bs)) as gw:
            gw.wait_log(r"bs-dev: provisioned servers persisted")
        f = _prov_file(tmp, EP)
        data = open(f, "rb").read()
        with open(f, "wb") as out:  # cut short, as a half-written file would be
            out.write(data[:len(data) // 2])
        # a temporary file a crash left behind is never read
        with open(f + ".tmp", "wb") as out:
            out.write(b"GWPROV1\n junk")
        with Gateway(tmp, _conf(bs)) as gw:
            gw.wait_log(r"bs-dev: .*bs-dev\.prov refused, bootstrapping again: checksum mismatch")
            bs.wait_bs_request(EP, count=2)
            gw.wait_log(r"bs-dev: bootstrap finished")
            gw.wait_log(r"bs-dev: registered with")


def test_disable_deregisters_and_registers_after_the_disable_timeout(tmp):
    with TestServer() as srv:
        with Gateway(tmp, configs.gateway([configs.device("dis-a")]), server=srv) as gw:
            srv.wait_register("dis-a")
            assert srv.request("write", ep="dis-a", path="/1/0/5", cf=0, payload_text="2")["code"] == "2.04"
            mark = gw.mark()
            assert srv.request("execute", ep="dis-a", path="/1/0/4")["code"] == "2.04"
            srv.wait_deregister("dis-a")
            gw.wait_log(r"dis-a: disabled by .* for 2 s \(/1/0/4\)", since=mark)
            gw.wait_log(r"dis-a: Disable Timeout with .* over: registering again", since=mark, timeout=10)
            srv.wait_register("dis-a")
            # the other clients were not touched
            assert not gw.has_log(r"test-gw: disabled", since=mark)


def test_security_object_is_filled_from_the_configuration_and_never_served(tmp):
    with TestServer() as srv:
        with Gateway(tmp, configs.gateway([configs.device("sec-a")]), server=srv):
            ev = srv.wait_register("sec-a")
            assert "</0" not in ev["links"], ev["links"]
            for path in ("/0", "/0/0", "/0/0/5"):
                assert srv.read("sec-a", path)["code"] == "4.01", path
            assert srv.request("discover", ep="sec-a", path="/0")["code"] == "4.01"
            assert srv.request("observe", ep="sec-a", path="/0/0/0")["code"] == "4.01"


def test_finish_refuses_uris_and_keys_the_configuration_would_refuse(tmp):
    """Bootstrap-Finish checks /0 as --check checks a file (lwm2m/uri.c,
    gw_dtls_creds_check): each case 4.06 with the reason, logged; a usable
    account after them is taken."""
    cases = [
        ({0: "coap://127.0.0.1:0", 2: 3}, b"has a bad port, expected 1 to 65535"),
        ({0: "coap://a b:5683", 2: 3}, b"has a bad host"),
        ({0: "http://127.0.0.1", 2: 3}, b"must start with coap:// or coaps://"),
        ({0: "coaps://127.0.0.1:5684", 2: 3}, b"(NoSec) needs a coap:// URI"),
        ({0: "coap://127.0.0.1:5683", 2: 2, 3: b"\x30\x00", 5: b"\x30\x00"}, b"needs a coaps:// URI"),
        ({0: "coaps://127.0.0.1:5684", 2: 2, 3: b"\x30\x00", 5: b"\x30\x00"},
         b"/0/1/5 (Secret Key, Certificate) does not parse as a private key"),
        ({0: "coaps://127.0.0.1:5684", 2: 1, 3: b"\x30\x00"}, b"/0/1/5 (Secret Key, RPK) is empty"),
        ({0: "coaps://127.0.0.1:5684", 2: 0, 5: b"k"}, b"/0/1/3 (Public Key or Identity, PSK) is empty"),
        ({0: "coaps://127.0.0.1:5684", 2: 0, 3: b"id", 5: b"x" * 65}, b"is not a PSK key of 1..64 bytes"),
    ]

    def script(b, ep):
        out = []
        for values, _ in cases:
            b.op(ep, DELETE, "/")
            v = {1: False, 10: 101}
            v.update(values)
            w = b.op(ep, PUT, "/0/1", cf=SENML_JSON, payload=senml("/0/1", v))[0]
            w1 = b.op(ep, PUT, "/1/1", cf=SENML_JSON, payload=senml("/1/1", {0: 101, 1: 60}))[0]
            out.append((w, w1, b.finish(ep)))
        return out, _provision(b, ep, _account(srv.uri))
    with TestServer() as srv, BsServer() as bs:
        bs.script = script
        with Gateway(tmp, _conf(bs)) as gw:
            results, good = bs.wait_result(EP)
            for (values, reason), (w, w1, finish) in zip(cases, results):
                assert w == "2.04" and w1 == "2.04", (values, w, w1)
                assert finish[0] == "4.06" and reason in finish[1], (values, finish)
            gw.wait_log(r"Bootstrap-Finish from .* refused \(4\.06\): /0/1/5 \(Secret Key, Certificate\) does not "
                        r"parse as a private key")
            assert good["finish"][0] == "2.04", good
            srv.wait_register(EP)
            # nothing of the refused accounts ever reached libcoap's session setup
            assert not gw.has_log(r"cannot open a (CoAP|DTLS) session|setup_client_ssl_session"), gw.log_tail()


def test_state_file_not_regular_or_readable_by_others(tmp):
    """A .prov that is a directory, a FIFO or a symbolic link is refused in
    words (not EINVAL's or ELOOP's text) and the client bootstraps again; one
    group or others may read is made 0600 with a warning and used."""
    with TestServer() as srv, BsServer() as bs:
        bs.script = lambda b, ep: _provision(b, ep, _account(srv.uri))
        with Gateway(tmp, _conf(bs)) as gw:
            gw.wait_log(r"bs-dev: provisioned servers persisted")
        f = _prov_file(tmp, EP)
        good = open(f, "rb").read()
        os.chmod(f, 0o644)
        with Gateway(tmp, _conf(bs)) as gw:
            gw.wait_log(r"bs-dev: .*bs-dev\.prov was readable by its group \(mode 0644\): made 0600")
            gw.wait_log(r"bs-dev: registering from its persisted provisioning")
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
        kinds = [("directory", lambda: os.mkdir(f), r"not a regular file \(a directory\)"),
                 ("fifo", lambda: os.mkfifo(f), r"not a regular file \(a FIFO\)"),
                 ("symlink", lambda: os.symlink(f + ".elsewhere", f), r"is a symbolic link")]
        with open(f + ".elsewhere", "wb") as out:
            out.write(good)
        for name, make, reason in kinds:
            if os.path.isdir(f) and not os.path.islink(f):
                os.rmdir(f)
            elif os.path.lexists(f):
                os.unlink(f)
            make()
            with Gateway(tmp, _conf(bs)) as gw:
                gw.wait_log(r"bs-dev: .*bs-dev\.prov refused, bootstrapping again: " + reason)
                assert not gw.has_log(r"Invalid argument|Too many levels"), name
                gw.wait_log(r"bs-dev: bootstrap finished")


def test_all_registered_waits_for_bootstrapping_clients_and_is_said_once(tmp):
    """"all N virtual clients registered" (benchmarks wait on it) is not
    logged while a client is still bootstrapping, and not again when a
    client re-registers after a server-initiated bootstrap."""
    import threading
    go = threading.Event()

    def script(b, ep):
        assert go.wait(20), "test never released the bootstrap"
        return _provision(b, ep, _account(srv.uri))
    with TestServer() as srv, BsServer() as bs:
        bs.script = script
        servers = 'servers = ( { uri = "%s"; short_server_id = 101; } );\n' % srv.uri
        with Gateway(tmp, _conf(bs, servers=servers)) as gw:
            bs.wait_bs_request(EP)
            gw.wait_log(r"bs-gw: registered with")
            assert not gw.has_log(r"virtual clients registered"), gw.log_tail()
            go.set()
            assert bs.wait_result(EP)["finish"][0] == "2.04"
            gw.wait_log(r"all 2 virtual clients registered")
            mark = gw.mark()
            # the bootstrap server starts another bootstrap: the device
            # re-registers, the fleet's size is the same, no second line
            bs.script = None
            assert _provision(bs, EP, _account(srv.uri))["finish"][0] == "2.04"
            gw.wait_log(r"bs-dev: registered with", since=mark)
            assert not gw.has_log(r"virtual clients registered", since=mark), gw.log_tail()


def test_server_written_server_object_survives_a_restart(tmp):
    """A management server's Write of /1/x/1 (and the other writable /1
    resources) on a client a bootstrap server provisioned is persisted with
    the rest of its .prov file, as a device keeps it: the next start
    registers with the written lifetime, no bootstrap."""
    with TestServer() as srv, BsServer() as bs:
        bs.script = lambda b, ep: _provision(b, ep, _account(srv.uri, lifetime=60))
        with Gateway(tmp, _conf(bs)) as gw:
            srv.wait_register(EP)
            mark = gw.mark()
            w = srv.request("write", ep=EP, path="/1/1/1", cf=0, payload_text="99")
            assert w["code"] == "2.04", w
            w = srv.request("write", ep=EP, path="/1/1/3", cf=0, payload_text="300")
            assert w["code"] == "2.04", w
            gw.wait_log(r"bs-dev: provisioned servers persisted", since=mark)
        f = _prov_file(tmp, EP)
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
        n_requests = len(bs.bs_requests)
        with Gateway(tmp, _conf(bs)) as gw:
            gw.wait_log(r"bs-dev: registering from its persisted provisioning")
            ev = srv.wait_register(EP)
            assert ev["query"]["lt"] == "99", ev
            assert srv.read(EP, "/1/1/3")["payload_text"] == "300"
        assert [r for r in bs.bs_requests[n_requests:] if r[0] == EP] == [], bs.bs_requests
