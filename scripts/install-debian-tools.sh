#!/bin/sh
# Installs the Debian packages that the client tests drive, when they are missing.
# Needs root; without it, says so and the tests that need a missing tool skip with that reason.
set -u
PACKAGES="litmus rclone cadaver davfs2 fuse3 gvfs gvfs-backends libglib2.0-bin dbus openssl curl wrk postgresql-client"
missing=""
for package in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != "0" ]; then
    echo "note: not root, cannot install:$missing (tests that need them will skip)"
    exit 0
fi
echo "installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq $missing >/dev/null \
    || echo "warning: could not install:$missing (tests that need them will skip)"
exit 0
