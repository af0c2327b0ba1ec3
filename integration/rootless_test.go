package integration

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Rootless rt as an ordinary user: users made for the test (one with
// subordinate ids, one without), rt run with their credentials, each with
// its own $XDG_RUNTIME_DIR and bundle directory.

const (
	rootlessUserName  = "rt-test-user"
	rootlessNosubName = "rt-test-nosub"
	// The ranges given to rt-test-user; none of the host's entries may
	// overlap them (checked).
	rootlessSubStart = 300000
	rootlessSubCount = 65536
)

type testUser struct {
	name     string
	uid, gid int
}

var (
	rootlessUsersOnce sync.Once
	rootlessUsers     map[string]*testUser
	rootlessUsersErr  string
)

// rootlessUser returns the test user name (made once per test binary,
// removed at the end of the binary only if this binary made it).
func rootlessUser(t *testing.T, name string) *testUser {
	t.Helper()
	requireRoot(t)
	rootlessUsersOnce.Do(func() { rootlessUsersErr = makeRootlessUsers() })
	if rootlessUsersErr != "" {
		t.Skip(rootlessUsersErr)
	}
	return rootlessUsers[name]
}

// rootlessCleanup holds what makeRootlessUsers changed, for TestMain.
var rootlessCleanup []func()

func makeRootlessUsers() string {
	for _, tool := range []string{"useradd", "usermod", "userdel", "newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not installed (make deps installs uidmap)"
		}
	}
	// usermod --add-subuids needs /etc/subuid and /etc/subgid to exist:
	// make them where missing, and remove them (and the "-" backups the
	// shadow tools write) at the end if they are empty again.
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		if _, err := os.Stat(f); os.IsNotExist(err) {
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				return fmt.Sprintf("make %s: %v", f, err)
			}
			_, berr := os.Stat(f + "-")
			rootlessCleanup = append(rootlessCleanup, func() {
				if st, err := os.Stat(f); err == nil && st.Size() == 0 {
					os.Remove(f)
					if os.IsNotExist(berr) {
						os.Remove(f + "-")
					}
				}
			})
		}
	}
	rootlessUsers = map[string]*testUser{}
	for _, name := range []string{rootlessUserName, rootlessNosubName} {
		if _, err := exec.Command("id", "-u", name).Output(); err != nil {
			// -K SUB_*_COUNT=0: no automatic ranges; the test gives them.
			out, err := exec.Command("useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", name).CombinedOutput()
			if err != nil {
				return fmt.Sprintf("useradd %s: %v: %s", name, err, out)
			}
			rootlessCleanup = append(rootlessCleanup, func() { _ = exec.Command("userdel", name).Run() })
		}
		u := &testUser{name: name}
		for i, flag := range []string{"-u", "-g"} {
			out, err := exec.Command("id", flag, name).Output()
			if err != nil {
				return fmt.Sprintf("id %s %s: %v", flag, name, err)
			}
			n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
			*[]*int{&u.uid, &u.gid}[i] = n
		}
		rootlessUsers[name] = u
	}
	rangeArg := fmt.Sprintf("%d-%d", rootlessSubStart, rootlessSubStart+rootlessSubCount-1)
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n") {
			p := strings.Split(line, ":")
			if len(p) != 3 {
				continue
			}
			start, _ := strconv.Atoi(p[1])
			count, _ := strconv.Atoi(p[2])
			switch {
			case p[0] == rootlessNosubName || p[0] == strconv.Itoa(rootlessUsers[rootlessNosubName].uid):
				return fmt.Sprintf("%s has a range in %s already; the fallback tests need a user without", rootlessNosubName, f)
			case p[0] == rootlessUserName && start == rootlessSubStart && count == rootlessSubCount:
				rangeArg = "" // given by an earlier run that was killed
			case start < rootlessSubStart+rootlessSubCount && rootlessSubStart < start+count:
				return fmt.Sprintf("%s: %s overlaps the test range %d+%d", f, line, rootlessSubStart, rootlessSubCount)
			}
		}
	}
	if rangeArg != "" {
		if out, err := exec.Command("usermod", "--add-subuids", rangeArg, "--add-subgids", rangeArg, rootlessUserName).CombinedOutput(); err != nil {
			return fmt.Sprintf("usermod --add-subuids: %v: %s", err, out)
		}
		rootlessCleanup = append(rootlessCleanup, func() {
			_ = exec.Command("usermod", "--del-subuids", rangeArg, "--del-subgids", rangeArg, rootlessUserName).Run()
		})
	}
	return ""
}

// rootlessEnv is one user's world in one test: a home (the bundles), a
// $XDG_RUNTIME_DIR, and a copy of rt the user can execute.
type rootlessEnv struct {
	t    *testing.T
	u    *testUser
	home string
	xdg  string
	rt   string
	env  []string // extra variables
}

