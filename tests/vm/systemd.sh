#!/usr/bin/env bash
# tests/vm/systemd.sh: run the systemd cgroup driver tests (integration/
# systemd_test.go, `rt --systemd-cgroup`) on a host that boots systemd as PID
# 1 on pure cgroup v2: Debian 12 (debootstrap minbase with systemd, dbus and podman)
# in a qemu guest (TCG) with Debian's cloud kernel. `make test-systemd` runs
# it; it exits with the tests' status and prints their output.
#
# The Debian tree is built once into $VM_DOWNLOADS/systemd-base (tests/vm/
# lib.sh; about two minutes, from Debian's mirror); each run copies it, adds a static rt, the
# integration tests as a static binary and a oneshot unit that runs them
# once systemd is up, packs it as the initramfs and boots: a stage-1 /init
# copies the tree onto a tmpfs and switch_roots into systemd (rt pivots into
# container roots, which cannot be done from the initramfs itself).
#
# Environment: RT (static rt, default ./rt), VM_TIMEOUT (default 600),
# VM_MEM (MiB, default 2048), VM_CPUS (default 2), VM_CACHE (default
# .cache/vm), VM_RUN (go test -run pattern, default the systemd tests and
# the basic lifecycle ones), DEBIAN_MIRROR.
set -euo pipefail
{
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
RT=${RT:-$repo/rt}
VM_TIMEOUT=${VM_TIMEOUT:-600}
VM_MEM=${VM_MEM:-2048}
VM_CPUS=${VM_CPUS:-2}
VM_RUN=${VM_RUN:-'^Test(Systemd.*|Lifecycle|RunStdioAndExitCode|ExecJoinsTheContainer|PauseResume)$'}
cache=${VM_CACHE:-$repo/.cache/vm}
GO=${GO:-go}
VM_LOG_NAME=test-systemd
# shellcheck source=tests/vm/lib.sh
. "$repo/tests/vm/lib.sh"
vm_static_rt
vm_host_tools debootstrap busybox-static
vm_kernel

# podman: a client that drives rt with --systemd-cgroup (TestSystemdPodman).
pkgs=systemd,systemd-sysv,dbus,jq,busybox-static,podman,netavark
base=$downloads/systemd-base
if [ "$(cat "$base/.complete" 2>/dev/null)" != "$pkgs" ]; then
	mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true)}
	mirror=${mirror:-http://deb.debian.org/debian}
	log "debootstrap bookworm (minbase, $pkgs) from $mirror"
	rm -rf "$base" "$base.tmp"
	if ! debootstrap --variant=minbase --include="$pkgs" bookworm "$base.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1; then
		tail -20 "$cache/debootstrap.log" >&2
		log "debootstrap failed (log: $cache/debootstrap.log)"
		exit 1
	fi
	rm -rf "$base.tmp"/usr/share/{doc,man,info,locale} "$base.tmp"/var/cache/apt/* "$base.tmp"/var/lib/apt/lists/*
	mv "$base.tmp" "$base" && echo "$pkgs" >"$base/.complete"
fi

log "building the integration tests"
CGO_ENABLED=0 $GO test -c -o "$cache/integration.test" ./integration/

# The run's root: the base hard-linked (files added, never edited in place).
root=$cache/systemd-root
rm -rf "$root" && { cp -al "$base" "$root" 2>/dev/null || { rm -rf "$root" && cp -a "$base" "$root"; }; }
mkdir -p "$root/repo/tests/lib" "$root/usr/local/bin" "$root/newroot"
cp "$RT" "$root/usr/local/bin/rt"
cp "$cache/integration.test" "$root/repo/integration.test"
cp tests/lib/mkbundle.sh "$root/repo/tests/lib/"
cp -a integration "$root/repo/integration"
rm -rf "$root/repo/integration/conformance"
mkdir -p "$root/opt/busybox-bin" && cp /bin/busybox "$root/opt/busybox-bin/busybox"
for a in $(/bin/busybox --list); do [ -e "$root/opt/busybox-bin/$a" ] || ln -s busybox "$root/opt/busybox-bin/$a"; done
if [ -e "$repo/../shared/images/busybox.tar" ]; then
	mkdir -p "$root/shared/images" && cp "$repo/../shared/images/busybox.tar" "$root/shared/images/"
fi
cp tests/vm/systemd-init "$root/init"
printf '%s\n' "$VM_RUN" >"$root/repo/vm-run"
# The tests time out (and print their goroutines) well before qemu is
# killed; tests/vm/watchdog reports 20 s after that if they could not.
echo "-test.v -test.count=1 -test.timeout=$((VM_TIMEOUT - 120))s" >"$root/repo/vm-args"
echo $((VM_TIMEOUT - 100)) >"$root/repo/vm-watchdog"
cp tests/vm/watchdog "$root/usr/local/bin/vm-watchdog"
cat >"$root/repo/run-tests" <<'SH'
#!/bin/bash
# Run by rt-test.service once systemd is up: the tests, then power off.
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
export RT_BINARY=/usr/local/bin/rt RT_REPO_ROOT=/repo BUSYBOX_BIN_DIR=/opt/busybox-bin RT_TEST_TIME_SCALE=10
echo "rt-vm: $(systemctl --version | head -1), kernel $(uname -r), system $(systemctl is-system-running), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
cd /repo/integration
# shellcheck disable=SC2046 # a word list
/repo/integration.test $(cat /repo/vm-args) -test.run "$(cat /repo/vm-run)" </dev/null 2>&1 &
tpid=$!
vm-watchdog "$(cat /repo/vm-watchdog)" "$tpid" &
wpid=$!
wait "$tpid"
rc=$?
kill "$wpid" 2>/dev/null
echo "RT-VM-EXIT=$rc"
systemctl poweroff --force --force
SH
chmod +x "$root/repo/run-tests"
unit=$root/etc/systemd/system
mkdir -p "$unit/multi-user.target.wants"
cat >"$unit/rt-test.service" <<'UNIT'
[Unit]
Description=rt --systemd-cgroup tests
Wants=dbus.socket
After=dbus.socket basic.target

[Service]
Type=oneshot
ExecStart=/repo/run-tests
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
UNIT
ln -sf ../rt-test.service "$unit/multi-user.target.wants/rt-test.service"
# No login prompt on the console the results go to.
ln -sf /dev/null "$unit/serial-getty@ttyS0.service"
rm -f "$root/etc/hostname" && echo rt-vm >"$root/etc/hostname"

vm_boot "$root" "$VM_TIMEOUT" "$VM_MEM" "$VM_CPUS" "quiet loglevel=3 systemd.show_status=0"
}
