package bench

import (
	"context"
	"testing"
	"time"

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
	for _, mk := range []func() (Contender, error){
		func() (Contender, error) { return NewOurs(cluster.Addrs(), w) },
		func() (Contender, error) { return NewFranzGo(cluster.Addrs(), w) },
	} {
		c, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := Warm(ctx, c); err != nil {
			t.Fatal(err)
		}
		res, err := Run(ctx, c, w)
		cancel()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed != 0 || res.Records != w.Records {
			t.Fatalf("%s: %d records, %d failed", res.Name, res.Records, res.Failed)
		}
	}
}
