package fakebroker

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/sasl/scram"
)

// Our own SCRAM client authenticates with both hashes (and checks the
// fake's server signature); a wrong password is refused with
// SASL_AUTHENTICATION_FAILED, and without authentication nothing but
// ApiVersions is answered.
func TestSCRAM(t *testing.T) {
	c := start(t, Options{SCRAM: map[string]string{"alice": "secret"}, Topics: map[string]int32{"t": 1}})
	for _, mech := range []*scram.Mechanism{scram.SHA256("alice", "secret"), scram.SHA512("alice", "secret")} {
		cn := dial(t, c, 0, conn.Config{SASL: mech})
		v, err := cn.Version(protocol.Metadata)
		require.NoError(t, err)
		resp, err := request(t, cn, &protocol.MetadataRequest{}, v)
		require.NoError(t, err, "%s: authenticated, then answered", mech.Name())
		require.Len(t, resp.(*protocol.MetadataResponse).Brokers, 1)
	}

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := conn.Dial(ctx, c.Addrs()[0], conn.Config{SASL: scram.SHA512("alice", "wrong")})
	var ae *conn.AuthError
	require.True(t, errors.As(err, &ae), "a wrong password: %v", err)
	require.ErrorIs(t, err, kerr.SASLAuthenticationFailed)

	cn, err := conn.Dial(ctx, c.Addrs()[0], conn.Config{})
	require.NoError(t, err, "ApiVersions needs no authentication")
	defer cn.Close()
	_, err = cn.Request(ctx, &protocol.MetadataRequest{})
	require.Error(t, err, "a request before authentication closes the connection")
}