func newRootlessEnv(t *testing.T, name string) *rootlessEnv {
	t.Helper()
	u := rootlessUser(t, name)
	// Under rt-test-<pid>-*, as every test's (TestMain judges leftovers
	// there), and reachable by the user (t.TempDir's parent is 0700).
	base, err := os.MkdirTemp("", fmt.Sprintf("rt-test-%d-", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	r := &rootlessEnv{t: t, u: u, home: filepath.Join(base, "home"), xdg: filepath.Join(base, "xdg"), rt: filepath.Join(base, "rt")}
	for _, d := range []string{r.home, r.xdg} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chown(d, u.uid, u.gid)
	}
	bin, err := os.ReadFile(rtBin(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.rt, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Containers left by a failed test: kill the init by its pid (as
		// root), then let the user remove its state.
		entries, _ := os.ReadDir(filepath.Join(r.xdg, "rt"))
		for _, ent := range entries {
			var st struct{ Pid int }
			if b, err := os.ReadFile(filepath.Join(r.xdg, "rt", ent.Name(), "state.json")); err == nil && json.Unmarshal(b, &st) == nil && st.Pid > 0 {
				_ = unix.Kill(st.Pid, unix.SIGKILL)
			}
			r.run(nil, "", "delete", "--force", ent.Name())
		}
	})
	return r
}

// run runs rt as the user, in dir (the home if ""), with stdin.
func (r *rootlessEnv) run(stdin io.Reader, dir string, args ...string) (stdout, stderr string, code int) {
	r.t.Helper()
	cmd := exec.Command(r.rt, args...)
	cmd.Dir = r.home
	if dir != "" {
		cmd.Dir = dir
	}
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + r.home, "USER=" + r.u.name, "LOGNAME=" + r.u.name, "XDG_RUNTIME_DIR=" + r.xdg}, r.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(r.u.uid), Gid: uint32(r.u.gid), Groups: []uint32{}}}
	cmd.Stdin = stdin
	// Files, not pipes: a created container's init keeps rt's stdio, and
	// Wait would wait for it to close a pipe.
	o, e := tempOut(r.t), tempOut(r.t)
	cmd.Stdout, cmd.Stderr = o, e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("rt %v: %v", args, err)
	}
	ob, _ := os.ReadFile(o.Name())
	eb, _ := os.ReadFile(e.Name())
	return string(ob), string(eb), code
}

func tempOut(t *testing.T) *os.File {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func (r *rootlessEnv) must(stdin io.Reader, dir string, args ...string) string {
	r.t.Helper()
	out, errs, code := r.run(stdin, dir, args...)
	if code != 0 {
		r.t.Fatalf("rt %v as %s: exit %d\nstdout: %s\nstderr: %s", args, r.u.name, code, out, errs)
	}
	return out
}

// hostOf maps a container id to the host's through maps (-1: unmapped).
func hostOf(id uint32, maps []specs.LinuxIDMapping) int {
	for _, m := range maps {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return int(m.HostID + id - m.ContainerID)
		}
	}
	return -1
}

