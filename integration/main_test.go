package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestMain fails the run if the tests left a cgroup behind under rt's parent
// /rt (in any hierarchy) that was not there before. The host's own cgroups
// are never touched.
func TestMain(m *testing.M) {
	before := rtCgroups()
	code := m.Run()
	for p := range rtCgroups() {
		if !before[p] {
			fmt.Fprintf(os.Stderr, "cgroup left behind by the tests: %s\n", p)
			code = 1
		}
	}
	os.Exit(code)
}

func rtCgroups() map[string]bool {
	out := map[string]bool{}
	for _, pat := range []string{"/sys/fs/cgroup/*/rt/*", "/sys/fs/cgroup/rt/*"} {
		matches, _ := filepath.Glob(pat)
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.IsDir() {
				out[m] = true
			}
		}
	}
	return out
}
