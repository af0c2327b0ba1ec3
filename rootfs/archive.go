package rootfs

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// Archive is the outer tar (a docker save or an OCI image layout), read once.
//
// From a regular file (also `< file` on stdin) only the headers are read,
// skipping the data with seeks, and each member is later read in place by
// offset: nothing is copied. From a pipe the archive is read in one pass;
// small members stay in memory and larger ones (layers) are spooled to a
// directory the caller chooses, because every format lists the layer order
// (manifest.json, index.json) after the layers themselves.
type Archive struct {
	src     io.ReaderAt // regular file input; nil for a pipe
	members map[string]*member
}

type member struct {
	name   string
	typ    byte
	link   string
	size   int64
	off    int64  // data offset in src
	data   []byte // in memory (pipe input)
	spool  string // spooled copy (pipe input)
	sparse bool
}

const (
	memMember = 1 << 20  // pipe input: members up to this size stay in memory...
	memTotal  = 64 << 20 // ...up to this much in all
	maxJSON   = 16 << 20 // manifests, indexes and configs are small
)

// ReadArchive reads the archive r. spoolDir must be an existing directory
// on a filesystem with room for the layers; it is used only when r is not a
// regular file (or another io.ReaderAt and io.Seeker), and the caller
// removes it once done with the Archive.
func ReadArchive(ctx context.Context, r io.Reader, spoolDir string) (*Archive, error) {
	a := &Archive{members: map[string]*member{}}
	var err error
	if rs, ok := seekable(r); ok {
		a.src = rs
		err = a.index(rs)
	} else {
		err = a.stream(newCtxReader(ctx, r), spoolDir)
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

type readSeekerAt interface {
	io.ReadSeeker
	io.ReaderAt
}

// seekable tells whether r can be read in place: a regular file (a pipe is
// an *os.File too), or another io.ReaderAt and io.Seeker.
func seekable(r io.Reader) (readSeekerAt, bool) {
	if f, ok := r.(*os.File); ok {
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return nil, false
		}
		_, err = f.Seek(0, io.SeekCurrent)
		return f, err == nil
	}
	rs, ok := r.(readSeekerAt)
	return rs, ok
}

// ctxReader reads r in its own goroutine, so that a read blocked on a
// stalled pipe does not keep a cancelled import from cleaning up. (The
// goroutine ends when the pending read returns.)
type ctxReader struct {
	ctx    context.Context
	chunks chan []byte
	err    error // after the last chunk
	cur    []byte
}

func newCtxReader(ctx context.Context, r io.Reader) *ctxReader {
	c := &ctxReader{ctx: ctx, chunks: make(chan []byte, 4)}
	go func() {
		defer close(c.chunks)
		for {
			b := make([]byte, 256<<10)
			n, err := r.Read(b)
			if n > 0 {
				select {
				case c.chunks <- b[:n]:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				c.err = err // published by close(c.chunks)
				return
			}
		}
	}()
	return c
}

func (c *ctxReader) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		select {
		case b, ok := <-c.chunks:
			if !ok {
				if err := c.ctx.Err(); err != nil {
					return 0, err
				}
				return 0, c.err
			}
			c.cur = b
		case <-c.ctx.Done():
			return 0, c.ctx.Err()
		}
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

// index records where each member's data starts. archive/tar reads nothing
// beyond a header and skips data with Seek, so the offset after Next is the
// data offset.
func (a *Archive) index(rs io.ReadSeeker) error {
	tr := tar.NewReader(rs)
	last := ""
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return readError(last, err)
		}
		last = hdr.Name
		off, err := rs.Seek(0, io.SeekCurrent)
		if err != nil {
			return err
		}
		m := newMember(hdr)
		m.off = off
		a.add(m)
	}
}

func (a *Archive) stream(r io.Reader, spoolDir string) error {
	tr := tar.NewReader(bufio.NewReaderSize(r, 1<<20))
	var inMemory int64
	last := ""
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return readError(last, err)
		}
		last = hdr.Name
		m := newMember(hdr)
		if m.typ == tar.TypeReg && !m.sparse {
			if m.size <= memMember && inMemory+m.size <= memTotal {
				inMemory += m.size
				if m.data, err = io.ReadAll(tr); err != nil {
					return fmt.Errorf("read archive member %q: %w", hdr.Name, err)
				}
			} else if m.spool, err = spool(tr, spoolDir); err != nil {
				return fmt.Errorf("read archive member %q: %w", hdr.Name, err)
			}
		}
		a.add(m)
	}
}

