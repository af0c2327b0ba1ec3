package imagestore

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
)

func TestValidName(t *testing.T) {
	for n, want := range map[string]bool{
		"busybox":                          true,
		"docker.io/library/busybox:latest": true,
		"localhost:5000/a/b@sha256:0123":   true,
		"":                                 false,
		"a b":                              false,
		"evil\n\x1b[2Jrt: forged":          false,
		strings.Repeat("a", 256):           false,
	} {
		if got := validName(n); got != want {
			t.Errorf("validName(%q) = %v, want %v", n, got, want)
		}
	}
}

// Names and IDs as Lookup finds them, and Remove's untag/delete rule.
func TestLookupAndRemove(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, b := digest.FromString("a"), digest.FromString("b")
	for _, id := range []digest.Digest{a, b} {
		r, _ := json.Marshal(Record{ID: id, Loaded: time.Now()})
		if err := os.WriteFile(s.recordPath(id), r, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.editNames(func(m map[string]digest.Digest) {
		m["busybox:latest"] = a
		m["example.com/x/busybox:1"] = a
		m["other"] = b
	})
	for ref, want := range map[string]digest.Digest{
		"busybox":                          a,
		"docker.io/library/busybox:latest": a,
		"example.com/x/busybox:1":          a,
		"other:latest":                     b,
		a.Encoded()[:6]:                    a,
		b.String():                         b,
	} {
		r, err := s.Lookup(ref)
		if err != nil || r.ID != want {
			t.Errorf("Lookup(%q) = %v, %v; want %s", ref, r, err, want)
		}
	}
	if _, err := s.Lookup("nosuch"); err == nil || !strings.Contains(err.Error(), `no image "nosuch"`) {
		t.Errorf("Lookup(nosuch): %v", err)
	}
	// The first of two names: untagged only.
	done, err := s.Remove("busybox")
	if err != nil || len(done) != 1 || done[0] != "untagged busybox:latest" {
		t.Errorf("Remove(busybox) = %v, %v", done, err)
	}
	// The last name: the image goes too.
	done, err = s.Remove("example.com/x/busybox:1")
	if err != nil || len(done) != 2 || done[1] != "deleted "+a.String() {
		t.Errorf("Remove(last name) = %v, %v", done, err)
	}
	// By ID: all its names and the image.
	done, err = s.Remove(b.Encoded()[:8])
	if err != nil || len(done) != 2 || done[0] != "untagged other" {
		t.Errorf("Remove(ID) = %v, %v", done, err)
	}
	if all, _ := s.List(); len(all) != 0 {
		t.Errorf("left: %+v", all)
	}
}
