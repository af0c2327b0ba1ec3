#!/usr/bin/env bash
# tests/vm/run.sh [GO TEST FLAGS...]: run rt's Go integration suite
# (integration/) on a pure cgroup v2 kernel, as root, in a qemu guest (TCG:
# no KVM needed), and exit with the suite's status. `make test-cgroup2` runs it.
#
# The guest is Debian's cloud kernel (linux-image-cloud-amd64, fetched once
# with apt-get download into .cache/vm) booted with an initramfs holding a
# static rt, the integration tests and libcontainer/cgroups' unit tests (the
# real-cgroupfs ones run there with every v2 controller) built as static
# binaries, busybox-static, bash and jq (for tests/lib/mkbundle.sh) and the
# fixtures. tests/vm/init mounts cgroup2, enables every controller, runs
# both, prints their output on the serial console (this script's stdout)
# and a last line RT-VM-EXIT=<code>. Flags go to the integration test
# binary, e.g. -test.run 'Cgroup|OOM'. The console output is also left in
# .cache/vm/console.log.
#
# Environment: RT (the static rt binary, default ./rt), VM_TIMEOUT (seconds
# before qemu is killed, default 900), VM_MEM (MiB, default 4096:
# TestParallelRuns runs 100 containers at once), VM_CPUS (default 2),
# VM_CACHE (default .cache/vm), VM_PRE (shell commands the guest runs
# before the tests, for debugging), VM_NO_UNIT (set: skip the
# libcontainer/cgroups unit tests).
set -euo pipefail
# One compound command: bash reads it whole before running it, so editing
# this file during a (long) run does not change that run.
{
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
RT=${RT:-$repo/rt}
VM_TIMEOUT=${VM_TIMEOUT:-900}
VM_MEM=${VM_MEM:-4096}
VM_CPUS=${VM_CPUS:-2}
cache=${VM_CACHE:-$repo/.cache/vm}
GO=${GO:-go}
VM_LOG_NAME=test-cgroup2
# shellcheck source=tests/vm/lib.sh
. "$repo/tests/vm/lib.sh"
vm_static_rt
vm_host_tools busybox-static jq bash util-linux
vm_kernel

# The tests as one static binary (no go in the guest), and fdthief, which
# TestAttackExecTakeover otherwise builds with go.
log "building the integration tests"
CGO_ENABLED=0 $GO test -c -o "$cache/integration.test" ./integration/
# cgo: runc's specconv (the systemd driver's rules) needs it; static for the guest.
CGO_ENABLED=1 $GO test -c -tags "netgo osusergo" -ldflags "-linkmode external -extldflags -static" -o "$cache/cgroups.test" ./libcontainer/cgroups/
CGO_ENABLED=0 $GO build -o "$cache/fdthief" ./integration/testdata/fdthief
CGO_ENABLED=0 $GO build -o "$cache/mkimage" ./bench/import/mkimage

# The guest's root.
root=$cache/root
rm -rf "$root" && mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,proc,sys,dev,tmp,root,repo/tests/lib}
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list-full); do
	[ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
done
# Dynamic tools with their libraries: bash and jq (mkbundle.sh), util-linux's
# findmnt, unshare, mount and umount (TestNoNamespaces, reliability tests).
copy_dyn() {
	local bin=$1 lib
	rm -f "$root$bin"
	mkdir -p "$root$(dirname "$bin")" && cp -L "$bin" "$root$bin"
	for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")" && cp -Ln "$lib" "$root$lib"
	done
}
for b in /usr/bin/bash /usr/bin/jq /usr/bin/findmnt /usr/bin/unshare /usr/bin/mount /usr/bin/umount; do copy_dyn "$b"; done
ln -sf /usr/bin/bash "$root/bin/bash"
# runuser (TestRootless runs rt as nobody) with just enough PAM: root may
# become anyone.
if [ -x /usr/sbin/runuser ] && [ -e /lib/x86_64-linux-gnu/security/pam_rootok.so ]; then
	for b in /usr/sbin/runuser /lib/x86_64-linux-gnu/security/pam_rootok.so /lib/x86_64-linux-gnu/security/pam_permit.so; do
		copy_dyn "$b"
	done
	mkdir -p "$root/etc/pam.d"
	printf 'auth sufficient pam_rootok.so\naccount required pam_permit.so\nsession required pam_permit.so\n' >"$root/etc/pam.d/runuser"
fi
[ -e "$root/lib64" ] || ln -s usr/lib64 "$root/lib64" 2>/dev/null || true
# mkbundle.sh copies this bin/ into every bundle (BUSYBOX_BIN_DIR).
mkdir -p "$root/opt/busybox-bin" && cp /bin/busybox "$root/opt/busybox-bin/busybox"
for a in $(/bin/busybox --list); do [ -e "$root/opt/busybox-bin/$a" ] || ln -s busybox "$root/opt/busybox-bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnobody:x:65534:\n' >"$root/etc/group"
: >"$root/etc/fstab"
cp "$RT" "$root/usr/local/bin/rt"
cp "$cache/fdthief" "$root/usr/local/bin/fdthief"
cp "$cache/mkimage" "$root/usr/local/bin/mkimage"
cp "$cache/integration.test" "$root/repo/integration.test"
mkdir -p "$root/repo/libcontainer/cgroups"
[ -n "${VM_NO_UNIT:-}" ] || cp "$cache/cgroups.test" "$root/repo/cgroups.test"
cp tests/lib/mkbundle.sh "$root/repo/tests/lib/"
cp -a integration "$root/repo/integration"
rm -rf "$root/repo/integration/conformance"
if [ -d "$repo/../shared/images" ]; then
	mkdir -p "$root/shared" && cp -a "$repo/../shared/images" "$root/shared/images"
fi
# Modules of this kernel the tests need: fuse (the /dev/fuse device filter
# tests) and overlay (rt run --image, the image store's tests).
mkdir -p "$root/lib/modules"
for mod in fuse overlay; do
	for ko in $(find "$downloads/kernel/lib/modules" -name "$mod.ko*"); do
		case $ko in
		*.xz) xz -dc "$ko" ;;
		*.zst) zstd -dc "$ko" ;;
		*) cat "$ko" ;;
		esac >"$root/lib/modules/$mod.ko" || rm -f "$root/lib/modules/$mod.ko"
	done
done
cp tests/vm/init "$root/init"
printf '%s\n' "${VM_PRE:-}" >"$root/vm-pre"
# The tests time out (and print their goroutines) well before qemu is
# killed; tests/vm/watchdog reports 20 s after that if they could not.
echo "-test.v -test.count=1 -test.timeout=$((VM_TIMEOUT - 120))s $*" >"$root/vm-args"
echo $((VM_TIMEOUT - 100)) >"$root/vm-watchdog"
cp tests/vm/watchdog "$root/usr/local/bin/vm-watchdog"

vm_boot "$root" "$VM_TIMEOUT" "$VM_MEM" "$VM_CPUS" "quiet loglevel=3"
}
