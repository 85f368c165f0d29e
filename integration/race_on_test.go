//go:build race

package integration

// raceEnabled leaves out faults whose injection races inside a test
// dependency rather than in the producer: kfake's SleepControl, which
// DelayNextProduce uses, is reported by the race detector.
const raceEnabled = true
