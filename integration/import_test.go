package integration

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// importCase is one archive of ../shared/images and what it must unpack to.
type importCase struct {
	archive, image, expect string
}

var importCases = []importCase{
	{"busybox.tar", "", "busybox.EXPECTED.json"},
	{"busybox-ctr-export.tar", "", "busybox.EXPECTED.json"},
	{"layers.tar", "", "layers.EXPECTED.json"},
	{"layers-oci-gzip.tar", "", "layers.EXPECTED.json"},
	{"layers-oci-zstd.tar", "", "layers.EXPECTED.json"},
	{"two-images.tar", "rt-fixture/busybox:latest", "busybox.EXPECTED.json"},
	{"two-images.tar", "rt-fixture/layers", "layers.EXPECTED.json"},
	{"hello-world-docker25.tar", "", "hello-world-docker25.EXPECTED.json"},
	{"third_party/dive-test-docker-image.tar", "", "third_party/dive-test-docker-image.EXPECTED.json"},
	{"third_party/dive-test-oci-uncompressed-image.tar", "", "third_party/dive-test-oci-images.EXPECTED.json"},
	{"third_party/dive-test-oci-gzip-image.tar", "", "third_party/dive-test-oci-images.EXPECTED.json"},
	{"third_party/dive-test-oci-zstd-image.tar", "", "third_party/dive-test-oci-images.EXPECTED.json"},
	{"third_party/ggcr-test_link.tar", "bazel/v1/tarball:test_image_1", "third_party/ggcr-test_link.image1.EXPECTED.json"},
	{"third_party/ggcr-test_link.tar", "bazel/v1/tarball:test_image_3", "third_party/ggcr-test_link.image3.EXPECTED.json"},
}

// importRT runs `rt import ARGS...` with stdin; returns stderr and exit code.
func importRT(t *testing.T, stdin io.Reader, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(rtBin(t), append([]string{"import"}, args...)...)
	var errb bytes.Buffer
	cmd.Stdin, cmd.Stderr = stdin, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("rt import %v: %v", args, err)
	}
	return errb.String(), 0
}

func importMust(t *testing.T, stdin io.Reader, args ...string) {
	t.Helper()
	if errs, code := importRT(t, stdin, args...); code != 0 {
		t.Fatalf("rt import %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
}

func importArgsFor(c importCase, fixtures, bundle string) []string {
	var args []string
	if c.image != "" {
		args = append(args, "--image", c.image)
	}
	return append(args, filepath.Join(fixtures, c.archive), bundle)
}

// Every archive of ../shared/images imports, and every fact of its
// EXPECTED note holds in the rootfs and in config.json.
func TestImportFixtures(t *testing.T) {
	requireRoot(t) // owners, device nodes, security.capability
	fixtures := importFixtures(t)
	covered := map[string]bool{}
	for _, c := range importCases {
		covered[c.archive] = true
		t.Run(strings.ReplaceAll(c.archive+"/"+c.image, "/", "_"), func(t *testing.T) {
			exp := importLoadExpect(t, filepath.Join(fixtures, c.expect))
			bundle := filepath.Join(t.TempDir(), "bundle")
			importMust(t, nil, importArgsFor(c, fixtures, bundle)...)
			importCheckRootfs(t, filepath.Join(bundle, "rootfs"), exp)
			checkImportConfig(t, bundle, exp)
			if fi, err := os.Stat(bundle); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("bundle mode %v (%v), want 0700", fi.Mode(), err)
			}
		})
	}
	// A new fixture must get a case here.
	all, _ := filepath.Glob(filepath.Join(fixtures, "*.tar"))
	more, _ := filepath.Glob(filepath.Join(fixtures, "third_party", "*.tar"))
	for _, f := range append(all, more...) {
		if rel, _ := filepath.Rel(fixtures, f); !covered[rel] {
			t.Errorf("fixture %s has no case in importCases", rel)
		}
	}
}

func importReadSpec(t *testing.T, bundle string) *specs.Spec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// checkImportConfig checks config.json against the image config.
func checkImportConfig(t *testing.T, bundle string, exp *importExpect) {
	t.Helper()
	s := importReadSpec(t, bundle)
	c := exp.Image.Config
	p := s.Process
	if want := append(slices.Clone(c.Entrypoint), c.Cmd...); !slices.Equal(p.Args, want) && len(want) > 0 {
		t.Errorf("args %q, want %q", p.Args, want)
	}
	for _, e := range c.Env {
		if !slices.Contains(p.Env, e) {
			t.Errorf("env %q missing from %q", e, p.Env)
		}
	}
	if !slices.ContainsFunc(p.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		t.Errorf("no PATH in %q", p.Env)
	}
	wantCwd := "/"
	if c.WorkingDir != nil && *c.WorkingDir != "" {
		wantCwd = *c.WorkingDir
	}
	if p.Cwd != wantCwd {
		t.Errorf("cwd %q, want %q", p.Cwd, wantCwd)
	}
	if c.User != nil && *c.User == "1000:1000" && (p.User.UID != 1000 || p.User.GID != 1000) {
		t.Errorf("user %+v, want 1000:1000", p.User)
	}
	if (c.User == nil || *c.User == "") && (p.User.UID != 0 || p.User.GID != 0) {
		t.Errorf("user %+v, want root", p.User)
	}
	for k, v := range c.Labels {
		if got, ok := s.Annotations[k]; !ok || got != v {
			t.Errorf("annotation %s = %q, want label value %q", k, got, v)
		}
	}
	if p.Terminal {
		t.Error("terminal is on; import defaults to off")
	}
	if s.Root == nil || s.Root.Path != "rootfs" || s.Root.Readonly {
		t.Errorf("root %+v, want writable rootfs", s.Root)
	}
	if !slices.Contains(p.Capabilities.Bounding, "CAP_NET_BIND_SERVICE") || !slices.Contains(p.Capabilities.Bounding, "CAP_CHOWN") {
		t.Errorf("capabilities %v are not Docker's defaults", p.Capabilities.Bounding)
	}
	if !slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace }) {
		t.Error("no network namespace by default")
	}
}

