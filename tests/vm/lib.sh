# tests/vm/lib.sh: what the qemu guests of tests/vm/ share (sourced by run.sh
# and systemd.sh): host tools, Debian's cloud kernel, the boot and its result.
# Expects: repo, cache (the run's scratch dir), RT; defines log. What is
# downloaded (the kernel, systemd.sh's Debian tree) is kept across clones in
# $VM_DOWNLOADS (default ~/.cache/rt-vm), like Go's module cache.

downloads=${VM_DOWNLOADS:-${XDG_CACHE_HOME:-$HOME/.cache}/rt-vm}

log() { echo "${VM_LOG_NAME:-vm}: $*" >&2; }

# vm_host_tools PKG...: install the host packages the guest build needs, only
# if missing.
vm_host_tools() {
	local missing="" p
	for p in qemu-system-x86 cpio file "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		log "installing:$missing"
		apt-get update -qq
		# shellcheck disable=SC2086 # a word list
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
	fi
}

# vm_static_rt: the guest has no libc of the host's version: rt must be static.
vm_static_rt() {
	[ -x "$RT" ] || { log "$RT missing (make rt)"; exit 1; }
	if ! file "$RT" 2>/dev/null | grep -q 'statically linked\|static-pie'; then
		log "$RT is not static (make rt builds it static)"
		exit 1
	fi
}

# vm_kernel: sets kernel to the current version of Debian's cloud flavour
# (pure cgroup v2 capable, user/pid/net/time namespaces and seccomp built
# in), unpacked once into $downloads/kernel.
vm_kernel() {
	mkdir -p "$cache" "$downloads"
	kernel=$(ls "$downloads"/kernel/boot/vmlinuz-* 2>/dev/null | head -1 || true)
	[ -z "$kernel" ] || return 0
	local pkg
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
	if [ -z "$pkg" ]; then
		apt-get update -qq
		pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
	fi
	[ -n "$pkg" ] || { log "no linux-image-cloud-amd64 in apt"; exit 1; }
	log "fetching $pkg"
	rm -rf "$downloads/deb" "$downloads/kernel" && mkdir -p "$downloads/deb"
	(cd "$downloads/deb" && apt-get download -q "$pkg" >/dev/null 2>&1) || { (cd "$downloads/deb" && apt-get download "$pkg"); exit 1; }
	dpkg-deb -x "$downloads"/deb/"$pkg"_*.deb "$downloads/kernel"
	rm -rf "$downloads/deb"
	kernel=$(ls "$downloads"/kernel/boot/vmlinuz-* | head -1)
}

# vm_boot ROOT TIMEOUT MEM CPUS APPEND: pack ROOT as the initramfs, boot it
# and exit with the code of the guest's last "RT-VM-EXIT=<code>" line. The
# console goes to stdout and to $cache/console.log. /dev/kvm exists on some
# CI VMs without working: always TCG. A guest that went silent (no result,
# and no report from tests/vm/watchdog, which a live guest prints before
# qemu's timeout) is booted once more: CI has seen the systemd guest stop
# dead (minutes without a line, not even the test binary's own timeout); a
# hang of the tests themselves is reported by the watchdog and fails at once.
vm_boot() {
	local root=$1 timeout=$2 mem=$3 cpus=$4 append=$5
	(cd "$root" && find . | cpio -o -H newc --quiet) >"$cache/initramfs.cpio"
	log "initramfs $(du -h "$cache/initramfs.cpio" | cut -f1), kernel $(basename "$kernel"), guest ${mem}M ${cpus} cpus, timeout ${timeout}s"
	local out=$cache/console.log start qrc code took try
	for try in 1 2; do
		start=$(date +%s)
		set +e
		timeout -k 10 "$timeout" qemu-system-x86_64 -accel tcg -cpu max -m "$mem" -smp "$cpus" \
			-kernel "$kernel" -initrd "$cache/initramfs.cpio" \
			-append "console=ttyS0 panic=-1 $append" \
			-nic none -nographic -no-reboot </dev/null 2>&1 | sed -u 's/\r$//' | tee "$out"
		qrc=${PIPESTATUS[0]}
		set -e
		took=$(($(date +%s) - start))
		code=$(grep -a -o 'RT-VM-EXIT=[0-9]*' "$out" | tail -1 | cut -d= -f2)
		[ -z "$code" ] || break
		log "no result from the guest after ${took}s (qemu exit $qrc$([ "$qrc" = 124 ] && echo ": timed out after ${timeout}s"))"
		if [ "$try" = 2 ] || grep -a -q 'rt-vm: watchdog' "$out"; then
			rm -f "$cache/initramfs.cpio"
			exit 1
		fi
		cp "$out" "$out.1"
		log "the guest went silent (no watchdog report): booting it once more (first console: $out.1)"
	done
	rm -f "$cache/initramfs.cpio"
	log "guest run took ${took}s; tests exit $code"
	exit "$code"
}
