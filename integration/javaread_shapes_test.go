package integration

// The records TestJavaConsumerReadsOurBatches writes, in shapes chosen for
// the edge cases of the compressors we wrote ourselves (LZ4's and zstd's at
// their default levels): tiny and empty inputs, incompressible bytes, runs
// of one byte, overlapping matches at offsets 1 to 3, one offset again and
// again (zstd's repeat offsets), matches reaching back almost 64 KiB,
// records sections just below, at and above a 64 KiB block and several
// blocks long, and seeded mixes of all of them.

import (
	"bytes"
	"fmt"
	"math/rand/v2"

	"github.com/gokafka/producer/record"
)

// javaReadShape is one batch's records, written with every codec and level.
type javaReadShape struct {
	name    string
	records []record.Data
	// ours says zstd's default level must write the records with our
	// compressor, in other bytes than klauspost's fastest encoder's: that
	// encoder cannot shrink them by a sixty-fourth, and ours codes them
	// rather than storing them as it does. Without it the test would not
	// check ours on them.
	ours bool
}

// javaReadBaseTime is the first record's timestamp; the others are spread
// around it, before it too (a negative delta).
const javaReadBaseTime = 1_760_000_000_000

// javaReadShapes returns the shapes, the same on every run.
func javaReadShapes() []javaReadShape {
	g := &shapeGen{r: rand.New(rand.NewPCG(20, 26))}
	shapes := []javaReadShape{
		{"one empty record", g.values([]byte{}), true},
		{"one 1-byte record", g.values([]byte{'x'}), true},
		{"empty and 1-byte keys and values", g.tiny(300), true},
		{"nil keys and values", g.nils(100), false},
		{"headers", g.headers(200), false},
		{"random 100-byte values", g.keyed(600, func(int) []byte { return g.random(100) }), true},
		// Random values with a few stretches in them, too few for
		// klauspost's fastest encoder to take on, while ours finds the
		// stretches and the records' framing.
		{"random values, runs in some", g.sprinkled(600, 16, g.period(1)), true},
		{"random values, periods of 2 and 3 in some", g.sprinkled(600, 8, g.period(2, 3)), true},
		{"random values, one offset again and again in some", g.sprinkled(600, 8, g.holes(37)), true},
		// Ours stores these blocks, as klauspost's fastest encoder does,
		// in the same bytes.
		{"random 60 KB values", g.keyed(4, func(int) []byte { return g.random(60_000) }), false},
		{"one byte, 40 KB values", g.keyed(8, func(int) []byte { return bytes.Repeat([]byte{'a'}, 40_000) }), false},
		{"zero bytes, short values", g.keyed(200, func(int) []byte { return make([]byte, g.r.IntN(300)) }), false},
		{"periods of 1, 2 and 3 bytes", g.keyed(120, func(i int) []byte { return g.periodic(1+i%3, 10+g.r.IntN(5000)) }), false},
		{"one offset again and again", g.keyed(20, func(int) []byte { return g.repeatOffset(3000, 37) }), false},
		{"two offsets in turn", g.keyed(20, func(int) []byte { return g.twoOffsets(3000, 29, 83) }), false},
		{"a copy 64,700 bytes back, after a run", g.farAfterRun(), true},
		{"matches across a 64 KiB block", g.acrossBlocks(), false},
		{"text", g.keyed(200, func(int) []byte { return g.text(50 + g.r.IntN(1000)) }), false},
		{"json", g.keyed(500, g.json), false},
	}
	// Records sections of exact lengths around the 64 KiB blocks both
	// compressors cut (and snappy's 32 KiB chunks), and four blocks on.
	for _, n := range []int{32 << 10, 64<<10 - 1, 64 << 10, 64<<10 + 1, 4*64<<10 + 7} {
		shapes = append(shapes, javaReadShape{fmt.Sprintf("records section of %d bytes", n), g.exactly(n), false})
	}
	for seed := range 6 {
		shapes = append(shapes, javaReadShape{fmt.Sprintf("mix, seed %d", seed), mixRecords(uint64(seed)), false})
	}
	return shapes
}

// shapeGen draws the shapes' bytes from one seeded source.
type shapeGen struct{ r *rand.Rand }

// stamp is a record's timestamp: within a second either side of the base.
func (g *shapeGen) stamp() int64 { return javaReadBaseTime + int64(g.r.IntN(2000)) - 1000 }

// values is a record per value, without keys.
func (g *shapeGen) values(vs ...[]byte) []record.Data {
	recs := make([]record.Data, len(vs))
	for i, v := range vs {
		recs[i] = record.Data{TimestampMs: g.stamp(), Value: v}
	}
	return recs
}

// keyed is n records with keys "key-I" and value(I) as values.
func (g *shapeGen) keyed(n int, value func(i int) []byte) []record.Data {
	recs := make([]record.Data, n)
	for i := range recs {
		recs[i] = record.Data{TimestampMs: g.stamp(), Key: fmt.Appendf(nil, "key-%d", i), Value: value(i)}
	}
	return recs
}

func (g *shapeGen) random(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return b
}

