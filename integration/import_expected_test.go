package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// importExpect is a NAME.EXPECTED.json of ../shared/images (EXPECTED.md
// there says how they were made: Docker's own export and umoci agreed).
type importExpect struct {
	Archive string
	Image   struct {
		RepoTags     []string `json:"repo_tags"`
		Architecture string
		OS           string
		Layers       int
		Config       struct {
			Entrypoint []string
			Cmd        []string
			Env        []string
			WorkingDir *string
			User       *string
			Labels     map[string]string
			StopSignal *string
		}
	}
	RunStdout      *string    `json:"run_stdout"`
	MustNotExist   []string   `json:"must_not_exist"`
	HardlinkGroups [][]string `json:"hardlink_groups"`
	Entries        map[string]importEntry
}

type importEntry struct {
	Type   string
	Mode   string
	UID    uint32
	GID    uint32
	Size   *int64
	SHA256 string
	Mtime  *int64
	Target *string
	Xattrs map[string]string
}

func importFixtures(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(repoRoot(), "..", "shared", "images")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("image fixtures not found at %s (../shared/images from the repo root): %v", dir, err)
	}
	return dir
}

func importLoadExpect(t *testing.T, path string) *importExpect {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e importExpect
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &e
}

// importCheckRootfs checks every fact of exp in the unpacked rootfs, one by one,
// and that the rootfs holds no other path.
func importCheckRootfs(t *testing.T, rootfs string, exp *importExpect) {
	t.Helper()
	checkRootfs(t, rootfs, exp, false)
}

// checkRootfs is importCheckRootfs; with overlay, link counts may be
// higher than the image's: overlayfs reports a lower layer's st_nlink,
// which counts links that a later layer's whiteout hides (Docker's
// overlay2 shows the same).
func checkRootfs(t *testing.T, rootfs string, exp *importExpect, overlay bool) {
	t.Helper()
	actual := map[string]bool{}
	err := filepath.WalkDir(rootfs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != rootfs {
			actual["/"+filepath.ToSlash(strings.TrimPrefix(p, rootfs+"/"))] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range importSortedPaths(exp.Entries) {
		if !actual[p] {
			t.Errorf("%s: missing", p)
			continue
		}
		importCheckEntry(t, rootfs, p, exp.Entries[p])
	}
	for _, p := range importSortedPaths(actual) {
		if overlay && (p == "/dev" || p == "/proc" || p == "/sys") {
			continue // mount points the runtime made in the container's upper dir
		}
		if _, ok := exp.Entries[p]; !ok {
			t.Errorf("%s: extra path, not in the image", p)
		}
	}
	for _, p := range exp.MustNotExist {
		if _, err := os.Lstat(filepath.Join(rootfs, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: must not exist (err %v)", p, err)
		}
	}
	inGroup := map[string]bool{}
	for _, g := range exp.HardlinkGroups {
		var first unix.Stat_t
		for i, p := range g {
			inGroup[p] = true
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(rootfs, p), &st); err != nil {
				t.Errorf("hardlink group of %s: %v", g[0], err)
				continue
			}
			if i == 0 {
				first = st
			} else if st.Dev != first.Dev || st.Ino != first.Ino {
				t.Errorf("%s: not the same inode as %s", p, g[0])
			}
			if int(st.Nlink) != len(g) && !(overlay && int(st.Nlink) > len(g)) {
				t.Errorf("%s: %d links, want %d (its group)", p, st.Nlink, len(g))
			}
		}
	}
	for p, e := range exp.Entries {
		var st unix.Stat_t
		if e.Type == "file" && !inGroup[p] && !overlay && unix.Lstat(filepath.Join(rootfs, p), &st) == nil && st.Nlink != 1 {
			t.Errorf("%s: %d links, want 1", p, st.Nlink)
		}
	}
}

func importCheckEntry(t *testing.T, rootfs, p string, e importEntry) {
	t.Helper()
	full := filepath.Join(rootfs, p)
	var st unix.Stat_t
	if err := unix.Lstat(full, &st); err != nil {
		t.Errorf("%s: %v", p, err)
		return
	}
	if typ := importFileType(st.Mode); typ != e.Type {
		t.Errorf("%s: type %s, want %s", p, typ, e.Type)
		return
	}
	if e.Type != "symlink" {
		want, _ := strconv.ParseUint(e.Mode, 8, 32)
		if got := uint64(st.Mode & 0o7777); got != want {
			t.Errorf("%s: mode %o, want %s", p, got, e.Mode)
		}
	}
	if st.Uid != e.UID || st.Gid != e.GID {
		t.Errorf("%s: owner %d:%d, want %d:%d", p, st.Uid, st.Gid, e.UID, e.GID)
	}
	if e.Size != nil && st.Size != *e.Size {
		t.Errorf("%s: size %d, want %d", p, st.Size, *e.Size)
	}
	if e.Mtime != nil && st.Mtim.Sec != *e.Mtime {
		t.Errorf("%s: mtime %d, want %d", p, st.Mtim.Sec, *e.Mtime)
	}
	if e.SHA256 != "" {
		if got := importSHA256(t, full); got != e.SHA256 {
			t.Errorf("%s: sha256 %s, want %s", p, got, e.SHA256)
		}
	}
	if e.Target != nil {
		if got, err := os.Readlink(full); err != nil || got != *e.Target {
			t.Errorf("%s: target %q (%v), want %q", p, got, err, *e.Target)
		}
	}
	got := importXattrs(t, full)
	want := e.Xattrs
	if want == nil {
		want = map[string]string{}
	}
	if _, ok := want["security.selinux"]; !ok {
		delete(got, "security.selinux") // labelled by the host, not the image
	}
	if len(got) != len(want) {
		t.Errorf("%s: xattrs %v, want %v", p, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: xattr %s = %q, want %q", p, k, got[k], v)
		}
	}
}

func importFileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFCHR:
		return "char"
	case unix.S_IFBLK:
		return "block"
	}
	return "socket"
}

func importSHA256(t *testing.T, p string) string {
	f, err := os.Open(p)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Error(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// importXattrs returns the entry's xattrs (not following a symlink), values in hex.
func importXattrs(t *testing.T, p string) map[string]string {
	out := map[string]string{}
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		if !errors.Is(err, unix.ENOTSUP) {
			t.Errorf("%s: listxattr: %v", p, err)
		}
		return out
	}
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" {
			continue
		}
		val := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, val)
		if err != nil {
			t.Errorf("%s: getxattr %s: %v", p, name, err)
			continue
		}
		out[name] = hex.EncodeToString(val[:m])
	}
	return out
}

func importSortedPaths[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
