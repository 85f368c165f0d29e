package producer

import (
	"fmt"
	"reflect"
)

// Validate reports what New would reject in cfg, as New reports it (a
// *ConfigError naming the field), without starting anything: a tool can
// check a configuration before it spends anything on it, such as starting
// a broker for Brokers. It does not ask the hooks, whose consent needs the
// producer New makes: a HookAttachProducer hook that refuses it (a
// promhooks.Metrics or otelhooks.Telemetry another producer has already,
// say) passes Validate, and New fails with a *ConfigError naming Hooks.
func (cfg Config) Validate() error {
	given := cfg
	cfg = cfg.WithDefaults()
	return cfg.validate(&given)
}

// refuseNils refuses a nil pointer or func given as the Dialer or the
// Partitioner (SASL and Hooks check theirs with the rest of their
// checks). Such a value is no nil interface, so it is not replaced by the
// default, and its methods would read through it at first use: the
// Dialer's on a producer goroutine, where the panic ends the process, the
// Partitioner's failing every record.
func (cfg *Config) refuseNils() error {
	if holdsNil(cfg.Dialer) {
		return &ConfigError{Field: "Dialer", Reason: fmt.Sprintf("a nil %T: the first dial would panic; leave Dialer nil for a net.Dialer", cfg.Dialer)}
	}
	if holdsNil(cfg.Partitioner) {
		return &ConfigError{Field: "Partitioner", Reason: fmt.Sprintf("a nil %T: it would panic on every record; leave Partitioner nil for partitioner.Default", cfg.Partitioner)}
	}
	return nil
}

// holdsNil reports whether x is a non-nil interface holding a nil pointer
// (var m *plain.Mechanism; cfg.SASL = m) or a nil func (a
// partitioner.Func(nil)), which no comparison with nil catches, and whose
// methods would panic at first use. IsNil is asked only of those two
// kinds, for which it cannot panic.
func holdsNil(x any) bool {
	v := reflect.ValueOf(x)
	return (v.Kind() == reflect.Pointer || v.Kind() == reflect.Func) && v.IsNil()
}
