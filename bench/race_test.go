package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/producer/bench/driver"
	"github.com/gokafka/producer/integration/embedded"
)

var contenders = map[string]driver.Opener{"gokafka": OpenOurs, "franz-go": OpenFranzGo}

// BenchmarkRace produces the same workload through each contender against
// the embedded broker and reports records/s (b.N scales the record count).
// The embedded broker shares the CPU with the client, so absolute numbers
// understate both; the ratio is what it measures.
//
//	go test -run '^$' -bench Race -benchtime 200000x ./bench/
func BenchmarkRace(b *testing.B) {
	for _, name := range []string{"gokafka", "franz-go"} {
		for _, goroutines := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/goroutines=%d", name, goroutines), func(b *testing.B) {
				race(b, name, Workload{Topic: "race", Records: b.N, ValueSize: 100, Goroutines: goroutines, Acks: "1"})
			})
		}
	}
}

// BenchmarkIdempotence is the cost of idempotence for each client: the
// same acks=all workload with it on and off.
//
//	go test -run '^$' -bench Idempotence -benchtime 200000x -count 6 ./bench/
func BenchmarkIdempotence(b *testing.B) {
	for _, name := range []string{"gokafka", "franz-go"} {
		for _, idempotent := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/idempotent=%v", name, idempotent), func(b *testing.B) {
				race(b, name, Workload{Topic: "race", Records: b.N, ValueSize: 100, Goroutines: 1, Acks: "all", Idempotent: idempotent})
			})
		}
	}
}

// race runs one contender through w against a fresh embedded broker.
func race(b *testing.B, name string, w Workload) {
	cluster, err := embedded.Start(embedded.Options{Topics: map[string]int32{w.Topic: 6}})
	if err != nil {
		b.Fatal(err)
	}
	defer cluster.Close()
	c, _, err := contenders[name](w.settings(cluster.Addrs()))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := driver.Warm(ctx, c, nil, []byte("warm-up")); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	res, err := Run(ctx, name, c, w)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Failed > 0 {
		b.Fatalf("%s: %d of %d records failed", name, res.Failed, res.Records)
	}
	b.ReportMetric(res.RecordsPerSec(), "records/s")
}
