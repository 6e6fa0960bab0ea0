#!/bin/sh
# Install the Debian packages the build, the tests and the demo need, when
# any is missing, and the npm packages of tests/interop. Uses sudo for
# apt-get when not root. Safe to run again: it does nothing when everything
# is present.
#
# Packages are installed without their Recommends (a build host should not
# grow a desktop's worth of extras), so every package a test imports or runs
# is named here, even when another package only recommends it:
#   libmbedtls-dev         AES and AES-CMAC of the LoRaWAN adapter (Debian 12: 2.28, no
#                          pkg-config file, the Makefile falls back to -lmbedcrypto; 13: 3.x)
#   python3-cbor2          tests/integration/harness.py (SenML CBOR decoder)
#   python3-pymodbus       tests/integration/modbus_server.py, test_modbus.py
#   python3-serial, python3-serial-asyncio
#                          pymodbus's server imports serial and serial_asyncio
#                          (only Recommends of python3-pymodbus)
#   socat                  the RTU tests' linked ptys
#   python3-dbusmock, dbus-daemon
#                          tests/integration/test_ble.py: BlueZ mocked (bluez5 template)
#                          on a private dbus-daemon
#   libcoap3-bin           coap-rd-gnutls, coap-server-gnutls: the independent DTLS peers
#   libgnutls28-dev        credential files parsed and server certificates checked (lwm2m/dtls*.c)
#                          with the GnuTLS libcoap's DTLS runs on
#   systemd                systemd-analyze verify of the unit (test_install); not there in
#                          containers and minimal roots
#   procps                 /bin/kill, the unit's ExecReload (Debian 13 moved kill from
#                          util-linux to procps; verify checks the command exists)
#   python3-cryptography   tests/integration/test_ble.py encrypts BTHome frames (AES-CCM)
#                          independently of the gateway's mbedtls
#   libpaho-mqtt-dev       the MQTT mirror (paho-mqtt3as; no pkg-config file on 12 or 13)
#   mosquitto, mosquitto-clients, openssl
#                          tests/integration/test_mqtt.py: the broker, mosquitto_sub/pub,
#                          the test CA
#   valgrind               daemon runs under valgrind in make check
#   clang, libclang-rt-dev make fuzz (libFuzzer)
#   nodejs, npm            tests/interop's independent LwM2M server (lwm2m-node-lib);
#                          skipped when node and npm are already there (NodeSource's
#                          nodejs package carries npm and conflicts with Debian's)
# The names are the same on Debian 12 (bookworm) and 13 (trixie).
#
#   tools/install-deps.sh          everything: build, tests, fuzzing, demo
#   tools/install-deps.sh --demo   only what `make demo` needs (build + python3)
#   tools/install-deps.sh --deb    what `make deb` needs (build + debhelper, lintian)
#   tools/install-deps.sh --cross aarch64-linux-gnu   what `make CROSS=... cross-check` needs
set -e
PKGS="build-essential pkg-config
libcoap3-dev libgnutls28-dev libconfig-dev libcjson-dev libcbor-dev libexpat1-dev libsystemd-dev libmodbus-dev libmbedtls-dev duktape-dev libpaho-mqtt-dev python3"
demo_only=""
[ "${1:-}" = "--demo" ] && demo_only=1
# make deb: the packaging tools only (the build dependencies are the above)
# (systemd.pc, which Build-Depends names, is in systemd-dev from Debian 13 on, in systemd before)
if [ "${1:-}" = "--deb" ]; then
    demo_only=1
    PKGS="$PKGS debhelper lintian fakeroot"
    if apt-cache show systemd-dev >/dev/null 2>&1; then PKGS="$PKGS systemd-dev"; else PKGS="$PKGS systemd"; fi
fi
# make cross-check CROSS=<triplet>: the cross compiler, qemu-user and every
# lib*-dev above for the target architecture (Debian multiarch)
if [ "${1:-}" = "--cross" ]; then
    case "${2:-}" in
    aarch64-linux-gnu) arch=arm64 ;;
    arm-linux-gnueabihf) arch=armhf ;;
    *) echo "install-deps: --cross aarch64-linux-gnu or arm-linux-gnueabihf, not \"${2:-}\"" >&2; exit 2 ;;
    esac
    cross=""
    for p in $PKGS; do case "$p" in lib*-dev) cross="$cross $p:$arch" ;; esac; done
    PKGS="$PKGS gcc-$2 qemu-user$cross"
    demo_only=1
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
        echo "install-deps: dpkg --add-architecture $arch" >&2
        if [ "$(id -u)" = 0 ]; then dpkg --add-architecture "$arch"; else sudo dpkg --add-architecture "$arch"; fi
    fi
fi
if [ -z "$demo_only" ]; then
    PKGS="$PKGS clang libclang-rt-dev valgrind libcoap3-bin
python3-cbor2 python3-pymodbus python3-serial python3-serial-asyncio socat
python3-dbusmock dbus-daemon mosquitto mosquitto-clients openssl systemd procps python3-cryptography"
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
fi
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "install-deps: installing:$missing" >&2
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# The npm packages of tests/interop, exactly as its package-lock.json pins
# them: installed when missing or older than the lock file (as the user who
# runs this, no sudo; from npm's cache when it has them).
[ -n "$demo_only" ] && exit 0
interop="$(dirname "$0")/../tests/interop"
if [ ! -f "$interop/node_modules/.package-lock.json" ] ||
   [ "$interop/package-lock.json" -nt "$interop/node_modules/.package-lock.json" ]; then
    echo "install-deps: npm ci in tests/interop" >&2
    (cd "$interop" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)
fi
