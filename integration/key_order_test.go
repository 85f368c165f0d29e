package integration

// Per-key order, checked on read-back by checkDelivery and the soak.

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// requireKeyOrder fails when records of a key were read back out of the
// order they were produced in.
func (d *delivery) requireKeyOrder(t *testing.T) {
	t.Helper()
	require.Empty(t, firstFew(d.outOfOrder), "%d records were read back after a later record of their key", len(d.outOfOrder))
}

// keyOrder follows the records of each key as one topic is read back (by
// partition, then offset) to find those out of the order they were produced
// in: within a partition, a key's records must come in increasing id, the
// order in which the one goroutine producing that key produced them.
type keyOrder struct {
	last map[keyInPartition]readAt // the highest id read so far
}

type keyInPartition struct {
	partition int32
	key       string
}

type readAt struct {
	id     uint64
	offset int64
}

func newKeyOrder() *keyOrder { return &keyOrder{last: map[keyInPartition]readAt{}} }

// next notes that record id of key was read back at partition@offset. If a
// record of the key with a higher id was read back before it in the
// partition, it reports where that one was, and false.
func (k *keyOrder) next(partition int32, key []byte, id uint64, offset int64) (after readAt, ok bool) {
	kp := keyInPartition{partition, string(key)}
	if last, seen := k.last[kp]; seen && last.id > id {
		return last, false
	}
	k.last[kp] = readAt{id, offset}
	return readAt{}, true
}
