package floor

import (
	"context"
	"testing"
	"time"

	"github.com/gokafka/producer/bench/driver"
)

// driveFloor runs s through a floor and checks that every record, the
// warm-up's included, completed without error.
func driveFloor(t *testing.T, s driver.Settings) *Floor {
	t.Helper()
	c, _, err := Open(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := driver.Drive(ctx, c, s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Produced != s.Records+1 || res.Failed != 0 {
		t.Errorf("produced %d, failed %d, want %d, 0", res.Produced, res.Failed, s.Records+1)
	}
	return c.(*Floor)
}

// TestFloorCompletesEveryRecordAndSealsBatches runs a workload through the
// floor: every record completes without error, and the records fill and
// close batches of the workload's size, with its codec.
func TestFloorCompletesEveryRecordAndSealsBatches(t *testing.T) {
	for _, codec := range []string{"none", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			s := driver.Settings{Brokers: []string{"unused:9092"}, Topic: "t", Records: 5000, ValueSize: 100,
				Compression: codec, Acks: "all", BatchSize: 16 << 10, Linger: 5 * time.Millisecond}
			f := driveFloor(t, s)
			// 5,001 records of about 110 bytes fill 16 KiB batches 33
			// times; Flush closes the last one.
			if want := (s.Records + 1) * 110 / s.BatchSize; f.sealed < want {
				t.Errorf("%d batches closed, want at least %d", f.sealed, want)
			}
		})
	}
}

// TestFloorLingersForSynchronousSenders runs fewer senders than a batch
// holds: only the linger closes batches then, and every record still
// completes. With no linger each record is its own batch.
func TestFloorLingersForSynchronousSenders(t *testing.T) {
	for _, linger := range []time.Duration{time.Millisecond, 0} {
		t.Run(linger.String(), func(t *testing.T) {
			s := driver.Settings{Brokers: []string{"unused:9092"}, Topic: "t", Records: 500, ValueSize: 100,
				Compression: "none", Acks: "all", BatchSize: 64 << 10, Linger: linger, Senders: 20}
			f := driveFloor(t, s)
			if linger == 0 && f.sealed != s.Records+1 {
				t.Errorf("no linger: %d batches closed, want one per record (%d)", f.sealed, s.Records+1)
			}
		})
	}
}
