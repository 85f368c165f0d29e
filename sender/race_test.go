//go:build race

package sender

// raceEnabled skips allocation counts: the race detector makes sync.Pool
// drop items at random (a batch's entries come from one), so pooled state
// is rebuilt and allocates.
const raceEnabled = true
