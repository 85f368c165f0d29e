package record

import (
	"bytes"
	"encoding/hex"
	"hash/crc32"
	"testing"

	"github.com/gokafka/producer/compression"
)

// goldenBatch is a two-record batch written by hand from the RecordBatch v2
// layout in Kafka's documentation (Implementation, 5.3.1). The CRC was
// computed with a bitwise CRC-32C (polynomial 0x82F63B78, reflected)
// independent of hash/crc32.
var goldenBatch = []byte{
	0, 0, 0, 0, 0, 0, 0, 0, // baseOffset 0
	0, 0, 0, 0x4a, // batchLength 74 = 86 bytes in all - 12
	0xff, 0xff, 0xff, 0xff, // partitionLeaderEpoch -1
	0x02,                   // magic 2
	0xfb, 0x10, 0x87, 0x3d, // crc: CRC-32C of the 65 bytes from attributes on
	0x00, 0x00, // attributes: codec none, CreateTime, not transactional
	0, 0, 0, 1, // lastOffsetDelta 1
	0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // baseTimestamp 1700000000000
	0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x05, // maxTimestamp 1700000000005
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // producerId -1
	0xff, 0xff, // producerEpoch -1
	0xff, 0xff, 0xff, 0xff, // baseSequence -1
	0, 0, 0, 2, // records count 2

	// record 0: key "k", value "v1", no headers
	0x12,      // length 9 (zigzag 18)
	0x00,      // attributes
	0x00,      // timestampDelta 0
	0x00,      // offsetDelta 0
	0x02, 'k', // keyLength 1, key
	0x04, 'v', '1', // valueLength 2, value
	0x00, // headers count 0

	// record 1: nil key, value "hello", header "h" with a nil value
	0x1c,                          // length 14 (zigzag 28)
	0x00,                          // attributes
	0x0a,                          // timestampDelta 5 (zigzag 10)
	0x02,                          // offsetDelta 1
	0x01,                          // keyLength -1: nil key
	0x0a, 'h', 'e', 'l', 'l', 'o', // valueLength 5, value
	0x02,      // headers count 1
	0x02, 'h', // header key length 1, key
	0x01, // header value length -1: nil value
}

func TestGoldenBatch(t *testing.T) {
	var b Builder
	b.Reset(make([]byte, 0, 128))
	b.Append(1700000000000, []byte("k"), []byte("v1"), nil)
	b.Append(1700000000005, nil, []byte("hello"), []Header{{Key: "h"}})
	got, err := b.Close(notIdempotent(compression.None))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, goldenBatch) {
		t.Fatalf("built batch differs\ngot:\n%s\nwant:\n%s", hex.Dump(got), hex.Dump(goldenBatch))
	}

	batch, rest, err := DecodeBatch(goldenBatch)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 0 || batch.CRC != 0xfb10873d || batch.BatchLength != 74 || batch.LastOffsetDelta != 1 ||
		batch.PartitionLeaderEpoch != -1 || batch.FirstTimestamp != 1700000000000 || batch.MaxTimestamp != 1700000000005 ||
		batch.ProducerID != -1 || batch.ProducerEpoch != -1 || batch.BaseSequence != -1 || len(batch.Records) != 2 {
		t.Fatalf("decoded header: %+v", batch)
	}
	r0, r1 := batch.Records[0], batch.Records[1]
	if string(r0.Key) != "k" || string(r0.Value) != "v1" || r0.Headers != nil {
		t.Fatalf("record 0: %+v", r0)
	}
	if r1.Key != nil || string(r1.Value) != "hello" || r1.TimestampDelta != 5 || r1.OffsetDelta != 1 ||
		len(r1.Headers) != 1 || r1.Headers[0].Key != "h" || r1.Headers[0].Value != nil {
		t.Fatalf("record 1: %+v", r1)
	}
}

// TestCRC32C checks the table against the standard CRC-32C check value.
func TestCRC32C(t *testing.T) {
	if got := crc32.Checksum([]byte("123456789"), castagnoli); got != 0xe3069283 {
		t.Fatalf("CRC-32C check value %#x, want 0xe3069283", got)
	}
}

func notIdempotent(c compression.Codec) CloseOptions {
	return CloseOptions{Codec: c, ProducerID: NoProducerID, ProducerEpoch: NoProducerEpoch, BaseSequence: NoSequence}
}
