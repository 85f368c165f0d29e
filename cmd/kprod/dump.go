package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/wire"
	"github.com/gokafka/producer/record"
)

// dumpOptions are the flags of kprod dump.
type dumpOptions struct {
	textOptions
	topic            string
	topicID          string
	partition        int32
	key, value       string
	compression      string
	compressionLevel int
	acks             string
	timeout          time.Duration
	clientID         string
	version          int16
	correlationID    int32
	timestamp        string
	raw              bool
}

func newDumpCommand(e *env) *cobra.Command {
	o := &dumpOptions{}
	supported := protocol.Supported(protocol.Produce)
	cmd := &cobra.Command{
		Use:   "dump",
		Short: "Print the bytes of the ProduceRequest that given records would make, annotated field by field",
		Long: `dump encodes records the way the producer does (the record/ and protocol/
packages) and prints the ProduceRequest they make, byte by byte: for every
field of the size prefix, the request header, the request body and each
RecordBatch and record in it, its offset, its path in the schema, its bytes in
hex and its decoded value. CRCs are checked, attributes decoded bit by bit,
compressed records decompressed and walked too. No broker is involved.

Records come from --key/--value (one record), or else from stdin, read as
"kprod produce" reads them (--delimiter, --key-separator, --parse-headers,
--null-marker).

The batch is the one a producer without idempotence sends: producerId,
producerEpoch and baseSequence are -1. The producer, idempotent by default,
sends the producer id and epoch the broker gave it and each partition's
sequence number there instead.`,
		Example: `  kprod dump --key user1 --value hello --header trace=abc --timestamp 2024-01-02T03:04:05Z
  printf 'a:1\nb:2\n' | kprod dump --key-separator : --compression zstd --version 8`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDump(cmd, e, o) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.topic, "topic", defaultTopic, "topic name in the request (Produce v3-v12; a usage error with v13+)")
	fs.StringVar(&o.topicID, "topic-id", "", "topic id in the request (Produce v13+), as Kafka prints it: 22 characters of URL-safe base64 (default: the zero id; a usage error below v13)")
	fs.Int32Var(&o.partition, "partition", 0, "partition index in the request")
	fs.StringVar(&o.key, "key", "", "the record's key (with --key or --value, the only record)")
	fs.StringVar(&o.value, "value", "", "the record's value")
	o.textOptions.register(fs)
	fs.StringVar(&o.compression, "compression", compression.None.String(), "codec: none, gzip, snappy, lz4 or zstd")
	fs.IntVar(&o.compressionLevel, "compression-level", compression.DefaultLevel, "codec level (0: the codec's default)")
	fs.StringVar(&o.acks, "acks", producer.AcksAll.String(), "acks field: all, 1 or 0")
	fs.DurationVar(&o.timeout, "request-timeout", producer.DefaultRequestTimeout, "TimeoutMs field")
	fs.StringVar(&o.clientID, "client-id", programName, "ClientId field of the header")
	fs.Int16Var(&o.version, "version", supported.Max, fmt.Sprintf("Produce version, %d to %d", supported.Min, supported.Max))
	fs.Int32Var(&o.correlationID, "correlation-id", 1, "CorrelationId field of the header")
	fs.StringVar(&o.timestamp, "timestamp", "", "records' timestamp: RFC 3339 or Unix milliseconds (default now)")
	fs.BoolVar(&o.raw, "raw", false, "write the request's bytes to stdout instead of the annotated listing")
	return cmd
}

func runDump(cmd *cobra.Command, e *env, o *dumpOptions) error {
	req, err := o.request(cmd, e)
	if err != nil {
		return err
	}
	if o.raw {
		_, err := e.stdout.Write(req)
		return err
	}
	as, walkErr := walkRequest(req)
	if err := writeAnnotations(e.stdout, as); err != nil {
		return err
	}
	if walkErr != nil {
		// Our own encoder made these bytes, so this is a bug in one of the two.
		return fmt.Errorf("the request does not decode: %w", walkErr)
	}
	return nil
}