// tiny is n records whose keys and values are each nil, empty or a byte.
func (g *shapeGen) tiny(n int) []record.Data {
	pick := func() []byte {
		switch g.r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []byte{}
		}
		return []byte{byte(g.r.Uint32())}
	}
	recs := make([]record.Data, n)
	for i := range recs {
		recs[i] = record.Data{TimestampMs: g.stamp(), Key: pick(), Value: pick()}
	}
	return recs
}

// nils is n tombstones with nil keys, some with a header and no more.
func (g *shapeGen) nils(n int) []record.Data {
	recs := make([]record.Data, n)
	for i := range recs {
		recs[i].TimestampMs = g.stamp()
		if i%7 == 3 {
			recs[i].Headers = []record.Header{{Key: "only", Value: nil}}
		}
	}
	return recs
}

// headers is n records with up to five headers each: keys in and out of
// ASCII, empty ones, and values nil, empty, text or random.
func (g *shapeGen) headers(n int) []record.Data {
	keys := []string{"trace-id", "", "ключ", "键", "content-type", "a"}
	recs := g.keyed(n, func(int) []byte { return g.text(g.r.IntN(200)) })
	for i := range recs {
		if i%5 == 0 {
			recs[i].Key = nil
		}
		for range g.r.IntN(6) {
			var v []byte
			switch g.r.IntN(4) {
			case 1:
				v = []byte{}
			case 2:
				v = g.text(1 + g.r.IntN(60))
			case 3:
				v = g.random(1 + g.r.IntN(40))
			}
			recs[i].Headers = append(recs[i].Headers, record.Header{Key: keys[g.r.IntN(len(keys))], Value: v})
		}
	}
	return recs
}

// periodic is n bytes repeating a random pattern of period bytes: every
// match overlaps the bytes it copies.
func (g *shapeGen) periodic(period, n int) []byte {
	return bytes.Repeat(g.random(period), n/period+1)[:n]
}

// repeatOffset is n bytes repeating a random pattern of period bytes, with
// a byte changed every 8 to 40 bytes: matches at the same offset, again
// and again, each after a literal.
func (g *shapeGen) repeatOffset(n, period int) []byte {
	b := g.periodic(period, n)
	for i := g.r.IntN(40); i < n; i += 8 + g.r.IntN(33) {
		b[i] = byte(g.r.Uint32())
	}
	return b
}

// twoOffsets alternates stretches copied from p1 and from p2 bytes back,
// with a changed byte between them: offsets that return after another,
// which zstd's second and third repeat offsets can express.
func (g *shapeGen) twoOffsets(n, p1, p2 int) []byte {
	b := g.random(n)
	for i := p2; i < n; {
		p := p1
		if g.r.IntN(2) == 0 {
			p = p2
		}
		end := min(n, i+6+g.r.IntN(30))
		for ; i < end; i++ {
			b[i] = b[i-p]
		}
		i++ // a literal between the stretches
	}
	return b
}

// acrossBlocks is two records whose second repeats stretches of the first
// from a few KB to 80 KB back: some across the end of the first 64 KiB
// block, which our compressors do not reach over (they store them), some
// beyond the 64 KiB window, which no encoder may reach.
func (g *shapeGen) acrossBlocks() []record.Data {
	v := g.random(50_000)
	w := g.random(50_000)
	for _, at := range []int{0, 5_000, 12_000, 20_000, 30_000} {
		from := g.r.IntN(len(v) - 2000)
		copy(w[at:at+2000], v[from:])
	}
	return g.values(v, w)
}

var shapeWords = []string{"the", "producer", "sends", "a", "batch", "of", "records", "to",
	"its", "leader", "which", "appends", "them", "and", "answers", "with", "an", "offset",
	"partition", "broker", "compression", "level", "window", "block", "frame"}

// text is n bytes of words, punctuation and line breaks.
func (g *shapeGen) text(n int) []byte {
	b := make([]byte, 0, n+16)
	for len(b) < n {
		b = append(b, shapeWords[g.r.IntN(len(shapeWords))]...)
		switch g.r.IntN(12) {
		case 0:
			b = append(b, ".\n"...)
		case 1:
			b = append(b, ", "...)
		default:
			b = append(b, ' ')
		}
	}
	return b[:n]
}

// json is an event as services log them: ids, numbers and names.
func (g *shapeGen) json(i int) []byte {
	return fmt.Appendf(nil, `{"id":"%08x-%04x-%04x-%04x-%012x","seq":%d,"user":"user-%d","event":%q,"amount":%d.%02d,"tags":["%s","%s"],"ts":"2025-10-%02dT%02d:%02d:%02d.%03dZ"}`,
		g.r.Uint32(), g.r.IntN(1<<16), g.r.IntN(1<<16), g.r.IntN(1<<16), g.r.Uint64()>>16,
		i, g.r.IntN(1000), shapeWords[g.r.IntN(len(shapeWords))], g.r.IntN(10000), g.r.IntN(100),
		shapeWords[g.r.IntN(len(shapeWords))], shapeWords[g.r.IntN(len(shapeWords))],
		1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60), g.r.IntN(60), g.r.IntN(1000))
}

