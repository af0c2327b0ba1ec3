package rootfs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is one image of an archive: its config and its layers, bottom first.
type Image struct {
	Names    []string      // repo tags or ref names the archive gives it
	ID       digest.Digest // digest of the config, as `docker images --no-trunc` shows
	Manifest digest.Digest // digest of the OCI manifest; empty for a docker save manifest.json entry
	Config   ispec.Image
	Layers   []Layer
	// The bytes ID and Manifest are digests of (RawManifest is empty for
	// a docker save manifest.json entry).
	RawConfig, RawManifest []byte

	archive *Archive
}

// Layer is where a layer's blob is in the archive and what it must hash to.
type Layer struct {
	Member    string        // archive member holding the blob
	Digest    digest.Digest // of the blob as stored; empty where the format gives none (legacy layer.tar)
	Size      int64         // of the blob as stored; -1 if not given
	DiffID    digest.Digest // of the uncompressed tar, from the config's rootfs.diff_ids
	MediaType string        // informational: the compression is detected from the bytes
}

// Docker's manifest.json, written by every docker save (Docker 25+ too).
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// candidate is an image listed by the archive, before its config is read.
type candidate struct {
	names    []string
	id       digest.Digest // config digest when known from the listing
	manifest ispec.Descriptor
	platform *ispec.Platform
	docker   *dockerManifest
}

func (c *candidate) String() string {
	// Names come from the archive: quoted, so control characters and
	// newlines cannot reach the terminal or forge rt's own lines.
	if len(c.names) > 0 {
		q := make([]string, len(c.names))
		for i, n := range c.names {
			q[i] = strconv.Quote(n)
		}
		return strings.Join(q, ", ")
	}
	switch {
	case c.id != "":
		return shortID(c.id) + " (untagged)"
	case c.docker != nil:
		return strconv.Quote(c.docker.Config) + " (untagged)"
	}
	return shortID(c.manifest.Digest) + " (untagged)"
}

func shortID(d digest.Digest) string {
	if d.Validate() != nil || len(d.Encoded()) < 12 {
		return d.String()
	}
	return d.Algorithm().String() + ":" + d.Encoded()[:12]
}

// images lists the images of the archive, reading only their manifests.
func (a *Archive) images() ([]*candidate, error) {
	if a.has("manifest.json") {
		return a.dockerImages()
	}
	if a.has("index.json") {
		return a.ociImages()
	}
	return nil, errNotImage
}

func (a *Archive) dockerImages() ([]*candidate, error) {
	b, err := a.readAll("manifest.json")
	if err != nil {
		return nil, err
	}
	var entries []dockerManifest
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	var out []*candidate
	for i := range entries {
		e := &entries[i]
		out = append(out, &candidate{names: e.RepoTags, id: digestFromName(e.Config), docker: e})
	}
	return out, nil
}

// onlyBytes reports whether s is non-empty and made of bytes in set.
func onlyBytes(s, set string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}

// digestFromName gives the digest a member's name promises: Docker 25+
// names blobs blobs/sha256/HEX, older docker save names configs HEX.json.
// Legacy <v1-id>/layer.tar names promise nothing (diff_ids cover them).
func digestFromName(name string) digest.Digest {
	p := path.Clean(name)
	var d digest.Digest
	// Matched by hand, not with package-level regexps: those would be
	// compiled at every start of rt, import or not.
	if rest, ok := strings.CutPrefix(p, "blobs/"); ok {
		if alg, hex, ok := strings.Cut(rest, "/"); ok && onlyBytes(alg, "abcdefghijklmnopqrstuvwxyz0123456789") && onlyBytes(hex, "0123456789abcdef") {
			d = digest.NewDigestFromEncoded(digest.Algorithm(alg), hex)
		}
	} else if hex, ok := strings.CutSuffix(p, ".json"); ok && len(hex) == 64 && onlyBytes(hex, "0123456789abcdef") {
		d = digest.NewDigestFromEncoded(digest.SHA256, hex)
	}
	if d.Validate() != nil {
		return ""
	}
	return d
}

func (a *Archive) ociImages() ([]*candidate, error) {
	b, err := a.readAll("index.json")
	if err != nil {
		return nil, err
	}
	var idx ispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	var all []*candidate
	if err := a.walkIndex(idx.Manifests, nil, 0, &all); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	// One manifest listed under several names is one image.
	var out []*candidate
	seen := map[digest.Digest]*candidate{}
	for _, c := range all {
		if first := seen[c.manifest.Digest]; first != nil {
			for _, n := range c.names {
				if !slices.Contains(first.names, n) {
					first.names = append(first.names, n)
				}
			}
			continue
		}
		seen[c.manifest.Digest] = c
		out = append(out, c)
	}
	return out, nil
}

