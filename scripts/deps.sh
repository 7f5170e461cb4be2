#!/bin/sh
# Installs the Debian 12 packages cidguard builds, tests and runs with.
# Run as root.  Safe to run again.
set -e
PKGS="build-essential cmake pkg-config clang clang-format libclang-rt-14-dev git
      libssl-dev openssl libjansson-dev libcmocka-dev libevent-dev
      libcurl4-openssl-dev libgoogle-perftools-dev libsqlite3-dev sqlite3 python3 curl
      secsipidx libsecsipid-dev kamailio kamailio-secsipid-modules kamailio-tls-modules ca-certificates
      libhiredis-dev redis-server redis-sentinel zlib1g-dev chromium sip-tester
      debhelper lintian pandoc fakeroot python3-seccomp mmdebstrap systemd-container"
# Node.js and npm (for the jose interoperability test): this machine image
# ships nodesource's nodejs, which bundles npm and conflicts with Debian's
# npm package; install Debian's pair only where there is no npm at all.
command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    # Another apt run (a second checkout's suite) holds the lock for a
    # while: wait for it instead of failing.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    # shellcheck disable=SC2086
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing
fi