// rt import - reads stdin: a redirected file (read in place) and a pipe
// (layers spooled beside the bundle) give the same rootfs.
func TestImportStdin(t *testing.T) {
	requireRoot(t)
	fixtures := importFixtures(t)
	for _, name := range []string{"layers.tar", "layers-oci-zstd.tar"} {
		exp := importLoadExpect(t, filepath.Join(fixtures, "layers.EXPECTED.json"))
		f, err := os.Open(filepath.Join(fixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		dir := t.TempDir()
		importMust(t, f, "-", filepath.Join(dir, "file"))
		importCheckRootfs(t, filepath.Join(dir, "file", "rootfs"), exp)

		f.Seek(0, io.SeekStart)
		importMust(t, io.MultiReader(f), "-", filepath.Join(dir, "pipe")) // not an *os.File: exec makes a pipe
		importCheckRootfs(t, filepath.Join(dir, "pipe", "rootfs"), exp)
		if names := importDirNames(t, dir); !slices.Equal(names, []string{"file", "pipe"}) {
			t.Errorf("%s: left beside the bundles: %v", name, names)
		}
	}
}

func importDirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestImportChoosesImage(t *testing.T) {
	fixtures := importFixtures(t)
	dir := t.TempDir()
	errs, code := importRT(t, nil, filepath.Join(fixtures, "two-images.tar"), filepath.Join(dir, "b"))
	if code != 1 || !strings.Contains(errs, "rt-fixture/busybox:latest") || !strings.Contains(errs, "rt-fixture/layers:latest") || !strings.Contains(errs, "--image") {
		t.Errorf("several images, no --image: exit %d, %q; want an error listing the tags", code, errs)
	}
	errs, code = importRT(t, nil, "--image", "nope:1", filepath.Join(fixtures, "two-images.tar"), filepath.Join(dir, "b"))
	if code != 1 || !strings.Contains(errs, `no image "nope:1"`) {
		t.Errorf("--image nope: exit %d, %q", code, errs)
	}
	// By image ID (the config digest), short or full.
	if os.Geteuid() == 0 {
		exp := importLoadExpect(t, filepath.Join(fixtures, "busybox.EXPECTED.json"))
		importMust(t, nil, "--image", "ae9a087347ab", filepath.Join(fixtures, "two-images.tar"), filepath.Join(dir, "id"))
		importCheckRootfs(t, filepath.Join(dir, "id", "rootfs"), exp)
	}
	if names := importDirNames(t, dir); len(names) > 1 || (len(names) == 1 && names[0] != "id") {
		t.Errorf("left behind: %v", names)
	}
}

func TestImportTarget(t *testing.T) {
	requireRoot(t)
	fixtures := importFixtures(t)
	archive := filepath.Join(fixtures, "busybox.tar")
	dir := t.TempDir()
	b := filepath.Join(dir, "b")
	os.Mkdir(b, 0o755) // an empty directory is fine
	importMust(t, nil, archive, b)

	errs, code := importRT(t, nil, archive, b)
	if code != 1 || !strings.Contains(errs, "not empty") || !strings.Contains(errs, "--force") {
		t.Errorf("non-empty target: exit %d, %q", code, errs)
	}
	os.WriteFile(filepath.Join(b, "mine"), nil, 0o644)
	importMust(t, nil, "--force", archive, b, "--", "echo", "hi")
	if _, err := os.Stat(filepath.Join(b, "mine")); err == nil {
		t.Error("--force kept the old bundle's files")
	}
	if args := importReadSpec(t, b).Process.Args; !slices.Equal(args, []string{"echo", "hi"}) {
		t.Errorf("args %q after -- echo hi", args)
	}
	if names := importDirNames(t, dir); !slices.Equal(names, []string{"b"}) {
		t.Errorf("left beside the bundle: %v", names)
	}
}

func TestImportFlags(t *testing.T) {
	requireRoot(t)
	fixtures := importFixtures(t)
	dir := t.TempDir()
	importMust(t, nil, "--tty", "--net", "host", filepath.Join(fixtures, "layers.tar"), filepath.Join(dir, "b"))
	s := importReadSpec(t, filepath.Join(dir, "b"))
	if !s.Process.Terminal {
		t.Error("--tty: terminal off")
	}
	if slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace }) {
		t.Error("--net host: network namespace still there")
	}
	for _, f := range []string{"/etc/resolv.conf", "/etc/hosts"} {
		if !slices.ContainsFunc(s.Mounts, func(m specs.Mount) bool {
			return m.Destination == f && m.Source == f && slices.Contains(m.Options, "ro")
		}) {
			t.Errorf("--net host: no read-only bind mount of %s in %+v", f, s.Mounts)
		}
	}
	// The image's files are left alone: no resolv.conf appears in the rootfs.
	if _, err := os.Lstat(filepath.Join(dir, "b", "rootfs", "etc", "resolv.conf")); err == nil {
		t.Error("--net host added /etc/resolv.conf to the rootfs")
	}
	importMust(t, nil, "--entrypoint", "/bin/sh", filepath.Join(fixtures, "layers.tar"), filepath.Join(dir, "ep"), "--", "-c", "id")
	if args := importReadSpec(t, filepath.Join(dir, "ep")).Process.Args; !slices.Equal(args, []string{"/bin/sh", "-c", "id"}) {
		t.Errorf("--entrypoint: args %q", args)
	}
	if errs, code := importRT(t, nil, "--net", "bridge", filepath.Join(fixtures, "layers.tar"), filepath.Join(dir, "x")); code != 1 || !strings.Contains(errs, "--net") {
		t.Errorf("--net bridge: exit %d %q", code, errs)
	}
}

