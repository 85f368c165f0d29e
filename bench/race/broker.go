package race

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/gokafka/producer/integration/embedded/child"
)

// The racebroker's lines: its addresses once it serves, and after its
// stdin closes, how many Produce requests it was sent.
const (
	brokersPrefix  = "RACE_BROKERS="
	requestsPrefix = "RACE_PRODUCE_REQUESTS="
	brokerWait     = 30 * time.Second
)

// startEmbedded starts the racebroker binary, a fresh kfake for one run,
// so that no run inherits another's data or memory.
func startEmbedded(ctx context.Context, binary string) (*child.Process, error) {
	b, err := child.Start(ctx, exec.Command(binary), brokersPrefix, brokerWait)
	if err != nil {
		return nil, fmt.Errorf("the embedded broker: %w", err)
	}
	return b, nil
}

// stopEmbedded stops the broker and returns how many Produce requests it
// served.
func stopEmbedded(b *child.Process) (int64, error) {
	if err := b.Stop(brokerWait); err != nil {
		return -1, fmt.Errorf("the embedded broker: %w", err)
	}
	for _, line := range b.Output() {
		if n, found := strings.CutPrefix(line, requestsPrefix); found {
			requests, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				return -1, fmt.Errorf("the embedded broker's Produce request count: %w", err)
			}
			return requests, nil
		}
	}
	return -1, errors.New("the embedded broker did not report its Produce requests")
}
