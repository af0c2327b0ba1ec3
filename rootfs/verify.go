package rootfs

import (
	"bufio"
	"bytes"
	_ "crypto/sha256" // digest algorithms go-digest can check
	_ "crypto/sha512"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
)

// verifiedReader gives a layer's uncompressed tar while hashing the blob as
// stored (against the manifest digest) and the uncompressed stream (against
// the config's diff_id), in the same single read. Reading, hashing and
// decompressing run in their own goroutine, a few chunks ahead of the
// caller: applying the layer is mostly system calls, so on two CPUs the
// hashing costs no wall time.
type verifiedReader struct {
	layer Layer
	blob  hash.Hash // nil when the format gives no blob digest
	diff  hash.Hash // nil when the blob digest already covers the same bytes

	chunks chan chunk
	stop   chan struct{}
	exited chan struct{}
	cur    []byte
	buf    *[]byte
	err    error
}

type chunk struct {
	buf *[]byte
	n   int
	err error
}

const chunkSize = 512 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicBzip2 = []byte("BZh")
)

func newVerifiedReader(r io.Reader, l Layer) (*verifiedReader, error) {
	vr := &verifiedReader{layer: l}
	if l.Digest != "" {
		vr.blob = l.Digest.Algorithm().Hash()
		r = io.TeeReader(r, vr.blob)
	}
	br := bufio.NewReaderSize(r, 1<<20)
	magic, _ := br.Peek(6)
	var out io.Reader = br
	closer := func() {}
	switch {
	case bytes.HasPrefix(magic, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		out, closer = zr, func() { zr.Close() }
	case bytes.HasPrefix(magic, magicZstd):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		out, closer = zr, zr.Close
	case bytes.HasPrefix(magic, magicXz), bytes.HasPrefix(magic, magicBzip2):
		return nil, fmt.Errorf("unsupported compression (xz or bzip2); layers must be tar, gzip or zstd")
	}
	// Uncompressed, with both digests naming the same bytes: hash once.
	if out != br || l.Digest != l.DiffID {
		vr.diff = l.DiffID.Algorithm().Hash()
		out = io.TeeReader(out, vr.diff)
	}
	vr.chunks = make(chan chunk, 8)
	vr.stop = make(chan struct{})
	vr.exited = make(chan struct{})
	go func() {
		defer close(vr.exited)
		defer closer()
		for {
			b := chunkPool.Get().(*[]byte)
			n, err := io.ReadFull(out, *b)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF // a short last chunk
			}
			select {
			case vr.chunks <- chunk{b, n, err}:
			case <-vr.stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return vr, nil
}

func (vr *verifiedReader) Read(p []byte) (int, error) {
	for len(vr.cur) == 0 {
		if vr.err != nil {
			return 0, vr.err
		}
		if vr.buf != nil {
			chunkPool.Put(vr.buf)
		}
		c := <-vr.chunks
		vr.buf, vr.cur, vr.err = c.buf, (*c.buf)[:c.n], c.err
	}
	n := copy(p, vr.cur)
	vr.cur = vr.cur[n:]
	return n, nil
}

// Close stops the reading goroutine, if still running.
func (vr *verifiedReader) Close() {
	close(vr.stop)
	<-vr.exited
}

// verify checks the digests once the stream has been read to its end.
func (vr *verifiedReader) verify() error {
	l := vr.layer
	if vr.blob != nil {
		if got := digest.NewDigest(l.Digest.Algorithm(), vr.blob); got != l.Digest {
			return fmt.Errorf("digest mismatch: content is %s, the manifest says %s", got, l.Digest)
		}
	}
	h := vr.diff
	if h == nil {
		h = vr.blob
	}
	if got := digest.NewDigest(l.DiffID.Algorithm(), h); got != l.DiffID {
		return fmt.Errorf("digest mismatch: uncompressed content is %s, the config's diff_id is %s", got, l.DiffID)
	}
	return nil
}
