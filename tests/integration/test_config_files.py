"""Configuration problems that --check must report, each with its exit code
and exact message (file:line: what is wrong, what is expected): files that
are not regular files (a FIFO as the file or an @include), a missing
@include, an include loop, a duplicate setting, a bad objects_dir and
state_dir, two Modbus devices on one unit. A FIFO in place of the file at
SIGHUP is refused at once while the daemon goes on; a missing state_dir is
created at start, mode 0700."""

import os
import signal
import stat
import subprocess

import configs
from harness import Gateway, TestServer, build_dir

SERVER = 'servers = ( { uri = "coap://127.0.0.1:5683"; } );\n'


def check(path, timeout=10):
    """Runs --check; (exit code, stdout, stderr). A check that blocks fails
    the test at the timeout instead of hanging it."""
    exe = os.path.join(build_dir(), "lwm2m-gateway")
    try:
        p = subprocess.run([exe, "-c", path, "--check"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("--check of %s did not finish within %ss" % (path, timeout))
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def expect_errors(path, *lines):
    rc, out, err = check(path)
    want = "".join(line + "\n" for line in lines) + "%s: %d error%s\n" % (
        path, len(lines), "" if len(lines) == 1 else "s")
    assert (rc, out, err) == (1, "", want), (rc, out, err, want)


def test_fifo_as_the_configuration_is_refused_at_once(tmp):
    conf = os.path.join(tmp, "gw.conf")
    os.mkfifo(conf, 0o600)
    expect_errors(conf, "%s: configuration file is a FIFO, expected a regular file" % conf)


def test_fifo_as_an_include_is_refused_at_its_line(tmp):
    os.mkfifo(os.path.join(tmp, "part.conf"), 0o600)
    conf = write(os.path.join(tmp, "gw.conf"), SERVER + '\n@include "part.conf"\n')
    expect_errors(conf, '%s:3: @include "part.conf": "%s/part.conf" is a FIFO, expected a regular '
                        'file' % (conf, tmp))


def test_missing_include_is_at_its_line(tmp):
    conf = write(os.path.join(tmp, "gw.conf"), SERVER + '@include "devices.conf"\n')
    expect_errors(conf, '%s:2: @include "devices.conf": cannot open "%s/devices.conf": No such file '
                        'or directory, expected a readable file (a relative path is taken from the '
                        'directory of the main configuration file)' % (conf, tmp))


def test_include_loop_is_named(tmp):
    conf = write(os.path.join(tmp, "gw.conf"), SERVER + '@include "a.conf"\n')
    a = write(os.path.join(tmp, "a.conf"), '@include "gw.conf"\n')
    expect_errors(conf, '%s:1: @include "gw.conf" is an include loop (%s -> %s -> %s/gw.conf), '
                        'expected each file once along a chain of includes' % (a, conf, a, tmp))


def test_duplicate_setting_is_at_its_line(tmp):
    conf = write(os.path.join(tmp, "gw.conf"),
                 SERVER + 'gateway = { name = "a"; };\n\ngateway = { name = "b"; };\n')
    expect_errors(conf, "%s:4: duplicate setting name: this name is already set in the same group, "
                        "expected each setting once per group" % conf)


def test_bad_objects_dir_is_at_its_line(tmp):
    notdir = write(os.path.join(tmp, "objects"), "x\n")
    conf = write(os.path.join(tmp, "gw.conf"),
                 SERVER + 'gateway = {\n  objects_dir = "%s"; };\n' % notdir)
    expect_errors(conf, '%s:3: objects_dir "%s" is a regular file, expected a directory of DDF .xml '
                        'files' % (conf, notdir))
    conf = write(os.path.join(tmp, "gw2.conf"),
                 SERVER + 'gateway = { objects_dir = "%s/none"; };\n' % tmp)
    expect_errors(conf, '%s:2: objects_dir "%s/none" does not exist, expected a directory of DDF '
                        '.xml files' % (conf, tmp))


def test_state_dir_file_missing_and_uncreatable(tmp):
    afile = write(os.path.join(tmp, "state"), "x\n")
    conf = write(os.path.join(tmp, "gw.conf"), SERVER + 'gateway = { state_dir = "%s"; };\n' % afile)
    expect_errors(conf, '%s:2: state_dir "%s" is a regular file, expected a directory (it is created '
                        'when missing)' % (conf, afile))
    conf = write(os.path.join(tmp, "gw2.conf"),
                 SERVER + 'gateway = { state_dir = "%s/sub"; };\n' % afile)
    expect_errors(conf, '%s:2: state_dir "%s/sub" cannot be created: "%s" is not a directory, '
                        'expected a directory the gateway can write' % (conf, afile, afile))
    conf = write(os.path.join(tmp, "gw3.conf"),
                 SERVER + 'gateway = { state_dir = "%s/new/state"; };\n' % tmp)
    rc, out, err = check(conf)
    assert (rc, err) == (0, ""), (rc, out, err)
    assert out == ('%s: OK, 1 server, 0 devices\n%s: state_dir "%s/new/state" does not exist yet; the '
                   'gateway creates it (mode 0700) at start\n' % (conf, conf, tmp)), out
    assert not os.path.exists(os.path.join(tmp, "new")), "--check must not create anything"


def test_missing_state_dir_is_created_0700_at_start(tmp):
    state = os.path.join(tmp, "var", "state")
    conf = configs.gateway([configs.device("dev-a")]).replace('state_dir = "@TMP@"',
                                                               'state_dir = "%s"' % state)
    with TestServer() as srv, Gateway(tmp, conf, server=srv):
        srv.wait_register("dev-a")
        st = os.stat(state)
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700, oct(st.st_mode)


def test_two_modbus_devices_on_one_unit(tmp):
    regs = 'registers = ( { field = "voltage"; table = "input"; address = 0; type = "f32"; } );'
    conf = write(os.path.join(tmp, "gw.conf"), SERVER +
                 'adapters = { modbus = ( { name = "plc"; type = "tcp"; host = "127.0.0.1"; } ); };\n'
                 'devices = (\n'
                 '  { endpoint = "meter-a"; adapter = "modbus"; bus = "plc"; unit_id = 1; %s },\n'
                 '  { endpoint = "meter-b"; adapter = "modbus"; bus = "plc"; unit_id = 1; %s } );\n'
                 % (regs, regs))
    expect_errors(conf, '%s:5: duplicate Modbus unit (bus/unit_id) "plc/1" (first defined at line '
                        '4), expected one device per bus and unit_id' % conf)


def test_sighup_with_a_fifo_in_place_is_refused_and_the_daemon_goes_on(tmp):
    with TestServer() as srv:
        with Gateway(tmp, configs.gateway([configs.device("dev-a")]), server=srv) as gw:
            srv.wait_register("dev-a")
            os.rename(gw.config_file, gw.config_file + ".old")
            os.mkfifo(gw.config_file, 0o600)
            mark = gw.mark()
            gw.signal(signal.SIGHUP)
            gw.wait_log(r"%s: configuration file is a FIFO, expected a regular file"
                        % gw.config_file, since=mark)
            gw.wait_log(r"reload: .* has 1 error; keeping the running configuration", since=mark)
            # the loop still runs: a Read is answered
            assert srv.read("dev-a", "/3303/0/5700")["code"] == "2.05"


def test_dtls_x509_example_checks_once_its_test_keys_are_made(tmp):
    """examples/dtls-x509.conf ships without keys: --check names each file
    missing at its line, and passes once tools/make-test-certs.sh (named
    in the example's header) made them."""
    import shutil
    repo = os.path.join(os.path.dirname(__file__), "..", "..")
    conf = os.path.join(tmp, "dtls-x509.conf")
    shutil.copy(os.path.join(repo, "examples", "dtls-x509.conf"), conf)
    assert "tools/make-test-certs.sh" in open(conf).read()
    rc, out, err = check(conf)
    assert rc == 1 and "keys/gateway.pem\" cannot open: No such file" in err, (rc, out, err)
    subprocess.run(["sh", os.path.join(repo, "tools", "make-test-certs.sh"), os.path.join(tmp, "keys")],
                   check=True, capture_output=True, timeout=60)
    assert stat.S_IMODE(os.stat(os.path.join(tmp, "keys", "gateway.key")).st_mode) == 0o600
    rc, out, err = check(conf)
    assert rc == 0 and "OK, 1 server, 1 device" in out, (rc, out, err)