// The case: `rt import busybox.tar b && cd b && rt run c1`, and an
// image whose files belong to several users (layers.tar: root and
// 1000:1000, a file capability, setuid and setgid modes, User 1000:1000).
// The unpack gives files the mapped ids on disk, config.json runs rootless
// as it is, and inside the container the owners are the image's.
func TestRootlessImportOwnership(t *testing.T) {
	fixtures := importFixtures(t)
	r := newRootlessEnv(t, rootlessUserName)

	bb := filepath.Join(r.home, "b")
	if _, errs, code := r.run(nil, "", "import", filepath.Join(fixtures, "busybox.tar"), bb); code != 0 || errs != "" {
		t.Fatalf("import busybox: exit %d, stderr %q (want 0 and no warning)", code, errs)
	}
	out := r.must(strings.NewReader("id -u; cat /proc/self/uid_map\n"), bb, "run", "c1")
	if f := strings.Fields(out); len(f) != 7 || f[0] != "0" || f[2] != strconv.Itoa(r.u.uid) || f[5] != strconv.Itoa(rootlessSubStart) || f[6] != strconv.Itoa(rootlessSubCount) {
		t.Fatalf("busybox as %s printed %q; want uid 0, mapped to %d, then 1 -> %d (%d ids)", r.u.name, out, r.u.uid, rootlessSubStart, rootlessSubCount)
	}

	// From stdin, which the import in the user namespace reads.
	lb := filepath.Join(r.home, "l")
	archive, err := os.Open(filepath.Join(fixtures, "layers.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer archive.Close()
	if _, errs, code := r.run(archive, "", "import", "-", lb); code != 0 || errs != "" {
		t.Fatalf("import layers: exit %d, stderr %q (want 0 and no warning)", code, errs)
	}
	spec := importReadSpec(t, lb)
	want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(r.u.uid), Size: 1}, {ContainerID: 1, HostID: rootlessSubStart, Size: rootlessSubCount}}
	wantG := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(r.u.gid), Size: 1}, {ContainerID: 1, HostID: rootlessSubStart, Size: rootlessSubCount}}
	if !slices.Equal(spec.Linux.UIDMappings, want) || !slices.Equal(spec.Linux.GIDMappings, wantG) {
		t.Errorf("config.json maps %v / %v, want %v / %v", spec.Linux.UIDMappings, spec.Linux.GIDMappings, want, wantG)
	}
	var nsTypes []specs.LinuxNamespaceType
	for _, ns := range spec.Linux.Namespaces {
		nsTypes = append(nsTypes, ns.Type)
	}
	if !slices.Contains(nsTypes, specs.UserNamespace) || !slices.Contains(nsTypes, specs.NetworkNamespace) {
		t.Errorf("config.json namespaces %v: want a user and a network namespace", nsTypes)
	}
	if res := spec.Linux.Resources; res != nil && (res.Memory != nil || res.CPU != nil || res.Pids != nil || res.BlockIO != nil) {
		t.Errorf("config.json sets cgroup limits: %+v", res)
	}

	// On disk: every entry's owner is the image's, mapped.
	exp := importLoadExpect(t, filepath.Join(fixtures, "layers.EXPECTED.json"))
	checked := 0
	for p, e := range exp.Entries {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(lb, "rootfs", p), &st); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		wu, wg := hostOf(uint32(e.UID), want), hostOf(uint32(e.GID), wantG)
		if int(st.Uid) != wu || int(st.Gid) != wg {
			t.Errorf("%s: owner on disk %d:%d, want %d:%d (image %d:%d)", p, st.Uid, st.Gid, wu, wg, e.UID, e.GID)
		}
		if e.Mode != "" {
			m, _ := strconv.ParseUint(e.Mode, 8, 32)
			if uint32(st.Mode)&0o7777 != uint32(m) {
				t.Errorf("%s: mode %o, want %s", p, st.Mode&0o7777, e.Mode)
			}
		}
		checked++
	}
	if checked < 50 {
		t.Fatalf("only %d entries checked", checked)
	}
	// The file capability is kept, as the namespace's (v3, root = the user).
	capv, err := unix.Lgetxattr(filepath.Join(lb, "rootfs/data/cap-file"), "security.capability", make([]byte, 64))
	if err != nil || capv < 20 {
		t.Errorf("/data/cap-file: security.capability: %d bytes, %v", capv, err)
	}

	// Inside: the image's User, the owners the image says, a multi-id map.
	out = r.must(nil, lb, "run", "c2", "--", "sh", "-c",
		"id -u; id -g; stat -c '%u:%g %a %n' /home/user /data/private /data/private/secret.txt /usr/local/bin/entry.sh /data/setuid-bin /etc/passwd; cat /data/private/secret.txt >/dev/null && echo readable")
	wantOut := strings.Join([]string{"1000", "1000",
		"1000:1000 750 /home/user", "1000:1000 700 /data/private", "1000:1000 600 /data/private/secret.txt",
		"1000:1000 755 /usr/local/bin/entry.sh", "0:0 4755 /data/setuid-bin", "0:0 644 /etc/passwd", "readable"}, "\n") + "\n"
	if out != wantOut {
		t.Errorf("inside the container:\n%s\nwant:\n%s", out, wantOut)
	}

	// --net host: no network namespace; /sys is the host's, bound.
	hb := filepath.Join(r.home, "h")
	r.must(nil, "", "import", "--net", "host", filepath.Join(fixtures, "busybox.tar"), hb)
	out = r.must(nil, hb, "run", "c3", "--", "sh", "-c", "id -u; ls /sys/class/net | grep -c .")
	if f := strings.Fields(out); len(f) != 2 || f[0] != "0" || f[1] == "1" {
		t.Errorf("--net host printed %q: want root and the host's interfaces", out)
	}
}

