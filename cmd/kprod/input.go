package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"

	producer "github.com/gokafka/producer"
)

// Records from text, shared by produce and dump: one record per line, the
// key before the first --key-separator if one is given, and the same
// --header pairs on every record.

// parseHeaders reads --header k=v pairs. A pair without '=' is a header with
// a null value; "k=" has an empty one.
func parseHeaders(pairs []string) ([]producer.Header, error) {
	var hs []producer.Header
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, usagef("--header: %q has an empty key (want key=value)", kv)
		}
		h := producer.Header{Key: k}
		if ok {
			h.Value = []byte(v)
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// splitLine splits a line into key and value at the first sep. Without sep,
// or when the line does not contain it, the whole line is the value and the
// key is nil (no key).
func splitLine(line []byte, sep []byte) (key, value []byte) {
	if len(sep) == 0 {
		return nil, line
	}
	if i := bytes.Index(line, sep); i >= 0 {
		return line[:i], line[i+len(sep):]
	}
	return nil, line
}

// readLines calls fn with each line of r, without its "\n", until r ends or
// fn returns false. The slice passed to fn is reused for the next line. A
// last line without "\n" counts; an empty input has no lines.
func readLines(r io.Reader, fn func(line []byte) bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte // a line longer than br's buffer, assembled
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			continue
		}
		if len(long) > 0 {
			long = append(long, chunk...)
			chunk = long
		}
		if len(chunk) > 0 {
			if !fn(bytes.TrimSuffix(chunk, []byte("\n"))) {
				return nil
			}
		}
		long = long[:0]
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
