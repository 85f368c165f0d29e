package main

import (
	"context"
	"errors"
	"fmt"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/conn"
)

// kprod's own connection to the cluster, beside the producer's, for the
// topic's metadata and its creation (topic.go): to the first seed broker
// that answers, configured as the producer's connections are.

// connConfig is the connection configuration matching the producer's.
func connConfig(cfg producer.Config) conn.Config {
	cc := conn.Config{ClientID: cfg.ClientID, DialTimeout: cfg.ConnectionSetupTimeout, RequestTimeout: cfg.RequestTimeout, TLS: cfg.TLS, SASL: cfg.SASL}
	if cfg.Dialer != nil {
		cc.Dial = cfg.Dialer.DialContext
	}
	return cc
}

// dialAny connects to the first seed broker that answers.
func dialAny(ctx context.Context, addrs []string, cfg conn.Config) (*conn.Conn, error) {
	var errs []error
	for _, a := range addrs {
		c, err := conn.Dial(ctx, a, cfg)
		if err == nil {
			return c, nil
		}
		if errors.Is(err, conn.ErrAuthentication) {
			return nil, err // one line that says why, not one per broker
		}
		if interrupted(ctx) {
			// Not "no broker answered": this one had no time to.
			return nil, fmt.Errorf("interrupted while connecting to %s (%w)", a, context.Cause(ctx))
		}
		errs = append(errs, err)
	}
	return nil, &noBrokerError{err: errors.Join(errs...)}
}

// noBrokerError is dialAny's failure to reach any seed broker.
type noBrokerError struct {
	// from is where the brokers came from when the command line does not
	// show it ($KPROD_BROKERS), else "".
	from string
	err  error
}

func (e *noBrokerError) Error() string {
	from := ""
	if e.from != "" {
		from = " (from " + e.from + ")"
	}
	return fmt.Sprintf("no broker answered%s: %v", from, e.err)
}

func (e *noBrokerError) Unwrap() error { return e.err }

// saidFrom is err, with the place the brokers came from, if it does not
// show on the command line, added to a failure to reach any of them: a
// $KPROD_BROKERS left from an earlier session, pointing at a broker long
// gone, was never named.
func (s configSources) saidFrom(err error) error {
	var nb *noBrokerError
	if from := s["Brokers"]; from == "$"+brokersEnv && errors.As(err, &nb) {
		nb.from = from // the run's own error, wherever it is wrapped
	}
	return err
}
