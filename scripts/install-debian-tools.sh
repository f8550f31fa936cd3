#!/bin/sh
# Installs the Debian packages that the client tests drive (and the web app's browser tests:
# chromium, driven by Playwright), when they are missing.
# Needs root; without it, says so and the tests that need a missing tool skip with that reason.
set -u
PACKAGES="litmus rclone cadaver davfs2 fuse3 gvfs gvfs-backends libglib2.0-bin dbus openssl curl wrk apache2 apache2-utils postgresql-client haproxy nginx-light nextcloud-desktop-cmd \
    owncloud-client-cmd chromium"
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
# The benchmark runs Apache with a config of its own: the system instance that the package
# may have started must not hold port 80 or CPU, nor start again at boot.
case " $missing " in *" apache2 "*)
    command -v systemctl >/dev/null && systemctl disable apache2 apache-htcacheclean >/dev/null 2>&1
    service apache2 stop >/dev/null 2>&1
    service apache-htcacheclean stop >/dev/null 2>&1
    ;;
esac
# The same for haproxy and nginx: the tests and the benchmark run them with configs of their own.
for service in haproxy nginx; do
    case " $missing " in *" $service"*)
        command -v systemctl >/dev/null && systemctl disable "$service" >/dev/null 2>&1
        service "$service" stop >/dev/null 2>&1
        ;;
    esac
done
exit 0
