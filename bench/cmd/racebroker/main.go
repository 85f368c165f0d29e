// Command racebroker is the race's embedded broker (franz-go's kfake, as
// integration/embedded runs it) in a process of its own, so that a
// contender's CPU time and memory are its own and not the broker's too.
//
// It prints "RACE_BROKERS=host:port" once it serves, serves until its stdin
// closes, then prints "RACE_PRODUCE_REQUESTS=N": how many Produce requests
// it was sent, which the race reports per million records.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/integration/embedded"
)

func main() {
	if err := serve(); err != nil {
		fmt.Fprintf(os.Stderr, "racebroker: %v\n", err)
		os.Exit(1)
	}
}

func serve() error {
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		return err
	}
	defer cluster.Close()
	var produces atomic.Int64
	// An unhandled control function only observes; kfake keeps it and
	// handles the request as usual.
	cluster.Kfake().ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		produces.Add(1)
		return nil, nil, false
	})
	fmt.Printf("RACE_BROKERS=%s\n", strings.Join(cluster.Addrs(), ","))
	_, _ = io.Copy(io.Discard, os.Stdin)
	fmt.Printf("RACE_PRODUCE_REQUESTS=%d\n", produces.Load())
	return nil
}
