package protocol

import "github.com/gokafka/producer/protocol/wire"

// Coordinator key types for FindCoordinatorRequest.KeyType (v1+).
const (
	CoordinatorKeyGroup       int8 = 0
	CoordinatorKeyTransaction int8 = 1
	CoordinatorKeyShare       int8 = 2 // v6+ (KIP-932)
)

// FindCoordinatorRequest asks which broker coordinates a group or a
// transactional id. Up to v3 it names one key; from v4 it names a batch
// (KIP-699) and the answer comes per key, so the two forms are separate
// fields and only the one of the version sent is written.
type FindCoordinatorRequest struct {
	// CoordinatorKey is the schema's Key (v0-v3), renamed because Key is
	// the method every message has.
	CoordinatorKey  string
	KeyType         int8     // v1+; 0 (group) default
	CoordinatorKeys []string // v4+
	UnknownTags     []wire.TaggedField
}

// FindCoordinatorResponse answers a FindCoordinatorRequest: with one
// coordinator up to v3, with one entry per requested key from v4.
type FindCoordinatorResponse struct {
	ThrottleTimeMs int32                                // v1+
	ErrorCode      int16                                // v0-v3
	ErrorMessage   *string                              // v1-v3
	NodeID         int32                                // v0-v3
	Host           string                               // v0-v3
	Port           int32                                // v0-v3
	Coordinators   []FindCoordinatorResponseCoordinator // v4+
	UnknownTags    []wire.TaggedField
}

// FindCoordinatorResponseCoordinator is the coordinator of one key (v4+).
type FindCoordinatorResponseCoordinator struct {
	Key          string
	NodeID       int32
	Host         string
	Port         int32
	ErrorCode    int16
	ErrorMessage *string
	UnknownTags  []wire.TaggedField
}

// Key implements Message.
func (*FindCoordinatorRequest) Key() APIKey { return FindCoordinator }

// ResponseKind implements Request.
func (*FindCoordinatorRequest) ResponseKind() Response { return new(FindCoordinatorResponse) }

// AppendTo implements Message.
func (r *FindCoordinatorRequest) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(FindCoordinator, v)
	if v <= 3 {
		dst = wire.AppendStr(dst, r.CoordinatorKey, flex)
	}
	if v >= 1 {
		dst = wire.AppendInt8(dst, r.KeyType)
	}
	if v >= 4 {
		dst = wire.AppendLen(dst, len(r.CoordinatorKeys), flex)
		for _, k := range r.CoordinatorKeys {
			dst = wire.AppendStr(dst, k, flex)
		}
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message.
func (r *FindCoordinatorRequest) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(FindCoordinator, v); err != nil {
		return err
	}
	*r = FindCoordinatorRequest{}
	flex := IsFlexible(FindCoordinator, v)
	rd := wire.NewReader(b)
	if v <= 3 {
		r.CoordinatorKey = rd.Str(flex)
	}
	if v >= 1 {
		r.KeyType = rd.Int8()
	}
	if v >= 4 {
		// v4+ is flexible: a key is at least its one-byte compact length.
		if n := readArrayLen(&rd, flex, 1, "coordinator keys"); n > 0 {
			r.CoordinatorKeys = make([]string, n)
			for i := range r.CoordinatorKeys {
				r.CoordinatorKeys[i] = rd.Str(flex)
			}
		}
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("FindCoordinatorRequest")
	return decodeErr(FindCoordinator, v, &rd)
}

// Key implements Message.
func (*FindCoordinatorResponse) Key() APIKey { return FindCoordinator }

// AppendTo implements Message.
func (r *FindCoordinatorResponse) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(FindCoordinator, v)
	if v >= 1 {
		dst = wire.AppendInt32(dst, r.ThrottleTimeMs)
	}
	if v <= 3 {
		dst = wire.AppendInt16(dst, r.ErrorCode)
		if v >= 1 {
			dst = wire.AppendNullableStr(dst, r.ErrorMessage, flex)
		}
		dst = wire.AppendInt32(dst, r.NodeID)
		dst = wire.AppendStr(dst, r.Host, flex)
		dst = wire.AppendInt32(dst, r.Port)
	}
	if v >= 4 {
		dst = wire.AppendLen(dst, len(r.Coordinators), flex)
		for i := range r.Coordinators {
			c := &r.Coordinators[i]
			dst = wire.AppendStr(dst, c.Key, flex)
			dst = wire.AppendInt32(dst, c.NodeID)
			dst = wire.AppendStr(dst, c.Host, flex)
			dst = wire.AppendInt32(dst, c.Port)
			dst = wire.AppendInt16(dst, c.ErrorCode)
			dst = wire.AppendNullableStr(dst, c.ErrorMessage, flex)
			dst = appendTagSection(dst, nil, nil, c.UnknownTags)
		}
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message.
func (r *FindCoordinatorResponse) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(FindCoordinator, v); err != nil {
		return err
	}
	*r = FindCoordinatorResponse{}
	flex := IsFlexible(FindCoordinator, v)
	rd := wire.NewReader(b)
	if v >= 1 {
		r.ThrottleTimeMs = rd.Int32()
	}
	if v <= 3 {
		r.ErrorCode = rd.Int16()
		if v >= 1 {
			r.ErrorMessage = rd.NullableStr(flex)
		}
		r.NodeID = rd.Int32()
		r.Host = rd.Str(flex)
		r.Port = rd.Int32()
	}
	if v >= 4 {
		// Key, node id, host, port, error code, message and tag count, in
		// the compact form every v4+ message uses: at least 14 bytes.
		if n := readArrayLen(&rd, flex, 14, "coordinators"); n > 0 {
			r.Coordinators = make([]FindCoordinatorResponseCoordinator, n)
			for i := range r.Coordinators {
				c := &r.Coordinators[i]
				c.Key = rd.Str(flex)
				c.NodeID = rd.Int32()
				c.Host = rd.Str(flex)
				c.Port = rd.Int32()
				c.ErrorCode = rd.Int16()
				c.ErrorMessage = rd.NullableStr(flex)
				c.UnknownTags = rd.TaggedFields(nil)
			}
		}
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("FindCoordinatorResponse")
	return decodeErr(FindCoordinator, v, &rd)
}
