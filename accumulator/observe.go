package accumulator

import "time"

// What the producer's hooks may read of a batch: in Config.Settled, once
// its outcome is known, or on the sender's goroutine while it is in flight.

// UncompressedSize is the batch's size before compression, once it has
// been sent; 0 before.
func (b *Batch) UncompressedSize() int { return b.uncompressed }

// Err is the batch's error once its outcome is known; nil if written.
func (b *Batch) Err() error { return b.err }

// BaseOffset is the offset of the batch's first record once it was
// written; -1 when the broker did not say (acks=0).
func (b *Batch) BaseOffset() int64 { return b.baseOffset }

// SentAt is when the batch was first sent; zero if it never was.
func (b *Batch) SentAt() time.Time { return b.sentAt }
