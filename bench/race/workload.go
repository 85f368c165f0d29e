// Package race runs the same workloads through several Kafka clients, each
// in a process of its own, against one broker, and reports what each cost:
// the process's CPU time (user+sys, from its rusage) per record, its peak
// RSS, its throughput, and the Produce requests it needed. Rounds are
// interleaved (every client once per round) so that a noisy machine weighs
// on every client alike, and every run is checked against the topic's high
// watermarks before it counts. The contender gokafka@REF (library.go)
// races this repository's library at another commit, to measure a change
// against its parent in the same rounds. With Options.Instructions it
// counts each Go client's instructions per record under valgrind instead
// (instructions.go): work, which the machine's load does not move.
package race

import (
	"fmt"
	"time"

	"github.com/gokafka/producer/bench/driver"
)

// Workload is one row of the race: the anchors' settings with one thing
// changed.
type Workload struct {
	Name  string // short, used in flags and topic names
	Title string // for the report

	KeySize     int
	Compression string
	Senders     int // synchronous senders; 0 is one asynchronous producer
	Rate        int // records per second; 0 is as fast as possible
	NoLinger    bool
}

// The anchors: 100-byte incompressible values, acks=all, linger 5 ms,
// 64 KiB batches, 32 MiB of buffer, idempotence on, 6 partitions.
const (
	valueSize    = 100
	linger       = 5 * time.Millisecond
	batchSize    = 64 << 10
	bufferMemory = 32 << 20
	partitions   = 6
)

// Workloads is every workload, in the report's order.
var Workloads = []Workload{
	{Name: "nokey", Title: "no key, no compression"},
	{Name: "key16", Title: "16-byte keys", KeySize: 16},
	{Name: "lz4", Title: "lz4", Compression: "lz4"},
	{Name: "zstd", Title: "zstd", Compression: "zstd"},
	{Name: "senders", Title: "1,000 synchronous senders", Senders: 1000},
	{Name: "senders5k", Title: "5,000 synchronous senders", Senders: 5000},
	{Name: "latency", Title: "latency at 10,000 records/s, linger 0", Rate: 10000, NoLinger: true},
}

// WorkloadByName finds a workload.
func WorkloadByName(name string) (Workload, error) {
	for _, w := range Workloads {
		if w.Name == name {
			return w, nil
		}
	}
	return Workload{}, fmt.Errorf("unknown workload %q", name)
}

// settings is what a client process is asked to do for w.
func (w Workload) settings(brokers []string, topic string, records int) driver.Settings {
	s := driver.Settings{
		Brokers:      brokers,
		Topic:        topic,
		Records:      records,
		ValueSize:    valueSize,
		KeySize:      w.KeySize,
		Compression:  w.Compression,
		Acks:         "all",
		Linger:       linger,
		BatchSize:    batchSize,
		BufferMemory: bufferMemory,
		Idempotent:   true,
		Senders:      w.Senders,
		Rate:         w.Rate,
	}
	if s.Compression == "" {
		s.Compression = "none"
	}
	if w.NoLinger {
		s.Linger = 0
	}
	return s
}
