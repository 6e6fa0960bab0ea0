#!/bin/sh
# Installs the package `make deb` built into THIS machine's root and checks
# it: files where docs/deployment.md says, the system user and its groups,
# the configuration 0640 root:lwm2m-gateway as a conffile an edit of which
# survives reinstalling, state directory, the unit as systemd-analyze sees
# it, then purge. Meant for a fresh root, never a workstation:
#   ../shared/tools/fresh-machine.sh 'make deb && sh tests/deb_install.sh --yes-install-here'
set -eu
[ "${1:-}" = "--yes-install-here" ] || {
    echo "usage: $0 --yes-install-here   (installs and purges lwm2m-gateway on this machine)" >&2; exit 2; }
BUILD=${BUILD:-build}
deb=$(ls "$BUILD"/deb/lwm2m-gateway_*.deb)
fail() { echo "FAIL $*"; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "./$deb" >/dev/null

for f in /usr/sbin/lwm2m-gateway /usr/lib/sysusers.d/lwm2m-gateway.conf \
         /usr/share/man/man8/lwm2m-gateway.8.gz /usr/share/doc/lwm2m-gateway/examples/gateway.conf \
         /usr/share/doc/lwm2m-gateway/deployment.md.gz /etc/lwm2m-gateway/gateway.conf; do
    [ -f "$f" ] || fail "$f missing"
done
unit=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
[ -f "$unit/lwm2m-gateway.service" ] || [ -f /lib/systemd/system/lwm2m-gateway.service ] || fail "unit missing"
[ -d /etc/lwm2m-gateway/objects ] || fail "objects dir missing"
id lwm2m-gateway | grep -q "(bluetooth)" || fail "user not in bluetooth: $(id lwm2m-gateway)"
id lwm2m-gateway | grep -q "(dialout)" || fail "user not in dialout: $(id lwm2m-gateway)"
[ "$(stat -c '%U:%G %a' /etc/lwm2m-gateway/gateway.conf)" = "root:lwm2m-gateway 640" ] ||
    fail "config is $(stat -c '%U:%G %a' /etc/lwm2m-gateway/gateway.conf)"
[ "$(stat -c '%U:%G %a' /var/lib/lwm2m-gateway)" = "lwm2m-gateway:lwm2m-gateway 750" ] ||
    fail "state dir is $(stat -c '%U:%G %a' /var/lib/lwm2m-gateway)"
grep -qx /etc/lwm2m-gateway/gateway.conf /var/lib/dpkg/info/lwm2m-gateway.conffiles || fail "not a conffile"
setpriv --reuid=lwm2m-gateway --regid=lwm2m-gateway --init-groups \
    lwm2m-gateway --check -c /etc/lwm2m-gateway/gateway.conf || fail "--check as the service's user"
# without man-db (a minimal root) verify cannot look the man page up
man_opt=""
command -v man >/dev/null || man_opt="--man=no"
out=$(systemd-analyze verify $man_opt /lib/systemd/system/lwm2m-gateway.service 2>&1) || fail "verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"

# an edited configuration survives reinstalling the package
echo "# edited by deb_install.sh" >> /etc/lwm2m-gateway/gateway.conf
apt-get install -y -qq --reinstall "./$deb" >/dev/null
tail -n 1 /etc/lwm2m-gateway/gateway.conf | grep -q "edited by deb_install.sh" || fail "edit lost on reinstall"

apt-get purge -y -qq lwm2m-gateway >/dev/null
for f in /usr/sbin/lwm2m-gateway /etc/lwm2m-gateway/gateway.conf /var/lib/lwm2m-gateway; do
    [ ! -e "$f" ] || fail "$f left after purge"
done
echo "deb_install: OK ($deb)"
