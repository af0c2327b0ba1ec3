#!/usr/bin/env bash
# mkbundle.sh DIR [ARGS...]: make an OCI bundle in DIR whose rootfs is Debian's
# busybox-static (one binary plus its applet links) and whose config.json is
# `rt spec` with terminal off and process.args set to ARGS (default: sh).
set -euo pipefail
dir=${1:?usage: mkbundle.sh DIR [ARGS...]}
shift
RT=${RT:-$(cd "$(dirname "$0")/../.." && pwd)/rt}
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || { echo "mkbundle.sh: $BUSYBOX missing (make deps installs busybox-static)" >&2; exit 1; }
if command -v file >/dev/null && file "$BUSYBOX" | grep -q "dynamically linked"; then
	echo "mkbundle.sh: $BUSYBOX is not static" >&2
	exit 1
fi
mkdir -p "$dir/rootfs"/{bin,etc,dev,proc,sys,tmp,root,home}
if [ -n "${BUSYBOX_BIN_DIR:-}" ]; then
	# A prepared bin/ (busybox and its applet links, as below), copied in one
	# process: the cgroup v2 guest of tests/vm, where each fork is slow. A
	# bundle made again in the same DIR keeps the bin/ it has.
	[ -e "$dir/rootfs/bin/busybox" ] || cp -a "$BUSYBOX_BIN_DIR/." "$dir/rootfs/bin/"
else
	cp "$BUSYBOX" "$dir/rootfs/bin/busybox"
	for a in $("$BUSYBOX" --list); do
		[ -e "$dir/rootfs/bin/$a" ] || ln -s busybox "$dir/rootfs/bin/$a"
	done
fi
chmod 1777 "$dir/rootfs/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/rootfs/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$dir/rootfs/etc/group"
rm -f "$dir/config.json"
"$RT" spec --bundle "$dir"
# One jq: the arguments go in NUL-separated (they may hold newlines).
if [ $# -gt 0 ]; then printf '%s\0' "$@"; fi |
	jq --rawfile a /dev/stdin '.process.terminal = false | .process.args = ($a | split("\u0000")[:-1] | if . == [] then ["sh"] else . end)' \
		"$dir/config.json" >"$dir/config.json.new"
mv "$dir/config.json.new" "$dir/config.json"
