package integration

// The soak's accounting: every topic read back, every record checked
// against the ledger of outcomes (see TestSoak).

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/integration/readback"
	"github.com/gokafka/producer/partitioner"
)

// soakAccounting is the result of reading the soak back.
type soakAccounting struct {
	acked, failed    int64
	readBack         int64
	lost             int64 // acknowledged, never read back
	misplaced        int64 // acknowledged, read back, but not where the callback said
	duplicated       int64 // records read back more than once
	extraCopies      int64 // the copies beyond the first
	outOfOrder       int64 // read back after a later record of their key (first copies only)
	failedButWritten int64 // failed, yet read back
	// failedButWrittenUnsaid is those whose error did not say that they
	// may have been written.
	failedButWrittenUnsaid int64
	foreign                int64 // read back, but not a record we produced as we produced it
}

// soakAccount reads back every soak topic and checks each record against
// the ledger.
func soakAccount(t *testing.T, seeds []string, l *soakLedger, producers int) soakAccounting {
	t.Helper()
	var a soakAccounting
	perTopic := map[string]int{}
	for id, state := range l.state {
		switch state {
		case soakAcked:
			a.acked++
			topic, _ := soakTopic(uint64(id))
			perTopic[topic]++
		case soakFailed, soakFailedMaybeWritten:
			a.failed++
		}
	}

	copies := make([]uint8, len(l.state))
	confirmed := make([]bool, len(l.state))
	var key, value []byte
	var examples []string
	names := []string{soakLate}
	for i := range soakTopics {
		names = append(names, "soak-"+strconv.Itoa(i))
	}
	for _, topic := range names {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		got, err := readback.ReadAll(ctx, seeds, topic, perTopic[topic])
		cancel()
		require.NoError(t, err, "reading back %s", topic)
		a.readBack += int64(len(got))
		order := newKeyOrder()
		for _, g := range got {
			id, ok := valueID(g.Value)
			wantTopic, partitions := soakTopic(id)
			key = soakKey(key, id, producers)
			value = appendIDValue(value[:0], id, soakValueSize)
			switch {
			case !ok || id >= uint64(len(l.state)) || l.state[id] == soakPending || wantTopic != topic || !bytes.Equal(g.Value, value) ||
				!sameRecordBytes(key, g.Key) || g.Key != nil && g.Partition != partitioner.KeyPartition(key, partitions):
				if a.foreign++; a.foreign <= 3 {
					t.Errorf("%s/%d@%d: not a record the soak produced there: key %q, value %x", topic, g.Partition, g.Offset, g.Key, g.Value)
				}
				continue
			}
			if copies[id] < 255 {
				copies[id]++
			}
			if copies[id] == 1 && key != nil {
				if prev, ok := order.next(g.Partition, key, id, g.Offset); !ok {
					if a.outOfOrder++; len(examples) < 5 {
						examples = append(examples, fmt.Sprintf("key %q: record %d at %s/%d@%d, after record %d at offset %d",
							key, id, topic, g.Partition, g.Offset, prev.id, prev.offset))
					}
				}
			}
			if l.state[id] == soakAcked && l.partition[id] == g.Partition && l.offset[id] == g.Offset {
				confirmed[id] = true
			}
		}
	}

	for id, state := range l.state {
		n := copies[id]
		if n > 1 {
			a.duplicated++
			a.extraCopies += int64(n - 1)
			if len(examples) < 10 {
				topic, _ := soakTopic(uint64(id))
				examples = append(examples, fmt.Sprintf("record %d read back %d times from %s", id, n, topic))
			}
		}
		switch state {
		case soakFailed, soakFailedMaybeWritten:
			if n > 0 {
				a.failedButWritten++
				if state == soakFailed {
					a.failedButWrittenUnsaid++
				}
			}
		case soakAcked:
			switch {
			case n == 0:
				a.lost++
			case !confirmed[id]:
				a.misplaced++
			default:
				continue
			}
			if len(examples) < 15 {
				topic, _ := soakTopic(uint64(id))
				examples = append(examples, fmt.Sprintf("record %d acknowledged at %s/%d@%d, read back %d times", id, topic, l.partition[id], l.offset[id], n))
			}
		}
	}
	if len(examples) > 0 {
		t.Errorf("records out of key order, duplicated, lost or misplaced, e.g.:\n%s", strings.Join(examples, "\n"))
	}
	return a
}
