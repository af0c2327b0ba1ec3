# Shared set-up for the bats CLI tests: a private --root and bundle per test.
RT=${RT:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)/rt}

setup() {
	WORK=$(mktemp -d "/tmp/rt-test-$$-XXXXXX")
	ROOT="$WORK/state"
	BUNDLE="$WORK/bundle"
	"$BATS_TEST_DIRNAME/lib/mkbundle.sh" "$BUNDLE" >/dev/null
}

teardown() {
	for id in $("$RT" --root "$ROOT" list -q 2>/dev/null); do
		"$RT" --root "$ROOT" delete --force "$id" >/dev/null 2>&1 || true
	done
	rm -rf "$WORK"
}

rt() { "$RT" --root "$ROOT" "$@"; }

# set_args ARGS...: the bundle's process.args
set_args() {
	local a
	a=$(for x in "$@"; do printf '%s' "$x" | jq -Rs .; done | jq -sc .)
	jq --argjson a "$a" '.process.args = $a' "$BUNDLE/config.json" >"$BUNDLE/c.json" && mv "$BUNDLE/c.json" "$BUNDLE/config.json"
}

wait_status() { # ID STATUS
	for _ in $(seq 200); do
		[ "$(rt state "$1" 2>/dev/null | jq -r .status)" = "$2" ] && return 0
		sleep 0.05
	done
	echo "status of $1 never became $2" >&2
	return 1
}
