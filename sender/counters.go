package sender

import "sync/atomic"

// Counters are shared by every broker's sender of one producer.
type Counters struct {
	Requests atomic.Int64 // ProduceRequests sent, counted at their answer (or failure)
	Retries  atomic.Int64 // batches sent again after a retriable error
	Splits   atomic.Int64 // batches split, refused as too large (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE)
}
