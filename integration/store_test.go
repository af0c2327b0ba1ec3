package integration

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// storeEnv is newEnv with a private image store (--store) inside the
// test's own directory.
type storeEnv struct {
	*env
	store string
}

func newStoreEnv(t *testing.T) *storeEnv {
	t.Helper()
	e := newEnv(t)
	s := &storeEnv{env: e, store: filepath.Join(e.dir, "store")}
	// Runs before newEnv's cleanup: delete our containers (their overlay
	// mounts go with them), then unmount whatever a failed test left
	// mounted under its own directory, so the directory can go.
	t.Cleanup(func() {
		entries, _ := os.ReadDir(e.root)
		for _, ent := range entries {
			_, _, _ = e.rt("delete", "--force", ent.Name())
		}
		for _, m := range s.mounts() {
			if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", m, err)
			}
		}
	})
	return s
}

// srt runs rt with this test's --root and --store.
func (s *storeEnv) srt(args ...string) (string, string, int) {
	s.t.Helper()
	return s.rt(append([]string{"--store", s.store}, args...)...)
}

func (s *storeEnv) mustSRT(args ...string) string {
	s.t.Helper()
	return s.mustRT(append([]string{"--store", s.store}, args...)...)
}

// mounts lists the mount points under the test's directory.
func (s *storeEnv) mounts() []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], s.dir+"/") {
			out = append(out, f[4])
		}
	}
	return out
}