// The Debian image (tests/images/debian.sh: debootstrap bookworm packed as
// a docker save archive; make test passes it as RT_DEBIAN_IMAGE), imported
// and run rootless: files of several owners (root, _apt, the shadow, utmp
// and mail groups) keep the image's owners, on disk through the user's
// subordinate range and inside the container by name; dpkg works.
func TestRootlessImportDebian(t *testing.T) {
	img := os.Getenv("RT_DEBIAN_IMAGE")
	if img == "" {
		t.Skip("RT_DEBIAN_IMAGE not set (make test builds it with tests/images/debian.sh)")
	}
	r := newRootlessEnv(t, rootlessUserName)
	b := filepath.Join(r.home, "deb")
	// From stdin: the cache that holds it is root's.
	archive, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer archive.Close()
	if _, errs, code := r.run(archive, "", "import", "-", b); code != 0 || errs != "" {
		t.Fatalf("import %s: exit %d, stderr %q (want 0 and no warning)", img, code, errs)
	}
	spec := importReadSpec(t, b)
	rootfs := filepath.Join(b, "rootfs")
	// The image's own ids for its users and groups, from its files.
	idOf := func(file, name string) uint32 {
		data, err := os.ReadFile(filepath.Join(rootfs, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Split(l, ":"); len(f) > 2 && f[0] == name {
				n, _ := strconv.Atoi(f[2])
				return uint32(n)
			}
		}
		t.Fatalf("%s: no %s", file, name)
		return 0
	}
	apt, shadow, utmp, mail := idOf("etc/passwd", "_apt"), idOf("etc/group", "shadow"), idOf("etc/group", "utmp"), idOf("etc/group", "mail")
	for _, c := range []struct {
		path     string
		uid, gid uint32
		mode     uint32
	}{
		{"var/cache/apt/archives/partial", apt, 0, 0o700},
		{"etc/shadow", 0, shadow, 0o640},
		{"usr/bin/chage", 0, shadow, 0o2755},
		{"var/log/wtmp", 0, utmp, 0o664},
		{"var/mail", 0, mail, 0o2775},
		{"usr/bin/passwd", 0, 0, 0o4755},
	} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(rootfs, c.path), &st); err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		wu, wg := hostOf(c.uid, spec.Linux.UIDMappings), hostOf(c.gid, spec.Linux.GIDMappings)
		if int(st.Uid) != wu || int(st.Gid) != wg || st.Mode&0o7777 != c.mode {
			t.Errorf("/%s on disk: %d:%d %o, want %d:%d %o (image %d:%d)", c.path, st.Uid, st.Gid, st.Mode&0o7777, wu, wg, c.mode, c.uid, c.gid)
		}
	}
	out := r.must(nil, b, "run", "d1", "--", "sh", "-c",
		"id -u; stat -c '%U:%G %a %n' /var/cache/apt/archives/partial /etc/shadow /usr/bin/chage /var/mail; dpkg -s dash | grep -c '^Status: install ok installed'")
	want := strings.Join([]string{"0",
		"_apt:root 700 /var/cache/apt/archives/partial", "root:shadow 640 /etc/shadow",
		"root:shadow 2755 /usr/bin/chage", "root:mail 2775 /var/mail", "1"}, "\n") + "\n"
	if out != want {
		t.Errorf("inside the container:\n%s\nwant:\n%s", out, want)
	}
}

// Without subordinate ids the import falls back to the user's own id and
// says what was lost in one warning, with what to do; the container runs as
// root (the user) and an unmapped image user is a clear error.
func TestRootlessImportWithoutRanges(t *testing.T) {
	fixtures := importFixtures(t)
	r := newRootlessEnv(t, rootlessNosubName)
	lb := filepath.Join(r.home, "l")
	_, errs, code := r.run(nil, "", "import", filepath.Join(fixtures, "layers.tar"), lb)
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if code != 0 || len(lines) != 1 {
		t.Fatalf("import: exit %d, stderr %q; want 0 and one warning", code, errs)
	}
	for _, s := range []string{"rt: warning: import: rootless: lost", "the owner of 7 entries", "security.capability", "image's user 1000:1000", "no range in /etc/subuid", "usermod --add-subuids"} {
		if !strings.Contains(errs, s) {
			t.Errorf("warning %q lacks %q", errs, s)
		}
	}
	spec := importReadSpec(t, lb)
	if len(spec.Linux.UIDMappings) != 1 || spec.Linux.UIDMappings[0].HostID != uint32(r.u.uid) {
		t.Errorf("uidMappings %v: want only the user's own uid", spec.Linux.UIDMappings)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(lb, "rootfs/data/private/secret.txt"), &st); err != nil || int(st.Uid) != r.u.uid {
		t.Errorf("secret.txt: owner %d, %v; want the user's %d", st.Uid, err, r.u.uid)
	}
	if out := r.must(nil, lb, "run", "-u", "0:0", "c1", "--", "stat", "-c", "%u:%g", "/data/private/secret.txt"); out != "0:0\n" {
		t.Errorf("inside, secret.txt is %q; want 0:0 (the user's own id)", out)
	}
	_, errs, code = r.run(nil, lb, "run", "c2")
	if code != 1 || !strings.Contains(errs, "process.user.uid 1000 is not mapped by linux.uidMappings") || !strings.Contains(errs, "--user 0:0") {
		t.Errorf("image user unmapped: exit %d, %q", code, errs)
	}

	// Without newuidmap the same fallback, saying to install uidmap.
	ru := newRootlessEnv(t, rootlessUserName)
	ru.env = []string{"RT_TEST_NO_MAP_HELPERS=1"}
	_, errs, code = ru.run(nil, "", "import", filepath.Join(fixtures, "layers.tar"), filepath.Join(ru.home, "l"))
	if code != 0 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "newuidmap not found: install the uidmap package") {
		t.Errorf("import without newuidmap: exit %d, %q", code, errs)
	}
}