// request encodes the frame dump prints: size prefix, header, body.
func (o *dumpOptions) request(cmd *cobra.Command, e *env) ([]byte, error) {
	supported := protocol.Supported(protocol.Produce)
	if o.version < supported.Min || o.version > supported.Max {
		return nil, usagef("--version: %d: Produce versions %d to %d are supported", o.version, supported.Min, supported.Max)
	}
	acks, err := producer.ParseAcks(o.acks)
	if err != nil {
		return nil, usagef("--acks: %v", err)
	}
	codec, err := compression.ParseCodec(o.compression)
	if err != nil {
		return nil, usagef("--compression: %q: want none, gzip, snappy, lz4 or zstd", o.compression)
	}
	if err := compression.CheckLevel(codec, o.compressionLevel); err != nil {
		return nil, usagef("--compression-level: %v", err)
	}
	if o.timeout < 0 || o.timeout > time.Duration(1<<31-1)*time.Millisecond {
		return nil, usagef("--request-timeout: %v does not fit the int32 milliseconds of TimeoutMs", o.timeout)
	}
	ts, err := parseTimestamp(o.timestamp)
	if err != nil {
		return nil, err
	}
	if err := o.checkRecordFlags(cmd.Flags().Changed); err != nil {
		return nil, err
	}
	format, err := o.textOptions.format()
	if err != nil {
		return nil, err
	}
	recs, err := o.records(cmd, e, format)
	if err != nil {
		return nil, err
	}
	if err := o.checkTopicFlag(cmd.Flags().Changed); err != nil {
		return nil, err
	}
	topicID, err := parseTopicID(o.topicID)
	if err != nil {
		return nil, usagef("--topic-id: %v", err)
	}
	batch, err := encodeBatch(recs, codec, o.compressionLevel, ts)
	if err != nil {
		return nil, err
	}
	pr := &protocol.ProduceRequest{
		Acks:      wireAcks(acks),
		TimeoutMs: int32(o.timeout / time.Millisecond),
		Topics: []protocol.ProduceRequestTopic{{
			Name:       o.topic,
			TopicID:    topicID,
			Partitions: []protocol.ProduceRequestPartition{{Index: o.partition, Records: batch}},
		}},
	}
	clientID := o.clientID
	frame := []byte{0, 0, 0, 0} // the size, patched below
	frame = protocol.AppendRequestHeader(frame, protocol.Produce, o.version, o.correlationID, &clientID)
	frame = pr.AppendTo(frame, o.version)
	size := len(frame) - 4
	frame[0], frame[1], frame[2], frame[3] = byte(size>>24), byte(size>>16), byte(size>>8), byte(size)
	return frame, nil
}

// checkTopicFlag refuses a --topic or --topic-id that the --version does
// not carry: a request names its topic by name up to v12 and by id from
// v13 (KIP-516), and the other flag was left out of the request silently.
func (o *dumpOptions) checkTopicFlag(changed func(string) bool) error {
	byID := o.version >= protocol.ProduceTopicIDVersion
	switch {
	case byID && changed("topic"):
		return usagef("--topic: Produce v%d names the topic by id (--topic-id), not by name (v%d and before)",
			o.version, protocol.ProduceTopicIDVersion-1)
	case !byID && changed("topic-id"):
		return usagef("--topic-id: Produce v%d names the topic by name (--topic); by id from v%d",
			o.version, protocol.ProduceTopicIDVersion)
	}
	return nil
}

// checkRecordFlags refuses the flags of stdin's records with --key or
// --value, which make the only record and leave stdin unread: they were
// accepted and ignored.
func (o *dumpOptions) checkRecordFlags(changed func(string) bool) error {
	if changed("key") || changed("value") {
		for _, f := range stdinFormatFlags {
			if changed(f) {
				return usagef("--%s: not with --key/--value, which make the only record; it is for records read from stdin", f)
			}
		}
	}
	return o.textOptions.checkCombination(changed)
}

