package integration

// How TestJavaConsumerReadsOurBatches reads what ReadBatches.java printed
// and compares it with the batches written.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/record"
)

// javaReadRecord is one record as ReadBatches.java prints it.
type javaReadRecord struct {
	offset, timestamp int64
	key, value        []byte
	headers           []record.Header
}

// compareJavaRead checks what ReadBatches.java printed (out) against the
// batches written, batch by batch and record by record, and returns how they
// differ. It stops where it can no longer tell which batch a line is of.
func compareJavaRead(batches []*javaReadBatch, out []byte) []string {
	var problems []string
	report := func(b *javaReadBatch, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%v: ", b)+fmt.Sprintf(format, args...))
	}
	lines := bufio.NewScanner(bytes.NewReader(out))
	lines.Buffer(nil, 64<<20)
	next := func() []string {
		if !lines.Scan() {
			return nil
		}
		return strings.Split(lines.Text(), "\t")
	}
	line := next()
	for _, b := range batches {
		if line == nil || line[0] != "B" && line[0] != "E" || len(line) < 3 {
			report(b, "ReadBatches.java printed %q where the batch should start", line)
			return problems
		}
		if line[1] != strconv.FormatInt(b.base, 10) {
			report(b, "ReadBatches.java read a batch at offset %s", line[1])
			return problems
		}
		if line[0] == "E" {
			report(b, "the Java consumer failed before the batch's records: %s", line[2])
			line = next()
			continue
		}
		if line[2] != b.codec.String() {
			report(b, "the Java consumer reads its codec as %s", line[2])
		}
		mismatches := 0
		for i, d := range b.shape.records {
			line = next()
			if line == nil || line[0] != "R" {
				if line != nil && line[0] == "E" {
					report(b, "the Java consumer failed at record %d: %s", i, line[2])
					line = next()
				} else {
					report(b, "the Java consumer read %d records, want %d", i, len(b.shape.records))
				}
				break
			}
			got, err := parseJavaReadRecord(line)
			if err != nil {
				report(b, "record %d: %v", i, err)
				return problems
			}
			if diff := javaReadDiff(b.base+int64(i), &d, got); diff != "" {
				report(b, "record %d: %s", i, diff)
				if mismatches++; mismatches == 3 {
					report(b, "not comparing its other records")
					for line != nil && line[0] == "R" {
						line = next()
					}
					break
				}
			}
		}
		if line != nil && line[0] == "R" {
			line = next()
		}
		if line != nil && line[0] == "R" {
			report(b, "the Java consumer read more than its %d records", len(b.shape.records))
			for line != nil && line[0] == "R" {
				line = next()
			}
		}
		// What was read of a batch is printed before its error, so one
		// that fails once its records are read (a frame's end, the
		// iterator's close) has its E line after them.
		if line != nil && line[0] == "E" && len(line) >= 3 && line[1] == strconv.FormatInt(b.base, 10) {
			report(b, "the Java consumer failed after its records: %s", line[2])
			line = next()
		}
	}
	if line != nil {
		problems = append(problems, fmt.Sprintf("ReadBatches.java printed %q after the last batch", line))
	}
	return problems
}

// parseJavaReadRecord reads an R line of ReadBatches.java.
func parseJavaReadRecord(f []string) (*javaReadRecord, error) {
	if len(f) < 6 {
		return nil, fmt.Errorf("a record line of %d fields: %q", len(f), f)
	}
	var r javaReadRecord
	var err error
	field := func(s string) []byte {
		if s == "-" || err != nil {
			return nil
		}
		var b []byte
		b, err = base64.StdEncoding.AppendDecode([]byte{}, []byte(s))
		return b
	}
	if r.offset, err = strconv.ParseInt(f[1], 10, 64); err != nil {
		return nil, err
	}
	if r.timestamp, err = strconv.ParseInt(f[2], 10, 64); err != nil {
		return nil, err
	}
	if r.key, r.value = field(f[3]), field(f[4]); err != nil {
		return nil, fmt.Errorf("its key or value: %w", err)
	}
	n, nerr := strconv.Atoi(f[5])
	if nerr != nil || len(f) != 6+2*n {
		return nil, fmt.Errorf("a record line of %d fields for %q headers", len(f), f[5])
	}
	for i := range n {
		r.headers = append(r.headers, record.Header{Key: string(field(f[6+2*i])), Value: field(f[7+2*i])})
	}
	return &r, err
}