// A user's containers are under its $XDG_RUNTIME_DIR/rt; another user
// cannot list, inspect, signal or delete them, nor read root's.
func TestRootlessStateIsolation(t *testing.T) {
	a := newRootlessEnv(t, rootlessUserName)
	b := newRootlessEnv(t, rootlessNosubName)
	bundle := filepath.Join(a.home, "b")
	mkRootlessBundle(t, bundle, a.u, "sleep", "600")
	a.must(nil, bundle, "create", "ca")
	stateDir := filepath.Join(a.xdg, "rt", "ca")
	if _, err := os.Stat(filepath.Join(stateDir, "state.json")); err != nil {
		t.Fatalf("state not under $XDG_RUNTIME_DIR/rt: %v", err)
	}
	aRoot := filepath.Join(a.xdg, "rt")
	// b's directories are 0700, a's too: open them for the test's view
	// of a, so that only rt's own modes stand between b and a's state.
	os.Chmod(a.xdg, 0o755)
	for _, args := range [][]string{{"list"}, {"state", "ca"}, {"kill", "ca", "KILL"}, {"delete", "--force", "ca"}, {"start", "ca"}} {
		out, errs, code := b.run(nil, "", append([]string{"--root", aRoot}, args...)...)
		if code == 0 || strings.Contains(out, "ca") {
			t.Errorf("%s: rt %v on %s's state: exit %d, %q %q", b.u.name, args, a.u.name, code, out, errs)
		}
	}
	if out := b.must(nil, "", "list", "-q"); out != "" {
		t.Errorf("%s's own list shows %q", b.u.name, out)
	}
	if out := a.must(nil, "", "state", "ca"); !strings.Contains(out, `"status": "created"`) {
		t.Errorf("after the other user's tries: %s", out)
	}
	a.must(nil, "", "delete", "--force", "ca")

	// Root's state: a root-made state root is 0711, its containers 0700.
	e := newEnv(t)
	rb := e.bundle("rb", nil, "sleep", "600")
	e.mustRT("create", "--bundle", rb, "cr")
	os.Chmod(e.dir, 0o755)
	for _, args := range [][]string{{"list"}, {"state", "cr"}, {"kill", "cr", "KILL"}, {"delete", "--force", "cr"}} {
		out, errs, code := b.run(nil, "", append([]string{"--root", e.root}, args...)...)
		if code == 0 || strings.Contains(out, "cr") {
			t.Errorf("%s: rt %v on root's state: exit %d, %q %q", b.u.name, args, code, out, errs)
		}
	}
	if st := e.state("cr"); st["status"] != "created" {
		t.Errorf("root's container after a user's tries: %v", st)
	}
}

// mkRootlessBundle makes a busybox bundle for u with `rt spec --rootless`'s
// config (run as u) running args.
func mkRootlessBundle(t *testing.T, dir string, u *testUser, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot(), "tests/lib/mkbundle.sh"), append([]string{dir}, args...)...)
	cmd.Env = append(os.Environ(), "RT="+rtBin(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkbundle: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	json.Unmarshal(b, &c)
	l := obj(c, "linux")
	l["namespaces"] = append(l["namespaces"].([]any), map[string]any{"type": "user"})
	l["uidMappings"] = []any{map[string]any{"containerID": 0, "hostID": u.uid, "size": 1}}
	l["gidMappings"] = []any{map[string]any{"containerID": 0, "hostID": u.gid, "size": 1}}
	delete(l, "resources")
	var mounts []any
	for _, m := range c["mounts"].([]any) {
		mm := m.(map[string]any)
		if mm["type"] == "devpts" {
			var o []any
			for _, opt := range mm["options"].([]any) {
				if !strings.HasPrefix(opt.(string), "gid=") {
					o = append(o, opt)
				}
			}
			mm["options"] = o
		}
		mounts = append(mounts, mm)
	}
	c["mounts"] = mounts
	b, _ = json.MarshalIndent(c, "", "\t")
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.uid, u.gid), dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
}

