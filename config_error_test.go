package producer

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/sasl"
)

// unstartable is a SASL mechanism whose Validate says it can never start.
type unstartable struct{ why error }

func (m unstartable) Name() string { return "UNSTARTABLE" }

func (m unstartable) Start(context.Context, string) (sasl.Session, error) { return nil, m.why }

func (m unstartable) Validate() error { return m.why }

// A *ConfigError keeps the error that refused its field, where there was
// one, for errors.Is and errors.As: it kept its words alone, and a caller
// could not tell compression.ErrInvalidLevel, or a hook's or a SASL
// mechanism's sentinel, from any other refusal. The words and the field
// are the same as before.
func TestConfigErrorWrapsWhatRefusedTheField(t *testing.T) {
	errNoToken := errors.New("no token to start with")
	errTaken := errors.New("it serves another producer")
	base := Config{Brokers: []string{"127.0.0.1:9092"}}
	for _, tc := range []struct {
		name   string
		set    func(*Config)
		field  string
		cause  error
		reason string
	}{
		{"a SASL mechanism that can never start", func(c *Config) { c.SASL = unstartable{errNoToken} },
			"SASL", errNoToken, "no token to start with"},
		{"a gzip level out of range", func(c *Config) { c.Compression, c.CompressionLevel = compression.Gzip, 10 },
			"CompressionLevel", compression.ErrInvalidLevel, "compression: invalid level"},
		{"an unknown codec", func(c *Config) { c.Compression = compression.Codec(6) },
			"Compression", compression.ErrUnknownCodec, "compression: unknown codec"},
		{"a hook that refuses the producer", func(c *Config) { c.Hooks = []Hook{&picky{refuse: errTaken}} },
			"Hooks", errTaken, "Hooks[0] (*producer.picky) refused the producer: it serves another producer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.set(&cfg)
			p, err := New(cfg)
			require.Nil(t, p)
			require.ErrorIs(t, err, tc.cause)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.field, ce.Field)
			require.Contains(t, ce.Reason, tc.reason)
			require.Equal(t, "producer config: "+tc.field+": "+ce.Reason, err.Error())
		})
	}
	// A broker that is not host:port keeps net.SplitHostPort's error.
	_, err := New(Config{Brokers: []string{"localhost"}})
	var addrErr *net.AddrError
	require.ErrorAs(t, err, &addrErr)
	require.EqualError(t, err, `producer config: Brokers: "localhost" is not host:port`)
}
