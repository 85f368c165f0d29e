package metadata

import "sort"

// Topics returns the names of every topic in the snapshot, sorted: the
// producer's refresher asks for all of them again.
func (s *Snapshot) Topics() []string {
	out := make([]string, 0, len(s.topics))
	for name := range s.topics {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
