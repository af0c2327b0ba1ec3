package imagestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/rt-project/rt/rootfs"
)

// LoadOptions tunes Load.
type LoadOptions struct {
	Warn func(string) // notes about skipped things; may be nil
	// Progress, if not nil, is called as layer bytes are read.
	Progress func(Progress)
	// Sync flushes each layer to disk (syncfs) before it becomes
	// visible, so that it survives a power loss. Off by default, as in
	// Docker and containerd: it costs more than half of a load's time.
	Sync bool
}

// Progress is where a load is.
type Progress struct {
	Image         string // the image's first name, or its short ID
	Layer, Layers int    // 1-based layer being unpacked, of Layers
	Bytes, Total  int64  // blob bytes read of this layer, and its size (-1: unknown)
	Done          bool   // the layer is done
}

// Loaded is one image Load stored.
type Loaded struct {
	ID       digest.Digest
	Names    []string
	Unpacked int // layers unpacked by this load (the others were in the store)
}

// Load stores every image of the archive read from src (name is for
// errors). A layer already in the store is not read again; a new one is
// unpacked into tmp/, verified, and renamed into place, under a lock of its
// own so that concurrent loads unpack it once.
func (s *Store) Load(ctx context.Context, src io.Reader, name string, opts LoadOptions) ([]Loaded, error) {
	out, err := s.load(ctx, src, opts)
	if err != nil {
		return out, fmt.Errorf("load %s: %w", name, err)
	}
	return out, nil
}

func (s *Store) load(ctx context.Context, src io.Reader, opts LoadOptions) ([]Loaded, error) {
	if opts.Warn == nil {
		opts.Warn = func(string) {}
	}
	lk, err := s.lock(false)
	if err != nil {
		return nil, err
	}
	defer lk.Close()
	spool, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "spool-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(spool)
	archive, err := rootfs.ReadArchive(ctx, src, spool)
	if err != nil {
		return nil, err
	}
	imgs, err := archive.Images()
	if err != nil {
		return nil, err
	}
	var out []Loaded
	for _, img := range imgs {
		l, err := s.loadImage(ctx, img, opts)
		if err != nil {
			return out, err
		}
		out = append(out, l)
	}
	return out, nil
}

func (s *Store) loadImage(ctx context.Context, img *rootfs.Image, opts LoadOptions) (Loaded, error) {
	res := Loaded{ID: img.ID}
	label := "sha256:" + ShortID(img.ID)
	for _, n := range img.Names {
		if validName(n) {
			res.Names = append(res.Names, n)
		} else {
			opts.Warn(fmt.Sprintf("image %s: name %q is not a valid reference; not stored", label, n))
		}
	}
	if len(res.Names) > 0 {
		label = res.Names[0]
	}
	if want := "linux/" + runtime.GOARCH; img.Config.OS+"/"+img.Config.Architecture != want {
		opts.Warn(fmt.Sprintf("image %s is for %q, this host is %s: it will not run here without emulation", label, img.Platform(), want))
	}
	rec := &Record{ID: img.ID, Manifest: img.Manifest, Loaded: time.Now().UTC(), Created: img.Config.Created}
	for i, l := range img.Layers {
		rec.Layers = append(rec.Layers, l.DiffID)
		size, unpacked, err := s.ensureLayer(ctx, img, i, label, opts)
		if err != nil {
			return res, fmt.Errorf("image %q: %w", label, err)
		}
		if unpacked {
			res.Unpacked++
		}
		rec.Size += size
	}
	// Loaded before (same config, so same layers): nothing to write but
	// names that moved.
	_, errCfg := os.Stat(s.blobPath(img.ID))
	_, errRec := os.Stat(s.recordPath(img.ID))
	if errCfg != nil || errRec != nil {
		if err := writeFileAtomic(s.blobPath(img.ID), img.RawConfig); err != nil {
			return res, err
		}
		if img.Manifest != "" && len(img.RawManifest) > 0 {
			if err := writeFileAtomic(s.blobPath(img.Manifest), img.RawManifest); err != nil {
				return res, err
			}
		}
		b, err := json.MarshalIndent(rec, "", "\t")
		if err != nil {
			return res, err
		}
		if err := writeFileAtomic(s.recordPath(img.ID), b); err != nil {
			return res, err
		}
	}
	if names, err := s.readNames(); err == nil {
		same := true
		for _, n := range res.Names {
			same = same && names[n] == img.ID
		}
		if same {
			return res, nil
		}
	}
	err := s.editNames(func(m map[string]digest.Digest) {
		for _, n := range res.Names {
			m[n] = img.ID
		}
	})
	return res, err
}

