// Package driver is the client side of the race: the part of every
// contender's process that is the same whoever the client is. A contender's
// main wraps its client in a Client and calls Main; Main reads the run's
// Settings, makes the records, drives the client through the workload and
// prints a Result as one JSON line on stdout for the harness to read.
//
// The harness, not this package, measures the process's CPU time and peak
// memory (from its rusage when it exits), so nothing here meters per
// record on the throughput workloads: a tool that weighs what it measures
// reports itself.
package driver

import (
	"encoding/json"
	"fmt"
	"time"
)

// Settings is one run as the harness asks for it. Every client maps it onto
// its own configuration and reports what it set (Result.Config).
type Settings struct {
	Brokers []string `json:"brokers"`
	Topic   string   `json:"topic"`
	Records int      `json:"records"` // measured records, the warm-up not included

	ValueSize int `json:"value_size"` // bytes of random value per record
	KeySize   int `json:"key_size"`   // bytes of random key per record; 0 is no key

	Compression  string        `json:"compression"` // none, lz4 or zstd
	Acks         string        `json:"acks"`        // "all", "1" or "0"
	Linger       time.Duration `json:"linger"`      // 0 sends as soon as possible
	BatchSize    int           `json:"batch_size"`  // bytes of one partition's batch
	BufferMemory int           `json:"buffer_memory"`
	Idempotent   bool          `json:"idempotent"`

	// Senders, when positive, is how many goroutines each send
	// synchronously, one record at a time: Records/Senders each.
	Senders int `json:"senders"`
	// Rate, when positive, paces one producing goroutine at this many
	// records per second and records each record's latency.
	Rate int `json:"rate"`
}

// Validate rejects settings no client can run.
func (s Settings) Validate() error {
	switch {
	case len(s.Brokers) == 0:
		return fmt.Errorf("settings: no brokers")
	case s.Topic == "":
		return fmt.Errorf("settings: no topic")
	case s.Records < 1:
		return fmt.Errorf("settings: records %d is less than 1", s.Records)
	case s.ValueSize < 1:
		return fmt.Errorf("settings: value_size %d is less than 1", s.ValueSize)
	case s.KeySize < 0:
		return fmt.Errorf("settings: key_size %d is negative", s.KeySize)
	case s.Senders > 0 && s.Rate > 0:
		return fmt.Errorf("settings: senders and rate are different workloads; set one")
	case s.Senders > s.Records:
		return fmt.Errorf("settings: %d senders for %d records", s.Senders, s.Records)
	}
	switch s.Compression {
	case "none", "lz4", "zstd":
	default:
		return fmt.Errorf("settings: compression %q: want none, lz4 or zstd", s.Compression)
	}
	switch s.Acks {
	case "all", "1", "0":
	default:
		return fmt.Errorf("settings: acks %q: want all, 1 or 0", s.Acks)
	}
	return nil
}

// Encode is the settings as the -settings flag carries them.
func (s Settings) Encode() (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}

// DecodeSettings reads what Encode wrote and validates it.
func DecodeSettings(text string) (Settings, error) {
	var s Settings
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return Settings{}, fmt.Errorf("decoding settings: %w", err)
	}
	return s, s.Validate()
}

// Result is what one contender's process reports.
type Result struct {
	Client  string `json:"client"`
	Version string `json:"version"`
	// Config is the client's own settings for this run, as "name=value".
	Config []string `json:"config"`
	// Produced counts the records the process sent, the warm-up included:
	// what the topic's high watermarks must add up to.
	Produced int   `json:"produced"`
	Failed   int64 `json:"failed"`
	// FirstError is the first failure's text, if any.
	FirstError string `json:"first_error,omitempty"`
	// Elapsed is from the first measured record to the last one's ack.
	Elapsed time.Duration `json:"elapsed"`
	// P50 and P99 are latencies to the ack, on the Rate workload, timed
	// from where LatencyFrom says.
	P50 time.Duration `json:"p50,omitempty"`
	P99 time.Duration `json:"p99,omitempty"`
	// LatencyFrom is where each record's latency starts: LatencyFromDueTime.
	// Empty, in a result made before it was reported, is the Produce call.
	LatencyFrom string `json:"latency_from,omitempty"`
	// SenderStack is, on the Senders workload, the peak goroutine stack
	// memory the senders added, per sender, in bytes.
	SenderStack int64 `json:"sender_stack,omitempty"`
	// PeakRSS is the process's own peak RSS in bytes (PeakRSS), taken once
	// the client is closed; 0 where the system does not report it.
	PeakRSS int64 `json:"peak_rss,omitempty"`
}

// LatencyFromDueTime is Result.LatencyFrom for latencies timed from each
// record's place on the schedule, not from its Produce call (see
// producePaced).
const LatencyFromDueTime = "due time"

// ResultPrefix starts the line of stdout that holds the Result.
const ResultPrefix = "RACE_RESULT="
