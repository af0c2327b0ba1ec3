package libcontainer

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// The protocol's framing: type + payload per packet, one fd attached, and a
// closed peer reported as such.
func TestSyncSocket(t *testing.T) {
	a, b, err := newSyncPair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	big := []byte(strings.Repeat("x", 200000)) // a large config fits in one packet
	if err := a.send(msgConfig, big); err != nil {
		t.Fatal(err)
	}
	payload, _, err := b.expect(msgConfig)
	if err != nil || len(payload) != len(big) {
		t.Fatalf("config: %d bytes, %v", len(payload), err)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := b.sendFd(msgPty, nil, int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	typ, _, fd, err := a.recv()
	if err != nil || typ != msgPty || fd == nil {
		t.Fatalf("pty: %q %v %v", typ, fd, err)
	}
	fd.Close()
	b.send(msgError, []byte("mount /proc: permission denied"))
	if _, _, err := a.expect(msgReady); err == nil || err.Error() != "mount /proc: permission denied" {
		t.Fatalf("child error not returned: %v", err)
	}
	b.Close()
	if _, _, _, err := a.recv(); !errors.Is(err, errPeerClosed) {
		t.Fatalf("closed peer: %v", err)
	}
}