// ensureLayer makes sure layer i of img is in the store, unpacking it if
// not. It returns the layer's size and whether this call unpacked it.
func (s *Store) ensureLayer(ctx context.Context, img *rootfs.Image, i int, label string, opts LoadOptions) (int64, bool, error) {
	l := img.Layers[i]
	if s.hasLayer(l.DiffID) {
		return s.layerSize(l.DiffID), false, nil
	}
	key := layerKey(l.DiffID)
	lk, err := lockFile(filepath.Join(s.dir, "locks", key+".lock"), unix.LOCK_EX)
	if err != nil {
		return 0, false, err
	}
	defer lk.Close()
	if s.hasLayer(l.DiffID) { // another load unpacked it while we waited
		return s.layerSize(l.DiffID), false, nil
	}
	// Leftovers of a killed load of this layer: nobody else holds its lock.
	old, _ := filepath.Glob(filepath.Join(s.dir, "tmp", "layer-"+key+"-*"))
	for _, o := range old {
		os.RemoveAll(o)
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "layer-"+key+"-")
	if err != nil {
		return 0, false, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	diff := filepath.Join(tmp, "diff")
	if err := os.Mkdir(diff, 0o755); err != nil {
		return 0, false, err
	}
	p := Progress{Image: label, Layer: i + 1, Layers: len(img.Layers), Total: l.Size}
	progress := func(n int64) {
		if p.Bytes == 0 {
			TestStop("load-mid-layer")
		}
		p.Bytes += n
		if opts.Progress != nil {
			opts.Progress(p)
		}
	}
	size, err := img.UnpackLayer(ctx, i, diff, rootfs.UnpackOptions{Warn: opts.Warn}, progress)
	if err != nil {
		return 0, false, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "size"), []byte(strconv.FormatInt(size, 10)), 0o600); err != nil {
		return 0, false, err
	}
	if opts.Sync { // durable before visible
		f, err := os.Open(tmp)
		if err != nil {
			return 0, false, err
		}
		err = unix.Syncfs(int(f.Fd()))
		f.Close()
		if err != nil {
			return 0, false, fmt.Errorf("syncfs: %w", err)
		}
	}
	if err := os.Rename(tmp, s.layerDir(l.DiffID)); err != nil {
		if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
			return s.layerSize(l.DiffID), false, nil
		}
		return 0, false, err
	}
	ok = true
	if opts.Progress != nil {
		p.Done = true
		opts.Progress(p)
	}
	return size, true, nil
}

func (s *Store) layerSize(d digest.Digest) int64 {
	b, _ := os.ReadFile(filepath.Join(s.layerDir(d), "size"))
	n, _ := strconv.ParseInt(string(b), 10, 64)
	return n
}

// TestStop is the store's fault-injection hook for rt's own tests, as
// libcontainer.TestStop: with RT_TEST_STOP=load-mid-layer, a load stops
// itself (SIGSTOP) once it has read the first bytes of a layer it unpacks,
// so a test can kill it there.
func TestStop(phase string) {
	if os.Getenv("RT_TEST_STOP") != phase {
		return
	}
	runtime.LockOSThread()
	_ = unix.Tgkill(os.Getpid(), unix.Gettid(), unix.SIGSTOP)
	runtime.UnlockOSThread()
}
