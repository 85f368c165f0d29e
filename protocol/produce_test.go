package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"reflect"
	"strconv"
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

func newProduceRequest() Message  { return new(ProduceRequest) }
func newProduceResponse() Message { return new(ProduceResponse) }

// knownBatch is a RecordBatch v2 holding one record, key null and value
// "hello", written by hand from Kafka's documentation (Implementation,
// 5.3.1); its CRC-32C was computed with hash/crc32 (Castagnoli) and
// TestKnownBatchIsSound recomputes it. This package treats it as opaque
// bytes.
const knownBatch = "" +
	"0000000000000000" + // baseOffset 0
	"0000003d" + // batchLength 61: all 73 bytes but baseOffset and batchLength
	"ffffffff" + // partitionLeaderEpoch -1, as a producer sends it
	"02" + // magic 2
	"e641a44b" + // crc: CRC-32C of everything from attributes on
	"0000" + // attributes: no compression, CreateTime
	"00000000" + // lastOffsetDelta 0
	"0000018bcfe56800" + // baseTimestamp 1700000000000
	"0000018bcfe56800" + // maxTimestamp 1700000000000
	"ffffffffffffffff" + // producerId -1: not idempotent
	"ffff" + // producerEpoch -1
	"ffffffff" + // baseSequence -1
	"00000001" + // records: 1
	"16" + // record length 11 (varint zigzag)
	"00" + // attributes
	"00" + // timestampDelta 0
	"00" + // offsetDelta 0
	"01" + // keyLength -1: null key
	"0a" + // valueLength 5
	"68656c6c6f" + // "hello"
	"00" // headers: 0

func knownBatchBytes(t testing.TB) []byte {
	t.Helper()
	b, err := hex.DecodeString(knownBatch)
	if err != nil || len(b) != 73 {
		t.Fatalf("knownBatch: %d bytes, %v", len(b), err)
	}
	return b
}

func TestKnownBatchIsSound(t *testing.T) {
	b := knownBatchBytes(t)
	if got := int(binary.BigEndian.Uint32(b[8:12])); got != len(b)-12 {
		t.Errorf("batchLength %d, want %d", got, len(b)-12)
	}
	crc := crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli))
	if got := binary.BigEndian.Uint32(b[17:21]); got != crc {
		t.Errorf("crc %08x, want %08x", got, crc)
	}
}

// fullProduceRequest sets every field that exists at v, including a null
// and an empty Records to check that they stay apart.
func fullProduceRequest(t testing.TB, v int16) *ProduceRequest {
	r := &ProduceRequest{
		TransactionalID: strp("txn-1"),
		Acks:            -1,
		TimeoutMs:       30000,
		Topics: []ProduceRequestTopic{
			{Name: "orders", Partitions: []ProduceRequestPartition{
				{Index: 0, Records: knownBatchBytes(t)},
				{Index: 1},
				{Index: 2, Records: []byte{}},
			}},
			{Name: "audit", Partitions: []ProduceRequestPartition{{Index: 7, Records: knownBatchBytes(t)}}},
		},
	}
	nameOrID(v, r.Topics, func(t *ProduceRequestTopic) (*string, *wire.UUID) { return &t.Name, &t.TopicID })
	if IsFlexible(Produce, v) {
		r.UnknownTags = someTags()
		for i := range r.Topics {
			r.Topics[i].UnknownTags = someTags()
			for j := range r.Topics[i].Partitions {
				r.Topics[i].Partitions[j].UnknownTags = someTags()
			}
		}
	}
	return r
}