// exactly is records of text and random bytes whose records section is n
// bytes long: the last record's value is sized to end it there.
func (g *shapeGen) exactly(n int) []record.Data {
	var recs []record.Data
	size := 0
	add := func(d record.Data) int {
		return record.RecordSize(int32(len(recs)), d.TimestampMs-javaReadBaseTime, d.Key, d.Value, d.Headers)
	}
	for {
		d := record.Data{TimestampMs: javaReadBaseTime + int64(len(recs)), Key: fmt.Appendf(nil, "key-%d", len(recs))}
		if len(recs)%2 == 0 {
			d.Value = g.text(g.r.IntN(3000))
		} else {
			d.Value = g.random(g.r.IntN(3000))
		}
		if size+add(d) > n-6000 {
			break
		}
		size += add(d)
		recs = append(recs, d)
	}
	// The last value's length sets its varint's, so try lengths down
	// from the room left until the record fills it exactly.
	last := record.Data{TimestampMs: javaReadBaseTime + int64(len(recs))}
	for v := n - size; v >= 0; v-- {
		last.Value = g.text(v)
		if size+add(last) == n {
			return append(recs, last)
		}
	}
	panic(fmt.Sprintf("no value fills a records section of %d bytes", n))
}

// mixRecords is a seeded batch of up to 200 KB of every kind of value: random,
// text, JSON, runs, short periods, copies of earlier values from near and
// far, empty and nil, with and without keys and headers.
func mixRecords(seed uint64) []record.Data {
	r := rand.New(rand.NewPCG(seed, 0x6a617661))
	m := &shapeGen{r: r}
	target := 1000 + r.IntN(200_000)
	var recs []record.Data
	var earlier [][]byte
	for size := 0; size < target; {
		n := int(r.ExpFloat64() * 2000)
		var v []byte
		switch r.IntN(9) {
		case 0:
			v = m.random(n)
		case 1:
			v = m.text(n)
		case 2:
			v = m.json(len(recs))
		case 3:
			v = bytes.Repeat([]byte{byte(r.Uint32())}, n)
		case 4:
			v = m.periodic(1+r.IntN(4), n)
		case 5:
			v = m.repeatOffset(n+1, 2+r.IntN(200))
		case 6:
			if len(earlier) > 0 {
				v = bytes.Clone(earlier[r.IntN(len(earlier))])
			}
		case 7:
			v = []byte{}
		}
		d := record.Data{TimestampMs: m.stamp(), Value: v}
		if r.IntN(3) > 0 {
			d.Key = fmt.Appendf(nil, "k%d", r.IntN(50))
		}
		if r.IntN(5) == 0 {
			d.Headers = []record.Header{{Key: "h", Value: m.text(r.IntN(30))}}
		}
		if v != nil {
			earlier = append(earlier, v)
		}
		recs = append(recs, d)
		size += len(v) + 10
	}
	return recs
}

// period is a stretch for sprinkled: 20 to 40 bytes repeating the
// bytes before them at a distance of one of periods, in turn.
func (g *shapeGen) period(periods ...int) func(v []byte, at int) {
	n := 0
	return func(v []byte, at int) {
		p := periods[n%len(periods)]
		n++
		for i := at + p; i < at+p+20+g.r.IntN(20); i++ {
			v[i] = v[i-p]
		}
	}
}

// holes is a stretch for sprinkled: the rest of the value copies the
// bytes p back, but for every 13th byte, so that each match after the
// first is at the previous one's offset.
func (g *shapeGen) holes(p int) func(v []byte, at int) {
	return func(v []byte, at int) {
		for i := max(at, p); i < len(v); i++ {
			if i%13 != 0 {
				v[i] = v[i-p]
			}
		}
	}
}

// sprinkled is n records of random 100-byte values, every every-th of
// which has a stretch made by stretch(value, at) in it.
func (g *shapeGen) sprinkled(n, every int, stretch func(v []byte, at int)) []record.Data {
	return g.keyed(n, func(i int) []byte {
		v := g.random(100)
		if i%every == every-1 {
			stretch(v, g.r.IntN(60))
		}
		return v
	})
}

// farAfterRun is a record whose value is 1,000 random bytes, 60,200 more,
// a run of 3,500 zero bytes, then the first 600 again: a match 64,700
// bytes back within the first 64 KiB block, which a compressor finds
// where the run has brought its search step back to the start (the
// random bytes grow it). Five records of 65,000 random bytes follow, so
// that klauspost's fastest encoder saves less than a sixty-fourth of the
// batch and zstd's default level writes it with our compressor.
func (g *shapeGen) farAfterRun() []record.Data {
	first := g.random(1000)
	v := append(bytes.Clone(first), g.random(60_200)...)
	v = append(v, make([]byte, 3_500)...)
	v = append(v, first[:600]...)
	vs := [][]byte{v}
	for range 5 {
		vs = append(vs, g.random(65_000))
	}
	return g.values(vs...)
}
