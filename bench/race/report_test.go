package race

import "testing"

// TestCommitsNamesEachRaceWhenTheyDiffer keeps a race from a changed work
// tree from being reported as the clean commit.
func TestCommitsNamesEachRaceWhenTheyDiffer(t *testing.T) {
	same := []*Results{{Broker: "embedded", Commit: "abc"}, {Broker: "kafka", Commit: "abc"}}
	if got := commits(same); got != " at abc" {
		t.Errorf("one commit: %q, want %q", got, " at abc")
	}
	differ := []*Results{{Broker: "embedded", Commit: "abc"}, {Broker: "kafka", Commit: "abc-dirty"}}
	if got, want := commits(differ), " at abc (embedded), abc-dirty (kafka)"; got != want {
		t.Errorf("two commits: %q, want %q", got, want)
	}
	if got := commits([]*Results{{Broker: "embedded"}}); got != "" {
		t.Errorf("outside git: %q, want none", got)
	}
}
