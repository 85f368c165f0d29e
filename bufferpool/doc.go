// Package bufferpool owns the producer's memory bound (BufferMemory, Java's
// buffer.memory): the step between "the record has a partition" and "the
// accumulator has a batch to append it to". Every batch buffer is allocated
// from a Pool and returned to it when the batch completes, and records held
// back while their topic's metadata is unknown are reserved against the
// same budget, so the producer holds no more than BufferMemory bytes of
// unsent data, with two exceptions. A batch split after the broker found
// it too large has its halves allocated outside the pool, as the Java
// client allocates them, so that the sender never waits for memory, while
// the buffer they replace goes back to the pool (accumulator/split.go):
// until they complete, unsent data may exceed BufferMemory by their size.
// And held records whose topic's metadata came give their memory back when
// their drain round begins, before any is appended (held records filling
// the pool would otherwise starve their own batches), so until appended,
// or while set aside for a partition the topic does not have yet, they
// count only against the held records' share: BufferMemory less one batch
// (one record alone may exceed it, up to BufferMemory). Unsent data then
// stays below twice BufferMemory.
//
// It follows the Java client's BufferPool: buffers of the batch size (the
// "poolable" size) are recycled through a free list because nearly every
// batch has that size; other sizes are allocated exactly and left to the
// garbage collector. On Linux the poolable buffers live in one mapping
// outside the Go heap (region.go), so that the collector's headroom does not
// double them, and the mapping asks for transparent huge pages, so that
// filling it takes a page fault per 2 MiB rather than per 4 KiB
// (region_linux.go); under the race detector, which watches only the heap,
// they stay on it. When memory runs out, callers queue in arrival order and
// wait up to a deadline (MaxBlock); the head of the queue collects memory as
// it is returned until it has enough, so a large request is not starved by a
// stream of small ones, and each release wakes only that head rather than
// every waiter.
//
// It is the producer's own machinery rather than an API for users, taking
// types of the module's internal packages (a clock.Clock): package
// producer sets it up from its Config (BufferMemory, BatchSize, MaxBlock),
// and names its error a user meets (ErrBufferFull).
package bufferpool
