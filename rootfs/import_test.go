package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	ispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// testImage is an image made in Go: its layers (uncompressed tars) and
// config, from which every archive format is written.
type testImage struct {
	layers [][]byte
	config ispec.Image
}

func newTestImage(t testing.TB, arch string, layers ...[]byte) *testImage {
	img := &testImage{layers: layers}
	img.config.OS, img.config.Architecture = "linux", arch
	img.config.Config.Cmd = []string{"sh"}
	img.config.RootFS.Type = "layers"
	for _, l := range layers {
		img.config.RootFS.DiffIDs = append(img.config.RootFS.DiffIDs, digest.FromBytes(l))
	}
	return img
}

func (img *testImage) configJSON(t testing.TB) []byte {
	b, err := json.Marshal(img.config)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type tmember struct {
	name string
	data []byte
	link string // a symlink member
}

func writeTar(t testing.TB, ms ...tmember) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}
		if m.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, m.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(m.data)
	}
	tw.Close()
	return b.Bytes()
}

// dockerSave writes a legacy (Docker < 25) docker save of the images.
// Members come in docker's order: everything before manifest.json.
func dockerSave(t testing.TB, imgs map[string]*testImage) []byte {
	var ms []tmember
	var manifest []map[string]any
	seen := map[digest.Digest]string{}
	for _, tag := range sortedKeys(imgs) {
		img := imgs[tag]
		cfg := img.configJSON(t)
		cfgName := digest.FromBytes(cfg).Encoded() + ".json"
		ms = append(ms, tmember{name: cfgName, data: cfg})
		var layers []string
		for i, l := range img.layers {
			id := digest.FromString(fmt.Sprintf("%s-%d", tag, i)).Encoded()
			name := id + "/layer.tar"
			if first, ok := seen[digest.FromBytes(l)]; ok {
				ms = append(ms, tmember{name: name, link: "../" + first}) // as docker does for a shared layer
			} else {
				seen[digest.FromBytes(l)] = name
				ms = append(ms, tmember{name: id + "/VERSION", data: []byte("1.0")}, tmember{name: name, data: l})
			}
			layers = append(layers, name)
		}
		manifest = append(manifest, map[string]any{"Config": cfgName, "RepoTags": []string{tag}, "Layers": layers})
	}
	mj, _ := json.Marshal(manifest)
	ms = append(ms, tmember{name: "manifest.json", data: mj})
	return writeTar(t, ms...)
}

func compress(t testing.TB, b []byte, how string) []byte {
	var out bytes.Buffer
	switch how {
	case "gzip":
		w := gzip.NewWriter(&out)
		w.Write(b)
		w.Close()
	case "zstd":
		w, _ := zstd.NewWriter(&out)
		w.Write(b)
		w.Close()
	default:
		return b
	}
	return out.Bytes()
}