// fullProduceResponse sets every field that exists at v to a value other
// than its default, and leaves the others at the defaults a decoder fills in.
func fullProduceResponse(v int16) *ProduceResponse {
	r := &ProduceResponse{
		Topics: []ProduceResponseTopic{{Name: "orders", Partitions: []ProduceResponsePartition{
			{Index: 0, BaseOffset: 1000, LogAppendTimeMs: -1, LogStartOffset: -1},
			{Index: 1, ErrorCode: 6, BaseOffset: -1, LogAppendTimeMs: -1, LogStartOffset: -1},
		}}},
	}
	nameOrID(v, r.Topics, func(t *ProduceResponseTopic) (*string, *wire.UUID) { return &t.Name, &t.TopicID })
	ps := r.Topics[0].Partitions
	if v >= 1 {
		r.ThrottleTimeMs = 100
	}
	if v >= 2 {
		ps[0].LogAppendTimeMs = 1700000000000
	}
	if v >= 5 {
		ps[0].LogStartOffset = 17
	}
	if v >= 8 {
		ps[1].RecordErrors = []ProduceResponseRecordError{
			{BatchIndex: 3, BatchIndexErrorMessage: strp("bad key")},
			{BatchIndex: 4},
		}
		ps[1].ErrorMessage = strp("invalid record")
	}
	if v >= 9 {
		r.UnknownTags = someTags()
		r.Topics[0].UnknownTags = someTags()
		for i := range ps {
			ps[i].UnknownTags = someTags()
		}
		for i := range ps[1].RecordErrors {
			ps[1].RecordErrors[i].UnknownTags = someTags()
		}
	}
	if v >= 10 {
		ps[1].CurrentLeader = &ProduceResponseLeader{LeaderID: 2, LeaderEpoch: 9, UnknownTags: someTags()}
		r.NodeEndpoints = []ProduceResponseNodeEndpoint{
			{NodeID: 2, Host: "b2.example", Port: 9092, Rack: strp("rack-b"), UnknownTags: someTags()},
			{NodeID: 3, Host: "b3.example", Port: 9093},
		}
	}
	return r
}

func TestProduceRoundTrip(t *testing.T) {
	for v := Supported(Produce).Min; v <= Supported(Produce).Max; v++ {
		roundTrip(t, fullProduceRequest(t, v), newProduceRequest, v)
		roundTrip(t, fullProduceResponse(v), newProduceResponse, v)
	}
}

// TestProduceV12IsV11: v12 only changes what a broker does with a
// transactional request (KIP-890), not the bytes.
func TestProduceV12IsV11(t *testing.T) {
	if a, b := fullProduceRequest(t, 12).AppendTo(nil, 12), fullProduceRequest(t, 11).AppendTo(nil, 11); !bytes.Equal(a, b) {
		t.Errorf("request v12 differs from v11")
	}
	if a, b := fullProduceResponse(12).AppendTo(nil, 12), fullProduceResponse(11).AppendTo(nil, 11); !bytes.Equal(a, b) {
		t.Errorf("response v12 differs from v11")
	}
}

// TestProduceResponseLeaderPresence: a CurrentLeader of -1/-1 is still a
// tag that was sent, so it must not read back as absent.
func TestProduceResponseLeaderPresence(t *testing.T) {
	r := fullProduceResponse(10)
	r.Topics[0].Partitions[0].CurrentLeader = &ProduceResponseLeader{LeaderID: -1, LeaderEpoch: -1}
	roundTrip(t, r, newProduceResponse, 10)
	// Before v10 the tag does not exist and is not sent.
	var old ProduceResponse
	if err := old.ReadFrom(r.AppendTo(nil, 9), 9); err != nil {
		t.Fatal(err)
	}
	for _, p := range old.Topics[0].Partitions {
		if p.CurrentLeader != nil {
			t.Errorf("v9: partition %d has a leader hint", p.Index)
		}
	}
	if old.NodeEndpoints != nil {
		t.Errorf("v9: node endpoints %v", old.NodeEndpoints)
	}
}

