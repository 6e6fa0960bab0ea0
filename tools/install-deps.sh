#!/bin/sh
# Install the Debian packages the build, the tests and the demo need, when
# any is missing. Uses sudo when not root. Safe to run again: it does nothing
# when everything is present.
#
# Packages are installed without their Recommends (a build host should not
# grow a desktop's worth of extras), so every package a test imports or runs
# is named here, even when another package only recommends it:
#   python3-cbor2          tests/integration/harness.py (SenML CBOR decoder)
#   python3-pymodbus       tests/integration/modbus_server.py, test_modbus.py
#   python3-serial, python3-serial-asyncio
#                          pymodbus's server imports serial and serial_asyncio
#                          (only Recommends of python3-pymodbus)
#   socat                  the RTU tests' linked ptys
#   libcoap3-bin           coap-rd-gnutls, the independent DTLS peer
#   valgrind               daemon runs under valgrind in make check
#   clang, libclang-rt-dev make fuzz (libFuzzer)
# The names are the same on Debian 12 (bookworm) and 13 (trixie).
set -e
PKGS="build-essential pkg-config clang libclang-rt-dev valgrind
libcoap3-dev libcoap3-bin libconfig-dev libcjson-dev libcbor-dev libexpat1-dev libsystemd-dev
python3 python3-cbor2 libmodbus-dev python3-pymodbus python3-serial python3-serial-asyncio socat"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
