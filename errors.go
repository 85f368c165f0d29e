package producer

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/internal/topicname"
)

// Client-side failures. Broker-side ones are the *kerr.Error values of
// package protocol/kerr (errors.Is(err, kerr.NotLeaderOrFollower)). Every
// error given to a callback comes in a *PartitionError naming the topic
// and partition it concerns, and wraps one of these, ErrAuthentication or
// a *kerr.Error (ErrBufferFull with the ctx's error when Produce's ctx
// ended its wait for buffer memory; ErrProducerStopped with the broker's
// error once the cluster stopped the producer for good), or else: for a
// transactional producer, ErrTransactionState (a record produced outside a
// transaction), ErrTransactionAbortable or ErrTransactionFatal (a record
// produced, or waiting to be added to the transaction, after the
// transaction failed), or ErrTransactionAborted; and
// protocol.ErrUnsupportedVersion from a broker that shares no version of
// Produce with the producer (or, idempotent, of InitProducerId).
var (
	// ErrClosed: the producer was closed before the record could be sent.
	ErrClosed = errors.New("producer closed")
	// ErrRecordTooLarge: the record cannot fit in one request or in the
	// buffer memory; it fails at once (a *RecordTooLargeError says by how much).
	ErrRecordTooLarge = errors.New("record too large")
	// ErrBufferFull: no buffer memory became free within MaxBlock, or
	// before Produce's ctx ended (the error then matches the ctx's too).
	ErrBufferFull = bufferpool.ErrTimeout
	// ErrDeliveryTimeout: the record had no outcome within DeliveryTimeout.
	// Its text says how many records of the batch, how often it was sent
	// and why it got no answer ("1 record had no outcome within 2m0s
	// (DeliveryTimeout); sent 3 times; last error: ..."); the
	// PartitionError around it names the partition.
	ErrDeliveryTimeout = accumulator.ErrDeliveryTimeout
	// ErrMaybeWritten: the record failed after a request carrying it went
	// unanswered (it timed out, or its connection broke) or failed after
	// the leader appended it, so the broker may have written it; producing
	// it again may duplicate it. A failed record whose error does not wrap
	// ErrMaybeWritten was certainly not written.
	// It comes with the error that ended the record (ErrDeliveryTimeout,
	// ErrClosed, a broker error). Send's error when its ctx ends before
	// the record's outcome wraps it too: the record may still be written.
	ErrMaybeWritten = accumulator.ErrMaybeWritten
	// ErrBatchRefused: the broker refused the record's batch for good for
	// other records in it, which it named (KIP-467 record errors: a record
	// without a key on a compacted topic, a timestamp out of range, say);
	// those fail with the broker's message for each, and its error when it
	// named one record (kerr.InvalidTimestamp, say), kerr.InvalidRecord
	// when it named more, as its one error may not be each one's (so does
	// the Java client). This record itself was not named and was
	// not written, so it may be produced again; unless its error also wraps
	// ErrMaybeWritten, for an earlier attempt of the batch. Its error does
	// not match the broker's error (errors.Is), but its text names it.
	ErrBatchRefused = accumulator.ErrBatchRefused
	// ErrUnknownTopic: the topic's metadata did not arrive within MaxBlock.
	ErrUnknownTopic = errors.New("unknown topic")
	// ErrInvalidRecord: the record cannot be produced as given (an invalid
	// topic name, a header key that is not UTF-8, a timestamp out of
	// range, a negative explicit partition, or one past the topic's last
	// that did not appear within MaxBlock), or the Partitioner could not
	// place it: it chose a partition the topic lacks, or panicked on a
	// record that waited for metadata (see partitioner.Partitioner).
	ErrInvalidRecord = errors.New("invalid record")
	// ErrProducerStopped: the cluster stopped the idempotent or transactional
	// producer for good, and it can send nothing more: the batch whose answer
	// stopped it, every record waiting then and every record produced after
	// fail with an error wrapping it and the broker's (ErrorName:
	// PRODUCER_STOPPED), as in the Java client. A Produce answer stops it that
	// says another producer took over its id (PRODUCER_FENCED, or, for a
	// producer without a TransactionalID, INVALID_PRODUCER_EPOCH for its
	// current epoch: a transactional one only has its transaction to abort
	// then, as in the Java client), that its producer or transactional id is
	// forgotten (INVALID_PRODUCER_ID_MAPPING), that the cluster denies it
	// idempotent writes (CLUSTER_AUTHORIZATION_FAILED) or its transactional id
	// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), or that the broker does not
	// support its Produce (UNSUPPORTED_VERSION, or no Produce version shared
	// with the leader); so does an idempotent producer's InitProducerId
	// refused for good (denied, or no version shared). Records failed so were
	// not written unless they also match ErrMaybeWritten, but producing them
	// again fails too; Flush and Close return nil all the same. Close the
	// producer and create a new one. A transactional producer stopped by a
	// Produce answer says so with ErrTransactionFatal too, whose errors for it
	// also match ErrProducerStopped; one its coordinator ends
	// (InitTransactions refused for good, say) fails its calls with
	// ErrTransactionFatal alone. The records it refuses after either are named
	// TRANSACTION_FATAL.
	ErrProducerStopped = accumulator.ErrProducerStopped
)

