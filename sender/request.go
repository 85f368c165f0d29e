package sender

import (
	"context"
	"fmt"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// zstdProduceVersion is the first Produce version that may carry zstd
// batches (KIP-110, Kafka 2.1): a broker asked in an older one refuses them
// all, and one older than 2.1 cannot read them.
const zstdProduceVersion = 7

// txnV2ProduceVersion is the first Produce version that adds its
// partitions to the transaction (KIP-890 part 2).
const txnV2ProduceVersion = 12

// send packs the batches drained into f into one ProduceRequest and sends
// it. The answer comes back on s.results; with acks=0 the connection
// answers as soon as the bytes are written.
func (s *Sender) send(ctx context.Context, c Conn, f *flight) {
	version, err := c.Version(protocol.Produce)
	if err == nil && s.cfg.TransactionalID != nil {
		v2 := s.cfg.TransactionsV2 != nil && s.cfg.TransactionsV2()
		switch {
		case !v2 && version > 11:
			// v12 asks a transactions-v2 broker to add partitions
			// implicitly (KIP-890); with transactions v1
			// AddPartitionsToTxn did that.
			version = 11
		case v2 && version < txnV2ProduceVersion:
			// Under v2 no AddPartitionsToTxn was sent: v11 would write
			// the batch to a partition never added to the transaction,
			// the hanging transaction KIP-890 prevents.
			err = fmt.Errorf("%w: the leader speaks Produce v%d at most, and transactions v2 needs v%d", protocol.ErrUnsupportedVersion, version, txnV2ProduceVersion)
		}
	}
	if err != nil {
		s.refuseAll(f, err)
		return
	}
	if version < zstdProduceVersion {
		s.refuseZstd(f, version)
		if len(f.batches) == 0 {
			s.land(f)
			return
		}
	}
	f.build(s.cfg.Acks, s.cfg.Timeout, s.cfg.TransactionalID)
	version, f.byID = s.byTopicID(&f.req, version)
	f.version, f.conn = version, c
	s.noteVersion(version)
	s.inFlight++
	if s.cfg.Events.Written != nil || s.cfg.Events.Answered != nil {
		s.sendTimed(ctx, c, f, version)
		return
	}
	c.SendVersion(ctx, &f.req, version, f.done)
}

// refuseAll fails the flight's batches: the broker speaks no Produce
// version we do, and no retry can help. An idempotent producer stops, as
// when a broker answers UNSUPPORTED_VERSION (and as the Java client answers
// a Produce's version mismatch): every record it sent there would fail
// alike, and a transaction would only be aborted and begun again for ever.
func (s *Sender) refuseAll(f *flight, noVersion error) {
	// As the broker's own UNSUPPORTED_VERSION answer, as the Java client's
	// Sender answers a version mismatch, so that errors.Is with
	// kerr.UnsupportedVersion tells both alike.
	err := fmt.Errorf("broker %d: %w: %w", s.cfg.Node, kerr.UnsupportedVersion, noVersion)
	for _, b := range f.batches {
		if s.acc.Idempotent() {
			s.stopProducer(b, "the broker supports no version of Produce this producer speaks", err)
		} else {
			s.acc.Complete(b, -1, -1, err)
		}
	}
	s.land(f)
}

// refuseZstd fails the flight's zstd batches, which a broker speaking
// Produce below v7 cannot take, and keeps the others for the request. No
// retry can help: the broker would have to be upgraded, or the producer's
// Compression changed.
func (s *Sender) refuseZstd(f *flight, version int16) {
	kept := f.batches[:0]
	for _, b := range f.batches {
		if record.CodecOf(b.Encoded()) != compression.Zstd {
			kept = append(kept, b)
			continue
		}
		s.acc.Complete(b, -1, -1, fmt.Errorf("broker %d speaks Produce up to v%d, and zstd batches need v%d (Kafka 2.1 or newer): %w",
			s.cfg.Node, version, zstdProduceVersion, kerr.UnsupportedCompressionType))
	}
	clear(f.batches[len(kept):])
	f.batches = kept
}

// takeOff returns a flight to drain the next request's batches into: one
// whose answer has been handled, or a new one.
func (s *Sender) takeOff() *flight {
	if n := len(s.landed); n > 0 {
		f := s.landed[n-1]
		s.landed[n-1] = nil
		s.landed = s.landed[:n-1]
		return f
	}
	return newFlight(s.results, s.cfg.Clock)
}

// land keeps a flight whose answer has been handled, or which carried no
// request, for a later request.
func (s *Sender) land(f *flight) {
	f.reset()
	s.landed = append(s.landed, f)
}