// javaReadDiff says how the record Java read differs from the one written
// at offset, or "" if it does not.
func javaReadDiff(offset int64, want *record.Data, got *javaReadRecord) string {
	switch {
	case got.offset != offset:
		return fmt.Sprintf("offset %d, want %d", got.offset, offset)
	case got.timestamp != want.TimestampMs:
		return fmt.Sprintf("timestamp %d, want %d", got.timestamp, want.TimestampMs)
	case !sameRecordBytes(want.Key, got.key):
		return "key " + bytesDiff(want.Key, got.key)
	case !sameRecordBytes(want.Value, got.value):
		return "value " + bytesDiff(want.Value, got.value)
	case len(got.headers) != len(want.Headers):
		return fmt.Sprintf("%d headers, want %d", len(got.headers), len(want.Headers))
	}
	for i, h := range want.Headers {
		if got.headers[i].Key != h.Key {
			return fmt.Sprintf("header %d's key %q, want %q", i, got.headers[i].Key, h.Key)
		}
		if !sameRecordBytes(h.Value, got.headers[i].Value) {
			return fmt.Sprintf("header %d's value %s", i, bytesDiff(h.Value, got.headers[i].Value))
		}
	}
	return ""
}

// bytesDiff describes how got differs from want: null, its length, and
// the first byte that differs with a few around it.
func bytesDiff(want, got []byte) string {
	switch {
	case want == nil:
		return fmt.Sprintf("is %d bytes, want null", len(got))
	case got == nil:
		return fmt.Sprintf("is null, want %d bytes", len(want))
	}
	at := 0
	for at < len(want) && at < len(got) && want[at] == got[at] {
		at++
	}
	around := func(b []byte) []byte { return b[max(0, at-8):min(len(b), at+8)] }
	return fmt.Sprintf("is %d bytes, want %d: first difference at byte %d, %x where %x is written",
		len(got), len(want), at, around(got), around(want))
}

// lastLines is s's last n lines.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestParseJavaReadRecordRefusesBadBase64 has a record line whose key,
// value or header is not base64 refused, not read as empty bytes.
func TestParseJavaReadRecordRefusesBadBase64(t *testing.T) {
	for _, line := range []string{
		"R\t7\t1000\t!!\t-\t0",
		"R\t7\t1000\t-\t!!\t0",
		"R\t7\t1000\t-\t-\t1\t!!\t-",
		"R\t7\t1000\t-\t-\t1\taA==\t!!",
	} {
		if r, err := parseJavaReadRecord(strings.Split(line, "\t")); err == nil {
			t.Errorf("%q: read as %+v, want an error", line, r)
		}
	}
	r, err := parseJavaReadRecord(strings.Split("R\t7\t1000\taw==\t-\t1\taA==\t-", "\t"))
	if err != nil || string(r.key) != "k" || r.value != nil || len(r.headers) != 1 || r.headers[0].Key != "h" {
		t.Errorf("a good line: %+v, %v", r, err)
	}
}

// TestCompareJavaReadNamesTheBatchThatFailedAfterItsRecords has a batch
// whose reading throws after its last record blamed, not the next batch,
// and the batches after it still compared.
func TestCompareJavaReadNamesTheBatchThatFailedAfterItsRecords(t *testing.T) {
	shape := &javaReadShape{name: "two records", records: []record.Data{
		{TimestampMs: 1000, Key: []byte("k"), Value: []byte("v")},
		{TimestampMs: 1001, Value: []byte{}},
	}}
	batches := []*javaReadBatch{
		{codec: compression.None, shape: shape, base: 0},
		{codec: compression.None, shape: shape, base: 3},
		{codec: compression.None, shape: shape, base: 6},
	}
	field := func(b []byte) string {
		if b == nil {
			return "-"
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	var out strings.Builder
	for _, b := range batches {
		fmt.Fprintf(&out, "B\t%d\t%v\t2\n", b.base, b.codec)
		for i, d := range shape.records {
			if b.base == 6 && i == 0 {
				d.Value = []byte("w") // the third batch is compared too
			}
			fmt.Fprintf(&out, "R\t%d\t%d\t%s\t%s\t0\n", b.base+int64(i), d.TimestampMs, field(d.Key), field(d.Value))
		}
		if b.base == 0 {
			out.WriteString("E\t0\tjava.io.IOException: trailing bytes\n")
		}
	}
	got := compareJavaRead(batches, []byte(out.String()))
	want := []string{
		batches[0].String() + ": the Java consumer failed after its records: java.io.IOException: trailing bytes",
		batches[2].String() + ": record 0: value " + bytesDiff([]byte("v"), []byte("w")),
	}
	if !slices.Equal(got, want) {
		t.Errorf("compareJavaRead found\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
