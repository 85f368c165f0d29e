package race

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// WriteResults writes one race's runs to dir/BROKER.json, replacing an
// earlier race on the same broker.
func WriteResults(dir string, r *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, r.Broker+".json"), append(b, '\n'), 0o644)
}

// ReadResults reads every results file in dir, embedded first.
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
		return all[i].Broker == "embedded" && all[j].Broker != "embedded"
	})
	return all, nil
}
