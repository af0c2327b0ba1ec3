package rootfs

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"a/b": "a/b", "./a/b/": "a/b", "/etc/passwd": "etc/passwd", "a/../b": "b",
		"./": ".", "/": ".", "a/..": ".", "//x//y": "x/y",
	} {
		if got, err := cleanName(in); err != nil || got != want {
			t.Errorf("cleanName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "..", "../x", "a/../../x", "/../x", "x\x00y"} {
		if got, err := cleanName(in); err == nil {
			t.Errorf("cleanName(%q) = %q, want an error", in, got)
		}
	}
}

func TestApplyEntries(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	later := time.Unix(1700000000, 0)
	l1 := layerTar(t,
		ent{name: "./", typ: tar.TypeDir, mode: 0o711},
		ent{name: "bin/", typ: tar.TypeDir},
		ent{name: "bin/busybox", body: "ELF", mode: 0o755},
		ent{name: "bin/sh", typ: tar.TypeLink, link: "bin/busybox"},
		ent{name: "bin/ls", typ: tar.TypeLink, link: "/bin/busybox"},
		ent{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		ent{name: "sgid/", typ: tar.TypeDir, mode: 0o2775, uid: 1000, gid: 1000, mtime: later},
		ent{name: "sgid/suid", body: "x", mode: 0o4755, uid: 1000, gid: 1000},
		ent{name: "sgid/root-owned", body: "x", mode: 0o666}, // not the setgid dir's group, not the umask's mode
		ent{name: "sgid/sub/", typ: tar.TypeDir, mode: 0o700},
		ent{name: "cap", body: "cap", mode: 0o755, xattrs: map[string]string{"security.capability": "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}},
		ent{name: "cap-link", typ: tar.TypeLink, link: "cap"},
		ent{name: "rel", typ: tar.TypeSymlink, link: "bin/busybox"},
		ent{name: "abs", typ: tar.TypeSymlink, link: "/etc/passwd"},
		ent{name: "up", typ: tar.TypeSymlink, link: "../../../../etc/shadow"},
		ent{name: "fifo", typ: tar.TypeFifo, mode: 0o600},
		ent{name: "null", typ: tar.TypeChar, mode: 0o666},
		ent{name: "implicit/parent/file", body: "p"},
		ent{name: "sub/deep/", typ: tar.TypeDir},
		ent{name: "sub/", typ: tar.TypeDir, mode: 0o750, mtime: later},
	)
	if err := apply(t, dir, l1); err != nil {
		t.Fatal(err)
	}
	st := lstat(t, dir)
	if st.Mode&0o7777 != 0o711 {
		t.Errorf("root mode %o, want the layer's 711", st.Mode&0o7777)
	}
	bb, sh, ls := lstat(t, dir+"/bin/busybox"), lstat(t, dir+"/bin/sh"), lstat(t, dir+"/bin/ls")
	if bb.Ino != sh.Ino || bb.Ino != ls.Ino || bb.Nlink != 3 {
		t.Errorf("hardlinks: inodes %d %d %d, nlink %d; want one inode, 3 links", bb.Ino, sh.Ino, ls.Ino, bb.Nlink)
	}
	if st := lstat(t, dir+"/sgid/root-owned"); st.Uid != 0 || st.Gid != 0 {
		t.Errorf("file in a setgid dir: owner %d:%d, want the tar's 0:0", st.Uid, st.Gid)
	}
	for p, mode := range map[string]uint32{"tmp": 0o1777, "sgid": 0o2775, "sgid/suid": 0o4755, "sgid/root-owned": 0o666, "sgid/sub": 0o700, "fifo": 0o600, "null": 0o666} {
		if st := lstat(t, filepath.Join(dir, p)); st.Mode&0o7777 != mode {
			t.Errorf("%s: mode %o, want %o", p, st.Mode&0o7777, mode)
		}
	}
	if st := lstat(t, dir+"/sgid/suid"); st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("owner %d:%d", st.Uid, st.Gid)
	}
	if st := lstat(t, dir+"/sgid"); st.Mtim.Sec != later.Unix() {
		t.Errorf("dir mtime %d, want %d (set after its entries)", st.Mtim.Sec, later.Unix())
	}
	if st := lstat(t, dir+"/sub"); st.Mtim.Sec != later.Unix() || st.Mode&0o7777 != 0o750 {
		t.Errorf("sub: mtime %d mode %o: a dir entry after its child must still apply", st.Mtim.Sec, st.Mode&0o7777)
	}
	if st := lstat(t, dir+"/bin/busybox"); st.Mtim.Sec != epoch.Unix() {
		t.Errorf("file mtime %d", st.Mtim.Sec)
	}
	if st := lstat(t, dir+"/fifo"); st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Error("fifo is not a fifo")
	}
	if st := lstat(t, dir+"/null"); st.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Error("char device is not one")
	}
	for p, target := range map[string]string{"rel": "bin/busybox", "abs": "/etc/passwd", "up": "../../../../etc/shadow"} {
		if got, _ := os.Readlink(filepath.Join(dir, p)); got != target {
			t.Errorf("%s -> %q, want %q", p, got, target)
		}
	}
	buf := make([]byte, 64)
	if n, err := unix.Lgetxattr(dir+"/cap", "security.capability", buf); err != nil || n != 20 {
		t.Errorf("security.capability: %d bytes, %v (a later hardlink must not strip it)", n, err)
	}
	if st := lstat(t, dir+"/implicit/parent"); st.Mode&0o7777 != 0o755 || st.Uid != 0 {
		t.Errorf("implicit parent mode %o", st.Mode&0o7777)
	}
}

func TestWhiteouts(t *testing.T) {
	dir := t.TempDir()
	l1 := layerTar(t,
		ent{name: "a/", typ: tar.TypeDir},
		ent{name: "a/gone", body: "1"},
		ent{name: "a/keep", body: "1"},
		ent{name: "a/dir/", typ: tar.TypeDir},
		ent{name: "a/dir/x", body: "1"},
		ent{name: "o/", typ: tar.TypeDir},
		ent{name: "o/old", body: "1"},
		ent{name: "o/olddir/", typ: tar.TypeDir},
		ent{name: "o/olddir/f", body: "1"},
		ent{name: "o/sub/", typ: tar.TypeDir},
		ent{name: "o/sub/old", body: "1"},
		ent{name: "late/", typ: tar.TypeDir},
		ent{name: "late/old", body: "1"},
		ent{name: "hl", body: "shared"},
		ent{name: "hl2", typ: tar.TypeLink, link: "hl"},
	)
	l2 := layerTar(t,
		ent{name: "a/.wh.gone"},
		ent{name: "a/.wh.dir"},
		ent{name: "a/.wh.never-existed"},
		ent{name: "nowhere/.wh.x"},
		ent{name: "o/", typ: tar.TypeDir},
		ent{name: "o/.wh..wh..opq"},
		ent{name: "o/new", body: "2"},
		ent{name: "o/sub/", typ: tar.TypeDir},
		ent{name: "o/sub/new", body: "2"},
		// The opaque marker after entries of this layer: they stay.
		ent{name: "late/", typ: tar.TypeDir},
		ent{name: "late/new", body: "2"},
		ent{name: "late/.wh..wh..opq"},
		ent{name: ".wh.hl2"},
		ent{name: ".wh..wh.plnk/", typ: tar.TypeDir},
		ent{name: ".wh..wh.plnk/123.456", body: "aufs"},
	)
	if err := apply(t, dir, l1, l2); err != nil {
		t.Fatal(err)
	}
	want := []string{"/a", "/a/keep", "/hl", "/late", "/late/new", "/o", "/o/new", "/o/sub", "/o/sub/new"}
	var got []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if p != dir {
			got = append(got, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("tree %v\nwant %v", got, want)
	}
	if st := lstat(t, dir+"/hl"); st.Nlink != 1 {
		t.Errorf("whiteout of a hardlink: %d links left", st.Nlink)
	}
}

func TestReplaceTypes(t *testing.T) {
	bothResolvers(t, func(t *testing.T) {
		dir := t.TempDir()
		outside := t.TempDir()
		os.WriteFile(outside+"/target", []byte("outside"), 0o644)
		l1 := layerTar(t,
			ent{name: "file-to-dir", body: "f"},
			ent{name: "dir-to-file/x/y", body: "f"},
			ent{name: "dir-to-link/x", body: "f"},
			ent{name: "link-to-dir", typ: tar.TypeSymlink, link: "dir-to-link"},
			ent{name: "link-to-file", typ: tar.TypeSymlink, link: outside + "/target"},
			ent{name: "shared", body: "old"},
			ent{name: "shared-link", typ: tar.TypeLink, link: "shared"},
		)
		l2 := layerTar(t,
			ent{name: "file-to-dir/", typ: tar.TypeDir},
			ent{name: "file-to-dir/inside", body: "i"},
			ent{name: "dir-to-file", body: "now a file"},
			ent{name: "dir-to-link", typ: tar.TypeSymlink, link: "file-to-dir"},
			ent{name: "link-to-dir/", typ: tar.TypeDir},
			ent{name: "link-to-dir/new", body: "n"},
			ent{name: "link-to-file", body: "replaced, not written through"},
			ent{name: "shared", body: "new"},
		)
		if err := apply(t, dir, l1, l2); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, dir+"/file-to-dir/inside"); got != "i" {
			t.Error(got)
		}
		if got := mustRead(t, dir+"/dir-to-file"); got != "now a file" {
			t.Error(got)
		}
		if got, _ := os.Readlink(dir + "/dir-to-link"); got != "file-to-dir" {
			t.Errorf("dir-to-link -> %q", got)
		}
		if st := lstat(t, dir+"/link-to-dir"); st.Mode&unix.S_IFMT != unix.S_IFDIR {
			t.Error("link-to-dir is not a directory")
		}
		if exists(dir + "/file-to-dir/new") {
			t.Error("a directory entry followed the symlink it replaces")
		}
		if got := mustRead(t, outside+"/target"); got != "outside" {
			t.Errorf("written through a symlink: %q", got)
		}
		if got := mustRead(t, dir+"/shared-link"); got != "old" {
			t.Errorf("rewriting a file changed its lower hardlink: %q", got)
		}
	})
}

// Hostile layers: each is refused or contained, and nothing outside the
// rootfs changes.
func TestHostileLayers(t *testing.T) {
	requireRoot(t)
	cases := []struct {
		name   string
		layers func(outside string) [][]byte
		refuse string // error text; "" if the layer is contained
		check  func(t *testing.T, root, outside string)
	}{
		{"dotdot", func(o string) [][]byte {
			return [][]byte{layerTar(t, ent{name: "../../../../../../" + o + "/x", body: "evil"})}
		}, "escapes the root", nil},
		{"dotdot-inside", func(o string) [][]byte {
			return [][]byte{layerTar(t, ent{name: "a/b/../../../x", body: "evil"})}
		}, "escapes the root", nil},
		{"absolute", func(o string) [][]byte {
			return [][]byte{layerTar(t, ent{name: o + "/x", body: "contained"})}
		}, "", func(t *testing.T, root, o string) {
			if mustRead(t, root+o+"/x") != "contained" {
				t.Error("absolute name not put inside the root")
			}
		}},
		{"symlink-etc-then-file", func(o string) [][]byte {
			return [][]byte{layerTar(t, ent{name: "etc", typ: tar.TypeSymlink, link: "/etc"}, ent{name: "etc/rt-import-test-x", body: "evil"})}
		}, "parent directory", func(t *testing.T, root, o string) {
			if exists("/etc/rt-import-test-x") {
				t.Fatal("wrote into the host's /etc")
			}
		}},
		{"symlink-abs-outside-then-file", func(o string) [][]byte {
			return [][]byte{layerTar(t, ent{name: "out", typ: tar.TypeSymlink, link: o}, ent{name: "out/x", body: "evil"})}
		}, "parent directory", nil},
		{"symlink-in-earlier-layer", func(o string) [][]byte {
			return [][]byte{
				layerTar(t, ent{name: "out", typ: tar.TypeSymlink, link: "../../../../../../../../" + o}),
				layerTar(t, ent{name: "out/x", body: "evil"}),
			}
		}, "parent directory", nil},
		{"symlink-chain", func(o string) [][]byte {
			return [][]byte{layerTar(t,
				ent{name: "a", typ: tar.TypeSymlink, link: "b"},
				ent{name: "b", typ: tar.TypeSymlink, link: o},
				ent{name: "a/x", body: "evil"})}
		}, "parent directory", nil},
		{"symlink-into-existing-dir", func(o string) [][]byte {
			// An absolute symlink resolves inside the root, as if the root were "/".
			return [][]byte{layerTar(t,
				ent{name: "etc/", typ: tar.TypeDir},
				ent{name: "link", typ: tar.TypeSymlink, link: "/etc"},
				ent{name: "link/x", body: "contained"})}
		}, "", func(t *testing.T, root, o string) {
			if mustRead(t, root+"/etc/x") != "contained" {
				t.Error("not written to the rootfs's /etc")
			}
		}},
		{"symlink-leaf-then-file", func(o string) [][]byte {
			return [][]byte{
				layerTar(t, ent{name: "f", typ: tar.TypeSymlink, link: o + "/file"}),
				layerTar(t, ent{name: "f", body: "replaces the link"}),
			}
		}, "", func(t *testing.T, root, o string) {
			if st := lstat(t, root+"/f"); st.Mode&unix.S_IFMT != unix.S_IFREG {
				t.Error("f is not a regular file")
			}
		}},
		{"hardlink-etc-passwd-missing", func(o string) [][]byte {
			return [][]byte{layerTar(t, ent{name: "pw", typ: tar.TypeLink, link: "/etc/passwd"})}
		}, "does not exist", nil},
		{"hardlink-etc-passwd", func(o string) [][]byte {
			return [][]byte{
				layerTar(t, ent{name: "etc/passwd", body: "root:x:0:0::/:/bin/sh\n"}),
				layerTar(t, ent{name: "pw", typ: tar.TypeLink, link: "/etc/passwd"}, ent{name: "pw", body: "rewritten"}),
			}
		}, "", func(t *testing.T, root, o string) {
			if mustRead(t, root+"/etc/passwd") != "root:x:0:0::/:/bin/sh\n" {
				t.Error("the rootfs's /etc/passwd was written through a hardlink")
			}
		}},
		{"hardlink-dotdot", func(o string) [][]byte {
			return [][]byte{layerTar(t, ent{name: "pw", typ: tar.TypeLink, link: "../../../../../../" + o + "/file"})}
		}, "escapes the root", nil},
		{"hardlink-through-symlink", func(o string) [][]byte {
			return [][]byte{layerTar(t,
				ent{name: "out", typ: tar.TypeSymlink, link: o},
				ent{name: "pw", typ: tar.TypeLink, link: "out/file"})}
		}, "hardlink target", nil},
		{"root-symlink", func(o string) [][]byte {
			return [][]byte{layerTar(t, ent{name: ".", typ: tar.TypeSymlink, link: o}, ent{name: "x", body: "evil"})}
		}, "root directory", nil},
		{"root-symlink-slash", func(o string) [][]byte {
			return [][]byte{layerTar(t, ent{name: "./", typ: tar.TypeSymlink, link: o})}
		}, "root directory", nil},
		{"whiteout-through-symlink", func(o string) [][]byte {
			return [][]byte{
				layerTar(t, ent{name: "out", typ: tar.TypeSymlink, link: o}),
				layerTar(t, ent{name: "out/.wh.file"}),
			}
		}, "", nil},
		{"whiteout-dotdot", func(o string) [][]byte {
			return [][]byte{layerTar(t, ent{name: "../.wh.x"})}
		}, "escapes the root", nil},
		{"opaque-through-symlink", func(o string) [][]byte {
			return [][]byte{layerTar(t, ent{name: "out", typ: tar.TypeSymlink, link: o}, ent{name: "out/.wh..wh..opq"})}
		}, "", nil},
		{"empty-whiteout", func(o string) [][]byte {
			return [][]byte{layerTar(t, ent{name: ".wh."})}
		}, "invalid whiteout", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bothResolvers(t, func(t *testing.T) {
				sandbox := t.TempDir()
				root, outside := sandbox+"/rootfs", sandbox+"/outside"
				os.Mkdir(root, 0o755)
				os.Mkdir(outside, 0o755)
				os.WriteFile(outside+"/file", []byte("precious"), 0o644)
				before := snapshot(t, outside) + snapshot(t, "/etc")
				err := apply(t, root, c.layers(outside)...)
				switch {
				case c.refuse == "" && err != nil:
					t.Errorf("want it contained, got %v", err)
				case c.refuse != "" && (err == nil || !strings.Contains(err.Error(), c.refuse)):
					t.Errorf("want an error with %q, got %v", c.refuse, err)
				}
				if after := snapshot(t, outside) + snapshot(t, "/etc"); after != before {
					t.Errorf("outside the rootfs changed:\n%s\n---\n%s", before, after)
				}
				if c.check != nil {
					c.check(t, root, outside)
				}
			})
		})
	}
}
