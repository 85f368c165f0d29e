package conn

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/producer/protocol"
)

// fakeBroker is a Kafka broker just real enough for connection tests: it
// accepts connections on 127.0.0.1, reads request frames with
// protocol.ReadRequestHeader, answers ApiVersions itself (unless told
// otherwise), and hands every other request to the test, which decides
// whether, when and how to answer it.
type fakeBroker struct {
	t  testing.TB
	ln net.Listener

	// apiVersions answers ApiVersions requests; set before dialing.
	apiVersions func(bc *brokerConn, r request)

	accepted chan *brokerConn // every accepted connection, in order
	mu       sync.Mutex
	conns    []*brokerConn
	wg       sync.WaitGroup
}

// request is one request as the fake broker read it.
type request struct {
	api      protocol.APIKey
	version  int16
	corr     int32
	clientID *string
	body     []byte
}

// brokerConn is the fake broker's side of one connection.
type brokerConn struct {
	fb       *fakeBroker
	nc       net.Conn
	requests chan request // requests other than those apiVersions answers
	wmu      sync.Mutex
}

// waitTime bounds every wait in these tests: long enough for a loaded CI
// machine, short enough that a hang fails clearly.
const waitTime = 5 * time.Second

func newFakeBroker(t testing.TB) *fakeBroker {
	t.Helper()
	return newFakeBrokerTLS(t, nil)
}

// newFakeBrokerTLS is a fake broker that speaks TLS with cfg (none if nil).
func newFakeBrokerTLS(t testing.TB, cfg *tls.Config) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	return newFakeBrokerOn(t, ln)
}

// newFakeBrokerOn is a fake broker that accepts connections from ln.
func newFakeBrokerOn(t testing.TB, ln net.Listener) *fakeBroker {
	t.Helper()
	fb := &fakeBroker{t: t, ln: ln, accepted: make(chan *brokerConn, 16)}
	fb.apiVersions = answerApiVersions(allVersions())
	fb.wg.Add(1)
	go fb.acceptLoop()
	t.Cleanup(fb.close)
	return fb
}

func (fb *fakeBroker) addr() string { return fb.ln.Addr().String() }

func (fb *fakeBroker) acceptLoop() {
	defer fb.wg.Done()
	for {
		nc, err := fb.ln.Accept()
		if err != nil {
			return
		}
		bc := &brokerConn{fb: fb, nc: nc, requests: make(chan request, 64)}
		fb.mu.Lock()
		fb.conns = append(fb.conns, bc)
		fb.mu.Unlock()
		fb.accepted <- bc
		fb.wg.Add(1)
		go bc.readLoop()
	}
}

// close stops listening and closes every connection.
func (fb *fakeBroker) close() {
	fb.ln.Close()
	fb.mu.Lock()
	for _, bc := range fb.conns {
		bc.nc.Close()
	}
	fb.mu.Unlock()
	fb.wg.Wait()
}

func (bc *brokerConn) readLoop() {
	defer bc.fb.wg.Done()
	defer close(bc.requests)
	for {
		var size [4]byte
		if _, err := io.ReadFull(bc.nc, size[:]); err != nil {
			return
		}
		frame := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(bc.nc, frame); err != nil {
			return
		}
		api, v, corr, clientID, body, err := protocol.ReadRequestHeader(frame)
		if err != nil {
			bc.fb.t.Errorf("fake broker: bad request header: %v", err)
			return
		}
		r := request{api: api, version: v, corr: corr, clientID: clientID, body: body}
		if api == protocol.ApiVersions && bc.fb.apiVersions != nil {
			bc.fb.apiVersions(bc, r)
			continue
		}
		bc.requests <- r
	}
}

// next returns the next request the client sent, failing the test if none
// comes in time.
func (bc *brokerConn) next(t testing.TB) request {
	t.Helper()
	select {
	case r, ok := <-bc.requests:
		if !ok {
			t.Fatal("fake broker: connection closed while waiting for a request")
		}
		return r
	case <-time.After(waitTime):
		t.Fatal("fake broker: no request within the wait time")
	}
	return request{}
}

// reply answers r with resp encoded at r's version.
func (bc *brokerConn) reply(r request, resp protocol.Response) {
	bc.replyRaw(r.corr, r.api, r.version, resp.AppendTo(nil, r.version))
}

// replyRaw writes a response frame with the given correlation id and body.
func (bc *brokerConn) replyRaw(corr int32, api protocol.APIKey, version int16, body []byte) {
	bc.write(responseFrame(corr, api, version, body))
}

// responseFrame is a response as it travels: size, header, body.
func responseFrame(corr int32, api protocol.APIKey, version int16, body []byte) []byte {
	b := make([]byte, 4, 64+len(body))
	b = protocol.AppendResponseHeader(b, api, version, corr)
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// write sends raw bytes; errors mean the client hung up, which some tests
// cause on purpose.
func (bc *brokerConn) write(b []byte) {
	bc.wmu.Lock()
	defer bc.wmu.Unlock()
	if _, err := bc.nc.Write(b); err != nil && !errors.Is(err, net.ErrClosed) {
		bc.fb.t.Logf("fake broker: write: %v", err)
	}
}

// conn returns the next connection the fake broker accepted.
func (fb *fakeBroker) conn(t testing.TB) *brokerConn {
	t.Helper()
	select {
	case bc := <-fb.accepted:
		return bc
	case <-time.After(waitTime):
		t.Fatal("fake broker: no connection within the wait time")
	}
	return nil
}

// allVersions lists every API at the full range this client implements.
func allVersions() []protocol.ApiVersionsResponseKey {
	var keys []protocol.ApiVersionsResponseKey
	for _, api := range []protocol.APIKey{protocol.Produce, protocol.Metadata, protocol.ApiVersions,
		protocol.SaslHandshake, protocol.SaslAuthenticate, protocol.InitProducerId} {
		r := protocol.Supported(api)
		keys = append(keys, protocol.ApiVersionsResponseKey{ApiKey: int16(api), MinVersion: r.Min, MaxVersion: r.Max})
	}
	return keys
}

// answerApiVersions answers every ApiVersions request with keys.
func answerApiVersions(keys []protocol.ApiVersionsResponseKey) func(*brokerConn, request) {
	return func(bc *brokerConn, r request) {
		bc.reply(r, &protocol.ApiVersionsResponse{ApiKeys: keys, FinalizedFeaturesEpoch: -1})
	}
}

// metadataResponse is a small canned answer.
func metadataResponse() *protocol.MetadataResponse {
	name := "events"
	return &protocol.MetadataResponse{
		Brokers:      []protocol.MetadataResponseBroker{{NodeID: 1, Host: "127.0.0.1", Port: 9092}},
		ControllerID: 1,
		Topics: []protocol.MetadataResponseTopic{{Name: &name, Partitions: []protocol.MetadataResponsePartition{
			{PartitionIndex: 0, LeaderID: 1, LeaderEpoch: 0, ReplicaNodes: []int32{1}, IsrNodes: []int32{1}},
		}}},
	}
}
