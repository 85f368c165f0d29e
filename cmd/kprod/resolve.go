package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/compression"
)

// The producer's Config comes from three places, in increasing precedence:
// --producer-config FILE, -X NAME=VALUE (later ones win), and kprod's own
// flags. configSources remembers where each field the user set came from,
// so that an error names what the user wrote, not a Config field.

// configSources maps a Config field to where the user set it, in the
// user's words: "--linger", "-X linger.ms", "linger.ms (FILE:3)". A field
// missing from it has its default.
type configSources map[string]string

// entry is one setting given by name, from -X or a file.
type entry struct {
	name, value string
	origin      string // how the user wrote it, for messages and sources
}

// resolveConfig builds the Config the flags, --producer-config and -X
// describe. Its errors are usage errors naming what the user wrote.
func (o *commonOptions) resolveConfig(fs *pflag.FlagSet) (producer.Config, configSources, error) {
	cfg := o.flagConfig()
	src := configSources{}
	for _, s := range settings {
		if s.flag != "" && fs.Changed(s.flag) {
			src[s.field] = "--" + s.flag
		}
	}
	entries, err := o.settingEntries()
	if err != nil {
		return cfg, nil, err
	}
	t := &settingTarget{cfg: &cfg, levels: map[compression.Codec]int{}}
	levelSrc := map[compression.Codec]string{}
	for _, e := range entries {
		s, ok := lookupSetting(e.name)
		if !ok {
			return cfg, nil, usagef("%s: %v", e.origin, unknownSetting(e.name))
		}
		if s.flag != "" && fs.Changed(s.flag) {
			continue // the flag wins
		}
		if err := s.set(t, e.value); err != nil {
			return cfg, nil, usagef("%s: %v", e.origin, err)
		}
		if c, ok := levelCodec(s.name); ok {
			levelSrc[c] = e.origin
			continue
		}
		src[s.field] = e.origin
	}
	if level, ok := t.levels[cfg.Compression]; ok && !fs.Changed("compression-level") {
		cfg.CompressionLevel = level
		src["CompressionLevel"] = levelSrc[cfg.Compression]
	}
	// As in the Java client, acks other than all turn idempotence off
	// unless it was asked for, which is then an error the library names,
	// or transactions, which need both (validateTxn says so).
	idempotence, asked := src["DisableIdempotence"]
	if !asked && cfg.Acks != producer.AcksAll && cfg.TransactionalID == "" {
		cfg.DisableIdempotence = true
	}
	// The library's own refusal tells its user to set DisableIdempotence,
	// whose sense the settings here invert: it is worded here instead.
	if asked && !cfg.DisableIdempotence && cfg.Acks != producer.AcksAll && cfg.TransactionalID == "" {
		return cfg, nil, usagef("%s: acks=%v needs idempotence off, which %s turns on", src.name("Acks"), cfg.Acks, idempotence)
	}
	// So do more than 5 requests in flight: with idempotence the library
	// keeps at most 5 batches of a partition in flight whatever MaxInFlight
	// says (brokers know a producer's last five only), and the summary
	// would say idempotent of a run that does not get what it asked for.
	if cfg.MaxInFlight > producer.MaxIdempotentInFlight {
		switch {
		case cfg.TransactionalID != "":
			return cfg, nil, usagef("%s: %d requests in flight need idempotence off (it allows %d at most), which %s needs",
				src.name("MaxInFlight"), cfg.MaxInFlight, producer.MaxIdempotentInFlight, src.name("TransactionalID"))
		case !asked:
			cfg.DisableIdempotence = true
		case !cfg.DisableIdempotence:
			return cfg, nil, usagef("%s: %d requests in flight need idempotence off (it allows %d at most), which %s turns on",
				src.name("MaxInFlight"), cfg.MaxInFlight, producer.MaxIdempotentInFlight, idempotence)
		}
	}
	return cfg, src, nil
}

