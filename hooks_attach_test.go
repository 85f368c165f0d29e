package producer

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// picky is a hook that may refuse the producer it is offered, as a plugin
// that serves one producer refuses a second.
type picky struct {
	refuse  error
	offered []*Producer
	news    int
}

func (h *picky) AttachProducer(p *Producer) error {
	h.offered = append(h.offered, p)
	return h.refuse
}

func (h *picky) OnNewProducer(*Producer) { h.news++ }

// A hook that refuses its producer fails New with a ConfigError naming it
// and saying why, before any hook heard of the producer: the hooks listed
// before it, which accepted it or have no say, get no OnNewProducer, nor
// does the one that refused.
func TestAHookThatRefusesTheProducerFailsNewBeforeAnyEvent(t *testing.T) {
	before, accepts := &recorder{}, &picky{}
	refuses := &picky{refuse: errors.New("it serves another producer")}
	after := &recorder{}
	_, err := New(Config{Brokers: []string{"127.0.0.1:9092"}, Hooks: []Hook{before, accepts, refuses, after}})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "Hooks", ce.Field)
	require.Contains(t, ce.Reason, "Hooks[2]")
	require.Contains(t, ce.Reason, "it serves another producer")
	require.Len(t, accepts.offered, 1, "offered the producer, in Config.Hooks' order")
	require.Len(t, refuses.offered, 1)
	require.Zero(t, before.newCalls+after.newCalls+accepts.news+refuses.news, "no hook heard of a producer New did not make")
}

// A hook that accepts its producer is offered it before it hears of it,
// and the producer it then hears of is the one it was offered.
func TestAHookThatAcceptsTheProducerHearsOfIt(t *testing.T) {
	h, rec := &picky{}, &recorder{}
	p, err := New(Config{Brokers: []string{"127.0.0.1:9092"}, Hooks: []Hook{h, rec}})
	require.NoError(t, err)
	defer p.Close(context.Background())
	require.Len(t, h.offered, 1)
	require.Same(t, p, h.offered[0])
	require.Equal(t, 1, h.news)
	require.Same(t, p, rec.p)
}
