package specconv

import (
	"reflect"
	"testing"

	"github.com/rt-project/rt/rootfs"
)

// The converter keeps its own copy of the default spec (so it does not
// import runc); it must stay the spec `rt spec` writes.
func TestConverterDefaultMatches(t *testing.T) {
	want := Default(false)
	got := rootfs.DefaultSpec()
	got.Hostname, want.Hostname = "", ""
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rootfs.DefaultSpec drifted from runc's example:\n got %+v\nwant %+v", got, want)
	}
}
