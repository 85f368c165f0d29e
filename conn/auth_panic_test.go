package conn

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/sasl"
	"github.com/gokafka/producer/sasl/oauthbearer"
)

var errSDKBug = errors.New("identity provider SDK: index out of range")

// A token provider that panics (a bug in an identity provider's SDK) fails
// the dial as a mechanism that could not start, retriably, with the panic
// in the error and its stack in the log. Before, the panic, on a goroutine
// of the exchange's own where no caller could recover it, ended the
// process.
func TestATokenProviderThatPanicsFailsTheDialRetriably(t *testing.T) {
	fb := newFakeBroker(t)
	mech := oauthbearer.New(func(context.Context) (oauthbearer.Token, error) {
		panic(errSDKBug)
	})
	var log bytes.Buffer
	done := dialAsync(t, fb, Config{SASL: mech, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	bc := fb.conn(t)
	r := <-done
	if r.c != nil {
		t.Fatal("Dial returned a connection")
	}
	assertCouldNotStart(t, r.err, "OAUTHBEARER", fb.addr(), errMechanismPanicked)
	if !errors.Is(r.err, errSDKBug) {
		t.Errorf("error %v does not match the panic's error", r.err)
	}
	// The log line was written before the dial learnt of the panic.
	if !strings.Contains(log.String(), "stack=") {
		t.Errorf("the log does not give the panic's stack: %s", log.String())
	}
	assertNothingExchanged(t, bc)
}

// panickingStep is a PLAIN mechanism whose Step panics, as a nil
// *plain.Mechanism's did before its Start read it too.
type panickingStep struct{}

func (panickingStep) Name() string { return "PLAIN" }

func (m panickingStep) Start(context.Context, string) (sasl.Session, error) { return m, nil }

func (panickingStep) Step(context.Context, []byte) ([]byte, bool, error) {
	panic("a bug in the mechanism")
}

// A mechanism whose Step panics fails the dial as refused: the mechanism
// could not answer the broker. Before, the panic ended the process.
func TestAMechanismWhoseStepPanicsIsRefused(t *testing.T) {
	fb := newFakeBroker(t)
	done := dialAsync(t, fb, Config{SASL: panickingStep{}})
	bc := fb.conn(t)
	bc.reply(expect(t, bc, protocol.SaslHandshake), &protocol.SaslHandshakeResponse{Mechanisms: []string{"PLAIN"}})
	r := <-done
	if r.c != nil {
		t.Fatal("Dial returned a connection")
	}
	assertRefused(t, r.err, "PLAIN", fb.addr(), errMechanismPanicked)
}
