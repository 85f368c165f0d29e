package accumulator

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every record's facts come back as they went in, whatever their range:
// timestamps before the first record's, far from it, nil keys (-1), large
// sizes, and the edges of a fact's one byte.
func TestEntriesGiveBackWhatWasAdded(t *testing.T) {
	want := []entry{
		{cb: 1, timestamp: 1_700_000_000_000, keySize: -1, valueSize: 100},
		{cb: "two", timestamp: 1_700_000_000_000, keySize: 16, valueSize: -1},
		{cb: 3, timestamp: 1_699_999_999_000, keySize: 0, valueSize: 0},
		{cb: nil, timestamp: math.MaxInt64, keySize: math.MaxInt32, valueSize: math.MaxInt32},
		{cb: 5, timestamp: 0, keySize: 300, valueSize: 1 << 20},
		{cb: 6, timestamp: 1_700_000_000_063, keySize: 1, valueSize: 126}, // the last to take a byte each
		{cb: 7, timestamp: 1_700_000_000_064, keySize: 1, valueSize: 127}, // two bytes: a timestamp delta and a value size
	}
	e := newEntries(entriesRoom{})
	defer e.free()
	for _, w := range want {
		e.add(w)
	}
	require.Equal(t, len(want), e.len())
	var got []entry
	c := cursor{e: e}
	for {
		x, ok := c.next()
		if !ok {
			break
		}
		got = append(got, x)
	}
	require.Equal(t, want, got)
}

// A steady workload's facts take a byte each, three a record: that is the
// point of keeping them as varints, and what add's one-append path writes.
func TestEntriesFactsAreSmall(t *testing.T) {
	e := newEntries(entriesRoom{})
	defer e.free()
	for i := range 1000 {
		e.add(entry{cb: i, timestamp: 1_700_000_000_000 + int64(i/100), keySize: -1, valueSize: 100})
	}
	require.Equal(t, 3*1000, len(e.facts), "facts of 1000 keyless 100-byte records")
}

func TestNilEntriesHaveNoRecords(t *testing.T) {
	var e *entries
	require.Equal(t, 0, e.len())
}
