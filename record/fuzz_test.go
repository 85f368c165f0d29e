package record

import (
	"bytes"
	"testing"
)

// FuzzDecodeBatch feeds arbitrary bytes to DecodeBatch, seeded with batches
// built with every codec. Decoding must fail with a CorruptError or succeed;
// whatever decodes must come back the same after a rebuild.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(goldenBatch)
	for _, c := range allCodecs {
		f.Add(build(f, 4096, notIdempotent(c), edgeRecords()[:6]))
		f.Add(build(f, 4096, CloseOptions{Codec: c, ProducerID: 1, ProducerEpoch: 2, BaseSequence: 3, Transactional: true},
			[]testRecord{{ts: 1, key: []byte("k"), value: []byte("v")}}))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		batch, rest, err := DecodeBatch(data)
		if err != nil {
			if _, ok := err.(*CorruptError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if len(rest) > len(data) || !bytes.Equal(rest, data[len(data)-len(rest):]) {
			t.Fatal("rest is not a suffix of the input")
		}
		if len(batch.Records) == 0 {
			return // compaction can leave empty batches; Close refuses them
		}
		recs := make([]testRecord, len(batch.Records))
		for i, r := range batch.Records {
			recs[i] = testRecord{ts: batch.FirstTimestamp + r.TimestampDelta, key: r.Key, value: r.Value, headers: r.Headers}
		}
		checkDecoded(t, build(t, 2*len(data)+1024, notIdempotent(batch.Codec()), recs), recs)
	})
}
