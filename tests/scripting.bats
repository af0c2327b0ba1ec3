#!/usr/bin/env bats
# rt driven from shell scripts and loops, as a user of runc or Docker expects
# it (issue 11): per-run overrides, one-line errors with meaningful exit
# codes, no argument silently dropped, clean signals, a working lo.

bats_require_minimum_version 1.5.0
load helpers

IMAGES=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/shared/images

# config NAME FILTER: apply a jq filter to the bundle's config.json
config() {
	jq "$1" "$BUNDLE/config.json" >"$BUNDLE/c.json" && mv "$BUNDLE/c.json" "$BUNDLE/config.json"
}

# --- 1. loopback -----------------------------------------------------------

@test "lo is up in a new network namespace" {
	run rt run -b "$BUNDLE" lo1 -- sh -c 'cat /sys/class/net/lo/flags; ip route get 127.0.0.1 >/dev/null && echo reachable'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0x9 ] # IFF_UP | IFF_LOOPBACK
	[ "${lines[1]}" = reachable ]
}

@test "ping 127.0.0.1 works in an imported busybox" {
	[ -f "$IMAGES/busybox.tar" ] || skip "no $IMAGES/busybox.tar"
	"$RT" import "$IMAGES/busybox.tar" "$WORK/bb"
	run rt run -b "$WORK/bb" ping1 -- ping -c1 127.0.0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *"1 packets received"* ]]
}

# --- 2. no argument is dropped -----------------------------------------------

@test "run: a flag after the ID is honoured (runc's reordering); an unknown one is an error, not dropped" {
	set_args true
	run rt run -b "$BUNDLE" x1 --keep
	[ "$status" -eq 0 ]
	[ "$(rt list -q)" = x1 ] # --keep took effect
	rt delete x1
	run rt run -b "$BUNDLE" x1 --bogus
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "rt: run: flag --bogus after the container ID"* ]]
	[ -z "$(rt list -q)" ]
}

@test "run/create: a command after the ID without -- is an error" {
	run rt run -b "$BUNDLE" x2 echo hello
	[ "$status" -ne 0 ]
	[[ "$output" == *'unexpected argument "echo"'*"--"* ]]
	run rt create -b "$BUNDLE" x3 sleep 1
	[ "$status" -ne 0 ]
	[[ "$output" == *'unexpected argument "sleep"'* ]]
	run rt run -b "$BUNDLE" x4 --
	[ "$status" -ne 0 ]
	[[ "$output" == *"nothing after --"* ]]
	[ -z "$(rt list -q)" ]
}

@test "commands that take one ID refuse a second; kill takes ID and signal only" {
	set_args sleep 60
	rt create -b "$BUNDLE" one
	for cmd in state start pause resume events update; do
		run rt "$cmd" one extra
		[ "$status" -ne 0 ]
		[[ "$output" == *'unexpected argument "extra"'* ]]
	done
	run rt kill one KILL extra
	[ "$status" -ne 0 ]
	[[ "$output" == *'"extra"'* ]]
	run rt list extra
	[ "$status" -ne 0 ]
	[ "$(rt state one | jq -r .status)" = created ]
}

@test "delete a b deletes both; a missing one is reported and fails the command" {
	set_args sleep 60
	rt create -b "$BUNDLE" d1
	rt create -b "$BUNDLE" d2
	rt delete d1 d2
	[ -z "$(rt list -q)" ]
	rt create -b "$BUNDLE" d3
	run rt delete ghost d3
	[ "$status" -eq 1 ]
	[[ "$output" == *"container does not exist: ghost"* ]]
	[ -z "$(rt list -q)" ]
}

# --- 3. a program that cannot be executed ------------------------------------

@test "exec format error: one line naming the program, exit 126" {
	printf '\177ELF-not-really' >"$BUNDLE/rootfs/bad"
	chmod +x "$BUNDLE/rootfs/bad"
	run --separate-stderr rt run -b "$BUNDLE" ef1 -- /bad
	[ "$status" -eq 126 ]
	[ "$stderr" = "rt: exec /bad: exec format error" ]
	[ -z "$(rt list -q)" ]
}

@test "a script whose interpreter is missing: names it, exit 127" {
	printf '#!/bin/bash\necho never\n' >"$BUNDLE/rootfs/s.sh"
	chmod +x "$BUNDLE/rootfs/s.sh"
	run -127 --separate-stderr rt run -b "$BUNDLE" in1 -- /s.sh
	[ "$status" -eq 127 ]
	[ "$stderr" = "rt: exec /s.sh: interpreter /bin/bash: no such file or directory" ]
}

@test "not found is 127, a directory is 126" {
	run -127 --separate-stderr rt run -b "$BUNDLE" nf1 -- nosuchprog
	[ "$status" -eq 127 ]
	[ "$stderr" = 'rt: exec nosuchprog: executable file not found in $PATH' ]
	run --separate-stderr rt run -b "$BUNDLE" nf2 -- /etc
	[ "$status" -eq 126 ]
	[ "$stderr" = "rt: exec /etc: is a directory" ]
	[ -z "$(rt list -q)" ]
}

