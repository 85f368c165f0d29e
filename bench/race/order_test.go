package race

import (
	"strings"
	"testing"
)

// The clients run in an order of each round's and workload's own: over
// the rounds each runs first, and after each other client, leaving the
// clients themselves as they were; and the same round and workload give
// the same order, so that a race run again runs as the first did.
func TestInTurnVariesPlacesAndNeighbours(t *testing.T) {
	clients := []string{"a", "b", "c", "d"}
	first := map[string]int{}
	after := map[[2]string]int{}
	for round := 1; round <= 20; round++ {
		for workload := range 3 {
			order := inTurn(clients, round, workload)
			if got := strings.Join(inTurn(clients, round, workload), ""); got != strings.Join(order, "") {
				t.Fatalf("round %d, workload %d: %s, then %s", round, workload, strings.Join(order, ""), got)
			}
			first[order[0]]++
			for i := 1; i < len(order); i++ {
				after[[2]string{order[i-1], order[i]}]++
			}
		}
	}
	for _, c := range clients {
		if first[c] == 0 {
			t.Errorf("%s never ran first: %v", c, first)
		}
		for _, before := range clients {
			if before != c && after[[2]string{before, c}] == 0 {
				t.Errorf("%s never ran right after %s: %v", c, before, after)
			}
		}
	}
	if got := strings.Join(clients, ""); got != "abcd" {
		t.Errorf("the clients became %s", got)
	}
	if got := inTurn([]string(nil), 1, 0); len(got) != 0 {
		t.Errorf("no clients: %v", got)
	}
}

// TestInTurnCounterbalancesTwoClients: two clients alternate, round after
// round, on every workload, so that over an even number of rounds each runs
// first as often as the other. Shuffled by PCG seeded with the raw round
// and workload, they ran in the same order in rounds 1 to 5 of workload 0.
func TestInTurnCounterbalancesTwoClients(t *testing.T) {
	clients := []string{"a", "b"}
	for workload := range 7 {
		for rounds := 2; rounds <= 6; rounds++ {
			first := map[string]int{}
			previous := ""
			for round := 1; round <= rounds; round++ {
				order := inTurn(clients, round, workload)
				previous = notAsBefore(t, workload, round, order, previous)
				first[order[0]]++
			}
			if rounds%2 == 0 && first["a"] != first["b"] {
				t.Errorf("workload %d, %d rounds: first places %v", workload, rounds, first)
			}
		}
	}
}

// notAsBefore fails t if order, round's on workload, is previous, the
// order of the round before, and returns order as the next one's previous.
func notAsBefore(t *testing.T, workload, round int, order []string, previous string) string {
	t.Helper()
	got := strings.Join(order, "")
	if got == previous {
		t.Errorf("workload %d: rounds %d and %d both ran %s", workload, round-1, round, got)
	}
	return got
}

// TestInTurnCounterbalancesThreeClients: over each pair of rounds every
// client's places add up to the same, no two rounds in a row run alike,
// and each client runs first and right after each other client somewhere.
func TestInTurnCounterbalancesThreeClients(t *testing.T) {
	clients := []string{"a", "b", "c"}
	for workload := range 7 {
		first := map[string]int{}
		after := map[[2]string]int{}
		previous := ""
		for pair := range 5 {
			places := map[string]int{}
			for round := 2*pair + 1; round <= 2*pair+2; round++ {
				order := inTurn(clients, round, workload)
				previous = notAsBefore(t, workload, round, order, previous)
				first[order[0]]++
				for i, c := range order {
					places[c] += i
					if i > 0 {
						after[[2]string{order[i-1], c}]++
					}
				}
			}
			for _, c := range clients {
				if places[c] != len(clients)-1 {
					t.Errorf("workload %d, rounds %d and %d: places %v, want each %d", workload, 2*pair+1, 2*pair+2, places, len(clients)-1)
					break
				}
			}
		}
		if len(first) != len(clients) || len(after) != len(clients)*(len(clients)-1) {
			t.Errorf("workload %d, 10 rounds: first %v, neighbours %v", workload, first, after)
		}
	}
}
