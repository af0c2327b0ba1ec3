#!/usr/bin/env bash
# run.sh: run runc's own integration suite (tests/integration/*.bats of the
# github.com/opencontainers/runc Go module, RUNC_VERSION) against ./rt, and
# against runc built from the same module when that can be built here.
#
#   make runc-suite                          # every .bats file
#   make runc-suite FILES="version.bats help.bats"
#
# Environment:
#   FILES             .bats files to run (default: all of them)
#   FILE_TIMEOUT      seconds per .bats file per runtime (default 600)
#   TEST_TIMEOUT      seconds per test (BATS_TEST_TIMEOUT; default 120): a
#                     test that hangs fails alone, the file goes on
#   RUNC_REF          a runc binary to compare with (default: build runc
#                     RUNC_VERSION from the module; skipped if that fails)
#   NO_REF=1          do not run the reference runc at all
#   DEBIAN_IMAGE      a Debian rootfs tarball (tests needing it skip without)
#   KNOWN             known-failures file (default: next to this script)
#
# Everything is written under .cache/runc-suite (the module cache is
# read-only). Each .bats file runs in a private mount and network namespace
# (unshare -mn, lo up): checkpoint.bats and netdev.bats add and delete a
# dummy0 link, which must not touch the host's. Each test gets its own ROOT
# (helpers.bash: mktemp under the bats run's tmpdir).
#
# Exit status: 0 when every test rt fails is listed in known-failures.txt,
# 1 otherwise (the unlisted failures are printed).
set -euo pipefail

RUNC_VERSION=${RUNC_VERSION:-v1.5.2}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RT=${RT:-$REPO/rt}
CACHE=${CACHE:-$REPO/.cache/runc-suite}
KNOWN=${KNOWN:-$HERE/known-failures.txt}
FILE_TIMEOUT=${FILE_TIMEOUT:-600}
TEST_TIMEOUT=${TEST_TIMEOUT:-120}
export GOFLAGS= GOSUMDB=off GOTOOLCHAIN=local

log() { echo "runc-suite: $*" >&2; }

[ "$(id -u)" = 0 ] || { log "must run as root (the suite's tests need root)"; exit 2; }
[ -x "$RT" ] || { log "$RT missing: make rt"; exit 2; }
for c in bats jq gawk script unshare ip timeout go; do
	command -v $c >/dev/null || { log "$c missing (make deps)"; exit 2; }
done

# --- 1. the suite, copied out of the module cache --------------------------
MOD=$(go env GOMODCACHE)/github.com/opencontainers/runc@$RUNC_VERSION
if [ ! -d "$MOD/tests/integration" ]; then
	MOD=$(cd "$REPO" && go mod download -json "github.com/opencontainers/runc@$RUNC_VERSION" | jq -r .Dir)
fi
[ -d "$MOD/tests/integration" ] || { log "no runc $RUNC_VERSION module"; exit 2; }
mkdir -p "$CACHE"
SUITE=$CACHE/runc/tests
rm -rf "$CACHE/runc"
mkdir -p "$CACHE/runc"
cp -r "$MOD/tests" "$SUITE"
cp "$MOD/go.mod" "$CACHE/runc/go.mod" # spec.bats reads the spec version there
chmod -R u+w "$CACHE/runc"
# The module cache drops the execute bits: the suite runs some of its scripts.
find "$SUITE" -type f -name '*.sh' -exec chmod +x {} +
INT=$SUITE/integration