// dirNames lists a store subdirectory.
func (s *storeEnv) dirNames(sub string) []string {
	ents, _ := os.ReadDir(filepath.Join(s.store, sub))
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func (s *storeEnv) load(archive string) string {
	s.t.Helper()
	return s.mustSRT("load", filepath.Join(importFixtures(s.t.(*testing.T)), archive))
}

type storeImage struct {
	ID     string   `json:"id"`
	Names  []string `json:"names"`
	Size   int64    `json:"size"`
	Layers []string `json:"layers"`
}

func (s *storeEnv) images() []storeImage {
	s.t.Helper()
	var out []storeImage
	if err := json.Unmarshal([]byte(s.mustSRT("images", "--format", "json")), &out); err != nil {
		s.t.Fatal(err)
	}
	return out
}

const (
	fixBusybox = "rt-fixture/busybox:latest"
	fixLayers  = "rt-fixture/layers:latest"
)

// load, images, run --image (a fresh rootfs each time, the overrides of
// run), rmi, gc: the whole cycle, leaving nothing mounted or behind.
func TestStoreRunFreshRootfs(t *testing.T) {
	s := newStoreEnv(t)
	// stderr is a file, not a terminal: no progress, nothing at all.
	if out, errs, code := s.srt("load", filepath.Join(importFixtures(t), "busybox.tar")); code != 0 || out != "Loaded image: "+fixBusybox+"\n" || errs != "" {
		t.Errorf("load: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	imgs := s.images()
	if len(imgs) != 1 || !slices.Equal(imgs[0].Names, []string{fixBusybox}) || len(imgs[0].Layers) != 1 || imgs[0].Size <= 0 {
		t.Fatalf("images: %+v", imgs)
	}
	if out := s.mustSRT("images"); !strings.Contains(out, fixBusybox) || !strings.Contains(out, imgs[0].ID[7:19]) {
		t.Errorf("images table: %q", out)
	}
	out, errs, code := s.srt("run", "--image", "rt-fixture/busybox", "-e", "A=1", "--cwd", "/tmp", "c1", "--",
		"sh", "-c", `echo "$HOSTNAME $A $(pwd)"; echo one >/written-by-c1`)
	if code != 0 || out != "c1 1 /tmp\n" {
		t.Fatalf("run c1: exit %d, %q, %q", code, out, errs)
	}
	out, errs, code = s.srt("run", "--image", imgs[0].ID[7:19], "--hostname", "h2", "c2", "--",
		"sh", "-c", `hostname; test -e /written-by-c1 && echo LEAKED; true`)
	if code != 0 || out != "h2\n" {
		t.Errorf("run c2: exit %d, %q, %q (c1's file must not be there)", code, out, errs)
	}
	if left := s.dirNames("containers"); len(left) != 0 {
		t.Errorf("containers left in the store: %v", left)
	}
	if m := s.mounts(); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
	if _, errs, code := s.srt("run", "--image", "nosuch", "c3"); code != 1 || !strings.Contains(errs, `no image "nosuch"`) || strings.Count(errs, "\n") != 1 {
		t.Errorf("unknown image: exit %d, %q", code, errs)
	}
	if out := s.mustSRT("rmi", "rt-fixture/busybox"); !strings.Contains(out, "untagged "+fixBusybox) || !strings.Contains(out, "deleted sha256:") {
		t.Errorf("rmi printed %q", out)
	}
	if imgs := s.images(); len(imgs) != 0 {
		t.Errorf("images after rmi: %+v", imgs)
	}
	if l := s.dirNames("layers"); len(l) != 1 {
		t.Errorf("rmi must leave the layer for gc: %v", l)
	}
	if out := s.mustSRT("gc"); !strings.HasPrefix(out, "removed 1 layers") {
		t.Errorf("gc printed %q", out)
	}
	if l := s.dirNames("layers"); len(l) != 0 {
		t.Errorf("layers after gc: %v", l)
	}
}

// The layered fixture through overlayfs: every fact of layers.EXPECTED.json
// (whiteouts, opaque directories, hardlinks, modes, xattrs) holds in the
// merged view of a container's rootfs, and the image runs as Docker ran it.
func TestStoreLayersOverlayView(t *testing.T) {
	for _, archive := range []string{"layers.tar", "layers-oci-zstd.tar"} {
		t.Run(archive, func(t *testing.T) {
			s := newStoreEnv(t)
			fixtures := importFixtures(t)
			exp := importLoadExpect(t, filepath.Join(fixtures, "layers.EXPECTED.json"))
			s.load(archive)
			s.mustSRT("create", "--image", fixLayers, "lc", "--", "sleep", "1000")
			st := s.state("lc")
			bundle, _ := st["bundle"].(string)
			if !strings.HasPrefix(bundle, s.store+"/") {
				t.Fatalf("bundle %q is not in the store", bundle)
			}
			checkRootfs(t, filepath.Join(bundle, "rootfs"), exp, true)
			s.mustRT("delete", "--force", "lc")
			if _, err := os.Stat(bundle); !os.IsNotExist(err) {
				t.Errorf("container directory left after delete: %v", err)
			}
			devnull, _ := os.Open(os.DevNull)
			defer devnull.Close()
			out, errs, code := s.rtIn("", devnull, "--store", s.store, "run", "--image", fixLayers, "lr")
			if code != 0 || out != *exp.RunStdout {
				t.Errorf("run: exit %d, %q, %q; want %q", code, out, errs, *exp.RunStdout)
			}
		})
	}
}

// Loads of images sharing a layer, at once into one store: all succeed,
// the shared layer is stored once, and a second load reads no layer.
func TestStoreConcurrentLoads(t *testing.T) {
	s := newStoreEnv(t)
	fixtures := importFixtures(t)
	archives := []string{"busybox.tar", "layers.tar", "two-images.tar", "busybox-ctr-export.tar", "layers-oci-gzip.tar", "busybox.tar"}
	var wg sync.WaitGroup
	errs := make([]string, len(archives))
	for i, a := range archives {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(rtBin(t), "--root", s.root, "--store", s.store, "load", filepath.Join(fixtures, a))
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Sprintf("load %s: %v: %s", a, err, out)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
	// Every distinct diff ID once, nothing half-made.
	want := map[string]bool{}
	for _, img := range s.images() {
		for _, l := range img.Layers {
			want[strings.TrimPrefix(l, "sha256:")] = true
		}
	}
	got := s.dirNames("layers")
	if len(got) != len(want) {
		t.Errorf("layers %v, want one each of %v", got, want)
	}
	for _, l := range got {
		if !want[l] {
			t.Errorf("layer %s belongs to no image", l)
		}
	}
	if tmp := s.dirNames("tmp"); len(tmp) != 0 {
		t.Errorf("tmp left: %v", tmp)
	}
	// Already stored: no layer is unpacked again, so a load stopped at
	// the first layer bytes it reads never stops.
	cmd := exec.Command(rtBin(t), "--root", s.root, "--store", s.store, "load", filepath.Join(fixtures, "layers.tar"))
	cmd.Env = append(os.Environ(), "RT_TEST_STOP=load-mid-layer")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("second load: %v: %s", err, out)
	}
	if out, errs, code := s.srt("run", "--image", fixBusybox, "after", "--", "true"); code != 0 {
		t.Errorf("run after concurrent loads: %d %q %q", code, out, errs)
	}
}

// A load killed in the middle of a layer leaves no layer and no image
// visible; the next load unpacks it, and gc clears the leftovers.
func TestStoreLoadKilledMidLayer(t *testing.T) {
	s := newStoreEnv(t)
	fixtures := importFixtures(t)
	cmd := exec.Command(rtBin(t), "--root", s.root, "--store", s.store, "load", filepath.Join(fixtures, "busybox.tar"))
	cmd.Env = append(os.Environ(), "RT_TEST_STOP=load-mid-layer")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitPidStopped(t, cmd.Process.Pid)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if l := s.dirNames("layers"); len(l) != 0 {
		t.Errorf("a killed load left layers visible: %v", l)
	}
	if imgs := s.images(); len(imgs) != 0 {
		t.Errorf("a killed load left images: %+v", imgs)
	}
	if tmp := s.dirNames("tmp"); len(tmp) == 0 {
		t.Errorf("expected the killed load's partial layer in tmp/")
	}
	s.load("busybox.tar")
	if l := s.dirNames("layers"); len(l) != 1 {
		t.Errorf("layers after the second load: %v", l)
	}
	s.mustSRT("gc")
	if tmp := s.dirNames("tmp"); len(tmp) != 0 {
		t.Errorf("tmp after gc: %v", tmp)
	}
	if _, errs, code := s.srt("run", "--image", fixBusybox, "k1", "--", "true"); code != 0 {
		t.Errorf("run: %d %q", code, errs)
	}
}

// waitPidStopped waits until pid is stopped (RT_TEST_STOP) or gone.
func waitPidStopped(t *testing.T, pid int) {
	t.Helper()
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatalf("process %d gone before it stopped", pid)
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 && len(s) > i+2 {
			switch s[i+2] {
			case 'T', 't':
				return
			case 'Z':
				t.Fatalf("process %d exited before it stopped", pid)
			}
		}
		unix.Nanosleep(&unix.Timespec{Nsec: 10e6}, nil)
	}
}

// gc never removes a layer a container uses, even after rmi of its image.
func TestStoreGCKeepsLayersInUse(t *testing.T) {
	s := newStoreEnv(t)
	s.load("layers.tar")
	s.mustSRT("create", "--image", fixLayers, "g1", "--", "sleep", "1000")
	s.mustRT("start", "g1")
	s.mustSRT("rmi", fixLayers)
	if out := s.mustSRT("gc"); !strings.HasPrefix(out, "removed 0 layers") {
		t.Errorf("gc with the container running: %q", out)
	}
	if l := s.dirNames("layers"); len(l) != 5 {
		t.Errorf("layers: %v, want the 5 the container uses", l)
	}
	if out, errs, code := s.rt("exec", "g1", "cat", "/usr/local/bin/entry.sh"); code != 0 || out == "" {
		t.Errorf("exec after gc: %d %q %q", code, out, errs)
	}
	s.mustRT("delete", "--force", "g1")
	if out := s.mustSRT("gc"); !strings.HasPrefix(out, "removed 5 layers") {
		t.Errorf("gc after delete: %q", out)
	}
}

// rt run killed (SIGKILL) while its container runs: delete --force
// unmounts the overlay and removes the container's directory.
func TestStoreDeleteForceAfterCrash(t *testing.T) {
	s := newStoreEnv(t)
	s.load("busybox.tar")
	cmd := exec.Command(rtBin(t), "--root", s.root, "--store", s.store, "run", "--image", fixBusybox, "cr", "--", "sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Until the container runs: rt exec succeeds.
	for {
		if _, _, code := s.rt("exec", "cr", "true"); code == 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("rt run exited before its container ran: %v", err)
		default:
		}
		unix.Nanosleep(&unix.Timespec{Nsec: 20e6}, nil)
	}
	bundle, _ := s.state("cr")["bundle"].(string)
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	if !slices.Contains(s.mounts(), filepath.Join(bundle, "rootfs")) {
		t.Fatalf("overlay not mounted at %s/rootfs before delete: %v", bundle, s.mounts())
	}
	s.mustRT("delete", "--force", "cr")
	if m := s.mounts(); len(m) != 0 {
		t.Errorf("mounts left after delete --force: %v", m)
	}
	if _, err := os.Stat(bundle); !os.IsNotExist(err) {
		t.Errorf("container directory left: %v", err)
	}
}

// The hostile layers of TestImportHostileLayers, through rt load: each is
// refused (no layer, no image stored) or contained in the store; outside
// the store nothing changes.
func TestStoreHostileLoads(t *testing.T) {
	requireRoot(t)
	const (
		sym  = tar.TypeSymlink
		hard = tar.TypeLink
	)
	cases := []struct {
		name   string
		layers func(outside string) [][]importEnt
		refuse string
	}{
		{"dotdot", func(o string) [][]importEnt {
			return [][]importEnt{{{name: "../../../../../../../.." + o + "/x", body: "evil"}}}
		}, "path escapes the root directory"},
		{"absolute", func(o string) [][]importEnt {
			return [][]importEnt{{{name: o + "/x", body: "contained"}}}
		}, ""},
		{"symlink-etc-then-file", func(o string) [][]importEnt {
			return [][]importEnt{{{name: "etc", typ: sym, link: "/etc"}, {name: "etc/rt-load-hostile", body: "evil"}}}
		}, `entry "etc/rt-load-hostile": parent directory "etc"`},
		{"symlink-outside-then-file", func(o string) [][]importEnt {
			// In overlay form each layer is apart: the second layer's
			// "out" is a directory of its own, never the first's symlink.
			return [][]importEnt{{{name: "out", typ: sym, link: o}, {name: "out/x", body: "evil"}}}
		}, `entry "out/x": parent directory "out"`},
		{"hardlink-etc-passwd", func(o string) [][]importEnt {
			return [][]importEnt{{{name: "pw", typ: hard, link: "/etc/passwd"}}}
		}, `hardlink target "/etc/passwd" does not exist`},
		{"hardlink-outside", func(o string) [][]importEnt {
			return [][]importEnt{{{name: "pw", typ: hard, link: "../../../../../../.." + o + "/precious"}}}
		}, "path escapes the root directory"},
		{"whiteout-dotdot", func(o string) [][]importEnt {
			return [][]importEnt{{{name: "a/.wh..."}}}
		}, `invalid whiteout ".wh..."`},
		{"opaque-marker-alone", func(o string) [][]importEnt {
			return [][]importEnt{{{name: "d/.wh..wh..opq"}}}
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStoreEnv(t)
			outside := filepath.Join(s.dir, "outside")
			os.Mkdir(outside, 0o755)
			os.WriteFile(filepath.Join(outside, "precious"), []byte("precious"), 0o644)
			archive := filepath.Join(s.dir, "hostile.tar")
			importHostileArchive(t, archive, c.layers(outside)...)
			os.MkdirAll(s.store, 0o700)
			before := append(importSnapshot(t, outside), importSnapshot(t, "/etc")...)
			_, errs, code := s.srt("load", archive)
			if c.refuse != "" {
				if code != 1 || !strings.HasPrefix(errs, "rt: load "+archive+": image \"hostile:1\": layer ") || !strings.Contains(errs, c.refuse) || strings.Count(errs, "\n") != 1 {
					t.Errorf("exit %d, %q; want it refused with %q", code, errs, c.refuse)
				}
				if l := s.dirNames("layers"); len(l) != 0 {
					t.Errorf("a refused layer is in the store: %v", l)
				}
				if imgs := s.images(); len(imgs) != 0 {
					t.Errorf("a refused image is in the store: %+v", imgs)
				}
			} else if code != 0 {
				t.Errorf("exit %d, %q; want it contained", code, errs)
			}
			if after := append(importSnapshot(t, outside), importSnapshot(t, "/etc")...); !slices.Equal(before, after) {
				t.Errorf("changed outside the store:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// Without overlayfs (RT_TEST_NO_OVERLAY=1 makes rt take that path) a
// container gets a copy of the image, merged as overlayfs would show it:
// layers.EXPECTED.json holds exactly, link counts included; rt says so once.
func TestStoreCopyFallback(t *testing.T) {
	s := newStoreEnv(t)
	fixtures := importFixtures(t)
	exp := importLoadExpect(t, filepath.Join(fixtures, "layers.EXPECTED.json"))
	s.load("layers.tar")
	cmd := exec.Command(rtBin(t), "--root", s.root, "--store", s.store, "create", "--image", fixLayers, "cp1", "--", "sleep", "1000")
	cmd.Env = append(os.Environ(), "RT_TEST_NO_OVERLAY=1")
	// A file, not a pipe: the created container's init keeps rt's stdio.
	outf := s.tempFile()
	defer outf.Close()
	cmd.Stdout, cmd.Stderr = outf, outf
	err := cmd.Run()
	out, _ := os.ReadFile(outf.Name())
	if err != nil {
		t.Fatalf("create: %v: %s", err, out)
	}
	if strings.Count(string(out), "overlayfs is not available") != 1 || strings.Count(string(out), "\n") != 1 {
		t.Errorf("want one warning line, got %q", out)
	}
	bundle, _ := s.state("cp1")["bundle"].(string)
	checkRootfs(t, filepath.Join(bundle, "rootfs"), exp, false)
	if m := s.mounts(); len(m) != 0 {
		t.Errorf("the copy must not be a mount: %v", m)
	}
	s.mustRT("delete", "--force", "cp1")
	if _, err := os.Stat(bundle); !os.IsNotExist(err) {
		t.Errorf("container directory left: %v", err)
	}
}

// Every fixture loads, and every fact of its EXPECTED note holds in the
// overlay view of a container made from it (the image's own command,
// created, never started).
func TestStoreFixtures(t *testing.T) {
	requireRoot(t)
	fixtures := importFixtures(t)
	for _, c := range importCases {
		t.Run(strings.ReplaceAll(c.archive+"/"+c.image, "/", "_"), func(t *testing.T) {
			s := newStoreEnv(t)
			exp := importLoadExpect(t, filepath.Join(fixtures, c.expect))
			out := s.load(c.archive)
			ref := c.image
			if ref == "" {
				first, _, _ := strings.Cut(out, "\n")
				_, ref, _ = strings.Cut(first, ": ")
			}
			args := []string{"create", "--image", ref, "fx"}
			if cfg := exp.Image.Config; len(cfg.Entrypoint)+len(cfg.Cmd) == 0 {
				// No command in the image: any executable file of it
				// will do, the container is never started.
				prog := ""
				for _, p := range importSortedPaths(exp.Entries) {
					if e := exp.Entries[p]; e.Type == "file" && strings.ContainsAny(e.Mode[len(e.Mode)-3:], "1357") {
						prog = p
						break
					}
				}
				if prog == "" {
					// Nothing to create a container with: the test
					// mounts the stored layers read-only itself.
					storeCheckLayersView(t, s, ref, exp)
					return
				}
				args = append(args, "--", prog)
			}
			s.mustSRT(args...)
			bundle, _ := s.state("fx")["bundle"].(string)
			checkRootfs(t, filepath.Join(bundle, "rootfs"), exp, true)
			s.mustRT("delete", "--force", "fx")
		})
	}
}

// storeCheckLayersView mounts the stored layers of image ref read-only
// (an empty directory below them: overlayfs wants two lower dirs without
// an upper) and checks exp there.
func storeCheckLayersView(t *testing.T, s *storeEnv, ref string, exp *importExpect) {
	t.Helper()
	var lowers []string
	for _, img := range s.images() {
		if img.ID == ref || slices.Contains(img.Names, ref) {
			for i := len(img.Layers) - 1; i >= 0; i-- {
				lowers = append(lowers, filepath.Join(s.store, "layers", strings.TrimPrefix(img.Layers[i], "sha256:"), "diff"))
			}
		}
	}
	if len(lowers) == 0 {
		t.Fatalf("image %s not in rt images", ref)
	}
	empty, mnt := filepath.Join(s.dir, "empty"), filepath.Join(s.dir, "view")
	os.Mkdir(empty, 0o755)
	os.Mkdir(mnt, 0o755)
	if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(append(lowers, empty), ":")); err != nil {
		t.Fatalf("mount the stored layers: %v", err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	checkRootfs(t, mnt, exp, true)
}

// A state.json edited to name another directory as the container's
// (cleanup, rootfs_mount) makes delete warn and leave it alone: only a
// directory whose owner.json names this container is removed.
func TestStoreDeleteLeavesForeignDirs(t *testing.T) {
	s := newStoreEnv(t)
	s.load("busybox.tar")
	s.mustSRT("create", "--image", fixBusybox, "fd", "--", "true")
	victim := filepath.Join(s.dir, "victim")
	os.MkdirAll(filepath.Join(victim, "rootfs"), 0o755)
	os.WriteFile(filepath.Join(victim, "precious"), []byte("x"), 0o644)
	p := filepath.Join(s.root, "fd", "state.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	json.Unmarshal(b, &st)
	real, _ := st["cleanup"].(string)
	st["cleanup"], st["rootfs_mount"] = victim, filepath.Join(victim, "rootfs")
	b, _ = json.Marshal(st)
	os.WriteFile(p, b, 0o600)
	_, errs, code := s.rt("delete", "--force", "fd")
	if code != 0 || !strings.Contains(errs, "is not marked as its directory") {
		t.Errorf("delete: exit %d, %q; want a warning", code, errs)
	}
	if _, err := os.Stat(filepath.Join(victim, "precious")); err != nil {
		t.Errorf("the foreign directory was touched: %v", err)
	}
	// The real one is left too (its state no longer names it): gc finds it.
	if _, err := os.Stat(real); err != nil {
		t.Fatalf("the container's own directory: %v", err)
	}
	if out := s.mustSRT("gc"); !strings.Contains(out, "1 container directories") {
		t.Errorf("gc: %q", out)
	}
	if _, err := os.Stat(real); !os.IsNotExist(err) || len(s.mounts()) != 0 {
		t.Errorf("gc left the container's directory (%v) or mounts %v", err, s.mounts())
	}
}

// A large generated image (bench/import/mkimage: busybox, then thousands
// of files, links and a layer of rewrites and whiteouts): the overlay view
// of a container from the store, and the copy of the fallback, hold the
// same tree as `rt import` of the same archive; a second load reads no layer.
func TestStoreGeneratedImage(t *testing.T) {
	s := newStoreEnv(t)
	fixtures := importFixtures(t)
	bb := filepath.Join(s.dir, "bb")
	importMust(t, nil, filepath.Join(fixtures, "busybox.tar"), bb)
	img := filepath.Join(s.dir, "img")
	// RT_MKIMAGE: built beforehand (the cgroup v2 guest of tests/vm has no go).
	cmd := exec.Command("go", "run", "./bench/import/mkimage", "-o", img, "-size", "24", "-from", filepath.Join(bb, "rootfs"))
	if pre := os.Getenv("RT_MKIMAGE"); pre != "" {
		cmd = exec.Command(pre, "-o", img, "-size", "24", "-from", filepath.Join(bb, "rootfs"))
	}
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkimage: %v: %s", err, out)
	}
	archive := filepath.Join(img, "image.tar")
	ref := filepath.Join(s.dir, "ref")
	importMust(t, nil, archive, ref)
	want := storeTree(t, filepath.Join(ref, "rootfs"))
	s.mustSRT("load", archive)
	second := exec.Command(rtBin(t), "--root", s.root, "--store", s.store, "load", archive)
	second.Env = append(os.Environ(), "RT_TEST_STOP=load-mid-layer")
	if out, err := second.CombinedOutput(); err != nil {
		t.Fatalf("second load: %v: %s", err, out)
	}
	for _, copyMode := range []bool{false, true} {
		c := exec.Command(rtBin(t), "--root", s.root, "--store", s.store, "create", "--image", "rt-bench/large", "gen", "--", "true")
		if copyMode {
			c.Env = append(os.Environ(), "RT_TEST_NO_OVERLAY=1")
		}
		outf := s.tempFile()
		c.Stdout, c.Stderr = outf, outf
		err := c.Run()
		outf.Close()
		if err != nil {
			out, _ := os.ReadFile(outf.Name())
			t.Fatalf("create (copy %v): %v: %s", copyMode, err, out)
		}
		bundle, _ := s.state("gen")["bundle"].(string)
		got := storeTree(t, filepath.Join(bundle, "rootfs"))
		for p, w := range want {
			if g, ok := got[p]; !ok {
				t.Errorf("copy %v: %s missing", copyMode, p)
			} else if g != w {
				t.Errorf("copy %v: %s is %s, import made %s", copyMode, p, g, w)
			}
		}
		for p := range got {
			if _, ok := want[p]; !ok && p != "/dev" && p != "/proc" && p != "/sys" {
				t.Errorf("copy %v: %s extra", copyMode, p)
			}
		}
		s.mustRT("delete", "--force", "gen")
	}
}

// storeTree describes every path under dir: type, mode, owner, size,
// symlink target, content digest of small files, mtime of non-directories.
func storeTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if os.IsNotExist(err) {
			// overlayfs lists a whiteout that hides nothing (here: the
			// generated image whites out files of a tree its -from base
			// never had) when its directory is in no lower layer, yet
			// it cannot be opened: absent, as in the imported tree.
			return nil
		}
		if err != nil || p == dir {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		d := fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			d += " -> " + l
		case fi.Mode().IsRegular():
			d += fmt.Sprintf(" %d bytes mtime %d", fi.Size(), fi.ModTime().Unix())
			if fi.Size() < 4096 {
				d += " " + importSHA256(t, p)[:12]
			}
		}
		out["/"+strings.TrimPrefix(p, dir+"/")] = d
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
