package cgroups

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// The file PrimeAttach writes to holds this process already: the write
// moves nothing.
func TestOwnProcsFileHoldsThisProcess(t *testing.T) {
	if _, err := HostMode(); err != nil {
		t.Skip("no cgroups:", err)
	}
	p := ownProcsFile()
	if p == "" {
		t.Skip("no cgroup.procs of our own found")
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	me := strconv.Itoa(os.Getpid())
	for _, l := range strings.Fields(string(data)) {
		if l == me {
			return
		}
	}
	t.Fatalf("%s does not list pid %s", p, me)
}
