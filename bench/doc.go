// Package bench races producers against each other on the same broker with
// the same workload. This package is the in-process benchmark of ours and
// franz-go's kgo (go test -bench): each contender is a driver.Client, opened
// by the adaptor its race contender runs too (OpenOurs, OpenFranzGo), and
// the harness owns the broker, the records and the clock, so the numbers
// compare like with like. The full race, every client in a process of its
// own so that its CPU time and memory are its own, is cmd/race (see
// RESULTS.md): the harness in race/, the client side in driver/, one
// contender per directory in clients/ (gokafkahandoff, an experiment,
// builds two, by the binary's name).
//
// It is its own module so that the comparison clients never become
// dependencies of the library.
package bench
