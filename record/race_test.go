//go:build race

package record

// raceEnabled skips allocation counts: the race detector makes sync.Pool
// drop items at random, so pooled state is rebuilt and allocates.
const raceEnabled = true
