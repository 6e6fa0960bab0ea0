"""Files that hold secrets or state: a configuration holding a psk_key that
every user can read is warned about (refused with refuse_readable_keys), and
the offline store's files are 0600 whatever the umask or an older file's
mode."""

import os
import stat
import subprocess

from harness import Gateway, TestServer, build_dir, reserve_port

KEYED = ('gateway = { name = "key-gw"; state_dir = "%s"; %s };\n'
         'servers = ( { uri = "coaps://127.0.0.1:5684"; security = "psk"; psk_key = "00112233"; } );\n'
         'devices = ( );\n')


def _run(args, timeout=10):
    exe = os.path.join(build_dir(), "lwm2m-gateway")
    p = subprocess.run([exe] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def _write(path, text, mode):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def test_keys_readable_by_others_are_warned_about_and_refused_when_asked(tmp):
    conf = _write(os.path.join(tmp, "gw.conf"), KEYED % (tmp, ""), 0o644)
    rc, out, err = _run(["-c", conf, "--check"])
    assert rc == 0, (rc, out, err)
    assert "%s: warning: holds psk_key but every user can read it (mode 0644); chmod o-r" % conf in out, out
    # 0640 (the group is how the service's user reads it): nothing to say
    os.chmod(conf, 0o640)
    rc, out, err = _run(["-c", conf, "--check"])
    assert rc == 0 and "psk_key" not in out, (rc, out, err)
    strict = _write(os.path.join(tmp, "strict.conf"), KEYED % (tmp, "refuse_readable_keys = true;"), 0o604)
    rc, out, err = _run(["-c", strict, "--check"])
    assert rc == 1, (rc, out, err)
    assert "%s: error: holds psk_key but every user can read it (mode 0604)" % strict in out, out
    rc, out, err = _run(["-c", strict], timeout=20)
    assert rc == 1, (rc, out, err)
    assert "not starting (refuse_readable_keys)" in err, err


def test_offline_files_are_0600(tmp):
    port = reserve_port("udp")
    srv = TestServer(port=port).start()
    ep = "mode-dev"
    os.makedirs(os.path.join(tmp, "offline"), exist_ok=True)
    # left by an older version (one file per client, format 1), world-readable:
    # taken over as the first server's file, made 0600 when written
    old = _write(os.path.join(tmp, "offline", ep + ".rec"), "GWOFFL1\n", 0o644)
    f = os.path.join(tmp, "offline", ep + "@1.rec")
    conf = ('gateway = { name = "mode-gw"; state_dir = "@TMP@"; };\n'
            'servers = ( { uri = "@SERVER_URI@"; lifetime = 300; } );\n'
            'devices = ( { endpoint = "%s"; adapter = "simulated"; report = "send"; send_interval = 1;\n'
            '  simulate = ( { field = "temperature"; wave = "sawtooth"; min = 0.0; max = 10.0; '
            'period = 5.0; interval = 0.5; } ); } );\n' % ep)
    old = os.umask(0)
    try:
        with Gateway(tmp, conf, server=srv.uri) as gw:
            srv.wait_register(ep)
            srv.wait_event(lambda e: e["event"] == "send" and e["ep"] == ep, 10, "a Send")
            mark = gw.mark()
            srv.proc.kill()
            srv.proc.wait()
            gw.wait_log(r"server .* unreachable \(", timeout=20, since=mark)
            gw.wait_log(r"server .* unreachable for \d+ s", timeout=20, since=mark)
            assert not os.path.exists(old), gw.log_tail()
            assert os.path.getsize(f) > 10, gw.log_tail()
            assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, oct(os.stat(f).st_mode)
    finally:
        os.umask(old)
