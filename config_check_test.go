package producer

import (
	"errors"
	"testing"
)

// Validate rejects what New rejects, with the same error, and accepts what
// New accepts.
func TestValidateMatchesNew(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Brokers: []string{"b:9092"}, BatchSize: 1 << 20, BufferMemory: 1 << 10},
		{Brokers: []string{"b:9092"}, RetryBackoff: 2e9, RetryBackoffMax: 1e9},
		{Brokers: []string{"b:9092"}, Hooks: []Hook{"not a hook"}},
	} {
		verr := cfg.Validate()
		var ce *ConfigError
		if !errors.As(verr, &ce) {
			t.Fatalf("Validate(%+v) = %v, want a *ConfigError", cfg, verr)
		}
		if _, nerr := New(cfg); nerr == nil || nerr.Error() != verr.Error() {
			t.Errorf("New says %v, Validate %v", nerr, verr)
		}
	}
	if err := (Config{Brokers: []string{"b:9092"}}).Validate(); err != nil {
		t.Errorf("Validate of a good Config: %v", err)
	}
}
