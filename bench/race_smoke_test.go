package bench

import (
	"context"
	"testing"
	"time"

	"github.com/gokafka/producer/bench/driver"
	"github.com/gokafka/producer/integration/embedded"
)

// TestContendersDeliver keeps the race honest: every contender must get
// every record acknowledged before its throughput means anything.
func TestContendersDeliver(t *testing.T) {
	cluster, err := embedded.Start(embedded.Options{Topics: map[string]int32{"race": 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	w := Workload{Topic: "race", Records: 5000, ValueSize: 100, Goroutines: 4, Acks: "all", Idempotent: true}
	for name, open := range contenders {
		c, _, err := open(w.settings(cluster.Addrs()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := driver.Warm(ctx, c, nil, []byte("warm-up")); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res, err := Run(ctx, name, c, w)
		cancel()
		if cerr := c.Close(); cerr != nil {
			t.Fatalf("%s: close: %v", name, cerr)
		}
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed != 0 || res.Records != w.Records {
			t.Fatalf("%s: %d records, %d failed", res.Name, res.Records, res.Failed)
		}
	}
}
