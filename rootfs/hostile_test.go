package rootfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// Names in an archive are the image author's: they reach the user quoted,
// never as raw control characters or extra lines.
func TestArchiveNamesAreQuoted(t *testing.T) {
	img := newTestImage(t, runtime.GOARCH, sampleLayers(t)...)
	evil := "evil\x1b[2J\nrt: container started:1"
	arch := dockerSave(t, map[string]*testImage{evil: img, "other:1": img})
	_, err := Import(context.Background(), bytes.NewReader(arch), "x.tar", t.TempDir()+"/b", Options{})
	if err == nil {
		t.Fatal("two images without --image: want an error")
	}
	if strings.ContainsAny(err.Error(), "\x1b\n") {
		t.Fatalf("raw archive name in the error: %q", err)
	}
	if !strings.Contains(err.Error(), `\x1b[2J\n`) {
		t.Fatalf("name not shown quoted: %q", err)
	}
}

// An image may have at most MaxLayers layers: 50,000 references to one
// layer are refused before any is read.
func TestTooManyLayers(t *testing.T) {
	layer := sampleLayers(t)[0]
	layers := make([][]byte, MaxLayers+1)
	for i := range layers {
		layers[i] = layer
	}
	arch := dockerSave(t, map[string]*testImage{"many:1": newTestImage(t, runtime.GOARCH, layers...)})
	_, err := Import(context.Background(), bytes.NewReader(arch), "many.tar", t.TempDir()+"/b", Options{})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("rt takes at most %d", MaxLayers)) {
		t.Fatalf("want the layer limit, got %v", err)
	}
}

// --max-size bounds what an image may unpack to.
func TestMaxSize(t *testing.T) {
	requireRoot(t)
	arch := dockerSave(t, map[string]*testImage{"big:1": newTestImage(t, runtime.GOARCH, layerTar(t, ent{name: "big", body: strings.Repeat("x", 1<<20)}))})
	_, err := Import(context.Background(), bytes.NewReader(arch), "big.tar", t.TempDir()+"/b", Options{MaxSize: 1 << 19})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
	if _, err := Import(context.Background(), bytes.NewReader(arch), "big.tar", t.TempDir()+"/b", Options{MaxSize: 2 << 20}); err != nil {
		t.Fatalf("within the limit: %v", err)
	}
}
