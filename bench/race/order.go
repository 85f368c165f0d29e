package race

import (
	"math/rand/v2"
	"slices"
)

// inTurn is the order the clients run in a round (from 1) on its workload
// (by index). In a fixed order, or one rotated each round, which keeps each
// client's neighbours and runs the workloads back to back, a client meets
// the broker in the same state each time (right after the same other
// client's run, its log and page cache as that run left them): a bias in
// its per-round ratios that no number of rounds removes. So the rounds go
// in pairs, counterbalanced: the first of a pair is a shuffle, the second
// runs it backwards, so that over a pair every client holds mirrored
// places (first and last, second and second to last) and follows, in the
// second, the client it preceded in the first. A new pair that would begin
// in the order the last one ended in begins reversed instead, so that no
// two rounds in a row run alike and two clients simply alternate. Over an
// even number of rounds every client's places balance; an odd number
// leaves the last pair's first round unmatched.
//
// Each pair's shuffle is seeded by the pair and the workload, mixed
// (splitmix64), so that a race run again runs in the same order (the log
// shows it). Seeded with the raw numbers, PCG's first outputs agree in
// their low bits for small seeds, and a shuffle of two clients, which
// uses that bit, ran them in the same order in rounds 1 to 5.
func inTurn[T any](clients []T, round, workload int) []T {
	pair := (round - 1) / 2
	order := pairStart(len(clients), pair, workload)
	if round%2 == 0 {
		slices.Reverse(order)
	}
	turn := make([]T, len(clients))
	for i, c := range order {
		turn[i] = clients[c]
	}
	return turn
}

// pairStart is the order, as indexes into n clients, of the first round
// of pair (from 0) on workload: pair's shuffle, or its reverse where the
// shuffle is the order the pair before ended in.
func pairStart(n, pair, workload int) []int {
	var start []int
	for p := 0; p <= pair; p++ {
		next := shuffled(n, p, workload)
		if p > 0 && slices.Equal(next, reversed(start)) {
			slices.Reverse(next)
		}
		start = next
	}
	return start
}

// shuffled is a shuffle of 0..n-1 seeded by pair and workload, each mixed
// into a seed of its own.
func shuffled(n, pair, workload int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	seed := splitmix64(uint64(pair)<<32 | uint64(uint32(workload)))
	rng := rand.New(rand.NewPCG(seed, splitmix64(seed)))
	rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	return order
}

func reversed(order []int) []int {
	r := slices.Clone(order)
	slices.Reverse(r)
	return r
}

// splitmix64 is SplitMix64's step: consecutive inputs give outputs that
// share no bit pattern, as a PCG seed needs.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
