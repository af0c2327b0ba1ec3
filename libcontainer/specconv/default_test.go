package specconv

import "testing"

// A namespace type listed twice makes the config invalid: rt's changes to
// runc's example (rootless) must not add one it has.
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
