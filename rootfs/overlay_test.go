package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func applyOverlay(t *testing.T, dir string, layer []byte) error {
	t.Helper()
	u, err := NewOverlayUnpacker(dir, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if err := u.ApplyLayer(context.Background(), bytes.NewReader(layer)); err != nil {
		return err
	}
	return u.Finish()
}

func isWhiteout(t *testing.T, p string) bool {
	var st unix.Stat_t
	return unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func opaque(p string) string {
	b := make([]byte, 8)
	n, err := unix.Lgetxattr(p, overlayOpaqueXattr, b)
	if err != nil {
		return ""
	}
	return string(b[:n])
}

// Overlay mode writes whiteouts as overlayfs reads them, in the layer's own
// directory, and removes nothing.
func TestOverlayWhiteouts(t *testing.T) {
	requireRoot(t) // mknod and trusted.* xattrs
	dir := t.TempDir()
	err := applyOverlay(t, dir, layerTar(t,
		ent{name: "a/.wh.gone"},              // NAME hidden: a 0:0 char device
		ent{name: "o/", typ: tar.TypeDir},    //
		ent{name: "o/.wh..wh..opq"},          // opaque dir: the xattr
		ent{name: "o/new", body: "n"},        // kept
		ent{name: ".wh.re"},                  // whited out, then
		ent{name: "re/", typ: tar.TypeDir},   // made again: opaque
		ent{name: "own", body: "x"},          // this layer's own NAME...
		ent{name: ".wh.own"},                 // ...stays
		ent{name: "ownd/", typ: tar.TypeDir}, // its own directory...
		ent{name: ".wh.ownd"},                // ...becomes opaque
		ent{name: ".wh..wh.plnk"},            // AUFS bookkeeping: ignored
		ent{name: "x", body: "x", xattrs: map[string]string{"trusted.overlay.redirect": "/etc", "user.k": "v"}},
		ent{name: "m/.wh..wh..opq"}, // marker without its dir entry
	))
	if err != nil {
		t.Fatal(err)
	}
	if !isWhiteout(t, filepath.Join(dir, "a/gone")) {
		t.Error("a/gone: not a 0:0 whiteout")
	}
	for _, d := range []string{"o", "re", "ownd", "m"} {
		if v := opaque(filepath.Join(dir, d)); v != "y" {
			t.Errorf("%s: opaque xattr %q, want y", d, v)
		}
	}
	if v := opaque(dir); v != "" {
		t.Errorf("root: opaque %q", v)
	}
	if mustRead(t, filepath.Join(dir, "own")) != "x" || mustRead(t, filepath.Join(dir, "o/new")) != "n" {
		t.Error("this layer's own files must stay")
	}
	b := make([]byte, 64)
	if _, err := unix.Lgetxattr(filepath.Join(dir, "x"), "trusted.overlay.redirect", b); err == nil {
		t.Error("an image's trusted.overlay.* xattr must be dropped")
	}
	if n, err := unix.Lgetxattr(filepath.Join(dir, "x"), "user.k", b); err != nil || string(b[:n]) != "v" {
		t.Errorf("user.k: %q %v", b[:n], err)
	}
	if exists(filepath.Join(dir, ".wh..wh.plnk")) || exists(filepath.Join(dir, "plnk")) {
		t.Error("AUFS bookkeeping must be ignored")
	}
	if err := applyOverlay(t, t.TempDir(), layerTar(t, ent{name: ".wh..."})); err == nil {
		t.Error(`".wh..." must be refused`)
	}
}
