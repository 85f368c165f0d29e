package fakebroker

import (
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// handleCreateTopics creates topics as a controller would: each topic
// succeeds or fails on its own.
func (s *session) handleCreateTopics(version int16, body []byte) (protocol.Response, error) {
	var req protocol.CreateTopicsRequest
	if err := req.ReadFrom(body, version); err != nil {
		return nil, err
	}
	c := s.c
	resp := &protocol.CreateTopicsResponse{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rt := range req.Topics {
		out := protocol.CreateTopicsResponseTopic{Name: rt.Name, NumPartitions: -1, ReplicationFactor: -1}
		n := rt.NumPartitions
		if len(rt.Assignments) > 0 {
			n = int32(len(rt.Assignments))
		} else if n == -1 {
			n = c.opts.DefaultPartitions
		}
		switch {
		case !validTopicName(rt.Name):
			out.ErrorCode = kerr.InvalidTopicException.Code
		case c.topics[rt.Name] != nil:
			out.ErrorCode = kerr.TopicAlreadyExists.Code
			msg := "Topic '" + rt.Name + "' already exists."
			out.ErrorMessage = &msg
		case n < 1:
			out.ErrorCode = kerr.InvalidPartitions.Code
		case req.ValidateOnly:
			out.NumPartitions, out.ReplicationFactor = n, 1
		default:
			t, _ := c.createLocked(rt.Name, n)
			for _, a := range rt.Assignments {
				if len(a.BrokerIDs) > 0 && a.PartitionIndex >= 0 && int(a.PartitionIndex) < len(t.partitions) {
					t.partitions[a.PartitionIndex].leader = a.BrokerIDs[0]
				}
			}
			out.TopicID = t.id
			out.NumPartitions, out.ReplicationFactor = n, 1
			out.Configs = []protocol.CreateTopicsResponseConfig{}
		}
		resp.Topics = append(resp.Topics, out)
	}
	return resp, nil
}
