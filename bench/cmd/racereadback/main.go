// Command racereadback reads one run's topic back for the race and fails
// unless it holds each of the driver's values as many times as the client
// sent it. The race starts it after the client's process has exited, with
// a JSON request on stdin (the topic, its brokers, the value size and the
// count of each value), and reads its exit status and stderr. It is a
// process of its own so that the harness's memory stays small: a client's
// rusage maxrss starts at the harness's own (bench/race/readback.go).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/gokafka/producer/bench/race"
)

func main() {
	if err := race.ReadBack(context.Background(), os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
