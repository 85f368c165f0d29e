package fakebroker

import (
	"github.com/gokafka/producer/protocol"
)

// FindCoordinatorHook decides the answer to a FindCoordinator request: the
// node that coordinates the key (node 0 when there is no hook), or an
// error in the Action.
type FindCoordinatorHook func(node int32, keyType int8, key string) (coordinator int32, act Action)

// OnFindCoordinator installs the hook every node consults for
// FindCoordinator requests; nil removes it.
func (c *Cluster) OnFindCoordinator(h FindCoordinatorHook) {
	if h == nil {
		c.coordinatorFn.Store(nil)
		return
	}
	c.coordinatorFn.Store(&h)
}

// FindCoordinatorRequests is how many FindCoordinator requests the nodes
// answered.
func (c *Cluster) FindCoordinatorRequests() int64 { return c.findCoordinatorReq.Load() }

// handleFindCoordinator names a coordinator by the hook, node 0 by
// default. The fake coordinates nothing itself: it only answers where.
func (s *session) handleFindCoordinator(version int16, body []byte) (protocol.Response, error) {
	var req protocol.FindCoordinatorRequest
	if err := req.ReadFrom(body, version); err != nil {
		return nil, err
	}
	s.c.findCoordinatorReq.Add(1)
	keys := req.CoordinatorKeys
	if version <= 3 {
		keys = []string{req.CoordinatorKey}
	}
	resp := &protocol.FindCoordinatorResponse{}
	for _, key := range keys {
		id, act := int32(0), Action{}
		if h := s.c.coordinatorFn.Load(); h != nil {
			id, act = (*h)(s.n.id, req.KeyType, key)
		}
		if err := s.await(act); err != nil {
			return nil, err
		}
		e := protocol.FindCoordinatorResponseCoordinator{Key: key, NodeID: -1}
		if act.Err != nil {
			e.ErrorCode = act.Err.Code
		} else if n, err := s.c.node(id); err == nil {
			e.NodeID, e.Host, e.Port = n.id, n.host, n.port
		}
		resp.Coordinators = append(resp.Coordinators, e)
	}
	if version <= 3 {
		e := resp.Coordinators[0]
		resp.ErrorCode, resp.NodeID, resp.Host, resp.Port, resp.Coordinators = e.ErrorCode, e.NodeID, e.Host, e.Port, nil
	}
	return resp, nil
}