// Every error an ordinary user can hit says what to do, and nothing is
// left behind.
func TestRootlessErrors(t *testing.T) {
	r := newRootlessEnv(t, rootlessNosubName)
	ru := newRootlessEnv(t, rootlessUserName)
	bundle := filepath.Join(r.home, "b")
	mkRootlessBundle(t, bundle, r.u, "true")
	edit := func(f func(c map[string]any)) {
		b, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
		var c map[string]any
		json.Unmarshal(b, &c)
		f(c)
		b, _ = json.Marshal(c)
		os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644)
	}
	r.must(nil, bundle, "run", "ok1") // the base bundle runs

	multi := func(c map[string]any) {
		l := obj(c, "linux")
		l["uidMappings"] = append(l["uidMappings"].([]any), map[string]any{"containerID": 1, "hostID": rootlessSubStart, "size": 1000})
		l["gidMappings"] = append(l["gidMappings"].([]any), map[string]any{"containerID": 1, "hostID": rootlessSubStart, "size": 1000})
	}
	edit(multi)
	cases := []struct {
		name string
		env  *rootlessEnv
		envv []string
		want []string
	}{
		{"no subuid range", r, nil, []string{"linux.uidMappings[1]: host ids 300000-300999: user rt-test-nosub has no range in /etc/subuid", "usermod --add-subuids", "rt spec --rootless"}},
		{"no newuidmap", r, []string{"RT_TEST_NO_MAP_HELPERS=1"}, []string{"linux.uidMappings: mapping more than your own id needs newuidmap", "install the uidmap package", "rt spec --rootless"}},
	}
	for _, c := range cases {
		c.env.env = c.envv
		_, errs, code := c.env.run(nil, bundle, "run", "e1")
		c.env.env = nil
		if code != 1 {
			t.Errorf("%s: exit %d, %q", c.name, code, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%s: %q lacks %q", c.name, errs, w)
			}
		}
		if ents, _ := os.ReadDir(filepath.Join(c.env.xdg, "rt")); len(ents) != 0 {
			t.Errorf("%s: state left behind: %v", c.name, ents)
		}
	}
	// Ids beyond the user's range, for the user that has one.
	rb := filepath.Join(ru.home, "b")
	mkRootlessBundle(t, rb, ru.u, "true")
	b, _ := os.ReadFile(filepath.Join(rb, "config.json"))
	b = bytes.Replace(b, []byte(`"gidMappings": [`), []byte(fmt.Sprintf(`"gidMappings": [{"containerID": 1, "hostID": %d, "size": 10},`, rootlessSubStart+rootlessSubCount-5)), 1)
	os.WriteFile(filepath.Join(rb, "config.json"), b, 0o644)
	if _, errs, code := ru.run(nil, rb, "run", "e2"); code != 1 || !strings.Contains(errs, fmt.Sprintf("linux.gidMappings[0]: host ids %d-%d are not in user rt-test-user's ranges in /etc/subgid (300000-365535)", rootlessSubStart+rootlessSubCount-5, rootlessSubStart+rootlessSubCount+4)) {
		t.Errorf("ids beyond the range: exit %d, %q", code, errs)
	}

	// A limit without a delegated cgroup: an error, never dropped.
	edit(func(c map[string]any) {
		l := obj(c, "linux")
		l["uidMappings"] = l["uidMappings"].([]any)[:1]
		l["gidMappings"] = l["gidMappings"].([]any)[:1]
		l["resources"] = map[string]any{"pids": map[string]any{"limit": 10}}
	})
	if _, errs, code := r.run(nil, bundle, "run", "e3"); code != 1 || !strings.Contains(errs, "linux.resources: rootless, these limits cannot be applied") || !strings.Contains(errs, "not delegated") || !strings.Contains(errs, "remove them from config.json") {
		t.Errorf("pids limit rootless: exit %d, %q", code, errs)
	}
	edit(func(c map[string]any) { delete(obj(c, "linux"), "resources") })

	// A rootful bundle.
	e := newEnv(t)
	rootful := e.bundle("rootful", nil, "true")
	os.Chmod(e.dir, 0o755)
	if _, errs, code := r.run(nil, rootful, "run", "e4"); code != 1 || !strings.Contains(errs, "rt spec --rootless") {
		t.Errorf("rootful bundle: exit %d, %q", code, errs)
	}
	// No $XDG_RUNTIME_DIR: root's /run/rt is not the user's.
	cmd := exec.Command(r.rt, "run", "e5")
	cmd.Dir = bundle
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + r.home}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(r.u.uid), Gid: uint32(r.u.gid), Groups: []uint32{}}}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "set XDG_RUNTIME_DIR, or pass --root DIR") {
		t.Errorf("without XDG_RUNTIME_DIR: %v, %q", err, out)
	}
	// A user container with a pids-free update still says why it has no cgroup.
	r.must(nil, bundle, "create", "c1")
	if _, errs, code := r.run(nil, "", "pause", "c1"); code != 1 || !strings.Contains(errs, "has no cgroup: it was created rootless where the cgroup tree is not delegated") {
		t.Errorf("pause rootless: exit %d, %q", code, errs)
	}
	r.must(nil, "", "delete", "--force", "c1")
}