const (
	dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerManifestV2   = "application/vnd.docker.distribution.manifest.v2+json"
	containerdName     = "io.containerd.image.name"
)

// walkIndex collects the image manifests an index lists, through nested
// indexes (multi-platform images). Names come from the outermost descriptor.
func (a *Archive) walkIndex(descs []ispec.Descriptor, names []string, depth int, out *[]*candidate) error {
	if depth > 4 {
		return errors.New("indexes nested too deep")
	}
	for _, d := range descs {
		n := names
		if depth == 0 {
			n = nil
			for _, k := range []string{ispec.AnnotationRefName, containerdName} {
				if v := d.Annotations[k]; v != "" && !slices.Contains(n, v) {
					n = append(n, v)
				}
			}
		}
		// BuildKit attestations are listed as platform unknown/unknown.
		if d.Platform != nil && d.Platform.OS == "unknown" {
			continue
		}
		switch d.MediaType {
		case ispec.MediaTypeImageIndex, dockerManifestList:
			b, err := a.readBlob(d)
			if err != nil {
				return err
			}
			var idx ispec.Index
			if err := json.Unmarshal(b, &idx); err != nil {
				return fmt.Errorf("index %s: %w", d.Digest, err)
			}
			if err := a.walkIndex(idx.Manifests, n, depth+1, out); err != nil {
				return err
			}
		case ispec.MediaTypeImageManifest, dockerManifestV2:
			*out = append(*out, &candidate{names: slices.Clone(n), manifest: d, platform: d.Platform})
		}
	}
	return nil
}

// readBlob reads a small blob of an OCI layout, checking size and digest.
func (a *Archive) readBlob(d ispec.Descriptor) ([]byte, error) {
	if err := d.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("descriptor digest %q: %w", d.Digest, err)
	}
	name := blobPath(d.Digest)
	b, err := a.readAll(name)
	if err != nil {
		return nil, err
	}
	if d.Size != int64(len(b)) {
		return nil, fmt.Errorf("member %q: size %d, descriptor says %d", name, len(b), d.Size)
	}
	if got := d.Digest.Algorithm().FromBytes(b); got != d.Digest {
		return nil, fmt.Errorf("member %q: content digest is %s", name, got)
	}
	return b, nil
}

func blobPath(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// someImages is a.images(), an error when there are none.
func (a *Archive) someImages() ([]*candidate, error) {
	all, err := a.images()
	if err == nil && len(all) == 0 {
		err = errors.New("the archive holds no image")
	}
	return all, err
}

// Image returns the image sel names: a tag or name ("busybox",
// "docker.io/library/busybox:latest"), or an ID (config or manifest digest,
// or a prefix of its hex). With sel empty the archive must hold one image
// (for a multi-platform index: one for linux/<this arch>).
func (a *Archive) Image(sel string) (*Image, error) {
	all, err := a.someImages()
	if err != nil {
		return nil, err
	}
	cands := all
	if sel != "" {
		if cands = a.match(all, sel); len(cands) == 0 {
			return nil, fmt.Errorf("no image %q in the archive; it holds %s", sel, list(all))
		}
	}
	if len(cands) > 1 {
		cands = forThisPlatform(cands)
		if len(cands) == 0 {
			return nil, fmt.Errorf("no image for linux/%s in the archive; it holds %s", runtime.GOARCH, list(all))
		}
	}
	if len(cands) > 1 {
		return nil, fmt.Errorf("the archive holds %d images (%s): choose one with --image", len(cands), list(cands))
	}
	return a.load(cands[0])
}

// Images returns every image of the archive (of several with platforms
// listed, those for linux/<this arch>), with its manifest and config read.
func (a *Archive) Images() ([]*Image, error) {
	all, err := a.someImages()
	if err != nil {
		return nil, err
	}
	cands := all
	if len(all) > 1 { // one image is taken whatever its platform, as by Image("")
		cands = forThisPlatform(all)
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("no image for linux/%s in the archive; it holds %s", runtime.GOARCH, list(all))
	}
	var out []*Image
	for _, c := range cands {
		img, err := a.load(c)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", c, err)
		}
		out = append(out, img)
	}
	return out, nil
}

// NormalizeRef gives the full form of an image name with Docker's rules:
// "busybox" is "docker.io/library/busybox:latest".
func NormalizeRef(s string) string { return normalizeRef(s) }