# --- 2. images: local files instead of get-images.sh's downloads ----------
# get-images.sh prints BUSYBOX_IMAGE=... and DEBIAN_IMAGE=... (helpers.bash
# evals it), downloading into testdata/ first. Here there is no network: the
# busybox rootfs is made from the image fixture (rt import) or from Debian's
# busybox-static; the Debian image only if DEBIAN_IMAGE names one.
# Like runc's busybox image (docker-library's rootfs tarball), it has no
# /proc and no /sys: the runtime creates them. mask.bats relies on that
# ("ln -s /symlink rootfs/proc" must make /proc itself the symlink).
BUSYBOX_TAR=$CACHE/busybox-rootfs.v2.tar
if [ ! -s "$BUSYBOX_TAR" ]; then
	tmp=$(mktemp -d "$CACHE/bb.XXXXXX")
	FIXTURE=${BUSYBOX_FIXTURE:-/work/shared/images/busybox.tar}
	if [ -f "$FIXTURE" ]; then
		log "busybox rootfs from $FIXTURE (rt import)"
		"$RT" import "$FIXTURE" "$tmp/b" >/dev/null
	else
		log "busybox rootfs from Debian's busybox-static"
		RT=$RT "$REPO/tests/lib/mkbundle.sh" "$tmp/b" >/dev/null
	fi
	rmdir "$tmp/b/rootfs/proc" "$tmp/b/rootfs/sys" 2>/dev/null || true
	tar -C "$tmp/b/rootfs" -cf "$BUSYBOX_TAR.new" .
	mv "$BUSYBOX_TAR.new" "$BUSYBOX_TAR"
	rm -rf "$tmp"
fi
cat >"$INT/get-images.sh" <<EOF
#!/bin/bash
# Replaced by rt's tests/runc-suite/run.sh: local images, no download.
echo "BUSYBOX_IMAGE=$BUSYBOX_TAR"
echo "DEBIAN_IMAGE=${DEBIAN_IMAGE:-}"
EOF
chmod +x "$INT/get-images.sh"
# Tests on the Debian image skip (with the reason) instead of failing on an
# empty path.
sed -i 's|^\tsetup_bundle "\$DEBIAN_IMAGE"|\t[ -n "${DEBIAN_IMAGE:-}" ] \|\| skip "no Debian image here (offline; DEBIAN_IMAGE=rootfs.tar to run it)"\n&|' "$INT/helpers.bash"
grep -q 'no Debian image here' "$INT/helpers.bash" || { log "helpers.bash patch failed"; exit 2; }

# --- 3. helper programs (tests/cmd) and the reference runc -----------------
# Built in rt's module (which requires runc $RUNC_VERSION) through a copy of
# go.mod, offline: go-pathrs is only imported with the libpathrs tag, so a
# stub module stands for it; console's old x/sys maps to a cached one.
GOMOD=$CACHE/gomod
mkdir -p "$GOMOD/stub-pathrs" "$SUITE/cmd/_bin"
printf 'module cyphar.com/go-pathrs\n\ngo 1.18\n' >"$GOMOD/stub-pathrs/go.mod"
cp "$REPO/go.mod" "$GOMOD/go.mod"
cp "$REPO/go.sum" "$GOMOD/go.sum"
{
	echo "replace cyphar.com/go-pathrs => $GOMOD/stub-pathrs"
	xsys=$(ls "$(go env GOMODCACHE)/cache/download/golang.org/x/sys/@v/" 2>/dev/null | sed -n 's/\.zip$//p' | sort -V | tail -1)
	[ -n "$xsys" ] && echo "replace golang.org/x/sys v0.1.0 => golang.org/x/sys $xsys"
} >>"$GOMOD/go.mod"
# Offline first; what the module cache lacks (urfave/cli v1 for recvtty and
# pidfd-kill on a fresh machine) comes from the Go module proxy.
gobuild() {
	(cd "$REPO" && GOPROXY=off go build -mod=mod -modfile="$GOMOD/go.mod" -tags seccomp "$@") ||
		(cd "$REPO" && GOPROXY=${GOPROXY_SUITE:-$(go env GOPROXY)} go build -mod=mod -modfile="$GOMOD/go.mod" -tags seccomp "$@")
}
BUILT="" NOTBUILT=""
for c in $(cd "$SUITE/cmd" && ls -d */ | tr -d /); do
	[ "$c" = _bin ] && continue
	if [ -x "$CACHE/bin/$c" ] || gobuild -o "$CACHE/bin/$c" "github.com/opencontainers/runc/tests/cmd/$c" 2>"$CACHE/build-$c.log"; then
		cp "$CACHE/bin/$c" "$SUITE/cmd/_bin/$c"
		BUILT="$BUILT $c"
	else
		NOTBUILT="$NOTBUILT $c"
	fi
