package compression

import (
	"bytes"
	"errors"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// gzip's DefaultLevel is the library's default compression, as Java's is
// zlib's: the size and speed a user gets without choosing a level. Java's
// own default, -1 (GzipDefaultLevel), copied from its configuration, is
// the same level.
func TestGzipsDefaultLevelIsTheLibrarysDefault(t *testing.T) {
	in := recordLikeData(24_000, 11)
	got, err := Compress(nil, Gzip, DefaultLevel, in)
	if err != nil {
		t.Fatal(err)
	}
	javas, err := Compress(nil, Gzip, GzipDefaultLevel, in)
	if err != nil {
		t.Fatalf("gzip at Java's default level, -1: %v", err)
	}
	if !bytes.Equal(javas, got) {
		t.Fatalf("gzip at -1: %d bytes, at DefaultLevel %d", len(javas), len(got))
	}
	var want bytes.Buffer
	w, err := gzip.NewWriterLevel(&want, gzip.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(in); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("gzip at DefaultLevel: %d bytes, the library's default %d", len(got), want.Len())
	}
}

// gzip output past the limit is ErrTooLarge and not ErrCorrupt: a batch too
// large to decompress is not a broken one, and the caller says which.
func TestGzipPastTheLimitIsTooLargeNotCorrupt(t *testing.T) {
	comp, err := Compress(nil, Gzip, DefaultLevel, recordLikeData(24_000, 11))
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecompressLimit(nil, Gzip, comp, 100)
	if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("gzip past the limit: %v, want ErrTooLarge and not ErrCorrupt", err)
	}
}
