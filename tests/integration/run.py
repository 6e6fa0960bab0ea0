#!/usr/bin/python3
"""Runs every test_* function of tests/integration/test_*.py.

  /usr/bin/python3 tests/integration/run.py [substring ...]

Each test runs in its own forked process and process group with a fresh
temporary directory (passed as the first argument when the function takes
one) and a 60 s limit (GW_TEST_TIMEOUT overrides). Prints "PASS name" or
"FAIL name" with the traceback and, for every process the test started
(gateway, test server, helpers), its exit status and last stderr lines;
ends with "N passed, N failed"; the exit
code is 1 when any test failed. GW_BUILD names the build directory and
GW_WRAP a command the Gateway class prefixes to the daemon.
"""

import importlib.util
import inspect
import os
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def discover(filters):
    tests = []
    for fn in sorted(os.listdir(HERE)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        modname = fn[:-3]
        spec = importlib.util.spec_from_file_location(modname, os.path.join(HERE, fn))
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception:
            tests.append((modname + ".<import>", None, traceback.format_exc()))
            continue
        funcs = [(name, f) for name, f in vars(mod).items()
                 if name.startswith("test_") and inspect.isfunction(f)
                 and f.__module__ == modname]
        funcs.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
        for name, f in funcs:
            full = "%s.%s" % (modname, name)
            if filters and not any(x in full for x in filters):
                continue
            tests.append((full, f, None))
    return tests


def _overtime(signo, frame):
    raise AssertionError("the test is about to exceed its time limit")


def run_child(func, tmp, wfd, timeout):
    """In the forked child: run the test, write the traceback (or nothing)."""
    import harness
    os.setpgid(0, 0)
    err = ""
    # a few seconds before the parent kills it, the test fails here instead,
    # so its traceback shows where it waited and its processes are reported
    signal.signal(signal.SIGALRM, _overtime)
    signal.setitimer(signal.ITIMER_REAL, max(1.0, timeout - 3.0))
    try:
        if len(inspect.signature(func).parameters) >= 1:
            func(tmp)
        else:
            func()
    except BaseException:
        err = traceback.format_exc() or "failed"
        # before cleanup kills them: whether each process died by itself,
        # and what it said
        try:
            report = harness.failure_report()
        except Exception:
            report = "(no process report: %s)" % traceback.format_exc()
        if report:
            err += "processes started by the test:\n" + report
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        try:
            harness.cleanup_all()
        except Exception:
            pass
    os.write(wfd, (err or "").encode("utf-8", "replace") or b"")
    os.close(wfd)
    os._exit(1 if err else 0)


def run_one(func, timeout):
    tmp = tempfile.mkdtemp(prefix="gwit-")
    rfd, wfd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        run_child(func, tmp, wfd, timeout)
    os.close(wfd)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child already did it (or exited)
    os.set_blocking(rfd, False)
    chunks = []
    deadline = time.monotonic() + timeout
    status = None
    # The child holds the pipe's write end until it exits (the processes a
    # test starts do not inherit it: Popen closes other fds), so end of file
    # on the pipe is the event to wait for.
    eof = False
    while not eof:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([rfd], [], [], left)
        if not ready:
            break
        try:
            while True:
                b = os.read(rfd, 65536)
                if not b:
                    eof = True
                    break
                chunks.append(b)
        except BlockingIOError:
            pass
    if eof:
        _, status = os.waitpid(pid, 0)
    if status is None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        err = "timed out after %ds" % timeout
    else:
        try:
            while True:
                b = os.read(rfd, 65536)
                if not b:
                    break
                chunks.append(b)
        except BlockingIOError:
            pass
        err = b"".join(chunks).decode("utf-8", "replace")
        if not err and not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            err = "test process ended with status %d" % status
    # whatever the test started in its process group must not outlive it
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    os.close(rfd)
    shutil.rmtree(tmp, ignore_errors=True)
    return err


def main():
    filters = sys.argv[1:]
    timeout = int(os.environ.get("GW_TEST_TIMEOUT", "60"))
    passed = failed = 0
    for name, func, import_error in discover(filters):
        t0 = time.monotonic()
        err = import_error if func is None else run_one(func, timeout)
        if err:
            failed += 1
            print("FAIL %s" % name)
            for line in err.rstrip().splitlines():
                print("    " + line)
        else:
            passed += 1
            print("PASS %s (%.1fs)" % (name, time.monotonic() - t0))
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
