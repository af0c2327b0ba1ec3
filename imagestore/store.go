// Package imagestore is rt's image store: layers unpacked once, keyed by
// their diff ID (the digest of the uncompressed tar), in overlayfs's
// whiteout format; image configs and manifests by digest; names pointing
// at images; and per-container overlay mounts made from them. It depends
// on rootfs/ (the archive reader and the layer applier), not on
// libcontainer.
//
// Layout under the store directory (default /var/lib/rt):
//
//	store.lock              flock: shared by load and container prepare, exclusive by rmi and gc
//	names.lock, names.json  name -> image ID
//	images/HEX.json         one image: its ID, manifest, layers (diff IDs), size
//	blobs/ALG/HEX           configs and manifests, by digest
//	layers/KEY/diff         one layer, unpacked (an overlay lower dir); KEY is the diff ID's hex
//	layers/KEY/size         bytes of file content in it
//	locks/KEY.lock          flock held while one load unpacks that layer
//	tmp/                    layers being unpacked, archives being spooled; renamed into place when verified
//	containers/RAND/        one container: owner.json, layers.json, config.json, rootfs (the overlay mount), upper, work
package imagestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	ispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/internal/atomicfile"
	"github.com/rt-project/rt/rootfs"
)

// Store is an open image store.
type Store struct {
	dir string
	// Warn receives notes (the copy fallback); may be nil.
	Warn   func(string)
	warned bool
}

func (s *Store) warnOnce(msg string) {
	if !s.warned && s.Warn != nil {
		s.warned = true
		s.Warn(msg)
	}
}

// Record is what the store keeps of one image.
type Record struct {
	ID       digest.Digest   `json:"id"`
	Manifest digest.Digest   `json:"manifest,omitempty"`
	Layers   []digest.Digest `json:"layers"` // diff IDs, bottom first
	Size     int64           `json:"size"`   // bytes of file content in its layers
	Created  *time.Time      `json:"created,omitempty"`
	Loaded   time.Time       `json:"loaded"`
	Names    []string        `json:"names"` // filled in by List and Lookup
}

// Open opens (creating it if needed) the store at dir.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if abs == "/" {
		return nil, errors.New("--store: must not be /")
	}
	for _, d := range []string{"", "images", "blobs", "layers", "locks", "tmp", "containers"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("store %s: %w", abs, err)
		}
	}
	return &Store{dir: abs}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// lockFile opens (creating) path and flocks it with how; Close releases.
func lockFile(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock(f, how); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}

func (s *Store) lock(exclusive bool) (*os.File, error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	f, err := lockFile(filepath.Join(s.dir, "store.lock"), how)
	if err != nil {
		return nil, fmt.Errorf("lock store %s: %w", s.dir, err)
	}
	return f, nil
}

// layerKey is the directory name of a layer: the hex of a sha256 diff ID
// (short paths: overlayfs's mount options are limited to a page).
func layerKey(d digest.Digest) string {
	if d.Algorithm() == digest.SHA256 {
		return d.Encoded()
	}
	return d.Algorithm().String() + "-" + d.Encoded()
}

func (s *Store) layerDir(d digest.Digest) string {
	return filepath.Join(s.dir, "layers", layerKey(d))
}

func (s *Store) hasLayer(d digest.Digest) bool {
	fi, err := os.Lstat(filepath.Join(s.layerDir(d), "diff"))
	return err == nil && fi.IsDir()
}

func (s *Store) blobPath(d digest.Digest) string {
	return filepath.Join(s.dir, "blobs", d.Algorithm().String(), d.Encoded())
}

func (s *Store) recordPath(id digest.Digest) string {
	return filepath.Join(s.dir, "images", layerKey(id)+".json")
}

// writeFileAtomic writes a record or blob of the store, making its
// directory first.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}

func (s *Store) readNames() (map[string]digest.Digest, error) {
	names := map[string]digest.Digest{}
	b, err := os.ReadFile(filepath.Join(s.dir, "names.json"))
	if errors.Is(err, os.ErrNotExist) {
		return names, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &names); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(s.dir, "names.json"), err)
	}
	return names, nil
}

// editNames changes names.json under names.lock.
func (s *Store) editNames(edit func(map[string]digest.Digest)) error {
	l, err := lockFile(filepath.Join(s.dir, "names.lock"), unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer l.Close()
	names, err := s.readNames()
	if err != nil {
		return err
	}
	edit(names)
	b, err := json.MarshalIndent(names, "", "\t")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.dir, "names.json"), b)
}

func (s *Store) readRecord(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// List returns every image, with its names, newest first.
func (s *Store) List() ([]*Record, error) {
	names, err := s.readNames()
	if err != nil {
		return nil, err
	}
	paths, _ := filepath.Glob(filepath.Join(s.dir, "images", "*.json"))
	byID := map[digest.Digest]*Record{}
	var out []*Record
	for _, p := range paths {
		r, err := s.readRecord(p)
		if err != nil {
			return nil, err
		}
		byID[r.ID] = r
		out = append(out, r)
	}
	for n, id := range names {
		if r := byID[id]; r != nil {
			r.Names = append(r.Names, n)
		}
	}
	for _, r := range out {
		sort.Strings(r.Names)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Loaded.After(out[j].Loaded) })
	return out, nil
}

// Lookup finds an image by name ("busybox", "busybox:latest",
// "docker.io/library/busybox:latest") or ID (a digest or at least 4 hex
// digits of one).
func (s *Store) Lookup(ref string) (*Record, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	want := rootfs.NormalizeRef(ref)
	var found []*Record
	for _, r := range all {
		for _, n := range r.Names {
			if n == ref || rootfs.NormalizeRef(n) == want {
				found = append(found, r)
				break
			}
		}
	}
	if len(found) == 0 {
		hex := strings.TrimPrefix(ref, "sha256:")
		if len(hex) >= 4 && strings.Trim(hex, "0123456789abcdef") == "" {
			for _, r := range all {
				if strings.HasPrefix(r.ID.Encoded(), hex) {
					found = append(found, r)
				}
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no image %q in the store %s (rt images lists them; rt load adds one)", ref, s.dir)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%q names %d images: give more of the ID", ref, len(found))
}

// Config reads an image's config.
func (s *Store) Config(r *Record) (*ispec.Image, error) {
	b, err := os.ReadFile(s.blobPath(r.ID))
	if err != nil {
		return nil, fmt.Errorf("config of image %s: %w", ShortID(r.ID), err)
	}
	if r.ID.Algorithm().FromBytes(b) != r.ID {
		return nil, fmt.Errorf("config of image %s: content does not match its digest", ShortID(r.ID))
	}
	var c ispec.Image
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("config of image %s: %w", ShortID(r.ID), err)
	}
	return &c, nil
}

// ShortID is the 12 hex digits Docker shows.
func ShortID(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return e
}

// validName tells whether an archive's name can be stored and printed as
// is: a reference's characters only, so it can never carry control
// characters or spaces to a terminal.
func validName(n string) bool {
	if n == "" || len(n) > 255 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._-/:@", c) >= 0) {
			return false
		}
	}
	return true
}
