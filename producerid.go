package producer

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/backoff"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// needProducerID asks the producer id loop for an id; it never blocks. The
// accumulator calls it when a batch is ready and the producer has none, or
// when a partition's sequences must restart under a new epoch that it may
// not take itself.
func (p *Producer) needProducerID() {
	if p.txn != nil {
		// A transactional producer's id and epoch come from its
		// coordinator alone (InitTransactions, and the end of an aborted
		// transaction); the accumulator tells the transaction manager
		// when a partition needs a new epoch (Config.EpochNeeded).
		return
	}
	select {
	case p.idCh <- struct{}{}:
	default:
	}
}

// producerIDLoop gets the idempotent producer its id and epoch from the
// cluster (InitProducerId, from any broker), lazily: when the first batch
// is about to be drained, and again when the epoch has run out. Batches
// wait in the accumulator meanwhile, where their DeliveryTimeout runs. A
// broker error that will not heal (the cluster denies idempotent writes to
// this client, or speaks no InitProducerId) stops the producer for good,
// as in the Java client.
func (p *Producer) producerIDLoop() {
	defer p.bg.Done()
	retry := backoff.Exponential{Base: p.cfg.RetryBackoff, Max: p.cfg.RetryBackoffMax}
	for {
		select {
		case <-p.idCh:
		case <-p.ctx.Done():
			return
		}
		for failures := 1; ; failures++ {
			id, err := p.initProducerID(p.ctx)
			if err == nil {
				p.cfg.Logger.Debug("producer id assigned", "id", id.ID, "epoch", id.Epoch)
				p.announceID(id, false)
				p.acc.SetProducerID(id)
				p.wakeAll()
				break
			}
			if p.ctx.Err() != nil {
				return
			}
			var refused *conn.AuthError
			switch {
			case errors.As(err, &refused):
				// No batch leaves without an id: what waits fails now, with
				// the reason, as it would on a leader's refusal. Refused
				// credentials or certificates are the connection's, not the
				// cluster's answer to idempotence (SASL's refusal carries a
				// broker code that will not heal): once they are accepted,
				// the id comes. A refusal while another broker could not
				// be reached (cluster.Refusal) fails nothing: that one may
				// give the id once it is back.
				if cluster.Refusal(err) != nil {
					p.acc.FailAllUnsent(fmt.Errorf("idempotent producer: InitProducerId: %w", refused))
				}
			case !retriable(err):
				p.acc.Fatal("the cluster gives it no producer id for idempotence",
					fmt.Errorf("%w (DisableIdempotence turns idempotence off)", err))
				return
			}
			// A record that times out waiting for the id says why none came,
			// not only that it was sent 0 times.
			p.acc.NoProducerID(fmt.Errorf("no producer id: %w", err))
			wait := retry.Delay(failures)
			p.cfg.Logger.Warn("InitProducerId failed", "err", err, "retry_in", wait)
			if !p.pauseUntil(p.cfg.clock.Now().Add(wait), nil, nil) {
				return
			}
		}
	}
}

// initProducerID asks any broker for a new producer id. A non-transactional
// producer always gets a fresh id at epoch 0; it bumps epochs itself
// (KIP-360), so it sends no id of its own.
func (p *Producer) initProducerID(ctx context.Context) (accumulator.ProducerID, error) {
	req := &protocol.InitProducerIdRequest{TransactionTimeoutMs: math.MaxInt32, ProducerID: -1, ProducerEpoch: -1}
	ctx, cancel := clock.WithTimeoutCause(ctx, p.cfg.clock, p.cfg.RequestTimeout, context.DeadlineExceeded)
	defer cancel()
	resp, err := p.cluster.AskAny(ctx, req)
	if err != nil {
		return accumulator.ProducerID{}, err
	}
	r, ok := resp.(*protocol.InitProducerIdResponse)
	if !ok {
		return accumulator.ProducerID{}, fmt.Errorf("InitProducerId: unexpected answer %T", resp)
	}
	if code := kerr.ForCode(r.ErrorCode); code != nil {
		return accumulator.ProducerID{}, fmt.Errorf("InitProducerId: %w", code)
	}
	return accumulator.ProducerID{ID: r.ProducerID, Epoch: r.ProducerEpoch}, nil
}

// retriable reports whether an InitProducerId failure may heal: no broker
// answered, or one answered with a retriable code (a coordinator loading,
// say). An authorization failure will not, nor a request no version of
// which fits, once every broker asked said so (cluster.NoVersionFits): one
// that could not be reached may give the id once back.
func retriable(err error) bool {
	var code *kerr.Error
	if errors.As(err, &code) {
		return code.Retriable
	}
	return !cluster.NoVersionFits(err)
}