// levelCodec tells the codec of a compression.<codec>.level setting.
func levelCodec(name string) (compression.Codec, bool) {
	codec, ok := strings.CutPrefix(name, "compression.")
	if !ok {
		return 0, false
	}
	if codec, ok = strings.CutSuffix(codec, ".level"); !ok {
		return 0, false
	}
	c, err := compression.ParseCodec(codec)
	return c, err == nil
}

// settingEntries are the settings of --producer-config, then of -X, in the
// order they apply.
func (o *commonOptions) settingEntries() ([]entry, error) {
	var entries []entry
	if o.producerConfigFile != "" {
		f, err := os.Open(o.producerConfigFile)
		if err != nil {
			return nil, usagef("--producer-config: %v", err)
		}
		props, err := readProperties(f)
		f.Close()
		if err != nil {
			return nil, usagef("--producer-config %s: %v", o.producerConfigFile, err)
		}
		for _, p := range props {
			entries = append(entries, entry{name: p.name, value: javaTrim(p.value),
				origin: fmt.Sprintf("%s (%s:%d)", p.name, o.producerConfigFile, p.line)})
		}
	}
	for _, kv := range o.props {
		name, value, ok := strings.Cut(kv, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, usagef("-X %q: want name=value", kv)
		}
		entries = append(entries, entry{name: name, value: javaTrim(value), origin: "-X " + name})
	}
	return entries, nil
}

// javaTrim is a setting's value as the Java producer reads it: its
// ConfigDef trims every value, passwords and ids included, with
// String.trim, which drops the characters up to U+0020 at either end (and
// no other whitespace). A file Java producers share with kprod then gives
// both the same transactional.id, and "acks=all " is acks=all.
func javaTrim(v string) string {
	return strings.TrimFunc(v, func(r rune) bool { return r <= ' ' })
}

// name is how messages call a Config field: where the user set it, or else
// the flag (or -X name) that sets it.
func (src configSources) name(field string) string {
	if s, ok := src[field]; ok {
		return s
	}
	for _, s := range settings {
		if s.field == field && s.flag != "" {
			return "--" + s.flag
		}
	}
	for _, s := range settings {
		if s.field == field {
			return "-X " + s.name
		}
	}
	return field
}

// fieldName matches a Config field name as a word.
var fieldName = regexp.MustCompile(`\b[A-Z][A-Za-z]+\b`)

// explain turns the library's verdict on a Config into a usage error that
// blames what the user set. The library names one field, but some checks
// compare two (BatchSize against BufferMemory, DeliveryTimeout against
// Linger + RequestTimeout): when the user left the named field at its
// default and set one the reason mentions, that one is to blame
// (--buffer-memory 100 is too small, not --batch-size).
func (src configSources) explain(ce *producer.ConfigError) error {
	if !slices.ContainsFunc(settings, func(s setting) bool { return s.field == ce.Field }) {
		return usagef("%v", ce)
	}
	var mentioned []string
	reason := fieldName.ReplaceAllStringFunc(ce.Reason, func(w string) string {
		if !slices.ContainsFunc(settings, func(s setting) bool { return s.field == w }) {
			return w
		}
		mentioned = append(mentioned, w)
		return src.name(w)
	})
	if _, set := src[ce.Field]; set {
		return usagef("%s: %s", src.name(ce.Field), reason)
	}
	for _, f := range mentioned {
		if _, set := src[f]; set {
			return usagef("%s: %s %s (%s is at its default)", src[f], src.name(ce.Field), reason, src.name(ce.Field))
		}
	}
	return usagef("%s: %s", src.name(ce.Field), reason)
}

// newProducer builds the producer, turning a configuration the library
// rejects into a usage error that names what the user set.
func newProducer(cfg producer.Config, src configSources) (*producer.Producer, error) {
	p, err := producer.New(cfg)
	var ce *producer.ConfigError
	if errors.As(err, &ce) {
		return nil, src.explain(ce)
	}
	return p, err
}
