package metadata

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gokafka/producer/protocol"
)

// Builders for literal Metadata responses, so each test reads as the
// broker's answer it feeds the cache.

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func brokers(ids ...int32) []protocol.MetadataResponseBroker {
	out := make([]protocol.MetadataResponseBroker, len(ids))
	for i, id := range ids {
		out[i] = protocol.MetadataResponseBroker{NodeID: id, Host: fmt.Sprintf("b%d.example", id), Port: 9092}
	}
	return out
}

func topic(name string, code int16, parts ...protocol.MetadataResponsePartition) protocol.MetadataResponseTopic {
	return protocol.MetadataResponseTopic{ErrorCode: code, Name: &name, Partitions: parts}
}

func part(idx, leader, epoch int32) protocol.MetadataResponsePartition {
	return protocol.MetadataResponsePartition{PartitionIndex: idx, LeaderID: leader, LeaderEpoch: epoch,
		ReplicaNodes: []int32{leader}, IsrNodes: []int32{leader}}
}

func resp(bs []protocol.MetadataResponseBroker, topics ...protocol.MetadataResponseTopic) *protocol.MetadataResponse {
	return &protocol.MetadataResponse{Brokers: bs, ControllerID: -1, Topics: topics}
}

// update is one Apply call.
type update struct {
	resp      *protocol.MetadataResponse
	requested []string
}

func tp(topic string, p int32) TopicPartition { return TopicPartition{Topic: topic, Partition: p} }

// Short names for the response element types used in table literals.
type (
	protocolTopic     = protocol.MetadataResponseTopic
	protocolPartition = protocol.MetadataResponsePartition
	protocolBroker    = protocol.MetadataResponseBroker
)

// none0 is error code NONE.
const none0 = 0

// equal fails the test (without stopping it) when got and want differ.
// The tests use the standard library only: testify's dependencies are not
// in go.sum.
func equal(t *testing.T, want, got any, what string, args ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s:\n want %+v\n  got %+v", fmt.Sprintf(what, args...), want, got)
	}
}

// answerVersion is the Metadata version the tests' answers were read at.
const answerVersion = 12
