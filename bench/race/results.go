package race

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// WriteResults writes one race's runs to dir/BROKER.json, or
// dir/BROKER-instructions.json for a race that counted instructions, or
// dir/BROKER-cache-SIZE.json for one that also simulated a cache,
// replacing an earlier race of the same kind on the same broker.
func WriteResults(dir string, r *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, r.name()+".json"), append(b, '\n'), 0o644)
}

// name tells r's results apart from another kind of race's on the same
// broker: "embedded", "embedded-instructions" for a race that counted, or
// "embedded-cache-16MiB" for one that also simulated a 16 MiB cache, so
// that races with different caches keep their results side by side.
func (r *Results) name() string {
	switch {
	case r.CacheSize != 0:
		return r.Broker + "-cache-" + strings.ReplaceAll(FormatCacheSize(r.CacheSize), " ", "")
	case r.Instructions:
		return r.Broker + "-instructions"
	}
	return r.Broker
}

// ReadResults reads every results file in dir, embedded first, and the
// races that timed before those that counted instructions, those before
// the ones that simulated a cache, smallest cache first.
func ReadResults(dir string) ([]*Results, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var all []*Results
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var r Results
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		all = append(all, &r)
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Instructions != b.Instructions {
			return !a.Instructions
		}
		if a.CacheSize != b.CacheSize {
			return a.CacheSize < b.CacheSize
		}
		return a.Broker == "embedded" && b.Broker != "embedded"
	})
	return all, nil
}
