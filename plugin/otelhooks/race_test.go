//go:build race

package otelhooks_test

// raceEnabled skips allocation counts: the race detector makes sync.Pool
// drop items at random, and the SDK's measurements pool their state.
const raceEnabled = true