@test "create + start: a failed execve is reported by start" {
	printf '\177ELF-not-really' >"$BUNDLE/rootfs/bad"
	chmod +x "$BUNDLE/rootfs/bad"
	rt create -b "$BUNDLE" cs1 -- /bad
	run --separate-stderr rt start cs1
	[ "$status" -eq 126 ]
	[ "$stderr" = "rt: exec /bad: exec format error" ]
	[ "$(rt state cs1 | jq -r .status)" = stopped ]
}

@test "exec: a failed execve is one line and runc's 255" {
	printf '\177ELF-not-really' >"$BUNDLE/rootfs/bad"
	chmod +x "$BUNDLE/rootfs/bad"
	set_args sleep 60
	rt run -d -b "$BUNDLE" ex1
	run --separate-stderr rt exec ex1 /bad
	[ "$status" -eq 255 ]
	[ "$stderr" = "rt: exec /bad: exec format error" ]
}

@test "an arm64 hello-world on this host: exec format error, 126" {
	[ -f "$IMAGES/hello-world-docker25.tar" ] || skip "no $IMAGES/hello-world-docker25.tar"
	[ "$(uname -m)" != aarch64 ] || skip "the image runs here"
	"$RT" import "$IMAGES/hello-world-docker25.tar" "$WORK/hw"
	run --separate-stderr rt run -b "$WORK/hw" hw1
	[ "$status" -eq 126 ]
	[ "$stderr" = "rt: exec /hello: exec format error" ]
}

# --- 4. terminal: true with stdin from a pipe ----------------------------------

@test "terminal: true with no terminal at all (a pipe, no controlling terminal) fails at once, saying what to do" {
	config '.process.terminal = true | .process.args = ["sh"]'
	# setsid: no controlling terminal, whatever runs bats. timeout only
	# stops a hang from blocking the suite; no time is asserted.
	run setsid -w bash -c "echo 'echo hi' | timeout -s KILL 60 '$RT' --root '$ROOT' run -b '$BUNDLE' tp1"
	[ "$status" -ne 0 ] && [ "$status" -ne 137 ]
	[[ "$output" == *'there is no controlling terminal): set "terminal": false to run from scripts and pipes'* ]]
	[ -z "$(rt list -q)" ]
}

# --- 5. signals from a background job ----------------------------------------

# run_bg_and_interrupt ID: `rt run` ID as a script's background job, wait
# for the container to print "ready", send the job SIGINT, and return the
# job's exit status; the container's output is in $WORK/ID.out.
run_bg_and_interrupt() {
	run bash -c '
		"$0" --root "$1" run -b "$2" "$4" >"$3" &
		job=$!
		for _ in $(seq 600); do grep -q ready "$3" && break; sleep 0.05; done
		kill -INT $job
		wait $job' "$RT" "$ROOT" "$BUNDLE" "$WORK/$1.out" "$1"
}

@test "rt run & from a script: the process ignores and blocks no signal" {
	# A non-interactive shell runs a background job with SIGINT and SIGQUIT
	# ignored; the container must not inherit that.
	run bash -c "'$RT' --root '$ROOT' run -b '$BUNDLE' bg1 -- cat /proc/self/status & wait \$!"
	[ "$status" -eq 0 ]
	[[ "$output" == *$'SigBlk:\t0000000000000000'* ]]
	[[ "$output" == *$'SigIgn:\t0000000000000000'* ]]
}

@test "rt run & from a script: kill -INT of the job reaches the container's trap" {
	# The loop ends by itself (status 0) if SIGINT never arrives.
	set_args sh -c 'trap "echo trapped; exit 5" INT; echo ready; for i in $(seq 600); do sleep 0.1; done'
	run_bg_and_interrupt bg2
	[ "$status" -eq 5 ]
	[ "$(cat "$WORK/bg2.out")" = "$(printf 'ready\ntrapped')" ]
}

@test "rt run & from a script: SIGINT kills an untrapping process, exit 130" {
	set_args sh -c 'echo ready; for i in $(seq 600); do sleep 0.1; done'
	run_bg_and_interrupt bg3
	[ "$status" -eq 130 ]
}

# --- 7. a rootful bundle as non-root ------------------------------------------

@test "a rootful bundle run as non-root says to use root or rt spec --rootless" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch to nobody"
	command -v setpriv >/dev/null || skip "no setpriv"
	chmod 755 "$WORK"
	mkdir -m 777 "$WORK/nobody-root"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$RT" --root "$WORK/nobody-root" run -b "$BUNDLE" nr1
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"needs root"*"rt spec --rootless"* ]]
	[ -z "$(ls "$WORK/nobody-root")" ]
}

# --- overrides -----------------------------------------------------------------

