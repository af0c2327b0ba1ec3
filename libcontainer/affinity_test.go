package libcontainer

import (
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{"1": {1}, "0-2": {0, 1, 2}, "0,3": {0, 3}, " 1 , 4-5,": {1, 4, 5}} {
		set, err := parseCPUList(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if set.Count() != len(want) {
			t.Fatalf("%q: %d CPUs, want %v", in, set.Count(), want)
		}
		for _, c := range want {
			if !set.IsSet(c) {
				t.Fatalf("%q: CPU %d not set", in, c)
			}
		}
	}
	if set, err := parseCPUList(""); set != nil || err != nil {
		t.Fatalf("empty: %v %v", set, err)
	}
	for _, bad := range []string{"x", "3-1", "1-", "-1", "99999", ","} {
		if _, err := parseCPUList(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	_, err := parseExecAffinity(&specs.CPUAffinity{Initial: "0", Final: "a"})
	if err == nil || !strings.Contains(err.Error(), "process.execCPUAffinity.final") {
		t.Fatalf("bad final: %v", err)
	}
	if a, err := parseExecAffinity(&specs.CPUAffinity{}); a != nil || err != nil {
		t.Fatalf("empty affinity: %v %v", a, err)
	}
}