// importRewrite copies the tar src to dst, passing each member through
// edit, which may change the header and content or drop the member (nil).
func importRewrite(t *testing.T, src, dst string, edit func(h *tar.Header, data []byte) (*tar.Header, []byte)) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	tr, tw := tar.NewReader(f), tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h, data = edit(h, data); h == nil {
			continue
		}
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Broken and hostile archives fail with one line naming the archive and the
// member at fault, leave no bundle or temporary directory, and do not touch
// anything beside the target.
func TestImportRefusesBrokenArchives(t *testing.T) {
	fixtures := importFixtures(t)
	busybox := filepath.Join(fixtures, "busybox.tar")
	layer := "c78037c34af6a7421df5f24837e446cf864930e195084e00f228e271445a9e91/layer.tar"
	cases := []struct {
		name, want string
		make       func(dst string)
	}{
		{"truncated", "unexpected EOF", func(dst string) {
			b, _ := os.ReadFile(busybox)
			os.WriteFile(dst, b[:len(b)/2], 0o644)
		}},
		{"digest-mismatch", layer + `"): digest mismatch`, func(dst string) {
			importRewrite(t, busybox, dst, func(h *tar.Header, d []byte) (*tar.Header, []byte) {
				if h.Name == layer {
					d = bytes.Replace(d, []byte("root:x:0:0"), []byte("root:x:0:1"), 1)
				}
				return h, d
			})
		}},
		{"outside-manifest", `member "../outside.tar" is outside the archive`, func(dst string) {
			importRewrite(t, busybox, dst, func(h *tar.Header, d []byte) (*tar.Header, []byte) {
				if h.Name == "manifest.json" {
					d = bytes.Replace(d, []byte(layer), []byte("../outside.tar"), 1)
				}
				return h, d
			})
		}},
		{"missing-layer", "blob missing", func(dst string) {
			importRewrite(t, busybox, dst, func(h *tar.Header, d []byte) (*tar.Header, []byte) {
				if h.Name == layer {
					return nil, nil
				}
				return h, d
			})
		}},
		{"not-an-image", "no manifest.json or index.json", func(dst string) {
			importRewrite(t, busybox, dst, func(h *tar.Header, d []byte) (*tar.Header, []byte) {
				if h.Name == "manifest.json" {
					return nil, nil
				}
				return h, d
			})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			archive := filepath.Join(dir, "in.tar")
			c.make(archive)
			// A real file where the manifest points, to show it is not read.
			os.WriteFile(filepath.Join(dir, "outside.tar"), []byte("not to be read"), 0o644)
			before := importSnapshot(t, dir)
			errs, code := importRT(t, nil, archive, filepath.Join(dir, "bundle"))
			if code != 1 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "rt: import "+archive+": ") || !strings.Contains(errs, c.want) {
				t.Errorf("exit %d, stderr %q; want one line 'rt: import %s: ...%s...'", code, errs, archive, c.want)
			}
			if after := importSnapshot(t, dir); !slices.Equal(before, after) {
				t.Errorf("the directory changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// importEnt is an entry of a layer made by hostileArchive.
type importEnt struct {
	name, body, link string
	typ              byte
}

// importHostileArchive writes a legacy docker save of one image whose layers
// hold the given entries, with correct digests: only the content is hostile.
func importHostileArchive(t *testing.T, path string, layers ...[]importEnt) {
	t.Helper()
	var members []struct {
		name string
		data []byte
	}
	var diffIDs, names []string
	for i, ents := range layers {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, e := range ents {
			h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body))}
			if h.Typeflag == 0 {
				h.Typeflag = tar.TypeReg
			}
			if h.Typeflag != tar.TypeReg {
				h.Size = 0
			}
			tw.WriteHeader(h)
			tw.Write([]byte(e.body))
		}
		tw.Close()
		diffIDs = append(diffIDs, fmt.Sprintf("sha256:%x", sha256.Sum256(b.Bytes())))
		name := fmt.Sprintf("%064x/layer.tar", i+1)
		names = append(names, name)
		members = append(members, struct {
			name string
			data []byte
		}{name, b.Bytes()})
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": runtime.GOARCH, "os": "linux", "config": map[string]any{"Cmd": []string{"sh"}}, "rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256(cfg))
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"hostile:1"}, "Layers": names}})
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, m := range append(members, struct {
		name string
		data []byte
	}{cfgName, cfg}, struct {
		name string
		data []byte
	}{"manifest.json", manifest}) {
		tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg})
		tw.Write(m.data)
	}
	tw.Close()
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Hostile layers through the CLI: each is refused (no bundle left) or
// contained (the bundle holds it); outside the target nothing changes.
func TestImportHostileLayers(t *testing.T) {
	requireRoot(t)
	const (
		sym  = tar.TypeSymlink
		hard = tar.TypeLink
	)
	cases := []struct {
		name   string
		layers func(outside string) [][]importEnt
		refuse string // "" when contained
		inside string // contained: this path (OUTSIDE: the outside dir's path) must be in the rootfs
	}{
		{"dotdot", func(o string) [][]importEnt {
			return [][]importEnt{{{name: "../../../../../../../.." + o + "/x", body: "evil"}}}
		}, "path escapes the root directory", ""},
		{"absolute", func(o string) [][]importEnt {
			return [][]importEnt{{{name: o + "/x", body: "contained"}}}
		}, "", "OUTSIDE/x"},
		{"symlink-etc-then-file", func(o string) [][]importEnt {
			return [][]importEnt{{{name: "etc", typ: sym, link: "/etc"}, {name: "etc/rt-import-hostile", body: "evil"}}}
		}, `entry "etc/rt-import-hostile": parent directory "etc"`, ""},
		{"symlink-outside-then-file", func(o string) [][]importEnt {
			return [][]importEnt{{{name: "out", typ: sym, link: o}}, {{name: "out/x", body: "evil"}}}
		}, `entry "out/x": parent directory "out"`, ""},
		{"hardlink-etc-passwd", func(o string) [][]importEnt {
			return [][]importEnt{{{name: "pw", typ: hard, link: "/etc/passwd"}}}
		}, `hardlink target "/etc/passwd" does not exist`, ""},
		{"hardlink-own-passwd", func(o string) [][]importEnt {
			return [][]importEnt{{{name: "etc/passwd", body: "root:x:0:0::/:/bin/sh\n"}}, {{name: "pw", typ: hard, link: "/etc/passwd"}}}
		}, "", "pw"},
		{"hardlink-outside", func(o string) [][]importEnt {
			return [][]importEnt{{{name: "pw", typ: hard, link: "../../../../../../.." + o + "/precious"}}}
		}, "path escapes the root directory", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			outside := filepath.Join(dir, "outside")
			os.Mkdir(outside, 0o755)
			os.WriteFile(filepath.Join(outside, "precious"), []byte("precious"), 0o644)
			archive := filepath.Join(dir, "hostile.tar")
			importHostileArchive(t, archive, c.layers(outside)...)
			before := append(importSnapshot(t, dir), importSnapshot(t, "/etc")...)
			errs, code := importRT(t, nil, archive, filepath.Join(dir, "bundle"))
			if c.refuse != "" {
				if code != 1 || !strings.HasPrefix(errs, "rt: import "+archive+": layer ") || !strings.Contains(errs, c.refuse) {
					t.Errorf("exit %d, %q; want it refused with %q", code, errs, c.refuse)
				}
			} else {
				if code != 0 {
					t.Fatalf("exit %d, %q; want it contained", code, errs)
				}
				if _, err := os.Lstat(filepath.Join(dir, "bundle", "rootfs", strings.ReplaceAll(c.inside, "OUTSIDE", outside))); err != nil {
					t.Errorf("contained entry not in the rootfs: %v", err)
				}
				os.RemoveAll(filepath.Join(dir, "bundle"))
			}
			if after := append(importSnapshot(t, dir), importSnapshot(t, "/etc")...); !slices.Equal(before, after) {
				t.Errorf("changed outside the target:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// importSnapshot lists every path under dir with its size and mode.
func importSnapshot(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			out = append(out, fmt.Sprintf("%s %v", p, fi.Mode())) // its mtime moves with the temporary bundle
		} else {
			out = append(out, fmt.Sprintf("%s %v %d %v", p, fi.Mode(), fi.Size(), fi.ModTime()))
		}
		return nil
	})
	return out
}

// The acceptance: an imported busybox runs with `rt run`, its CMD taken
// from the image; layers runs as `docker run` printed.
func TestImportRun(t *testing.T) {
	fixtures := importFixtures(t)
	e := newEnv(t)
	if _, errs, _ := e.rt("run", "--help"); strings.Contains(errs, "unknown command") {
		t.Skip("rt run is not there yet")
	}
	b := filepath.Join(e.dir, "bb")
	importMust(t, nil, filepath.Join(fixtures, "busybox.tar"), b)
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	// CMD ["sh"] with stdin at EOF: the shell exits 0.
	if out, errs, code := e.rtIn(b, devnull, "run", "imp-sh"); code != 0 {
		t.Errorf("busybox CMD sh: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	b2 := filepath.Join(e.dir, "bb-echo")
	importMust(t, nil, filepath.Join(fixtures, "busybox.tar"), b2, "--", "echo", "hello")
	if out, errs, code := e.rtIn(b2, devnull, "run", "imp-echo"); out != "hello\n" || code != 0 {
		t.Errorf("busybox -- echo hello: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	exp := importLoadExpect(t, filepath.Join(fixtures, "layers.EXPECTED.json"))
	b3 := filepath.Join(e.dir, "layers")
	importMust(t, nil, filepath.Join(fixtures, "layers.tar"), b3)
	if out, errs, code := e.rtIn(b3, devnull, "run", "imp-layers"); out != *exp.RunStdout || code != 0 {
		t.Errorf("layers: exit %d, stdout %q, stderr %q; want %q", code, out, errs, *exp.RunStdout)
	}
}