@test "overrides: -- COMMAND, -e (replaces), --cwd, --user, --hostname; config.json untouched" {
	config '.process.env += ["KEEP=1", "X=old"]'
	before=$(sha256sum <"$BUNDLE/config.json")
	run rt run -b "$BUNDLE" -e X=new -e Y=a,b --cwd /tmp --user 65534:65534 --hostname box ov1 -- \
		sh -c 'echo "$KEEP $X $Y"; env | grep -c "^X="; pwd; id -u; id -g; hostname'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '1 new a,b\n1\n/tmp\n65534\n65534\nbox')" ]
	[ "$(sha256sum <"$BUNDLE/config.json")" = "$before" ]
}

@test "overrides: -e NAME takes rt's own value" {
	run env FROMHOST=yes "$RT" --root "$ROOT" run -b "$BUNDLE" -e FROMHOST ov2 -- sh -c 'echo $FROMHOST'
	[ "$status" -eq 0 ]
	[ "$output" = yes ]
}

@test "overrides: the hostname is the container ID when the config names none" {
	config 'del(.hostname)'
	run rt run -b "$BUNDLE" myhost-1 -- hostname
	[ "$status" -eq 0 ]
	[ "$output" = myhost-1 ]
}

@test "overrides: create -- COMMAND; exec starts from the overridden process" {
	rt create -b "$BUNDLE" -e X=42 --cwd /tmp ov3 -- sleep 60
	rt start ov3
	run rt exec ov3 sh -c 'echo $X; pwd'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '42\n/tmp')" ]
	[ "$(rt ps --format json ov3 | jq length)" -ge 1 ]
}

@test "overrides: bad values are one line naming the flag; nothing is created" {
	run rt run -b "$BUNDLE" bad1 --cwd tmp -- true
	[ "$status" -ne 0 ]
	run rt run -b "$BUNDLE" --cwd tmp bad1 -- true
	[ "$status" -ne 0 ]
	[ "$output" = 'rt: --cwd "tmp": not an absolute path' ]
	run rt run -b "$BUNDLE" --user bob bad2 -- true
	[ "$output" = 'rt: --user "bob": uid must be a number' ]
	run rt run -b "$BUNDLE" -e =x bad3 -- true
	[ "$output" = 'rt: --env "=x": want NAME=value' ]
	run env -u NOPE_RT "$RT" --root "$ROOT" run -b "$BUNDLE" -e NOPE_RT bad4 -- true
	[[ "$output" == "rt: --env NOPE_RT: not set"* ]]
	config '.linux.namespaces |= map(select(.type != "uts")) | del(.hostname)'
	run rt run -b "$BUNDLE" --hostname h bad5 -- true
	[[ "$output" == "rt: --hostname: "*"no uts namespace"* ]]
	[ -z "$(rt list -q)" ]
}

# --- many containers from one bundle, in parallel -------------------------------

@test "50 containers in parallel from a shell loop: own env, command, hostname, exit code; no state left" {
	config 'del(.hostname)'
	for i in $(seq 50); do
		(
			rc=0
			"$RT" --root "$ROOT" run -b "$BUNDLE" -e "N=$i" "par$$-$i" -- \
				sh -c 'echo "n=$N host=$(hostname)"; exit $((N % 7))' >"$WORK/out.$i" 2>&1 || rc=$?
			echo "$rc" >"$WORK/rc.$i"
		) &
	done
	wait
	for i in $(seq 50); do
		[ "$(cat "$WORK/out.$i")" = "n=$i host=par$$-$i" ] || { echo "out.$i: $(cat "$WORK/out.$i")"; false; }
		[ "$(cat "$WORK/rc.$i")" -eq $((i % 7)) ] || { echo "rc.$i: $(cat "$WORK/rc.$i")"; false; }
	done
	[ -z "$(rt list -q)" ]
	[ -z "$(ls "$ROOT")" ]
	! ls -d /sys/fs/cgroup/*/rt/par$$-* /sys/fs/cgroup/rt/par$$-* 2>/dev/null
	! grep -q "$WORK" /proc/self/mountinfo
}

# --- help ----------------------------------------------------------------------

@test "rt --help shows both ways to a bundle: import + run, spec + run" {
	run "$RT" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *DESCRIPTION:* ]]
	[[ "$output" == *"rt import "* ]]
	[[ "$output" == *"rt spec "* ]]
	[[ "$output" == *"rt run "* ]]
}

@test "every command's help has a description and an example" {
	cmds=$("$RT" --help | sed -n '/^COMMANDS:/,/^GLOBAL OPTIONS:/p' | sed '1d;$d' | awk '{print $1}' | tr -d ',' | grep -v '^help$')
	[ "$(echo "$cmds" | wc -l)" -ge 16 ]
	for cmd in $cmds; do
		run "$RT" "$cmd" --help
		[ "$status" -eq 0 ] || { echo "$cmd: exit $status"; false; }
		[[ "$output" == *DESCRIPTION:* ]] || { echo "$cmd: no description"; false; }
		[[ "$output" == *EXAMPLE:* ]] || { echo "$cmd: no example"; false; }
	done
}