func list(cs []*candidate) string {
	var s []string
	for _, c := range cs {
		v := c.String()
		if c.platform != nil {
			v += " [" + strconv.Quote(c.platform.OS+"/"+c.platform.Architecture) + "]"
		}
		s = append(s, v)
	}
	return strings.Join(s, "; ")
}

func (a *Archive) match(all []*candidate, sel string) []*candidate {
	var out []*candidate
	want := normalizeRef(sel)
	for _, c := range all {
		for _, n := range c.names {
			if n == sel || normalizeRef(n) == want {
				out = append(out, c)
				break
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	// An ID: a digest or a hex prefix of one (at least 4 digits, as with
	// short IDs), matched against the config digest (the image ID), reading
	// the manifest where the listing does not give it, and the manifest digest.
	hex := strings.TrimPrefix(sel, "sha256:")
	if len(hex) < 4 || strings.Trim(hex, "0123456789abcdef") != "" {
		return nil
	}
	for _, c := range all {
		id := c.id
		if id == "" && c.docker == nil {
			if b, err := a.readBlob(c.manifest); err == nil {
				var m ispec.Manifest
				if json.Unmarshal(b, &m) == nil {
					id = m.Config.Digest
				}
			}
		}
		if hasHexPrefix(id, hex) || hasHexPrefix(c.manifest.Digest, hex) {
			out = append(out, c)
		}
	}
	return out
}

func hasHexPrefix(d digest.Digest, hex string) bool {
	return d.Validate() == nil && strings.HasPrefix(d.Encoded(), hex)
}

// normalizeRef makes "busybox" and "docker.io/library/busybox:latest" equal,
// with Docker's rules: a first component with a "." or ":" (or "localhost")
// is a registry, else docker.io; docker.io names without a "/" are under
// library/; no tag and no digest means ":latest".
// Written here rather than with distribution/reference, whose ~30 regexps
// compile at package init: 0.7 ms and 400 KB in every rt process, each
// container start included, for one string rewrite used only by import.
func normalizeRef(s string) string {
	name, dgst, hasDigest := strings.Cut(s, "@")
	tag := ""
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, tag = name[:i], name[i:]
	}
	first, rest, hasSlash := strings.Cut(name, "/")
	if !hasSlash || !(strings.ContainsAny(first, ".:") || first == "localhost") {
		first, rest = "docker.io", name
	}
	if first == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	out := first + "/" + rest
	if tag == "" && !hasDigest {
		tag = ":latest"
	}
	out += tag
	if hasDigest {
		out += "@" + dgst
	}
	return out
}

// forThisPlatform keeps the candidates for linux/GOARCH, preferring this
// CPU variant; candidates without a platform in the listing are kept.
func forThisPlatform(cs []*candidate) []*candidate {
	var out, exact []*candidate
	for _, c := range cs {
		p := c.platform
		if p == nil {
			out = append(out, c)
			continue
		}
		if p.OS != "linux" || p.Architecture != runtime.GOARCH {
			continue
		}
		out = append(out, c)
		if p.Variant == hostVariant() {
			exact = append(exact, c)
		}
	}
	if len(exact) > 0 && len(exact) < len(out) {
		return exact
	}
	return out
}

func hostVariant() string {
	switch runtime.GOARCH {
	case "arm64":
		return "v8"
	case "arm":
		return "v7"
	}
	return ""
}

// load reads the candidate's manifest and config and checks they agree.
func (a *Archive) load(c *candidate) (*Image, error) {
	img := &Image{Names: c.names, archive: a}
	var cfgBytes []byte
	if c.docker != nil {
		e := c.docker
		var err error
		if cfgBytes, err = a.readAll(e.Config); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		img.ID = digest.FromBytes(cfgBytes)
		if want := digestFromName(e.Config); want != "" && want.Algorithm().FromBytes(cfgBytes) != want {
			return nil, fmt.Errorf("config %q: content does not match its name", e.Config)
		}
		for _, l := range e.Layers {
			img.Layers = append(img.Layers, Layer{Member: l, Digest: digestFromName(l), Size: -1})
		}
	} else {
		b, err := a.readBlob(c.manifest)
		if err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		var m ispec.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("manifest %s: %w", c.manifest.Digest, err)
		}
		img.Manifest = c.manifest.Digest
		img.RawManifest = b
		if cfgBytes, err = a.readBlob(m.Config); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		img.ID = m.Config.Digest
		for _, l := range m.Layers {
			if err := l.Digest.Validate(); err != nil {
				return nil, fmt.Errorf("manifest %s: layer digest %q: %w", c.manifest.Digest, l.Digest, err)
			}
			img.Layers = append(img.Layers, Layer{Member: blobPath(l.Digest), Digest: l.Digest, Size: l.Size, MediaType: l.MediaType})
		}
	}
	img.RawConfig = cfgBytes
	if err := json.Unmarshal(cfgBytes, &img.Config); err != nil {
		return nil, fmt.Errorf("config %s: %w", img.ID, err)
	}
	if len(img.Layers) > MaxLayers {
		return nil, fmt.Errorf("the image has %d layers; rt takes at most %d", len(img.Layers), MaxLayers)
	}
	diffIDs := img.Config.RootFS.DiffIDs
	if len(diffIDs) != len(img.Layers) {
		return nil, fmt.Errorf("config %s lists %d diff_ids for %d layers", img.ID, len(diffIDs), len(img.Layers))
	}
	for i := range img.Layers {
		if err := diffIDs[i].Validate(); err != nil {
			return nil, fmt.Errorf("config %s: diff_id %q: %w", img.ID, diffIDs[i], err)
		}
		img.Layers[i].DiffID = diffIDs[i]
	}
	return img, nil
}

// UnpackOptions tunes Unpack.
type UnpackOptions struct {
	Warn func(string) // notes about what was skipped; may be nil
	// MaxBytes bounds the total size of the files unpacked (0: no bound).
	MaxBytes int64
	// Losses, if not nil, makes the unpack rootless: what cannot be kept
	// on disk is counted there, not warned about one kind at a time.
	Losses *LossReport
}

// MaxLayers is the most layers an image may have. Docker refuses more than
// 127 with overlayfs (the kernel's stacking limit is near), and every layer
// costs a pass over the archive: 50,000 references to one layer took 72 s
// before this limit.
const MaxLayers = 127

// ErrTooLarge is returned when an image unpacks to more than
// UnpackOptions.MaxBytes.
var ErrTooLarge = errors.New("the image unpacks to more than the size limit")

// Unpack applies the image's layers in order onto dir, an existing
// (normally empty) directory, verifying each layer's digests as it is read.
// On error dir holds a partial tree: the caller removes it.
func (img *Image) Unpack(ctx context.Context, dir string, opts UnpackOptions) error {
	u, err := NewUnpacker(dir, opts.Warn)
	if err != nil {
		return err
	}
	defer u.Close()
	u.limit = opts.MaxBytes
	u.losses = opts.Losses
	for i, l := range img.Layers {
		if err := img.applyLayer(ctx, u, l); err != nil {
			return fmt.Errorf("layer %d/%d (%q): %w", i+1, len(img.Layers), l.Member, err)
		}
	}
	return u.Finish()
}

// UnpackLayer unpacks layer i alone into dir, an existing empty directory,
// in overlayfs's format (NewOverlayUnpacker), verifying its digests.
// progress, if not nil, is told the blob bytes read as they are read. It
// returns the bytes of file content written. On error dir holds a partial
// tree: the caller removes it.
func (img *Image) UnpackLayer(ctx context.Context, i int, dir string, opts UnpackOptions, progress func(int64)) (int64, error) {
	l := img.Layers[i]
	u, err := NewOverlayUnpacker(dir, opts.Warn)
	if err != nil {
		return 0, err
	}
	defer u.Close()
	u.limit = opts.MaxBytes
	u.progress = progress
	if err := img.applyLayer(ctx, u, l); err != nil {
		return 0, fmt.Errorf("layer %d/%d (%q, %s): %w", i+1, len(img.Layers), l.Member, l.DiffID, err)
	}
	return u.written, u.Finish()
}

type progressReader struct {
	r io.Reader
	f func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.f(int64(n))
	}
	return n, err
}

func (img *Image) applyLayer(ctx context.Context, u *Unpacker, l Layer) error {
	rc, size, err := img.archive.open(l.Member)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("blob missing from the archive: %w", err)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	if l.Size >= 0 && l.Size != size {
		return fmt.Errorf("size is %d bytes, the manifest says %d", size, l.Size)
	}
	var src io.Reader = rc
	if u.progress != nil {
		src = &progressReader{rc, u.progress}
	}
	vr, err := newVerifiedReader(src, l)
	if err != nil {
		return err
	}
	defer vr.Close()
	if err := u.ApplyLayer(ctx, vr); err != nil {
		return err
	}
	// Read to the end (tar padding, compression trailer) before checking.
	if _, err := io.Copy(io.Discard, vr); err != nil {
		return fmt.Errorf("read layer: %w", err)
	}
	return vr.verify()
}

// Platform returns "os/arch[/variant]" from the config.
func (img *Image) Platform() string {
	p := img.Config.OS + "/" + img.Config.Architecture
	if img.Config.Variant != "" {
		p += "/" + img.Config.Variant
	}
	return p
}
