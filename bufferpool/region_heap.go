//go:build !linux || race

package bufferpool

import "errors"

// mapRegion declines, and the pool keeps its buffers on the heap: on
// platforms other than Linux, where the producer is measured, and under the
// race detector, which watches only the Go heap and must see the buffers.
func mapRegion(int) ([]byte, error) {
	return nil, errors.New("bufferpool: buffers stay on the heap in this build")
}

func unmapRegion([]byte) {}

func releasePages([]byte) {}
