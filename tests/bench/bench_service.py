#!/usr/bin/python3
"""The daemon as a service: size, start-up to READY, and idle cost.

    /usr/bin/python3 tests/bench/bench_service.py [BUILD_DIR] [--clients 1000] [--duration 60]
                                                  [--cross aarch64-linux-gnu] [--mqtt URI]

Prints "BENCH <metric> <value> <unit>":

  binary_size_bytes   BUILD_DIR/lwm2m-gateway stripped (strip --strip-all on a copy),
                      for this build's architecture (named on stderr); with --cross T
                      also binary_size_bytes_<arch> of build-T/ (make CROSS=T), stripped
                      with T-strip
  startup_ms          process start -> READY=1 on NOTIFY_SOCKET, with N static clients
                      (pacing off) against the test server on 127.0.0.1
  idle_cpu_percent    CPU time (user + system, every thread) over --duration seconds
                      once all N+1 clients are registered and no reading changes, as a
                      percentage of one core; target under 0.5
  wakeups_per_s       context switches (voluntary + involuntary, every thread) per
                      second over the same window: each is the loop waking up (an
                      Update due, a timer, the watchdog ping)

With --mqtt URI the config also has `mqtt = { uri = URI; }` (the MQTT mirror, a broker
there or not) and the figures carry the suffix _mqtt (docs/mqtt.md quotes them).

The daemon runs as under systemd: NOTIFY_SOCKET set, WATCHDOG_USEC=60 s as the
unit's WatchdogSec=, registration lifetime 600 s. Standard library only.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_gateway as bg  # noqa: E402  (Server, write_config, stop_proc)


def proc_cost(pid):
    """(CPU seconds, context switches) summed over every thread of pid."""
    ticks, switches = 0, 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    switches += int(line.split()[1])
    return ticks / os.sysconf("SC_CLK_TCK"), switches


def log(msg):
    sys.stderr.write("bench_service: %s\n" % msg)


def drain(sock):
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass


def main():
    args = sys.argv[1:]
    build, clients, duration, cross, mqtt = "build", 1000, 60.0, None, None
    while args:
        a = args.pop(0)
        if a == "--clients":
            clients = int(args.pop(0))
        elif a == "--duration":
            duration = float(args.pop(0))
        elif a == "--cross":
            cross = args.pop(0)
        elif a == "--mqtt":
            mqtt = args.pop(0)
        else:
            build = a
    binary = os.path.join(build, "lwm2m-gateway")
    tmp = tempfile.mkdtemp(prefix="bench-service-")
    srv = gw = None
    try:
        stripped = os.path.join(tmp, "lwm2m-gateway")
        subprocess.run(["strip", "--strip-all", "-o", stripped, binary], check=True)
        arch = subprocess.run(["file", "-b", stripped], stdout=subprocess.PIPE, text=True).stdout \
            if shutil.which("file") else os.uname().machine
        log("binary: %s" % arch.strip())
        bg.bench("binary_size_bytes", os.path.getsize(stripped), "bytes")
        if cross:
            arch = {"aarch64-linux-gnu": "arm64", "arm-linux-gnueabihf": "armhf"}.get(cross, cross)
            other = os.path.join(tmp, "lwm2m-gateway-" + arch)
            subprocess.run([cross + "-strip", "--strip-all", "-o", other,
                            os.path.join("build-" + cross, "lwm2m-gateway")], check=True)
            bg.bench("binary_size_bytes_" + arch, os.path.getsize(other), "bytes")

        conf = os.path.join(tmp, "gateway.conf")
        bg.write_config(conf, clients, tmp)
        sfx = ""
        if mqtt:
            with open(conf, "a") as f:
                f.write('mqtt = { uri = "%s"; };\n' % mqtt)
            sfx = "_mqtt"
        srv = bg.Server(build).start()
        sock_path = os.path.join(tmp, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(120)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="60000000")
        t0 = time.monotonic()
        gw = subprocess.Popen(["sh", "-c", 'WATCHDOG_PID=$$ exec "$0" "$@"', binary, "-c", conf,
                               "--server", "coap://127.0.0.1:%d" % srv.port, "--log-level", "notice"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=env)
        bg._procs.append(gw)
        while True:
            msg = sock.recv(4096).decode()
            if "READY=1" in msg.split("\n"):
                break
        bg.bench("startup_ms" + sfx, (time.monotonic() - t0) * 1000.0, "ms")
        srv.wait_registered(clients + 1, bg.REGISTER_TIMEOUT_S, lambda: gw.poll() is None)
        # later notifications (STATUS=, WATCHDOG=1) are read and dropped so the
        # daemon never meets a full socket; the registrations' own tail (the
        # last answers, the STATUS= that follows) settles before the window
        sock.settimeout(None)
        threading.Thread(target=drain, args=(sock,), daemon=True).start()
        time.sleep(2.0)
        if mqtt:
            # the mirror's first messages (every value and status) may still
            # be on their way to the broker (at QoS 1 paho writes a file per
            # message): the window starts once a second passes with fewer
            # than 50 switches, at most 120 s on
            settle_end = time.monotonic() + 120.0
            _, sw = proc_cost(gw.pid)
            while time.monotonic() < settle_end:
                time.sleep(1.0)
                _, sw1 = proc_cost(gw.pid)
                if sw1 - sw < 50:
                    break
                sw = sw1
        cpu0, sw0 = proc_cost(gw.pid)
        t0 = time.monotonic()
        time.sleep(duration)  # the measurement window itself
        cpu1, sw1 = proc_cost(gw.pid)
        span = time.monotonic() - t0
        if gw.poll() is not None:
            raise RuntimeError("gateway exited during the idle window (rc=%s)" % gw.returncode)
        log("%d clients idle for %.1f s" % (clients, span))
        bg.bench("idle_cpu_percent" + sfx, (cpu1 - cpu0) / span * 100.0, "%")
        bg.bench("wakeups_per_s" + sfx, (sw1 - sw0) / span, "1/s")
    finally:
        if gw is not None:
            bg.stop_proc(gw, "gateway")
        if srv is not None:
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