// The converter's containment holds in the import's user namespace: every
// archive path is still resolved inside the rootfs, also where the user
// (root of that namespace) could write.
func TestRootlessImportHostile(t *testing.T) {
	r := newRootlessEnv(t, rootlessUserName)
	outside := filepath.Join(r.home, "outside")
	os.Mkdir(outside, 0o755)
	os.Chown(outside, r.u.uid, r.u.gid)
	os.WriteFile(filepath.Join(outside, "precious"), []byte("precious"), 0o644)
	os.Chown(filepath.Join(outside, "precious"), r.u.uid, r.u.gid)
	cases := []struct {
		name   string
		layers [][]importEnt
		refuse string
	}{
		{"dotdot", [][]importEnt{{{name: "../../../../../../../.." + outside + "/x", body: "evil"}}}, "path escapes the root directory"},
		{"symlink-outside-then-file", [][]importEnt{{{name: "out", typ: tar.TypeSymlink, link: outside}}, {{name: "out/x", body: "evil"}}}, `entry "out/x": parent directory "out"`},
		{"symlink-etc-then-file", [][]importEnt{{{name: "etc", typ: tar.TypeSymlink, link: "/etc"}, {name: "etc/rt-import-hostile", body: "evil"}}}, `parent directory "etc"`},
		{"hardlink-outside", [][]importEnt{{{name: "pw", typ: tar.TypeLink, link: outside + "/precious"}}}, "does not exist"},
	}
	for _, c := range cases {
		archive := filepath.Join(r.home, c.name+".tar")
		importHostileArchive(t, archive, c.layers...)
		os.Chown(archive, r.u.uid, r.u.gid)
		before := append(importSnapshot(t, outside), importSnapshot(t, "/etc")...)
		_, errs, code := r.run(nil, "", "import", archive, filepath.Join(r.home, c.name))
		if code != 1 || !strings.Contains(errs, c.refuse) {
			t.Errorf("%s: exit %d, %q; want it refused with %q", c.name, code, errs, c.refuse)
		}
		if _, err := os.Lstat(filepath.Join(r.home, c.name)); err == nil {
			t.Errorf("%s: a bundle was left", c.name)
		}
		if after := append(importSnapshot(t, outside), importSnapshot(t, "/etc")...); !slices.Equal(before, after) {
			t.Errorf("%s: changed outside the target:\nbefore %v\nafter  %v", c.name, before, after)
		}
	}
}

// podman rootless runs busybox with rt as its runtime, as with runc: it
// runs rt as root of its own user namespace (rootless.go: state under
// $XDG_RUNTIME_DIR, no cgroup rights, device nodes bound). Skipped where
// podman is not installed (make deps does not install it).
func TestRootlessPodman(t *testing.T) {
	fixtures := importFixtures(t)
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman not installed")
	}
	r := newRootlessEnv(t, rootlessUserName)
	// podman leaves a pause process holding its user namespace: kill the
	// user's processes, by pid, once the test is over.
	t.Cleanup(func() { killUserProcesses(r.u.uid) })
	archive := filepath.Join(r.home, "busybox.tar")
	b, err := os.ReadFile(filepath.Join(fixtures, "busybox.tar"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(archive, b, 0o644)
	podmanRun := func(args ...string) (string, error) {
		cmd := exec.Command(podman, append([]string{"--cgroup-manager=cgroupfs", "--events-backend=file", "--runtime", r.rt}, args...)...)
		cmd.Dir = r.home
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + r.home, "USER=" + r.u.name, "LOGNAME=" + r.u.name, "XDG_RUNTIME_DIR=" + r.xdg}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(r.u.uid), Gid: uint32(r.u.gid), Groups: []uint32{}}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := podmanRun("load", "-i", archive); err != nil {
		t.Fatalf("podman load: %v\n%s", err, out)
	}
	out, err := podmanRun("run", "--rm", "--network", "none", "rt-fixture/busybox:latest", "sh", "-c", "id -u; cat /proc/self/uid_map")
	if err != nil {
		t.Fatalf("podman --runtime rt run: %v\n%s", err, out)
	}
	if f := strings.Fields(out); len(f) != 7 || f[0] != "0" || f[2] != strconv.Itoa(r.u.uid) || f[5] != strconv.Itoa(rootlessSubStart) {
		t.Errorf("podman --runtime rt printed %q; want root mapped to %d, then the subordinate range", out, r.u.uid)
	}
	if _, err := os.Stat(filepath.Join(r.xdg, "rt")); err != nil {
		t.Errorf("rt's state not under the user's $XDG_RUNTIME_DIR: %v", err)
	}
}