// ErrNilRecord is Produce's error for a nil *Record, which wraps
// ErrInvalidRecord. A HookRecordRefused hook, handed the zero Record for a
// nil one, tells it by this error from a record given with a nil value:
// no message existed.
var ErrNilRecord = fmt.Errorf("%w: nil *Record", ErrInvalidRecord)

// RecordTooLargeError is the detail of ErrRecordTooLarge.
type RecordTooLargeError struct {
	Size  int    // the record's encoded size in its own batch
	Limit int    // the limit it exceeds
	Of    string // "MaxRequestSize" or "BufferMemory"
}

func (e *RecordTooLargeError) Error() string {
	return fmt.Sprintf("record too large: %d bytes encoded, %s is %d", e.Size, e.Of, e.Limit)
}

func (e *RecordTooLargeError) Unwrap() error { return ErrRecordTooLarge }

// PartitionError wraps a failure with the topic and partition it concerns.
// A record's Partition is the one its RecordMetadata has: the partition it
// named (Record.ExplicitPartition), even one refused as negative or past
// the topic's count, whatever failed it; else the one chosen for it, even
// one the partitioner chose outside the topic; -1 when it failed before
// one was chosen, or when Send stopped waiting for its outcome
// (ErrMaybeWritten), where one may have been chosen meanwhile, unseen.
// PartitionsFor's errors have -1.
type PartitionError struct {
	Topic     string
	Partition int32
	Err       error
}

// Error names the topic quoted whole if a broker takes the name, else
// excerpted (topicname.Quote): a record refused for a name a megabyte long
// made an error as long, once per record.
func (e *PartitionError) Error() string {
	if e.Partition < 0 {
		return fmt.Sprintf("producer: topic %s: %v", topicname.Quote(e.Topic), e.Err)
	}
	return fmt.Sprintf("producer: topic %s partition %d: %v", topicname.Quote(e.Topic), e.Partition, e.Err)
}

func (e *PartitionError) Unwrap() error { return e.Err }

// memoryErr says in the user's words why a record got no buffer memory
// (the errors of Append and of reserveHeld), keeping ErrBufferFull and the
// context's error for errors.Is, not the buffer pool's own account. Other
// errors go through closing. callers tells whether the wait's ctx was
// Produce's: a wait it ended (or, done already, never began: MaxBlock's
// doc offers that for max.block.ms=0) found memory short all the same, and
// matches ErrBufferFull too, for a caller that slows down on it. A held
// record's append waits under a ctx of the producer's (Close, an abort).
func (p *Producer) memoryErr(err error, callers bool) error {
	var we *bufferpool.WaitError
	switch {
	case errors.As(err, &we) && errors.Is(we.Err, bufferpool.ErrTimeout) && we.MaxWait <= 0:
		return fmt.Errorf("waiting for buffer memory: %w: %d bytes not free, and no time to wait for them; BufferMemory is %d bytes, %d free",
			ErrBufferFull, we.Size, we.Total, we.Available)
	case errors.As(err, &we) && errors.Is(we.Err, bufferpool.ErrTimeout):
		return fmt.Errorf("waiting for buffer memory: %w: %d bytes did not free up within MaxBlock (%v); BufferMemory is %d bytes, %d free",
			ErrBufferFull, we.Size, p.cfg.MaxBlock, we.Total, we.Available)
	case we != nil && callers:
		return fmt.Errorf("waiting for buffer memory: %w: %d bytes not free before the ctx ended (%w); BufferMemory is %d bytes, %d free",
			ErrBufferFull, we.Size, we.Err, we.Total, we.Available)
	case we != nil:
		return fmt.Errorf("waiting for buffer memory: %w", we.Err)
	case errors.Is(err, bufferpool.ErrClosed):
		// Close gave up on the wait (from a callback, which holds back the
		// memory that would end it): said as Close's other failures are.
		return fmt.Errorf("%w: while the record waited for buffer memory", ErrClosed)
	case errors.Is(err, ErrBufferFull), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("waiting for buffer memory: %w", err)
	}
	return p.closing(err)
}

// closing reports an error met while the producer shuts down (an aborted
// accumulator, a closed pool, a cancelled background context) as ErrClosed,
// keeping the original for errors.Is.
func (p *Producer) closing(err error) error {
	if errors.Is(err, ErrClosed) {
		return err
	}
	if p.closed.Load() || errors.Is(err, accumulator.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}
