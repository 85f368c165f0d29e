package producer

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// A hook listed twice would hear every event twice: New refuses it, naming
// both places, rather than count or trace everything twice.
func TestAHookListedTwiceIsRefusedNamingBothIndexes(t *testing.T) {
	h, other := &recorder{}, &refusals{}
	_, err := New(Config{Brokers: []string{"127.0.0.1:9092"}, Hooks: []Hook{h, other, h}})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "Hooks", ce.Field)
	require.Contains(t, ce.Reason, "Hooks[0] and Hooks[2]")
	require.Contains(t, ce.Reason, "twice")

	p, err := New(Config{Brokers: []string{"127.0.0.1:9092"}, Hooks: []Hook{h, &recorder{}}})
	require.NoError(t, err, "two hooks of one type are two hooks")
	require.NoError(t, p.Close(context.Background()))
}

// boxedHook is comparable by its type, yet holds a value that is not.
type boxedHook struct{ f any }

func (boxedHook) OnRecordAcknowledged(context.Context, RecordAcknowledged) {}

// listedHook is a hook whose type cannot be compared at all.
type listedHook struct{ names []string }

func (listedHook) OnRecordAcknowledged(context.Context, RecordAcknowledged) {}

// Comparing hooks that cannot be compared panics: New leaves those out of
// the check instead, and accepts them.
func TestANonComparableHookListedTwiceDoesNotPanic(t *testing.T) {
	f := ackFunc(func(context.Context, RecordAcknowledged) {})
	boxed := boxedHook{f: func() {}}
	listed := listedHook{names: []string{"a"}}
	for name, hooks := range map[string][]Hook{
		"a func":                        {f, f},
		"a struct with a slice":         {listed, listed},
		"a struct holding a func value": {boxed, boxed},
	} {
		t.Run(name, func(t *testing.T) {
			var p *Producer
			var err error
			require.NotPanics(t, func() {
				p, err = New(Config{Brokers: []string{"127.0.0.1:9092"}, Hooks: hooks})
			})
			require.NoError(t, err)
			require.NoError(t, p.Close(context.Background()))
		})
	}
}

// zeroHook has no state: every &zeroHook{} may share one address.
type zeroHook struct{}

func (*zeroHook) OnRecordAcknowledged(context.Context, RecordAcknowledged) {}

// sizedHook is a comparable hook with state of its own.
type sizedHook struct{ name string }

func (sizedHook) OnRecordAcknowledged(context.Context, RecordAcknowledged) {}

// Go may give every new value of a zero-size type one address, so two
// hooks a user made apart compare equal: New cannot tell them from one
// hook listed twice, and accepts them rather than refuse two hooks.
func TestTwoHooksOfAZeroSizeTypeAreNotOneHookListedTwice(t *testing.T) {
	p, err := New(Config{Brokers: []string{"127.0.0.1:9092"}, Hooks: []Hook{&zeroHook{}, &zeroHook{}}})
	require.NoError(t, err, "two &zeroHook{} are two hooks")
	require.NoError(t, p.Close(context.Background()))

	sized := sizedHook{name: "a"}
	_, err = New(Config{Brokers: []string{"127.0.0.1:9092"}, Hooks: []Hook{sized, sized}})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce, "a hook with state, listed twice, is still refused")
	require.Contains(t, ce.Reason, "Hooks[0] and Hooks[1]")
}
