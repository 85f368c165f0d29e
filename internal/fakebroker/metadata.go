package fakebroker

import (
	"math"
	"slices"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

var clusterID = "fakebroker"

// handleMetadata answers a Metadata request from the cluster's state, after
// the hook (if any) has had its say.
func (s *session) handleMetadata(version int16, body []byte) (protocol.Response, error) {
	var req protocol.MetadataRequest
	if err := req.ReadFrom(body, version); err != nil {
		return nil, err
	}
	s.c.metadataReqs.Add(1)
	var act Action
	if h := s.c.metaFn.Load(); h != nil {
		act = (*h)(s.n.id, &req)
	}
	if err := s.await(act); err != nil {
		return nil, err
	}
	resp := s.c.metadata(&req, &act)
	if act.Err != nil && version >= 13 {
		// An error for the whole answer (KIP-1102); the content stays, so
		// that a client applying it anyway would be caught.
		resp.ErrorCode = act.Err.Code
	}
	if act.LoseAnswer {
		return nil, errDrop
	}
	return resp, nil
}

// metadata builds the answer: every node, and the requested topics (all
// when req.Topics is nil), creating unknown ones when both the cluster and
// the request allow it.
func (c *Cluster) metadata(req *protocol.MetadataRequest, act *Action) *protocol.MetadataResponse {
	resp := &protocol.MetadataResponse{ClusterID: &clusterID, ControllerID: 0, ClusterAuthorizedOperations: math.MinInt32}
	for _, n := range c.nodes {
		if !slices.Contains(act.HideBrokers, n.id) {
			resp.Brokers = append(resp.Brokers, protocol.MetadataResponseBroker{NodeID: n.id, Host: n.host, Port: n.port})
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if req.Topics == nil {
		for _, t := range c.sortedTopicsLocked() {
			if !act.hidden(t.name) && act.Refuse[t.name] == nil {
				resp.Topics = append(resp.Topics, c.describeLocked(t))
			}
		}
		return resp
	}
	for _, rt := range req.Topics {
		if rt.Name == nil {
			resp.Topics = append(resp.Topics, c.byIDLocked(rt.TopicID))
			continue
		}
		name := *rt.Name
		if err := act.Refuse[name]; err != nil {
			resp.Topics = append(resp.Topics, unknown(name, err))
			continue
		}
		t := c.topics[name]
		switch {
		case act.hidden(name):
			t = nil
		case t == nil && c.opts.AutoCreateTopics && req.AllowAutoTopicCreation:
			if !validTopicName(name) {
				resp.Topics = append(resp.Topics, unknown(name, kerr.InvalidTopicException))
				continue
			}
			t, _ = c.createLocked(name, c.opts.DefaultPartitions)
		}
		if t == nil {
			resp.Topics = append(resp.Topics, unknown(name, kerr.UnknownTopicOrPartition))
			continue
		}
		rt := c.describeLocked(t)
		if n, ok := act.Shrink[name]; ok && int(n) < len(rt.Partitions) {
			rt.Partitions = rt.Partitions[:n]
		}
		if slices.Contains(act.ListTwice, name) && len(rt.Partitions) > 0 {
			rt.Partitions = append(rt.Partitions, rt.Partitions[0])
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// byIDLocked answers a topic asked for by id (v10+).
func (c *Cluster) byIDLocked(id [16]byte) protocol.MetadataResponseTopic {
	if t := c.byID[id]; t != nil {
		return c.describeLocked(t)
	}
	return protocol.MetadataResponseTopic{ErrorCode: kerr.UnknownTopicID.Code, TopicID: id, TopicAuthorizedOperations: math.MinInt32}
}

func unknown(name string, err *kerr.Error) protocol.MetadataResponseTopic {
	return protocol.MetadataResponseTopic{ErrorCode: err.Code, Name: &name, TopicAuthorizedOperations: math.MinInt32}
}

// describeLocked is a topic's metadata, frozen or current; the leader is
// the only replica. A partition without one (Options.Leader gave -1) is
// answered as Kafka answers an offline partition: LEADER_NOT_AVAILABLE,
// leader -1.
func (c *Cluster) describeLocked(t *topic) protocol.MetadataResponseTopic {
	name := t.name
	rt := protocol.MetadataResponseTopic{Name: &name, TopicID: t.id, TopicAuthorizedOperations: math.MinInt32,
		Partitions: make([]protocol.MetadataResponsePartition, len(t.partitions))}
	frozen := c.frozen[t.name]
	for i, p := range t.partitions {
		if i < len(frozen) {
			p = &frozen[i]
		}
		replicas, code := []int32{p.leader}, int16(0)
		if p.leader < 0 {
			replicas, code = []int32{}, kerr.LeaderNotAvailable.Code
		}
		rt.Partitions[i] = protocol.MetadataResponsePartition{
			ErrorCode: code, PartitionIndex: int32(i), LeaderID: p.leader, LeaderEpoch: p.epoch,
			ReplicaNodes: replicas, IsrNodes: replicas,
		}
	}
	return rt
}
