"""make install / make uninstall into a DESTDIR, the unit as systemd-analyze
sees it, and the man page against --help."""

import os
import re
import shutil
import stat
import subprocess

from harness import REPO, build_dir


def _make(*args):
    """make in the repository with this run's build directory, never rebuilding
    the daemon (-o: the sanitizer pass must not relink it with other flags)."""
    build = os.path.relpath(build_dir(), REPO)
    cmd = ["make", "-s", "-C", REPO, "NO_DEPS=1", "BUILD=" + build,
           "-o", os.path.join(build, "lwm2m-gateway")] + list(args)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert r.returncode == 0, "%s failed:\n%s" % (" ".join(cmd), r.stdout)
    return r.stdout


def _files(root):
    out = []
    for d, _, names in os.walk(root):
        out += [os.path.relpath(os.path.join(d, n), root) for n in names]
    return sorted(out)


def test_install_uninstall_leaves_nothing(tmp):
    root = os.path.join(tmp, "root")
    _make("install", "DESTDIR=" + root)
    files = _files(root)
    for f in ("usr/local/sbin/lwm2m-gateway", "usr/local/lib/systemd/system/lwm2m-gateway.service",
              "usr/local/lib/sysusers.d/lwm2m-gateway.conf", "usr/local/share/man/man8/lwm2m-gateway.8",
              "usr/local/share/doc/lwm2m-gateway/examples/gateway.conf",
              "usr/local/share/doc/lwm2m-gateway/deployment.md", "etc/lwm2m-gateway/gateway.conf"):
        assert f in files, (f, files)
    assert os.path.isdir(os.path.join(root, "etc/lwm2m-gateway/objects"))
    assert os.access(os.path.join(root, "usr/local/sbin/lwm2m-gateway"), os.X_OK)
    conf = os.path.join(root, "etc/lwm2m-gateway/gateway.conf")
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o640
    with open(os.path.join(root, "usr/local/lib/systemd/system/lwm2m-gateway.service")) as f:
        assert "ExecStart=/usr/local/sbin/lwm2m-gateway -c /etc/lwm2m-gateway/gateway.conf\n" in f.read()

    # an edited configuration survives install and uninstall
    with open(conf, "a") as f:
        f.write("# edited\n")
    _make("install", "DESTDIR=" + root)
    with open(conf) as f:
        assert f.read().endswith("# edited\n")
    out = _make("uninstall", "DESTDIR=" + root)
    assert "kept %s (edited)" % conf in out, out
    assert _files(root) == ["etc/lwm2m-gateway/gateway.conf"], _files(root)

    # the shipped one goes: nothing left
    shutil.copy(os.path.join(REPO, "examples/gateway.conf"), conf)
    _make("uninstall", "DESTDIR=" + root)
    assert _files(root) == [], _files(root)


def test_install_prefix_usr_follows_systemd(tmp):
    """PREFIX=/usr (the Debian package): unit and sysusers where this
    system's systemd says (Debian 12: /lib/systemd/system)."""
    unitdir = subprocess.run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"],
                             stdout=subprocess.PIPE, text=True).stdout.strip() or "/usr/lib/systemd/system"
    root = os.path.join(tmp, "root")
    _make("install", "DESTDIR=" + root, "PREFIX=/usr")
    files = _files(root)
    assert unitdir.lstrip("/") + "/lwm2m-gateway.service" in files, files
    assert "usr/sbin/lwm2m-gateway" in files, files
    _make("uninstall", "DESTDIR=" + root, "PREFIX=/usr")
    assert _files(root) == [], _files(root)


def test_unit_verifies(tmp):
    """systemd-analyze verify: clean (the binary and man page it names exist)."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing (package systemd)"
    root = os.path.join(tmp, "root")
    _make("install", "DESTDIR=" + root)
    binary = os.path.join(root, "usr/local/sbin/lwm2m-gateway")
    with open(os.path.join(root, "usr/local/lib/systemd/system/lwm2m-gateway.service")) as f:
        text = f.read().replace("/usr/local/sbin/lwm2m-gateway", binary)
    unit = os.path.join(tmp, "lwm2m-gateway.service")
    with open(unit, "w") as f:
        f.write(text)
    env = dict(os.environ, MANPATH=os.path.join(root, "usr/local/share/man") + ":")
    # without man-db (a minimal root) verify cannot look Documentation=man: up
    man = [] if shutil.which("man") else ["--man=no"]
    r = subprocess.run([analyze, "verify"] + man + [unit], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, env=env, timeout=60)
    assert r.returncode == 0 and r.stdout == "", r.stdout


def _help_options(text):
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b", text))


def test_man_page_matches_help():
    help_text = subprocess.run([os.path.join(build_dir(), "lwm2m-gateway"), "--help"],
                               stdout=subprocess.PIPE, text=True, check=True).stdout
    with open(os.path.join(REPO, "docs/lwm2m-gateway.8")) as f:
        man = f.read()
    options = man.split(".SH OPTIONS", 1)[1].split("\n.SH ", 1)[0].replace("\\-", "-")
    in_help = _help_options(help_text)
    in_man = _help_options(re.sub(r"\\f[BIR]", " ", options))
    assert len(in_help) >= 10, in_help
    assert in_help == in_man, ("only in --help", in_help - in_man, "only in the man page", in_man - in_help)
    # the synopsis names every long option too
    synopsis = man.split(".SH SYNOPSIS", 1)[1].split("\n.SH ", 1)[0].replace("\\-", "-")
    for opt in (o for o in in_help if o.startswith("--") and o != "--config"):
        assert opt in synopsis, opt