// killUserProcesses SIGKILLs, by pid, every process of uid (a user the
// tests made).
func killUserProcesses(uid int) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name(), &st) == nil && int(st.Uid) == uid {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// cgroup v2 delegation, rootless: a subtree owned by the user (what
// systemd's Delegate=yes gives a user session: the directory and its
// cgroup.procs, cgroup.subtree_control and cgroup.threads chowned) lets a
// rootless container have limits there; the same config under a cgroup
// that is not delegated is refused with a one-line error that says so.
// Runs on a pure cgroup v2 host (make test-cgroup2-ci runs it in the
// qemu guest); the launcher moves itself into the subtree first, as a
// user session's processes already are.
func TestRootlessDelegatedCgroupV2(t *testing.T) {
	e := newEnv(t)
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.subtree_control"); err != nil {
		t.Skip("not a pure cgroup v2 host")
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		t.Skip("runuser not installed")
	}
	if out, err := exec.Command(runuser, "-u", "nobody", "--", rtBin(t), "--version").CombinedOutput(); err != nil {
		t.Skipf("the rt binary is not reachable by nobody here: %s", out)
	}
	const nobody = 65534
	ctrls, _ := os.ReadFile("/sys/fs/cgroup/cgroup.subtree_control")
	for _, c := range []string{"memory", "pids"} {
		if !slices.Contains(strings.Fields(string(ctrls)), c) {
			t.Skipf("controller %s not enabled at the root (%q)", c, ctrls)
		}
	}
	deleg := fmt.Sprintf("/sys/fs/cgroup/rt-test-%d-deleg", os.Getpid())
	launch := filepath.Join(deleg, "launch")
	if err := os.MkdirAll(launch, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Anything left in the subtree is ours: kill it by pid, then rmdir
		// deepest first.
		filepath.WalkDir(deleg, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Name() == "cgroup.procs" {
				b, _ := os.ReadFile(p)
				for _, f := range strings.Fields(string(b)) {
					if pid, _ := strconv.Atoi(f); pid > 0 {
						syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			}
			return nil
		})
		var dirs []string
		filepath.WalkDir(deleg, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			for range 50 {
				if err := unix.Rmdir(dirs[i]); err == nil || err == unix.ENOENT {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	})

	b := e.bundle("b", nil, "true")
	os.Remove(filepath.Join(b, "config.json"))
	e.mustRT("spec", "--rootless", "--bundle", b)
	e.editConfig(b, func(c map[string]any) {
		p := obj(c, "process")
		p["terminal"] = false
		p["args"] = []string{"sleep", "60"}
		l := obj(c, "linux")
		l["uidMappings"] = []any{map[string]any{"containerID": 0, "hostID": nobody, "size": 1}}
		l["gidMappings"] = []any{map[string]any{"containerID": 0, "hostID": nobody, "size": 1}}
		l["cgroupsPath"] = strings.TrimPrefix(deleg, "/sys/fs/cgroup") + "/ctr"
		l["resources"] = map[string]any{
			"memory": map[string]any{"limit": 64 << 20},
			"pids":   map[string]any{"limit": 20},
		}
	})
	xdg := filepath.Join(e.dir, "xdg")
	os.MkdirAll(xdg, 0o700)
	for _, p := range []string{e.dir, b, xdg} {
		os.Chmod(p, 0o755)
	}
	os.Chown(xdg, nobody, nobody)
	// rt as nobody, started from inside the delegated subtree.
	asNobody := func(args ...string) (string, error) {
		script := `echo $$ > "$1/cgroup.procs" && shift && exec "$@"`
		cmd := exec.Command("sh", append([]string{"-c", script, "sh", launch, runuser, "-u", "nobody", "--", rtBin(t)}, args...)...)
		cmd.Dir = b
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+xdg)
		errf := e.tempFile()
		cmd.Stderr = errf // stdout is /dev/null: the detached container keeps no pipe open
		err := cmd.Run()
		msg, _ := os.ReadFile(errf.Name())
		return string(msg), err
	}

	// Not delegated yet: the limits cannot be applied, and rt says why.
	msg, err := asNobody("run", "-d", "deleg")
	if err == nil {
		asNobody("delete", "-f", "deleg")
		t.Fatal("rootless run with limits in a root-owned cgroup succeeded")
	}
	if lines := strings.Split(strings.TrimSpace(msg), "\n"); len(lines) != 1 || !strings.Contains(msg, "delegated") || !strings.Contains(msg, "linux.resources") {
		t.Fatalf("want one line naming linux.resources and delegation, got %q", msg)
	}
	if _, err := os.Stat(filepath.Join(deleg, "ctr")); err == nil {
		t.Fatal("the refused container left its cgroup behind")
	}
	asNobody("delete", "-f", "deleg")

	// Delegate the subtree as systemd does, and run again.
	for _, f := range []string{"", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"} {
		if err := os.Chown(filepath.Join(deleg, f), nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	if msg, err := asNobody("run", "-d", "deleg"); err != nil {
		t.Fatalf("rootless run in a delegated cgroup: %v: %s", err, msg)
	}
	defer asNobody("delete", "-f", "deleg")
	ctr := filepath.Join(deleg, "ctr")
	for file, want := range map[string]string{"memory.max": strconv.Itoa(64 << 20), "pids.max": "20"} {
		got, err := os.ReadFile(filepath.Join(ctr, file))
		if err != nil || strings.TrimSpace(string(got)) != want {
			t.Errorf("%s/%s = %q (%v), want %s", ctr, file, got, err, want)
		}
	}
	procs, _ := os.ReadFile(filepath.Join(ctr, "cgroup.procs"))
	if len(strings.Fields(string(procs))) == 0 {
		t.Error("the container's process is not in its delegated cgroup")
	}
	if msg, err := asNobody("delete", "-f", "deleg"); err != nil {
		t.Fatalf("delete: %v: %s", err, msg)
	}
	if _, err := os.Stat(ctr); err == nil {
		t.Error("delete left the container's cgroup")
	}
}
