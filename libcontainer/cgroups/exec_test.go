package cgroups

import (
	"strings"
	"testing"
)

// exec --cgroup never reaches outside the container's cgroup: "..", a
// sibling sharing the name as a prefix, or an absolute path that climbs.
func TestSubDirStaysInside(t *testing.T) {
	base := "/sys/fs/cgroup/memory/rt/c1"
	for rel, want := range map[string]string{
		"":          base,
		"/":         base,
		"sub":       base + "/sub",
		"/sub/x":    base + "/sub/x",
		"a/../b":    base + "/b",
		"..":        "",
		"../c1-x":   "",
		"/../../a":  "",
		"sub/../..": "",
	} {
		got, err := subDir(base, rel)
		if want == "" {
			if err == nil || !strings.Contains(err.Error(), "bad sub cgroup path") {
				t.Errorf("%q: got %q, %v; want refused", rel, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", rel, got, err, want)
		}
	}
}