// ociLayout writes an OCI image layout archive. With docker25 it also has
// Docker 25+'s manifest.json pointing into blobs/. With platforms, the
// image is listed in a multi-platform index, once per platform (the other
// platforms get a different first layer).
func ociLayout(t testing.TB, img *testImage, comp string, docker25 bool, platforms ...string) []byte {
	blobs := map[digest.Digest][]byte{}
	put := func(b []byte) ispec.Descriptor {
		d := digest.FromBytes(b)
		blobs[d] = b
		return ispec.Descriptor{Digest: d, Size: int64(len(b))}
	}
	manifestFor := func(img *testImage) (ispec.Descriptor, []string) {
		m := ispec.Manifest{MediaType: ispec.MediaTypeImageManifest}
		m.SchemaVersion = 2
		m.Config = put(img.configJSON(t))
		m.Config.MediaType = ispec.MediaTypeImageConfig
		var paths []string
		for _, l := range img.layers {
			d := put(compress(t, l, comp))
			d.MediaType = ispec.MediaTypeImageLayer + map[string]string{"gzip": "+gzip", "zstd": "+zstd"}[comp]
			m.Layers = append(m.Layers, d)
			paths = append(paths, blobPath(d.Digest))
		}
		b, _ := json.Marshal(m)
		d := put(b)
		d.MediaType = ispec.MediaTypeImageManifest
		return d, paths
	}
	idx := ispec.Index{MediaType: ispec.MediaTypeImageIndex}
	idx.SchemaVersion = 2
	ref := map[string]string{ispec.AnnotationRefName: "example.com/test:1"}
	var ms []tmember
	if len(platforms) == 0 {
		d, paths := manifestFor(img)
		d.Annotations = ref
		idx.Manifests = []ispec.Descriptor{d}
		if docker25 {
			mj, _ := json.Marshal([]map[string]any{{"Config": blobPath(digest.FromBytes(img.configJSON(t))), "RepoTags": []string{"example.com/test:1"}, "Layers": paths}})
			ms = append(ms, tmember{name: "manifest.json", data: mj})
		}
	} else {
		var sub ispec.Index
		sub.SchemaVersion, sub.MediaType = 2, ispec.MediaTypeImageIndex
		for _, p := range platforms {
			other := img
			if p != runtime.GOARCH {
				other = newTestImage(t, p, append([][]byte{layerTar(t, ent{name: "wrong-platform", body: p})}, img.layers[1:]...)...)
			}
			d, _ := manifestFor(other)
			d.Platform = &ispec.Platform{OS: "linux", Architecture: p}
			sub.Manifests = append(sub.Manifests, d)
		}
		// A BuildKit attestation, which is not an image to run.
		att, _ := manifestFor(newTestImage(t, "unknown", layerTar(t)))
		att.Platform = &ispec.Platform{OS: "unknown", Architecture: "unknown"}
		sub.Manifests = append(sub.Manifests, att)
		b, _ := json.Marshal(sub)
		d := put(b)
		d.MediaType, d.Annotations = ispec.MediaTypeImageIndex, ref
		idx.Manifests = []ispec.Descriptor{d}
	}
	var ds []digest.Digest
	for d := range blobs {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	for _, d := range ds {
		ms = append(ms, tmember{name: blobPath(d), data: blobs[d]})
	}
	ib, _ := json.Marshal(idx)
	ms = append(ms, tmember{name: "index.json", data: ib}, tmember{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"1.0.0"}`)})
	return writeTar(t, ms...)
}

func sampleLayers(t testing.TB) [][]byte {
	return [][]byte{
		layerTar(t,
			ent{name: "bin/", typ: tar.TypeDir},
			ent{name: "bin/sh", body: "#!shell", mode: 0o755},
			ent{name: "bin/ls", typ: tar.TypeLink, link: "bin/sh"},
			ent{name: "etc/", typ: tar.TypeDir},
			ent{name: "etc/passwd", body: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"},
			ent{name: "etc/group", body: "root:x:0:\napp:x:1000:\nextra:x:2000:app\n"},
			ent{name: "data/", typ: tar.TypeDir},
			ent{name: "data/old", body: "old"},
			ent{name: "data/keep", body: "keep"},
			ent{name: "big", body: strings.Repeat("0123456789", 300_000)}, // 3 MB: spooled from a pipe
		),
		layerTar(t,
			ent{name: "data/.wh.old"},
			ent{name: "data/new", body: "new", mode: 0o4755},
			ent{name: "bin/.wh.ls"},
		),
	}
}

// All archive formats of the same layers import to the same rootfs, from
// a file and from a pipe.
func TestImportFormats(t *testing.T) {
	requireRoot(t)
	layers := sampleLayers(t)
	want := t.TempDir()
	if err := apply(t, want, layers...); err != nil {
		t.Fatal(err)
	}
	wantTree := tree(t, want)
	img := newTestImage(t, runtime.GOARCH, layers...)
	archives := map[string][]byte{
		"docker-legacy":     dockerSave(t, map[string]*testImage{"example.com/test:1": img}),
		"docker25":          ociLayout(t, img, "", true),
		"docker25-gzip":     ociLayout(t, img, "gzip", true),
		"oci":               ociLayout(t, img, "", false),
		"oci-gzip":          ociLayout(t, img, "gzip", false),
		"oci-zstd":          ociLayout(t, img, "zstd", false),
		"oci-multiplatform": ociLayout(t, img, "gzip", false, "arm64", runtime.GOARCH, "s390x"),
	}
	for name, arch := range archives {
		for _, input := range []string{"file", "pipe"} {
			t.Run(name+"/"+input, func(t *testing.T) {
				dir := t.TempDir()
				var src io.Reader = bytes.NewReader(arch)
				if input == "pipe" {
					src = io.MultiReader(src) // hides Seek and ReadAt
				}
				got, err := Import(context.Background(), src, name, dir+"/b", Options{})
				if err != nil {
					t.Fatal(err)
				}
				if got.ID != digest.FromBytes(img.configJSON(t)) {
					t.Errorf("image ID %s", got.ID)
				}
				if g := tree(t, dir+"/b/rootfs"); g != wantTree {
					t.Errorf("rootfs differs:\n%s\nwant\n%s", g, wantTree)
				}
				if names, _ := os.ReadDir(dir); len(names) != 1 {
					t.Errorf("left beside the bundle: %v", names)
				}
				if b, _ := os.ReadDir(dir + "/b"); len(b) != 2 {
					t.Errorf("bundle holds %v, want config.json and rootfs", b)
				}
			})
		}
	}
}

func TestSelectImage(t *testing.T) {
	a1 := newTestImage(t, runtime.GOARCH, layerTar(t, ent{name: "one", body: "1"}))
	a2 := newTestImage(t, runtime.GOARCH, layerTar(t, ent{name: "two", body: "2"}))
	arch := dockerSave(t, map[string]*testImage{"busybox:latest": a1, "example.com/app:2": a2})
	a, err := ReadArchive(context.Background(), bytes.NewReader(arch), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Image(""); err == nil || !strings.Contains(err.Error(), `"busybox:latest"; "example.com/app:2"`) || !strings.Contains(err.Error(), "--image") {
		t.Errorf("no selector: %v", err)
	}
	id2 := digest.FromBytes(a2.configJSON(t))
	for sel, want := range map[string]digest.Digest{
		"busybox":                          digest.FromBytes(a1.configJSON(t)),
		"docker.io/library/busybox:latest": digest.FromBytes(a1.configJSON(t)),
		"example.com/app:2":                id2,
		id2.String():                       id2,
		id2.Encoded()[:12]:                 id2,
	} {
		img, err := a.Image(sel)
		if err != nil || img.ID != want {
			t.Errorf("Image(%q) = %v, %v; want %s", sel, img, err, want)
		}
	}
	if _, err := a.Image("example.com/app:3"); err == nil || !strings.Contains(err.Error(), `no image "example.com/app:3"`) {
		t.Errorf("unknown tag: %v", err)
	}
	// A multi-platform index with no image for this host.
	mp := ociLayout(t, newTestImage(t, "s390x", layerTar(t)), "", false, "s390x", "ppc64le")
	a, _ = ReadArchive(context.Background(), bytes.NewReader(mp), "")
	if _, err := a.Image(""); err == nil || !strings.Contains(err.Error(), "no image for linux/"+runtime.GOARCH) {
		t.Errorf("foreign platforms: %v", err)
	}
}

// Broken and hostile archives: refused with the member named, no bundle,
// no temporary directory, nothing outside the target changed.
func TestImportRefuses(t *testing.T) {
	layers := sampleLayers(t)
	img := newTestImage(t, runtime.GOARCH, layers...)
	legacy := dockerSave(t, map[string]*testImage{"t:1": img})
	edit := func(arch []byte, f func(h *tar.Header, d []byte) []byte) []byte {
		tr := tar.NewReader(bytes.NewReader(arch))
		var out bytes.Buffer
		tw := tar.NewWriter(&out)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			d, _ := io.ReadAll(tr)
			if d = f(h, d); d == nil && h.Typeflag == tar.TypeReg {
				continue
			}
			h.Size = int64(len(d))
			tw.WriteHeader(h)
			tw.Write(d)
		}
		tw.Close()
		return out.Bytes()
	}
	replaceIn := func(arch []byte, member, old, new string) []byte {
		return edit(arch, func(h *tar.Header, d []byte) []byte {
			if strings.HasSuffix(h.Name, member) {
				d = bytes.Replace(d, []byte(old), []byte(new), 1)
			}
			return d
		})
	}
	firstLayer := digest.FromString("t:1-0").Encoded() + "/layer.tar"
	gz := ociLayout(t, img, "gzip", false)
	plain := ociLayout(t, img, "", false)
	wrongDiffID := newTestImage(t, runtime.GOARCH, layers...)
	wrongDiffID.config.RootFS.DiffIDs[1] = digest.FromString("something else")
	bigBlob := blobPath(digest.FromBytes(compress(t, layers[0], "gzip")))
	hostile := func(ents ...ent) []byte {
		return dockerSave(t, map[string]*testImage{"t:1": newTestImage(t, runtime.GOARCH, layerTar(t, ents...))})
	}
	cases := map[string]struct {
		arch []byte
		want string
	}{
		"truncated":         {legacy[:len(legacy)/2], "unexpected EOF"},
		"truncated-header":  {legacy[:len(legacy)-1024-512-100], "unexpected EOF"},
		"legacy-diff-id":    {replaceIn(legacy, "/layer.tar", "root:x:0:0", "root:x:0:1"), `/layer.tar"): digest mismatch: uncompressed content is`},
		"legacy-corrupt":    {replaceIn(legacy, "/layer.tar", "data/keep", "data/KEEP"), `/layer.tar"): read tar: archive/tar: invalid tar header`},
		"outside-manifest":  {replaceIn(legacy, "manifest.json", firstLayer, "../outside.tar"), `layer 1/2 ("../outside.tar"): member "../outside.tar" is outside the archive`},
		"abs-manifest":      {replaceIn(legacy, "manifest.json", firstLayer, "/etc/passwd"), `member "/etc/passwd" is outside the archive`},
		"layer-count":       {replaceIn(legacy, "manifest.json", `"Layers":[`, `"Layers":["manifest.json",`), "diff_ids for 3 layers"},
		"oci-blob-digest":   {replaceIn(plain, blobPath(digest.FromBytes(layers[0])), "root:x:0:0", "root:x:0:1"), "): digest mismatch: content is"},
		"oci-blob-size":     {edit(gz, func(h *tar.Header, d []byte) []byte { return corruptGzipMember(t, h, d, bigBlob) }), bigBlob + `"): size is`},
		"oci-diff-id":       {ociLayout(t, wrongDiffID, "zstd", false), "): digest mismatch: uncompressed content is"},
		"oci-bad-digest":    {replaceIn(gz, "index.json", `"sha256:`, `"sha256:../../`), `descriptor digest "sha256:../../`},
		"oci-missing-blob":  {edit(gz, func(h *tar.Header, d []byte) []byte { return dropMember(h, d, bigBlob) }), "blob missing from the archive"},
		"not-an-image":      {writeTar(t, tmember{name: "hello", data: []byte("x")}), "no manifest.json or index.json"},
		"layer-dotdot":      {hostile(ent{name: "../outside/evil", body: "x"}), `entry "../outside/evil": path escapes the root directory`},
		"layer-etc-symlink": {hostile(ent{name: "etc", typ: tar.TypeSymlink, link: "/etc"}, ent{name: "etc/rt-test-x", body: "x"}), `entry "etc/rt-test-x": parent directory "etc"`},
		"layer-hardlink":    {hostile(ent{name: "pw", typ: tar.TypeLink, link: "/etc/passwd"}), `hardlink target "/etc/passwd" does not exist`},
		"member-symlink-out": {edit(legacy, func(h *tar.Header, d []byte) []byte {
			if strings.HasSuffix(h.Name, "/layer.tar") && strings.Contains(string(d), "data/.wh.old") {
				h.Typeflag, h.Linkname = tar.TypeSymlink, "../../outside.tar"
				return []byte{}
			}
			return d
		}), `link to "../../outside.tar" leaves the archive`},
	}
	for name, c := range cases {
		for _, input := range []string{"file", "pipe"} {
			t.Run(name+"/"+input, func(t *testing.T) {
				sandbox := t.TempDir()
				os.WriteFile(sandbox+"/outside.tar", legacy, 0o644)
				before := snapshot(t, sandbox) + snapshot(t, "/etc")
				var src io.Reader = bytes.NewReader(c.arch)
				if input == "pipe" {
					src = io.MultiReader(src)
				}
				_, err := Import(context.Background(), src, "in.tar", sandbox+"/bundle", Options{})
				if err == nil || !strings.HasPrefix(err.Error(), "import in.tar: ") || !strings.Contains(err.Error(), c.want) {
					t.Errorf("got %v\nwant an error naming in.tar with %q", err, c.want)
				}
				if after := snapshot(t, sandbox) + snapshot(t, "/etc"); after != before {
					t.Errorf("changed:\n%s\n---\n%s", before, after)
				}
			})
		}
	}
}

// corruptGzipMember re-compresses the blob named name with one byte of its
// content changed: a valid gzip whose digest no longer matches its name.
func corruptGzipMember(t testing.TB, h *tar.Header, d []byte, name string) []byte {
	if h.Name != name {
		return d
	}
	zr, err := gzip.NewReader(bytes.NewReader(d))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	return compress(t, bytes.Replace(plain, []byte("keep"), []byte("KEEP"), 1), "gzip")
}

func dropMember(h *tar.Header, d []byte, name string) []byte {
	if h.Name == name {
		return nil
	}
	return d
}

func TestTargetAndForce(t *testing.T) {
	requireRoot(t)
	arch := dockerSave(t, map[string]*testImage{"t:1": newTestImage(t, runtime.GOARCH, sampleLayers(t)...)})
	dir := t.TempDir()
	b := filepath.Join(dir, "b")
	os.MkdirAll(b+"/old", 0o755)
	if _, err := Import(context.Background(), bytes.NewReader(arch), "a.tar", b, Options{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("non-empty target: %v", err)
	}
	if !exists(b + "/old") {
		t.Fatal("refused import touched the target")
	}
	if _, err := Import(context.Background(), bytes.NewReader(arch), "a.tar", b, Options{Force: true}); err != nil {
		t.Fatal(err)
	}
	if exists(b+"/old") || !exists(b+"/rootfs/bin/sh") {
		t.Error("--force did not replace the bundle")
	}
	if names, _ := os.ReadDir(dir); len(names) != 1 {
		t.Errorf("left behind: %v", names)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := Import(context.Background(), bytes.NewReader(arch), "a.tar", f, Options{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file target: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Import(ctx, bytes.NewReader(arch), "a.tar", filepath.Join(dir, "c"), Options{}); err == nil || exists(filepath.Join(dir, "c")) {
		t.Errorf("cancelled import: %v", err)
	}
	if names, _ := os.ReadDir(dir); len(names) != 2 {
		t.Errorf("left behind: %v", names)
	}
}
