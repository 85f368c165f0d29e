package fakebroker

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

func TestApiVersionsListsEveryAPIItSpeaks(t *testing.T) {
	c := start(t, Options{})
	cn := dial(t, c, 0, conn.Config{})
	for api, want := range map[protocol.APIKey]int16{
		protocol.Produce: 13, protocol.Metadata: 13, protocol.ApiVersions: 4,
		protocol.FindCoordinator: 6,
		// The fake lists v6, all the protocol package implements; the
		// client does not negotiate it, unstable in Kafka's schemas.
		protocol.InitProducerId: 5,
	} {
		v, err := cn.Version(api)
		require.NoError(t, err, "%s", api)
		require.Equal(t, want, v, "%s", api)
	}
	_, err := cn.Version(protocol.EndTxn)
	require.Error(t, err, "an API the fake does not speak is not advertised")
}

// A request above the broker's ApiVersions range gets a v0 answer with
// UNSUPPORTED_VERSION and the range it does speak (KIP-511); the client
// then retries at a common version.
func TestApiVersionsFallsBackToV0(t *testing.T) {
	c := start(t, Options{Versions: map[protocol.APIKey]protocol.VersionRange{
		protocol.ApiVersions: {Min: 0, Max: 2},
		protocol.Produce:     {Min: 3, Max: 8},
	}})

	nc, err := net.DialTimeout("tcp", c.Addrs()[0], wait)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(time.Now().Add(wait)))
	req := &protocol.ApiVersionsRequest{ClientSoftwareName: "test", ClientSoftwareVersion: "1"}
	frame := append([]byte{0, 0, 0, 0}, protocol.AppendRequestHeader(nil, protocol.ApiVersions, 4, 7, nil)...)
	frame = req.AppendTo(frame, 4)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	_, err = nc.Write(frame)
	require.NoError(t, err)

	var size [4]byte
	_, err = io.ReadFull(nc, size[:])
	require.NoError(t, err)
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err = io.ReadFull(nc, body)
	require.NoError(t, err)
	corr, body, err := protocol.ReadResponseHeader(body, protocol.ApiVersions, 4)
	require.NoError(t, err)
	require.Equal(t, int32(7), corr)
	var v0 protocol.ApiVersionsResponse
	require.NoError(t, v0.ReadFrom(body, 0), "the answer is in v0, whatever was asked")
	require.Equal(t, kerr.UnsupportedVersion.Code, v0.ErrorCode)
	require.Equal(t, []protocol.ApiVersionsResponseKey{{ApiKey: int16(protocol.ApiVersions), MinVersion: 0, MaxVersion: 2}}, v0.ApiKeys)

	// Our client retries at v2 and then sees the narrowed ranges.
	cn := dial(t, c, 0, conn.Config{})
	v, err := cn.Version(protocol.Produce)
	require.NoError(t, err)
	require.Equal(t, int16(8), v)
}

func TestUnsupportedVersionClosesTheConnection(t *testing.T) {
	c := start(t, Options{Versions: map[protocol.APIKey]protocol.VersionRange{protocol.Produce: {Min: 3, Max: 8}}})
	cn := dial(t, c, 0, conn.Config{})
	_, err := request(t, cn, produceReq(1, "t", map[int32][]byte{0: batch(t, "a")}), 9)
	require.ErrorIs(t, err, conn.ErrDisconnected, "Kafka closes a connection that speaks a version it does not")
}