done
log "helpers built:$BUILT"
[ -z "$NOTBUILT" ] || log "helpers NOT built (see $CACHE/build-*.log):$NOTBUILT"

REF=""
if [ -z "${NO_REF:-}" ]; then
	if [ -n "${RUNC_REF:-}" ]; then
		REF=$(readlink -f "$RUNC_REF")
	elif [ -x "$CACHE/runc-${RUNC_VERSION#v}" ]; then
		REF=$CACHE/runc-${RUNC_VERSION#v}
	elif gobuild -o "$CACHE/runc-${RUNC_VERSION#v}" github.com/opencontainers/runc 2>"$CACHE/build-runc.log"; then
		REF=$CACHE/runc-${RUNC_VERSION#v}
	else
		log "reference runc $RUNC_VERSION not built (offline: $(grep -c 'lookup disabled' "$CACHE/build-runc.log") of its packages' modules are not in the module cache; see $CACHE/build-runc.log). Set RUNC_REF=/path/to/runc to compare."
	fi
fi

# exeseal (runc's, which rt uses too) mounts the binary's directory and the
# container's state directory as overlayfs lower layers, which may not nest
# (ELOOP, and then the slower copy): the state directories are under
# $CACHE/tmp, so the runtimes run from a directory of their own, as they
# would from /usr/local/bin (run.bats [/proc/self/exe clone] checks it).
mkdir -p "$CACHE/runtimes"
install -m 0755 "$RT" "$CACHE/runtimes/rt"
RT=$CACHE/runtimes/rt
if [ -n "$REF" ]; then
	install -m 0755 "$REF" "$CACHE/runtimes/runc"
	REF=$CACHE/runtimes/runc
fi

# --- 4. run ----------------------------------------------------------------
if [ -n "${FILES:-}" ]; then
	files=$FILES
else
	files=$(cd "$INT" && ls ./*.bats | sed 's|^\./||')
fi

# nsflags FILE: unshare's flags. mounts_propagation_unsafe.bats makes its own
# isolated mount namespace and binds its nsfs file, which the kernel refuses
# (EINVAL) inside a private mount namespace: it runs in the host's (network
# still private).
nsflags() {
	case $1 in
	mounts_propagation_unsafe.bats) echo "-n" ;;
	*) echo "-mn --propagation private" ;;
	esac
}

# complete TAP: every test of the plan has its line.
complete() {
	local plan n
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$1" 2>/dev/null | head -1)
	n=$(grep -cE '^(not )?ok [0-9]+ ' "$1" 2>/dev/null || true)
	[ -n "$plan" ] && [ "$n" -ge "$plan" ]
}

# watch_leftovers PID TAP BINARY: two things bats cannot undo itself.
# - A test stuck in the runtime: BATS_TEST_TIMEOUT's signal waits for the
#   foreground command, and `runc exec`/`run` forward SIGTERM to a container
#   process (which may be frozen). When no result comes for TEST_TIMEOUT+30 s,
#   the runtime's processes in bats's session (script(1) makes one for it)
#   are listed in TAP.stderr and killed: that test fails, the file goes on.
# - Once every test has reported, bats still waits for whatever a test left
#   running with its output (a seccompagent whose teardown did not happen,
#   ...): 20 s after the last result, what is left in the session is listed
#   and killed.
watch_leftovers() {
	local tpid=$1 out=$2 bin=$3 since="" spid sid n last=-1 lastt=$SECONDS
	while kill -0 "$tpid" 2>/dev/null; do
		sleep 2
		spid=$(pgrep -P "$tpid" | head -1)
		sid=$([ -n "$spid" ] && pgrep -P "$spid" | head -1)
		[ -n "$sid" ] || continue
		n=$(grep -cE '^(not )?ok [0-9]+ ' "$out" 2>/dev/null || true)
		if [ "$n" != "$last" ]; then
			last=$n lastt=$SECONDS
		elif [ $((SECONDS - lastt)) -ge $((TEST_TIMEOUT + 30)) ] && pgrep -s "$sid" -f "^$bin( |$)" >/dev/null; then
			{
				echo "runc-suite: no result for $((SECONDS - lastt)) s: killing the runtime's processes:"
				ps -o pid=,args= -p "$(pgrep -d, -s "$sid" -f "^$bin( |$)")"
			} >>"$out.stderr" 2>&1
			pkill -KILL -s "$sid" -f "^$bin( |$)" || true
			lastt=$SECONDS
		fi
		complete "$out" || continue
		since=${since:-$SECONDS}
		[ $((SECONDS - since)) -ge 20 ] || continue
		{
			echo "runc-suite: left running after the last test (killed):"
			ps -o pid=,args= -s "$sid"
		} >>"$out.stderr" 2>&1
		touch "$out.leftovers"
		pkill -KILL -s "$sid" || true
		break
	done &
}

# runone NAME BINARY FILE: TAP of FILE against BINARY in results/NAME/.
runone() {
	local name=$1 bin=$2 f=$3 out rc tmp
	out=$CACHE/results/$name/${f%.bats}.tap
	rm -f "$out.leftovers"
	tmp=$CACHE/tmp/$name/${f%.bats}
	rm -rf "$tmp"
	mkdir -p "$tmp" "$(dirname "$out")"
	chmod a+x "$CACHE" "$CACHE/tmp" "$CACHE/tmp/$name" "$tmp"
	rc=0
	# script(1) gives bats a terminal (stdin): runc's suite runs under
	# `docker run -t` upstream, and `runc run` with the spec's default
	# "terminal": true needs one. script's own stdin is a FIFO opened
	# read-write, which never reads EOF, as `docker run -t`'s terminal: on
	# EOF script writes VEOF to its pty, which the line discipline keeps as
	# a NUL byte; a runtime that then makes the terminal raw reads it and
	# the container's pty echoes "^@" before the test's output.
	rm -f "$tmp.stdin"
	mkfifo "$tmp.stdin"
	# bats runs BATS_TEST_TIMEOUT's timer as a job of the test's shell, so
	# a test's bare `wait` (events.bats) waits for the timer too: every
	# such test would take TEST_TIMEOUT. Those files go without it; the
	# leftover watch below still ends a test stuck in the runtime.
	local btt=$TEST_TIMEOUT
	if grep -qE '^[[:space:]]*wait([[:space:]]*$|[[:space:]]*#)' "$INT/$f"; then
		btt=
	fi
	TMPDIR=$tmp RUNC=$bin SHELL=/bin/bash BATS_TEST_TIMEOUT=$btt timeout -k 15 "$FILE_TIMEOUT" \
		unshare $(nsflags "$f") \
		script -qec "ip link set lo up && bats -t $INT/$f >$out 2>$out.stderr" /dev/null \
		<>"$tmp.stdin" >/dev/null 2>&1 &
	local tpid=$! wpid
	watch_leftovers "$tpid" "$out" "$bin"
	wpid=$!
	wait "$tpid" || rc=$?
	wait "$wpid" || true
	if [ -e "$out.leftovers" ]; then
		rm -f "$out.leftovers"
	elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "not ok 9999 (file timed out: FILE_TIMEOUT=${FILE_TIMEOUT}s)" >>"$out"
	fi
	# Containers a killed run left behind.
	find "$tmp" -maxdepth 4 -type d -name state 2>/dev/null | while read -r st; do
		for ct in $("$bin" --root "$st" list -q 2>/dev/null); do
			"$bin" --root "$st" resume "$ct" >/dev/null 2>&1 || true
			"$bin" --root "$st" delete -f "$ct" >/dev/null 2>&1 || true
		done
	done
	rm -rf "$tmp" "$tmp.stdin" 2>/dev/null || true
}

# results NAME: "file.bats: test" lines with status ok|skip|fail.
results() {
	local name=$1 f tap
	for f in $files; do
		tap=$CACHE/results/$name/${f%.bats}.tap
		[ -f "$tap" ] || continue
		sed -n -E \
			-e "s/^ok [0-9]+ (.*) # skip.*/skip	$f: \1/p" \
			-e "/# skip/!s/^ok [0-9]+ (.*)/ok	$f: \1/p" \
			-e "s/^not ok 9999 \(file timed out: .*/fail	$f: (file timed out)/p" \
			-e "s/^not ok [0-9]+ (.*) # timeout after [0-9]+s$/fail	$f: \1/p" \
			-e "/# timeout after|^not ok 9999 \(file timed out/!s/^not ok [0-9]+ (.*)/fail	$f: \1/p" "$tap" | sed 's/[[:space:]]*$//'
	done
}

summary() {
	local r=$1
	printf '%d passed, %d failed, %d skipped' \
		"$(grep -c '^ok' "$r" || true)" "$(grep -c '^fail' "$r" || true)" "$(grep -c '^skip' "$r" || true)"
}

rm -rf "$CACHE/results"
for f in $files; do
	[ -f "$INT/$f" ] || { log "no such file: $f"; exit 2; }
	log "$f: rt"
	runone rt "$RT" "$f"
	if [ -n "$REF" ]; then
		log "$f: runc"
		runone runc "$REF" "$f"
	fi
done

results rt >"$CACHE/rt.results"
echo
echo "files: $(echo $files | wc -w)"
echo "rt:            $(summary "$CACHE/rt.results")"
if [ -n "$REF" ]; then
	results runc >"$CACHE/runc.results"
	echo "runc ($("$REF" --version | head -1 | awk '{print $3}')): $(summary "$CACHE/runc.results")"
	# Tests runc passes and rt fails.
	join -t '	' -1 2 -2 2 <(sort -t '	' -k2 "$CACHE/rt.results") <(sort -t '	' -k2 "$CACHE/runc.results") |
		awk -F '\t' '$2=="fail" && $3=="ok" {print $1}' >"$CACHE/rt-only-failures"
	echo "rt fails, runc passes: $(wc -l <"$CACHE/rt-only-failures") (list: $CACHE/rt-only-failures)"
else
	echo "runc:          not run (no reference binary)"
fi

# Failures not in known-failures.txt. A line "file.bats: *" covers a file.
known=$(sed -e 's/[[:space:]]*::.*//' -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' "$KNOWN" 2>/dev/null || true)
unlisted=0
while IFS='	' read -r st t; do
	[ "$st" = fail ] || continue
	if grep -qxF -- "$t" <<<"$known" || grep -qxF -- "${t%%: *}: *" <<<"$known"; then
		continue
	fi
	if [ $unlisted = 0 ]; then echo "rt failures not in $(basename "$KNOWN"):"; fi
	echo "  $t"
	unlisted=$((unlisted + 1))
done <"$CACHE/rt.results"
# Listed failures that pass now: the list should shrink.
while IFS='	' read -r st t; do
	[ "$st" = ok ] || continue
	if grep -qxF -- "$t" <<<"$known"; then echo "passes now (remove from $(basename "$KNOWN")): $t"; fi
done <"$CACHE/rt.results"
echo "TAP: $CACHE/results/"
[ $unlisted = 0 ]
