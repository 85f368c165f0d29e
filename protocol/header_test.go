package protocol

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

func TestRequestHeaderVersions(t *testing.T) {
	id := "kprod"
	cases := []struct {
		name string
		api  APIKey
		v    int16
		id   *string
		want []byte
	}{
		{"v1 below the first flexible version", Produce, 8, &id, fromHexLines(t, "0000 0008 0000000b 0005 6b70726f64")},
		{"v2 at the first flexible version", Produce, 9, &id, fromHexLines(t, "0000 0009 0000000b 0005 6b70726f64 00")},
		{"null client id stays INT16 in v2", Metadata, 12, nil, fromHexLines(t, "0003 000c 0000000b ffff 00")},
		{"empty client id", ApiVersions, 0, new(string), fromHexLines(t, "0012 0000 0000000b 0000")},
	}
	for _, c := range cases {
		got := AppendRequestHeader(nil, c.api, c.v, 11, c.id)
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s: got %x, want %x", c.name, got, c.want)
			continue
		}
		body := []byte{0xaa, 0xbb}
		api, v, corr, id, rest, err := ReadRequestHeader(append(got, body...))
		if err != nil || api != c.api || v != c.v || corr != 11 || !bytes.Equal(rest, body) {
			t.Errorf("%s: read %s v%d corr %d body %x: %v", c.name, api, v, corr, rest, err)
		}
		if (id == nil) != (c.id == nil) || (id != nil && *id != *c.id) {
			t.Errorf("%s: client id %v, want %v", c.name, id, c.id)
		}
	}
}

func TestResponseHeaderVersions(t *testing.T) {
	cases := []struct {
		name string
		api  APIKey
		v    int16
		hdr  string
		// ours says whether AppendResponseHeader writes hdr: it writes no
		// header tags, and none is defined.
		ours bool
	}{
		{"v0 below the first flexible version", Produce, 8, "00000005", true},
		{"v1 at the first flexible version", Produce, 9, "00000005 00", true},
		{"v1 with a tag we skip", Metadata, 12, "00000005 01 0302abcd", false},
		{"ApiVersions keeps v0 when flexible", ApiVersions, 3, "00000005", true},
		{"ApiVersions v4", ApiVersions, 4, "00000005", true},
		{"an API we do not know", APIKey(1000), 30, "00000005", true},
	}
	body := []byte{0x01, 0x02, 0x03}
	for _, c := range cases {
		b := append(fromHexLines(t, c.hdr), body...)
		corr, got, err := ReadResponseHeader(b, c.api, c.v)
		if err != nil || corr != 5 || !bytes.Equal(got, body) {
			t.Errorf("%s: corr %d body %x: %v", c.name, corr, got, err)
		}
		if c.ours {
			if enc := AppendResponseHeader(nil, c.api, c.v, 5); !bytes.Equal(enc, fromHexLines(t, c.hdr)) {
				t.Errorf("%s: encoded %x, want %s", c.name, enc, c.hdr)
			}
		}
	}
}

func TestHeaderMalformed(t *testing.T) {
	full := fromHexLines(t, "00000005 01 0302abcd")
	for n := range len(full) {
		_, _, err := ReadResponseHeader(full[:n:n], Metadata, 12)
		requireDecodeError(t, err, Metadata, 12, n, wire.ErrTruncated)
	}
	id := "kprod"
	req := AppendRequestHeader(nil, Produce, 9, 1, &id)
	for n := range len(req) {
		_, _, _, _, _, err := ReadRequestHeader(req[:n:n])
		var de *DecodeError
		if !errors.As(err, &de) || !errors.Is(err, wire.ErrTruncated) || de.Offset > n {
			t.Fatalf("request header cut at %d: %v", n, err)
		}
		if n >= 4 && (de.API != Produce || de.Version != 9) {
			t.Fatalf("request header cut at %d: error names %s v%d", n, de.API, de.Version)
		}
	}
}

func FuzzResponseHeader(f *testing.F) {
	f.Add(byte(Produce), byte(9), fromHexLines(f, "00000005 01 0302abcd ff"))
	f.Add(byte(Produce), byte(8), fromHexLines(f, "00000005 00"))
	f.Add(byte(ApiVersions), byte(3), fromHexLines(f, "00000005 0023 00000000"))
	f.Add(byte(Metadata), byte(12), fromHexLines(f, "00000005 00"))
	f.Fuzz(func(t *testing.T, apiSel, verSel byte, data []byte) {
		// Every API we know plus some we do not, at any version.
		api, v := APIKey(apiSel%40), int16(int8(verSel))
		corr, body, err := ReadResponseHeader(data, api, v)
		if err != nil {
			requireDecodeError(t, err, api, v, len(data), err)
			return
		}
		if len(body) > len(data) || !bytes.HasSuffix(data, body) {
			t.Fatalf("body %x is not the tail of %x", body, data)
		}
		// Header tags are dropped, so compare what survives re-encoding.
		again := append(AppendResponseHeader(nil, api, v, corr), body...)
		corr2, body2, err := ReadResponseHeader(again, api, v)
		if err != nil || corr2 != corr || !bytes.Equal(body2, body) {
			t.Fatalf("re-read: corr %d/%d body %x/%x: %v", corr2, corr, body2, body, err)
		}
	})
}

func FuzzRequestHeader(f *testing.F) {
	id := "kprod"
	f.Add(AppendRequestHeader(nil, Produce, 9, 1, &id))
	f.Add(AppendRequestHeader(nil, Produce, 3, 1, nil))
	f.Add(AppendRequestHeader(nil, ApiVersions, 3, 1, &id))
	f.Fuzz(func(t *testing.T, data []byte) {
		api, v, corr, id, body, err := ReadRequestHeader(data)
		if err != nil {
			requireDecodeError(t, err, api, v, len(data), err)
			return
		}
		again := append(AppendRequestHeader(nil, api, v, corr, id), body...)
		api2, v2, corr2, id2, body2, err := ReadRequestHeader(again)
		if err != nil || api2 != api || v2 != v || corr2 != corr || !bytes.Equal(body2, body) ||
			(id == nil) != (id2 == nil) || (id != nil && *id != *id2) {
			t.Fatalf("re-read differs: %x vs %x: %v", again, data, err)
		}
	})
}