// parseTopicID reads a topic id as Kafka prints it (Uuid.toString: the 16
// bytes in URL-safe base64, unpadded); "" is the zero id.
func parseTopicID(s string) (wire.UUID, error) {
	var id wire.UUID
	if s == "" {
		return id, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("%q is not a topic id: want 22 characters of URL-safe base64 (16 bytes)", s)
	}
	copy(id[:], b)
	return id, nil
}

// formatTopicID is parseTopicID's inverse; b is 16 bytes.
func formatTopicID(b []byte) string { return wire.UUID(b).String() }

// wireAcks is the ProduceRequest's acks field for a setting.
func wireAcks(a producer.Acks) int16 {
	switch a {
	case producer.AcksLeader:
		return 1
	case producer.AcksNone:
		return 0
	}
	return -1
}

// records are the records to dump: the one of --key/--value, else the lines
// of stdin, else (stdin being a terminal) an example.
func (o *dumpOptions) records(cmd *cobra.Command, e *env, f *lineFormat) ([]producer.Record, error) {
	changed := cmd.Flags().Changed
	if changed("key") || changed("value") {
		r := producer.Record{Value: []byte(o.value), Headers: f.headers}
		if changed("key") {
			r.Key = []byte(o.key)
		}
		return []producer.Record{r}, nil
	}
	if isTerminal(e.stdin) {
		fmt.Fprintf(e.stderr, "%s: no --key/--value and stdin is a terminal: dumping an example record\n", programName)
		return []producer.Record{{Key: []byte("key"), Value: []byte("hello, kafka"), Headers: f.headers}}, nil
	}
	var recs []producer.Record
	var parseErr error
	err := readRecords(e.stdin, f.delimiter, func(text []byte) bool {
		var r producer.Record
		if parseErr = f.parse(text, &r); parseErr != nil {
			parseErr = fmt.Errorf("record %d of stdin: %w", len(recs)+1, parseErr)
			return false
		}
		recs = append(recs, cloneRecord(r))
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	if parseErr != nil {
		return nil, parseErr
	}
	if len(recs) == 0 {
		return nil, usagef("--value: no records: give --key/--value or lines on stdin")
	}
	return recs, nil
}

// cloneRecord copies what r's slices share with the text it was read from;
// nil stays nil.
func cloneRecord(r producer.Record) producer.Record {
	r.Key, r.Value = bytes.Clone(r.Key), bytes.Clone(r.Value)
	hs := make([]producer.Header, len(r.Headers))
	for i, h := range r.Headers {
		hs[i] = producer.Header{Key: h.Key, Value: bytes.Clone(h.Value)}
	}
	r.Headers = hs
	return r
}

// parseTimestamp reads --timestamp: RFC 3339, or Unix milliseconds.
func parseTimestamp(s string) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, usagef("--timestamp: %q is neither RFC 3339 (2024-01-02T03:04:05Z) nor Unix milliseconds", s)
	}
	return t, nil
}

// encodeBatch makes the RecordBatch a producer without idempotence would
// send for recs, with the record package's Builder, as the accumulator
// does: no producer id, epoch or sequence, which the idempotent producer
// (the default) gets from the broker and its partitions' state. The buffer has room
// for compressed records larger than the plain ones (tiny batches grow when
// compressed), so that the codec asked for is the codec shown.
func encodeBatch(recs []producer.Record, codec compression.Codec, level int, ts time.Time) ([]byte, error) {
	size := record.BatchHeaderSize
	for _, r := range recs {
		size += record.RecordSize(int32(len(recs)), 0, r.Key, r.Value, r.Headers)
	}
	var b record.Builder
	b.Reset(make([]byte, 0, 2*size+1024))
	for _, r := range recs {
		b.Append(ts.UnixMilli(), r.Key, r.Value, r.Headers)
	}
	batch, err := b.Close(record.CloseOptions{
		Codec:         codec,
		Level:         level,
		ProducerID:    record.NoProducerID,
		ProducerEpoch: record.NoProducerEpoch,
		BaseSequence:  record.NoSequence,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding the batch: %w", err)
	}
	return batch, nil
}