// TestProduceRequestV3Golden is written by hand from RequestHeader.json and
// ProduceRequest.json: header v1, then the classic encodings.
func TestProduceRequestV3Golden(t *testing.T) {
	want := fromHexLines(t,
		"0000",            // request_api_key 0 (Produce)
		"0003",            // request_api_version 3
		"00000001",        // correlation_id 1
		"0005 6b70726f64", // client_id "kprod"
		// header v1: no tagged fields
		"ffff",              // transactional_id: null (INT16 -1)
		"ffff",              // acks -1 (all in-sync replicas)
		"00007530",          // timeout_ms 30000
		"00000001",          // topic_data: ARRAY of 1
		"0006 6576656e7473", // name "events"
		"00000001",          // partition_data: ARRAY of 1
		"00000000",          // index 0
		"00000049",          // records: INT32 length 73
		knownBatch,
	)
	req := &ProduceRequest{Acks: -1, TimeoutMs: 30000, Topics: []ProduceRequestTopic{
		{Name: "events", Partitions: []ProduceRequestPartition{{Index: 0, Records: knownBatchBytes(t)}}},
	}}
	checkRequestGolden(t, req, 3, 1, want)
}

// TestProduceRequestV9Golden is the same request at the first flexible
// version: header v2, compact lengths (n+1), a tagged-field section per
// struct.
func TestProduceRequestV9Golden(t *testing.T) {
	want := fromHexLines(t,
		"0000",            // request_api_key 0 (Produce)
		"0009",            // request_api_version 9
		"00000002",        // correlation_id 2
		"0005 6b70726f64", // client_id "kprod": still INT16 length in header v2
		"00",              // header tagged fields: none
		"03 7478",         // transactional_id "tx": COMPACT_NULLABLE_STRING, 2+1
		"ffff",            // acks -1
		"00007530",        // timeout_ms 30000
		"02",              // topic_data: COMPACT_ARRAY of 1
		"07 6576656e7473", // name "events": 6+1
		"02",              // partition_data: COMPACT_ARRAY of 1
		"00000000",        // index 0
		"4a",              // records: COMPACT_RECORDS, length 73+1
		knownBatch,
		"00", // partition tagged fields: none
		"00", // topic tagged fields: none
		"00", // request tagged fields: none
	)
	req := &ProduceRequest{TransactionalID: strp("tx"), Acks: -1, TimeoutMs: 30000, Topics: []ProduceRequestTopic{
		{Name: "events", Partitions: []ProduceRequestPartition{{Index: 0, Records: knownBatchBytes(t)}}},
	}}
	checkRequestGolden(t, req, 9, 2, want)
}

// checkRequestGolden encodes header and body and compares them with want,
// then reads want back into the request.
func checkRequestGolden(t *testing.T, req *ProduceRequest, v int16, corr int32, want []byte) {
	t.Helper()
	clientID := "kprod"
	got := req.AppendTo(AppendRequestHeader(nil, Produce, v, corr, &clientID), v)
	if !bytes.Equal(got, want) {
		t.Fatalf("got\n%swant\n%s", hex.Dump(got), hex.Dump(want))
	}
	api, gotV, gotCorr, id, body, err := ReadRequestHeader(want)
	if err != nil || api != Produce || gotV != v || gotCorr != corr || id == nil || *id != clientID {
		t.Fatalf("header: %s v%d corr %d id %v: %v", api, gotV, gotCorr, id, err)
	}
	var back ProduceRequest
	if err := back.ReadFrom(body, v); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, req) {
		t.Fatalf("got %#v\nwant %#v", back, req)
	}
}

