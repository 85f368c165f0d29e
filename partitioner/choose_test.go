package partitioner

import "testing"

// TestIndexOfCandidates covers the three shapes of a candidate list: every
// partition (no Available), every partition listed, and some listed.
func TestIndexOfCandidates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		avail []int32
		p     int32
		want  int
	}{
		{"no list", nil, 3, 3},
		{"no list, past the count", nil, 4, -1},
		{"all listed", []int32{0, 1, 2, 3}, 2, 2},
		{"all listed, negative", []int32{0, 1, 2, 3}, -1, -1},
		{"some listed", []int32{1, 3}, 3, 1},
		{"some listed, not among them", []int32{1, 3}, 2, -1},
	} {
		c := candidates{avail: tc.avail, n: 4}
		if got := c.indexOf(tc.p); got != tc.want {
			t.Errorf("%s: indexOf(%d) = %d, want %d", tc.name, tc.p, got, tc.want)
		}
	}
}
