#!/bin/sh
# Install the Debian packages the build, the tests and the demo need, when
# any is missing. Uses sudo when not root. Safe to run again: it does nothing
# when everything is present.
set -e
PKGS="build-essential pkg-config clang libclang-rt-dev valgrind
libcoap3-dev libcoap3-bin libconfig-dev libcjson-dev libcbor-dev libexpat1-dev libsystemd-dev
python3 python3-cbor2 libmodbus-dev python3-pymodbus socat"
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