// TestProduceResponseV10Golden is written by hand from ResponseHeader.json
// and ProduceResponse.json: a NOT_LEADER_OR_FOLLOWER with the KIP-951
// leader hint and the new leader's endpoint, plus a tag we do not know,
// which must follow the known tag 0.
func TestProduceResponseV10Golden(t *testing.T) {
	golden := fromHexLines(t,
		"0000002a",            // correlation_id 42
		"00",                  // response header v1 tagged fields: none
		"02",                  // responses: COMPACT_ARRAY of 1
		"07 6576656e7473",     // name "events"
		"02",                  // partition_responses: COMPACT_ARRAY of 1
		"00000000",            // index 0
		"0006",                // error_code 6 NOT_LEADER_OR_FOLLOWER
		"ffffffffffffffff",    // base_offset -1
		"ffffffffffffffff",    // log_append_time_ms -1
		"ffffffffffffffff",    // log_start_offset -1
		"01",                  // record_errors: empty
		"00",                  // error_message: null
		"01",                  // partition tagged fields: 1
		"00 09",               //   tag 0 current_leader, 9 bytes:
		"00000002",            //     leader_id 2
		"00000007",            //     leader_epoch 7
		"00",                  //     its tagged fields: none
		"00",                  // topic tagged fields: none
		"00000000",            // throttle_time_ms 0
		"02",                  // tagged fields: 2
		"00 14",               //   tag 0 node_endpoints, 20 bytes:
		"02",                  //     COMPACT_ARRAY of 1
		"00000002",            //     node_id 2
		"09 62726f6b65722d32", //   host "broker-2"
		"00002384",            //     port 9092
		"00",                  //     rack: null
		"00",                  //     its tagged fields: none
		"05 02 abcd",          //   tag 5, 2 bytes, unknown to us
	)
	msg := &ProduceResponse{
		Topics: []ProduceResponseTopic{{Name: "events", Partitions: []ProduceResponsePartition{{
			ErrorCode:       6,
			BaseOffset:      -1,
			LogAppendTimeMs: -1,
			LogStartOffset:  -1,
			CurrentLeader:   &ProduceResponseLeader{LeaderID: 2, LeaderEpoch: 7},
		}}}},
		NodeEndpoints: []ProduceResponseNodeEndpoint{{NodeID: 2, Host: "broker-2", Port: 9092}},
		UnknownTags:   []wire.TaggedField{{Tag: 5, Data: []byte{0xab, 0xcd}}},
	}
	checkProduceResponseGolden(t, msg, golden, 10, 42)
}

// checkProduceResponseGolden checks that msg, framed with correlation id
// corr, encodes at version v to golden, whose header and body read back to
// msg.
func checkProduceResponseGolden(t *testing.T, msg *ProduceResponse, golden []byte, v int16, corr int32) {
	t.Helper()
	got := msg.AppendTo(AppendResponseHeader(nil, Produce, v, corr), v)
	if !bytes.Equal(got, golden) {
		t.Fatalf("got\n%swant\n%s", hex.Dump(got), hex.Dump(golden))
	}
	gotCorr, body, err := ReadResponseHeader(golden, Produce, v)
	if err != nil || gotCorr != corr {
		t.Fatalf("header: corr %d, %v", gotCorr, err)
	}
	var back ProduceResponse
	if err := back.ReadFrom(body, v); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, msg) {
		t.Fatalf("got %#v\nwant %#v", back, msg)
	}
}

// TestProduceUnknownTagsSorted: kept tags handed over out of order, or with
// the number of a known tag that is set, still make a valid section.
func TestProduceUnknownTagsSorted(t *testing.T) {
	r := fullProduceResponse(10)
	r.UnknownTags = []wire.TaggedField{{Tag: 9, Data: []byte{9}}, {Tag: 0, Data: []byte{0}}, {Tag: 4, Data: []byte{4}}}
	b := r.AppendTo(nil, 10)
	var back ProduceResponse
	if err := back.ReadFrom(b, 10); err != nil {
		t.Fatalf("%v\n%s", err, hex.Dump(b))
	}
	want := []wire.TaggedField{{Tag: 4, Data: []byte{4}}, {Tag: 9, Data: []byte{9}}}
	if !reflect.DeepEqual(back.UnknownTags, want) || !reflect.DeepEqual(back.NodeEndpoints, r.NodeEndpoints) {
		t.Fatalf("got tags %v endpoints %v", back.UnknownTags, back.NodeEndpoints)
	}
}

func TestProduceMalformed(t *testing.T) {
	for v := Supported(Produce).Min; v <= Supported(Produce).Max; v++ {
		checkMalformedFails(t, fullProduceRequest(t, v), newProduceRequest, v)
		checkMalformedFails(t, fullProduceResponse(v), newProduceResponse, v)
	}
	checkVersionRange(t, newProduceRequest)
	checkVersionRange(t, newProduceResponse)

	cases := []struct {
		name string
		v    int16
		hex  string
		want error
	}{
		{"records longer than the input", 3, "ffff ffff 00007530 00000001 0001 74 00000001 00000000 00000010 00", wire.ErrTruncated},
		{"negative string length", 3, "ffff ffff 00007530 00000001 fffe 74 00000000", wire.ErrMalformed},
		{"null topic array", 9, "00 ffff 00007530 00 00", wire.ErrMalformed},
		{"over-long varint", 9, "00 ffff 00007530 ffffffffff7f", wire.ErrMalformed},
	}
	for _, c := range cases {
		b := fromHexLines(t, c.hex)
		requireDecodeError(t, new(ProduceRequest).ReadFrom(b, c.v), Produce, c.v, len(b), c.want)
	}
}