// readError names the member a broken archive stops after: a truncated
// archive ends inside it.
func readError(last string, err error) error {
	if last == "" {
		return fmt.Errorf("read archive: %w", err)
	}
	return fmt.Errorf("read archive after member %q: %w", last, err)
}

func spool(r io.Reader, dir string) (string, error) {
	f, err := os.CreateTemp(dir, "member-")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return f.Name(), err
}

func newMember(hdr *tar.Header) *member {
	m := &member{name: hdr.Name, typ: hdr.Typeflag, link: hdr.Linkname, size: hdr.Size}
	if m.typ == '\x00' || m.typ == tar.TypeCont {
		m.typ = tar.TypeReg
	}
	// Sparse members are stored packed: their bytes cannot be read in place.
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			m.sparse = true
		}
	}
	if m.typ == tar.TypeGNUSparse {
		m.typ, m.sparse = tar.TypeReg, true
	}
	return m
}

func (a *Archive) add(m *member) {
	name, err := cleanMember(m.name)
	if err != nil {
		return // never referenced: references that climb out are refused
	}
	a.members[name] = m // a later member of the same name wins, as in tar
}

// cleanMember makes a member name or reference relative to the archive root;
// one that climbs out of the archive is refused.
func cleanMember(name string) (string, error) {
	p := path.Clean(name)
	if name == "" || path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("member %q is outside the archive", name)
	}
	return p, nil
}

func (a *Archive) has(name string) bool {
	_, err := a.lookup(name)
	return err == nil
}

// lookup finds a member, following symlink and hardlink members (docker
// save stores a layer shared by two images once and links the other copy
// to it) within the archive.
func (a *Archive) lookup(name string) (*member, error) {
	p, err := cleanMember(name)
	if err != nil {
		return nil, err
	}
	for hops := 0; ; hops++ {
		if hops > 16 {
			return nil, fmt.Errorf("member %q: too many links", name)
		}
		m := a.members[p]
		if m == nil {
			return nil, fmt.Errorf("member %q: %w", name, os.ErrNotExist)
		}
		switch m.typ {
		case tar.TypeReg:
			if m.sparse {
				return nil, fmt.Errorf("member %q: sparse archive members are not supported", name)
			}
			return m, nil
		case tar.TypeSymlink:
			if p, err = cleanMember(path.Join(path.Dir(p), m.link)); path.IsAbs(m.link) || err != nil {
				return nil, fmt.Errorf("member %q: link to %q leaves the archive", name, m.link)
			}
		case tar.TypeLink:
			if p, err = cleanMember(m.link); err != nil {
				return nil, fmt.Errorf("member %q: link to %q leaves the archive", name, m.link)
			}
		default:
			return nil, fmt.Errorf("member %q: not a regular file", name)
		}
	}
}

// open returns the content of a member and its size.
func (a *Archive) open(name string) (io.ReadCloser, int64, error) {
	m, err := a.lookup(name)
	if err != nil {
		return nil, 0, err
	}
	switch {
	case a.src != nil:
		return io.NopCloser(io.NewSectionReader(a.src, m.off, m.size)), m.size, nil
	case m.spool != "":
		f, err := os.Open(m.spool)
		return f, m.size, err
	default:
		return io.NopCloser(bytes.NewReader(m.data)), m.size, nil
	}
}

// readAll reads a small member (JSON).
func (a *Archive) readAll(name string) ([]byte, error) {
	rc, size, err := a.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > maxJSON {
		return nil, fmt.Errorf("member %q: too large (%d bytes) for metadata", name, size)
	}
	b, err := io.ReadAll(rc)
	if err == nil && int64(len(b)) != size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, fmt.Errorf("member %q: %w", name, err)
	}
	return b, nil
}

var errNotImage = errors.New("not a docker save or OCI image layout archive (no manifest.json or index.json)")
