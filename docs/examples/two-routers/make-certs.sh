#!/usr/bin/env bash
# Makes a throwaway CA and one certificate per router (valid for localhost and
# 127.0.0.1, usable as TLS server and client) in ./certs, for the example configs.
# kskup's site controller does this for real sites; this is for running routers by hand.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p certs && cd certs
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj /CN=kskup-example-ca 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n' > leaf.ext
for router in a b; do
  openssl req -newkey rsa:2048 -nodes -keyout "router-$router.key" -out "router-$router.csr" -subj "/CN=router-$router" 2>/dev/null
  openssl x509 -req -in "router-$router.csr" -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
    -out "router-$router.crt" -days 30 -extfile leaf.ext 2>/dev/null
  rm "router-$router.csr"
done
rm leaf.ext
echo "certificates written to $(pwd)"
