// Command mkimage writes a large multi-layer image for bench.sh: a legacy
// `docker save` archive (OUT/image.tar, uncompressed layers, as docker save
// writes them) and the same layers as plain tars (OUT/layers/N.tar) for the
// `tar -x` baseline.
//
// By default the layers are synthetic and deterministic: about -size MB of
// files (many small, some large, random bytes), directories, symlinks,
// hardlinks, then a layer that rewrites, deletes (whiteouts) and adds. With
// -from DIR the first layer is DIR (e.g. a debootstrap rootfs) instead.
package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	out := flag.String("o", "", "output directory")
	sizeMB := flag.Int("size", 100, "approximate MB of file content")
	from := flag.String("from", "", "use this directory tree as the first layer")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: mkimage -o DIR [-size MB] [-from ROOTFS]")
		os.Exit(2)
	}
	if err := run(*out, int64(*sizeMB)<<20, *from); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(out string, size int64, from string) error {
	if err := os.MkdirAll(filepath.Join(out, "layers"), 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var layers []string
	add := func(write func(tw *tar.Writer) error) error {
		p := filepath.Join(out, "layers", fmt.Sprintf("%d.tar", len(layers)+1))
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		tw := tar.NewWriter(f)
		if err := write(tw); err != nil {
			return err
		}
		if err := tw.Close(); err != nil {
			return err
		}
		layers = append(layers, p)
		return f.Close()
	}
	var err error
	if from != "" {
		err = add(func(tw *tar.Writer) error { return tarDir(tw, from) })
	} else {
		err = add(func(tw *tar.Writer) error { return synthetic(tw, rng, "base", size*7/10) })
	}
	// -from DIR -size 0: DIR alone, one layer (tests/images/debian.sh).
	if err == nil && (from == "" || size > 0) {
		err = add(func(tw *tar.Writer) error { return changes(tw, rng, size*2/10) })
		if err == nil {
			err = add(func(tw *tar.Writer) error { return synthetic(tw, rng, "app", size/10) })
		}
	}
	if err != nil {
		return err
	}
	return dockerSave(filepath.Join(out, "image.tar"), layers)
}

var mtime = time.Unix(1700000000, 0)

func dir(tw *tar.Writer, name string, mode int64) error {
	return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mtime})
}

func file(tw *tar.Writer, rng *rand.Rand, name string, size int64, mode int64) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: mode, ModTime: mtime}); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for size > 0 {
		n := min(size, int64(len(buf)))
		for i := 0; i < int(n); i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8 && i+j < int(n); j++ {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		if _, err := tw.Write(buf[:n]); err != nil {
			return err
		}
		size -= n
	}
	return nil
}

// fileSize draws from a mix like a distro tree: mostly small files, a few
// large ones.
func fileSize(rng *rand.Rand) int64 {
	switch r := rng.IntN(1000); {
	case r < 700:
		return int64(rng.IntN(8 << 10))
	case r < 950:
		return int64(8<<10 + rng.IntN(56<<10))
	case r < 995:
		return int64(64<<10 + rng.IntN(448<<10))
	default:
		return int64(1<<20 + rng.IntN(3<<20))
	}
}

func synthetic(tw *tar.Writer, rng *rand.Rand, top string, size int64) error {
	if err := dir(tw, top, 0o755); err != nil {
		return err
	}
	var written int64
	for d := 0; written < size; d++ {
		dn := fmt.Sprintf("%s/d%03d", top, d)
		if err := dir(tw, dn, 0o755); err != nil {
			return err
		}
		for f := 0; f < 40 && written < size; f++ {
			n := fileSize(rng)
			name := fmt.Sprintf("%s/f%03d", dn, f)
			mode := int64(0o644)
			if f%7 == 0 {
				mode = 0o755
			}
			if err := file(tw, rng, name, n, mode); err != nil {
				return err
			}
			written += n
			switch f % 10 {
			case 3:
				err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name + ".link", Linkname: fmt.Sprintf("f%03d", f), Mode: 0o777, ModTime: mtime})
				if err != nil {
					return err
				}
			case 5:
				err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeLink, Name: name + ".hard", Linkname: name, Mode: mode, ModTime: mtime})
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// changes rewrites, deletes and adds in the base tree, as an upgrade layer.
func changes(tw *tar.Writer, rng *rand.Rand, size int64) error {
	if err := dir(tw, "base", 0o755); err != nil {
		return err
	}
	var written int64
	for d := 0; written < size; d += 2 {
		dn := fmt.Sprintf("base/d%03d", d)
		if err := dir(tw, dn, 0o755); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dn + "/.wh.f001", Mode: 0o600, ModTime: mtime}); err != nil {
			return err
		}
		for f := 2; f < 40 && written < size; f += 3 {
			n := fileSize(rng)
			if err := file(tw, rng, fmt.Sprintf("%s/f%03d", dn, f), n, 0o644); err != nil {
				return err
			}
			written += n
		}
	}
	return nil
}

// tarDir writes a directory tree as a layer, keeping owners, modes,
// symlinks and hardlinks.
func tarDir(tw *tar.Writer, root string) error {
	links := map[uint64]string{}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		target := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, target)
		if err != nil {
			return nil // sockets
		}
		h.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			h.Name += "/"
		}
		h.Uname, h.Gname = "", ""
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
			if first, ok := links[st.Ino]; ok {
				h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
			} else {
				links[st.Ino] = h.Name
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
}

// dockerSave writes the layers as a legacy docker save archive.
func dockerSave(out string, layers []string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	var diffIDs, names []string
	for i, l := range layers {
		sum, err := sha256File(l)
		if err != nil {
			return err
		}
		diffIDs = append(diffIDs, "sha256:"+sum)
		id := fmt.Sprintf("%064x", i+1)
		names = append(names, id+"/layer.tar")
		if err := addFile(tw, id+"/layer.tar", l); err != nil {
			return err
		}
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Cmd": []string{"sh"}, "Env": []string{"PATH=/usr/bin:/bin"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	sum := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(sum[:]) + ".json"
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"rt-bench/large:latest"}, "Layers": names}})
	for _, m := range []struct {
		name string
		data []byte
	}{{cfgName, cfg}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), ModTime: mtime}); err != nil {
			return err
		}
		tw.Write(m.data)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func addFile(tw *tar.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, _ := f.Stat()
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: fi.Size(), ModTime: mtime}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

func sha256File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
