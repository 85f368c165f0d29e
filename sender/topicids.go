package sender

import (
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/wire"
)

// Produce v13 names topics by id instead of by name (KIP-516), in the
// request and in its answer. The ids come from the metadata (Metadata
// v10+), through Hooks.TopicID, when a request is built: the same moment a
// v12 request's names are read, so a topic re-created under a new id is sent
// its new id once the metadata says so, and a retry after UNKNOWN_TOPIC_ID
// (which asks for a refresh) picks it up. A batch does not carry its topic's
// id: it would go stale with the topic, and every record's append would pay
// for a lookup that one request needs once per topic.
//
// A request by name records the ids too, though it does not send them: a
// leader hint in its answer (KIP-951) goes with the id of the incarnation
// the batch was sent to, and the metadata refuses a late hint about a
// topic deleted and re-created since, whose epochs would otherwise stick
// over the new incarnation's (which start over) until theirs passed them.

// byTopicID records in req the metadata's id of each of its topics, and
// decides how a request at version names them. From v13 it reports true
// when every topic has an id of its own: the answer names them by id too,
// and the request tells which topic each id was sent for. A topic whose id
// is not known (the metadata came from a broker older than Metadata v10,
// or does not describe it yet) sends the whole request at v12, which
// carries the same fields with names: waiting for an id would delay records
// a name can deliver now. The caller has already applied every other limit
// on the version; v12 is below them all.
func (s *Sender) byTopicID(req *protocol.ProduceRequest, version int16) (int16, bool) {
	byName := min(version, protocol.ProduceTopicIDVersion-1)
	if s.cfg.Hooks.TopicID == nil {
		return byName, false
	}
	for i := range req.Topics {
		req.Topics[i].TopicID = s.cfg.Hooks.TopicID(req.Topics[i].Name)
	}
	if version < protocol.ProduceTopicIDVersion || !distinctIDs(req.Topics) {
		return byName, false
	}
	return version, true
}

// distinctIDs reports whether every topic has an id, and one of its own:
// two topics under one id cannot be told apart in the answer.
func distinctIDs(topics []protocol.ProduceRequestTopic) bool {
	// Made without a size, a map that does not escape starts on the
	// stack: a request of a few topics allocates nothing here.
	seen := make(map[wire.UUID]struct{})
	for i := range topics {
		id := topics[i].TopicID
		if _, dup := seen[id]; dup || id == (wire.UUID{}) {
			return false
		}
		seen[id] = struct{}{}
	}
	return true
}

// noteVersion logs the Produce version whenever it changes: after the
// connection's negotiation, and when requests move between naming topics
// by id (v13+) and by name.
func (s *Sender) noteVersion(version int16) {
	if version == s.version {
		return
	}
	s.version = version
	s.cfg.Logger.Debug("produce request version", "version", version,
		"by_topic_id", version >= protocol.ProduceTopicIDVersion)
}
