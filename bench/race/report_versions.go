package race

import (
	"fmt"
	"slices"
	"strings"
)

// clientNames is every client in any results, in the race's order, then
// those built at another commit (gokafka@REF) as the results list them.
func clientNames(all []*Results) []string {
	seen := map[string]bool{}
	for _, r := range all {
		for _, c := range r.Clients {
			seen[c] = true
		}
	}
	var names []string
	for _, c := range Contenders {
		if seen[c.Name] {
			names = append(names, c.Name)
			delete(seen, c.Name)
		}
	}
	for _, r := range all {
		for _, c := range r.Clients {
			if seen[c] {
				names = append(names, c)
				delete(seen, c)
			}
		}
	}
	return names
}

// clientVersion is the version a client's runs reported, with the
// commits of the races it ran in for this repository's code.
func clientVersion(all []*Results, name string) string {
	ran := racesWith(all, name)
	for _, r := range all {
		for _, run := range r.Runs {
			if run.Client != name || run.Err != "" {
				continue
			}
			switch {
			case name == "java":
				return "org.apache.kafka:kafka-tools 4.3.1 (kafka-clients 4.3.1), ProducerPerformance"
			case strings.Contains(name, refSeparator):
				c, _ := atRef(name)
				return "this repository's library at " + c.Ref + ", in the gokafka client" + commits(ran)
			case run.Version == "(devel)" || run.Version == "":
				return "this repository" + commits(ran)
			default:
				v := run.Version
				for _, c := range run.Config {
					if l, ok := strings.CutPrefix(c, "librdkafka="); ok {
						v += ", bundled librdkafka " + l
					}
				}
				return v
			}
		}
	}
	return "unknown"
}

// racesWith is the races among all that raced client.
func racesWith(all []*Results, client string) []*Results {
	var ran []*Results
	for _, r := range all {
		if slices.Contains(r.Clients, client) {
			ran = append(ran, r)
		}
	}
	return ran
}

// commits says which commit of this repository each race ran, " at C" when
// every race ran the same one, so that a race from a changed work tree
// ("-dirty") is not shown as the clean commit.
func commits(all []*Results) string {
	var distinct []string
	for _, r := range all {
		if r.Commit != "" && !slices.Contains(distinct, r.Commit) {
			distinct = append(distinct, r.Commit)
		}
	}
	switch len(distinct) {
	case 0:
		return ""
	case 1:
		return " at " + distinct[0]
	}
	var each []string
	for _, r := range all {
		if r.Commit != "" {
			each = append(each, fmt.Sprintf("%s (%s)", r.Commit, r.name()))
		}
	}
	return " at " + strings.Join(each, ", ")
}
