package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A frozen existing cgroup (v1 freezer.state, v2 cgroup.freeze or an
// ancestor's freeze in cgroup.events) is refused before anything runs in it.
func TestRefusePopulatedFrozen(t *testing.T) {
	for _, tc := range []struct {
		file, data string
		refused    bool
	}{
		{"freezer.state", "FROZEN\n", true},
		{"freezer.state", "FREEZING\n", true},
		{"freezer.state", "THAWED\n", false},
		{"cgroup.freeze", "1\n", true},
		{"cgroup.freeze", "0\n", false},
		{"cgroup.events", "populated 0\nfrozen 1\n", true},
		{"cgroup.events", "populated 0\nfrozen 0\n", false},
	} {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, tc.file), []byte(tc.data), 0o644); err != nil {
			t.Fatal(err)
		}
		missing := filepath.Join(d, "new")
		fresh, err := refusePopulated([]string{d, missing})
		if got := errors.Is(err, ErrFrozen); got != tc.refused {
			t.Errorf("%s %q: refused %v (%v), want %v", tc.file, tc.data, got, err, tc.refused)
		}
		if !tc.refused && (len(fresh) != 1 || fresh[0] != missing) {
			t.Errorf("%s %q: fresh %q, want [%q]", tc.file, tc.data, fresh, missing)
		}
	}
}