func FuzzProduceRequest(f *testing.F) {
	for v := Supported(Produce).Min; v <= Supported(Produce).Max; v++ {
		f.Add(byte(v-3), fullProduceRequest(f, v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, Produce, newProduceRequest, versionFrom(Produce, sel), data)
	})
}

func FuzzProduceResponse(f *testing.F) {
	for v := Supported(Produce).Min; v <= Supported(Produce).Max; v++ {
		f.Add(byte(v-3), fullProduceResponse(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, Produce, newProduceResponse, versionFrom(Produce, sel), data)
	})
}

// BenchmarkProduceRequestAppend encodes what a sender sends to one broker:
// 10 partitions of 16 KiB batches, into a buffer reused across requests.
// It must not allocate.
func BenchmarkProduceRequestAppend(b *testing.B) {
	batch := bytes.Repeat([]byte{0x5a}, 16<<10)
	req := &ProduceRequest{Acks: -1, TimeoutMs: 30000, Topics: []ProduceRequestTopic{{Name: "bench"}}}
	for i := range 10 {
		req.Topics[0].Partitions = append(req.Topics[0].Partitions, ProduceRequestPartition{Index: int32(i), Records: batch})
	}
	for _, v := range []int16{3, 11, ProduceTopicIDVersion} {
		b.Run("v"+strconv.Itoa(int(v)), func(b *testing.B) {
			buf := req.AppendTo(nil, v)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = req.AppendTo(buf[:0], v)
			}
		})
	}
}

// BenchmarkProduceResponseRead decodes a response for 10 topics of 10
// partitions each.
func BenchmarkProduceResponseRead(b *testing.B) {
	resp := &ProduceResponse{}
	for i := range 10 {
		t := ProduceResponseTopic{Name: "topic-" + strconv.Itoa(i)}
		for p := range 10 {
			t.Partitions = append(t.Partitions, ProduceResponsePartition{Index: int32(p), BaseOffset: int64(p) << 20, LogAppendTimeMs: -1, LogStartOffset: 0})
		}
		resp.Topics = append(resp.Topics, t)
	}
	body := resp.AppendTo(nil, 11)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var r ProduceResponse
	for b.Loop() {
		if err := r.ReadFrom(body, 11); err != nil {
			b.Fatal(err)
		}
	}
}

// TestProduceSplicedJoinsToAppendTo holds AppendSplicedTo to AppendTo's
// bytes at every version: the encoding with each splice put back where it
// says is the whole request, nil and empty records included, and only
// records are left out.
func TestProduceSplicedJoinsToAppendTo(t *testing.T) {
	for v := Supported(Produce).Min; v <= Supported(Produce).Max; v++ {
		r := fullProduceRequest(t, v)
		want := r.AppendTo([]byte("head"), v)
		enc, splices := r.AppendSplicedTo([]byte("head"), v, nil)
		if len(splices) != 2 {
			t.Fatalf("v%d: %d splices, want the 2 partitions with records", v, len(splices))
		}
		var got []byte
		at := 0
		for _, s := range splices {
			got = append(append(got, enc[at:s.At]...), s.Bytes...)
			at = s.At
		}
		got = append(got, enc[at:]...)
		if !bytes.Equal(got, want) {
			t.Errorf("v%d: the spliced request joined differs from AppendTo's", v)
		}
		if len(enc)+len(splices[0].Bytes)+len(splices[1].Bytes) != len(want) {
			t.Errorf("v%d: the encoding left out more than the records", v)
		}
	}
}
