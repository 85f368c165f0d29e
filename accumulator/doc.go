// Package accumulator collects records into per-partition batches and keeps
// each partition's batches in order until the broker has answered them: the
// step between choosing a partition and the sender.
//
// A record is encoded into its partition's open batch when it is appended,
// straight into a buffer from the buffer pool, so the caller's slices are not
// retained. A batch becomes ready when it is full, when Linger has passed
// since its first record, while a Flush or Close is under way, or while
// goroutines wait for buffer memory (sending is the only way to free it). But
// unless a Flush, a Close or a wait for memory hurries it, a batch that is not
// full waits past its Linger while its broker has a request of ours in flight:
// for the answer, or for a request that goes anyway and takes it along (fewer,
// fuller requests). Only a batch that a request left out for lack of room
// waits no longer than its Linger.
//
// Each broker's sender drains the ready batches of the partitions it leads
// and reports every answer back: Complete (written, or failed for good),
// Refuse (failed for records the broker named), Retry or Split. A batch
// stays in its partition's list, in its place, from its first record until
// its outcome is known, so a retried batch can neither overtake nor fall
// behind its neighbours. For an idempotent producer the partition also
// holds the producer id, epoch and sequence numbers its batches carry;
// partition.go says how they move.
//
// Callbacks flow back as opaque values handed to Config.Deliver, on a
// goroutine of their own (deliver.go), so this package never imports the
// public API above it and user code never runs on a sender's goroutine.
//
// It is the producer's own machinery rather than an API for users, taking
// types of the module's internal packages (a slot.Slot, a clock.Clock):
// package producer sets it up from its Config, and names the errors of it
// a user meets (ErrDeliveryTimeout, ErrMaybeWritten, ...).
package accumulator
