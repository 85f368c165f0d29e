package producer

// Validate reports what New would reject in cfg, as New reports it (a
// *ConfigError naming the field), without starting anything: a tool can
// check a configuration before it spends anything on it, such as starting
// a broker for Brokers.
func (cfg Config) Validate() error {
	cfg = cfg.WithDefaults()
	return cfg.validate()
}
