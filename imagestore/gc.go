package imagestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/rootfs"
)

// Remove removes a name; the image goes with its last name. Given an ID,
// the image goes with all its names. Layers stay until GC. It returns
// what it did, one line each ("untagged NAME", "deleted sha256:ID").
func (s *Store) Remove(ref string) ([]string, error) {
	lk, err := s.lock(true)
	if err != nil {
		return nil, err
	}
	defer lk.Close()
	rec, err := s.Lookup(ref)
	if err != nil {
		return nil, err
	}
	want := normalize(ref)
	byName := false
	for _, n := range rec.Names {
		if n == ref || normalize(n) == want {
			byName = true
		}
	}
	var done []string
	left := 0
	err = s.editNames(func(m map[string]digest.Digest) {
		for n, id := range m {
			if id != rec.ID {
				continue
			}
			if !byName || n == ref || normalize(n) == want {
				delete(m, n)
				done = append(done, "untagged "+n)
			} else {
				left++
			}
		}
	})
	if err != nil {
		return done, err
	}
	sort.Strings(done)
	if left > 0 {
		return done, nil
	}
	if err := os.Remove(s.recordPath(rec.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return done, err
	}
	return append(done, "deleted "+rec.ID.String()), nil
}

// GCResult is what GC removed.
type GCResult struct {
	Layers     int   // layers removed
	Bytes      int64 // their size
	Containers int   // directories of containers gone without a delete (crashed rt, reboot)
	Blobs      int   // configs and manifests of removed images
}

// GC removes what nothing uses: layers no image and no container holds,
// blobs of removed images, leftovers of killed loads, and directories of
// containers whose state is gone. It holds the store's lock exclusively:
// no load or create runs meanwhile.
func (s *Store) GC() (GCResult, error) {
	var res GCResult
	lk, err := s.lock(true)
	if err != nil {
		return res, err
	}
	defer lk.Close()
	// Nobody else holds the store: whatever is in tmp/ is a leftover.
	tmps, _ := os.ReadDir(filepath.Join(s.dir, "tmp"))
	for _, t := range tmps {
		os.RemoveAll(filepath.Join(s.dir, "tmp", t.Name()))
	}
	used := map[string]bool{}
	blobs := map[string]bool{}
	recs, err := s.List()
	if err != nil {
		return res, err
	}
	for _, r := range recs {
		blobs[s.blobPath(r.ID)] = true
		if r.Manifest != "" {
			blobs[s.blobPath(r.Manifest)] = true
		}
		for _, l := range r.Layers {
			used[layerKey(l)] = true
		}
	}
	conts, _ := os.ReadDir(filepath.Join(s.dir, "containers"))
	for _, c := range conts {
		dir := filepath.Join(s.dir, "containers", c.Name())
		o, live := s.containerLive(dir)
		if !live {
			if err := RemoveContainerDir(dir); err != nil {
				return res, err
			}
			res.Containers++
			continue
		}
		if o != nil {
			for _, l := range o.Layers {
				used[layerKey(l)] = true
			}
		}
	}
	layers, _ := os.ReadDir(filepath.Join(s.dir, "layers"))
	for _, l := range layers {
		if used[l.Name()] {
			continue
		}
		dir := filepath.Join(s.dir, "layers", l.Name())
		size := s.layerSizeAt(dir)
		// Out of sight first: a gc killed half-way leaves no partial layer.
		gone := filepath.Join(s.dir, "tmp", "gc-"+l.Name())
		if err := os.Rename(dir, gone); err != nil {
			return res, err
		}
		if err := os.RemoveAll(gone); err != nil {
			return res, err
		}
		os.Remove(filepath.Join(s.dir, "locks", l.Name()+".lock"))
		res.Layers++
		res.Bytes += size
	}
	algs, _ := os.ReadDir(filepath.Join(s.dir, "blobs"))
	for _, a := range algs {
		files, _ := os.ReadDir(filepath.Join(s.dir, "blobs", a.Name()))
		for _, f := range files {
			p := filepath.Join(s.dir, "blobs", a.Name(), f.Name())
			if !blobs[p] && !strings.HasPrefix(f.Name(), ".") {
				if err := os.Remove(p); err == nil {
					res.Blobs++
				}
			}
		}
	}
	return res, nil
}

func (s *Store) layerSizeAt(dir string) int64 {
	var n int64
	b, _ := os.ReadFile(filepath.Join(dir, "size"))
	fmt.Sscan(string(b), &n)
	return n
}

// containerLive tells whether a containers/ directory is in use: locked
// by a create in progress, or named by its container's state.json as
// that container's bundle.
func (s *Store) containerLive(dir string) (*owner, bool) {
	var o *owner
	if b, err := os.ReadFile(filepath.Join(dir, "owner.json")); err == nil {
		o = &owner{}
		if json.Unmarshal(b, o) != nil {
			o = nil
		}
	}
	f, err := os.Open(dir)
	if err != nil {
		return o, false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return o, true // a create holds it
	}
	if o == nil || o.Root == "" || o.ID == "" {
		return o, false
	}
	b, err := os.ReadFile(filepath.Join(o.Root, o.ID, "state.json"))
	if err != nil {
		// A state dir without state.json is a create or delete in
		// progress, or one killed half-way: keep it, delete --force
		// cleans it.
		if _, err := os.Stat(filepath.Join(o.Root, o.ID)); err == nil {
			return o, true
		}
		return o, false
	}
	var st struct {
		Bundle string `json:"bundle"`
	}
	if json.Unmarshal(b, &st) != nil {
		return o, true // unreadable: keep, to be safe
	}
	return o, st.Bundle == dir
}

func normalize(s string) string { return rootfs.NormalizeRef(s) }
