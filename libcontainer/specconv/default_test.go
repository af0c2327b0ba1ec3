package specconv

import "testing"

// runc's example adds a cgroup namespace on a cgroup v2 host and rt adds one
// everywhere: a namespace type listed twice makes the config invalid.
func TestDefaultNamespacesOnce(t *testing.T) {
	for _, rootless := range []bool{false, true} {
		seen := map[string]bool{}
		for _, ns := range Default(rootless).Linux.Namespaces {
			if seen[string(ns.Type)] {
				t.Errorf("rootless=%v: namespace %q listed twice", rootless, ns.Type)
			}
			seen[string(ns.Type)] = true
		}
	}
}
