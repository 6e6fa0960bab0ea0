#!/bin/sh
# tools/make-test-certs.sh DIR - test keys and certificates for
# examples/dtls-x509.conf (openssl, EC P-256, valid 30 days), so the example
# passes `lwm2m-gateway --check` as shipped:
#   DIR/ca.pem, ca.key           a test CA (what ca_file names)
#   DIR/gateway.pem, gateway.key the gateway's certificate, signed by that CA
#   DIR/boiler-1.key             a device's RPK key pair (public key derived)
#   DIR/server.pub               a server's public key (server_cert_file)
#   DIR/server.pem, server.key   that server's certificate for lwm2m.example.com
# Private keys are 0600. For trying the gateway only: a real deployment's
# keys come from its own PKI. Existing files are kept (run it again after
# deleting them to renew).
#   sh tools/make-test-certs.sh examples/keys
#   lwm2m-gateway --check -c examples/dtls-x509.conf
set -eu
dir=${1:?usage: make-test-certs.sh DIR}
command -v openssl >/dev/null || { echo "make-test-certs.sh: openssl is needed (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
umask 077
key() { [ -e "$1" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
key "$dir/ca.key"
[ -e "$dir/ca.pem" ] || openssl req -x509 -new -key "$dir/ca.key" -out "$dir/ca.pem" -days 30 -subj "/CN=lwm2m-gateway test CA"
sign() { # name CN [extension file]
    key "$dir/$1.key"
    [ -e "$dir/$1.pem" ] && return 0
    openssl req -new -key "$dir/$1.key" -out "$dir/$1.csr" -subj "/CN=$2"
    openssl x509 -req -in "$dir/$1.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
        -out "$dir/$1.pem" -days 30 ${3:+-extfile "$3"} 2>/dev/null
    rm -f "$dir/$1.csr"
}
sign gateway site-42-gw
printf 'subjectAltName=DNS:lwm2m.example.com\n' > "$dir/server.ext"
sign server lwm2m.example.com "$dir/server.ext"
rm -f "$dir/server.ext" "$dir/ca.srl"
[ -e "$dir/server.pub" ] || openssl pkey -in "$dir/server.key" -pubout -out "$dir/server.pub"
key "$dir/boiler-1.key"
chmod 644 "$dir"/*.pem "$dir/server.pub"
echo "test keys in $dir"
