package protocol

import "github.com/gokafka/producer/protocol/wire"

// SASL authentication takes two APIs: SaslHandshake picks the mechanism, then
// SaslAuthenticate carries the mechanism's tokens. Handshake v1 is what tells
// the broker that tokens will come wrapped in SaslAuthenticate requests; after
// a v0 handshake they would travel as bare length-prefixed frames, which this
// package does not speak. SaslHandshake is never flexible: its version cannot
// be bumped without breaking clients up to 2.4 (KAFKA-9577).

// SaslHandshakeRequest names the SASL mechanism the client wants.
type SaslHandshakeRequest struct {
	Mechanism string // e.g. PLAIN, SCRAM-SHA-512
	// UnknownTags is never written or read: no version is flexible. It is
	// here because every message type has it.
	UnknownTags []wire.TaggedField
}

// SaslHandshakeResponse accepts the mechanism or, with
// UNSUPPORTED_SASL_MECHANISM, lists the ones the broker has enabled.
type SaslHandshakeResponse struct {
	ErrorCode   int16
	Mechanisms  []string
	UnknownTags []wire.TaggedField // never on the wire; see SaslHandshakeRequest
}

// SaslAuthenticateRequest carries one client token of the SASL exchange.
type SaslAuthenticateRequest struct {
	AuthBytes   []byte
	UnknownTags []wire.TaggedField
}

// SaslAuthenticateResponse carries the broker's token and, from v1, how long
// the session lasts before the client must re-authenticate (KIP-368).
type SaslAuthenticateResponse struct {
	ErrorCode         int16
	ErrorMessage      *string
	AuthBytes         []byte
	SessionLifetimeMs int64 // v1+; 0 (the default) means no re-authentication is required
	UnknownTags       []wire.TaggedField
}

// Key implements Message.
func (*SaslHandshakeRequest) Key() APIKey { return SaslHandshake }

// ResponseKind implements Request.
func (*SaslHandshakeRequest) ResponseKind() Response { return new(SaslHandshakeResponse) }

// AppendTo implements Message.
func (r *SaslHandshakeRequest) AppendTo(dst []byte, v int16) []byte {
	return wire.AppendString(dst, r.Mechanism)
}

// ReadFrom implements Message.
func (r *SaslHandshakeRequest) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(SaslHandshake, v); err != nil {
		return err
	}
	*r = SaslHandshakeRequest{}
	rd := wire.NewReader(b)
	r.Mechanism = rd.Int16String()
	rd.Done("SaslHandshakeRequest")
	return decodeErr(SaslHandshake, v, &rd)
}

// Key implements Message.
func (*SaslHandshakeResponse) Key() APIKey { return SaslHandshake }

// AppendTo implements Message.
func (r *SaslHandshakeResponse) AppendTo(dst []byte, v int16) []byte {
	dst = wire.AppendInt16(dst, r.ErrorCode)
	dst = wire.AppendArrayLen(dst, len(r.Mechanisms))
	for _, m := range r.Mechanisms {
		dst = wire.AppendString(dst, m)
	}
	return dst
}

// ReadFrom implements Message.
func (r *SaslHandshakeResponse) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(SaslHandshake, v); err != nil {
		return err
	}
	*r = SaslHandshakeResponse{}
	rd := wire.NewReader(b)
	r.ErrorCode = rd.Int16()
	// A mechanism is at least its INT16 length.
	if n := readArrayLen(&rd, false, 2, "mechanisms"); n > 0 {
		r.Mechanisms = make([]string, n)
		for i := range r.Mechanisms {
			r.Mechanisms[i] = rd.Int16String()
		}
	}
	rd.Done("SaslHandshakeResponse")
	return decodeErr(SaslHandshake, v, &rd)
}

// Key implements Message.
func (*SaslAuthenticateRequest) Key() APIKey { return SaslAuthenticate }

// ResponseKind implements Request.
func (*SaslAuthenticateRequest) ResponseKind() Response { return new(SaslAuthenticateResponse) }

// AppendTo implements Message.
func (r *SaslAuthenticateRequest) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(SaslAuthenticate, v)
	dst = wire.AppendByteSlice(dst, r.AuthBytes, flex)
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message. AuthBytes aliases b.
func (r *SaslAuthenticateRequest) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(SaslAuthenticate, v); err != nil {
		return err
	}
	*r = SaslAuthenticateRequest{}
	flex := IsFlexible(SaslAuthenticate, v)
	rd := wire.NewReader(b)
	r.AuthBytes = rd.ByteSlice(flex)
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("SaslAuthenticateRequest")
	return decodeErr(SaslAuthenticate, v, &rd)
}

// Key implements Message.
func (*SaslAuthenticateResponse) Key() APIKey { return SaslAuthenticate }

// AppendTo implements Message.
func (r *SaslAuthenticateResponse) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(SaslAuthenticate, v)
	dst = wire.AppendInt16(dst, r.ErrorCode)
	dst = wire.AppendNullableStr(dst, r.ErrorMessage, flex)
	dst = wire.AppendByteSlice(dst, r.AuthBytes, flex)
	if v >= 1 {
		dst = wire.AppendInt64(dst, r.SessionLifetimeMs)
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message. AuthBytes aliases b.
func (r *SaslAuthenticateResponse) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(SaslAuthenticate, v); err != nil {
		return err
	}
	*r = SaslAuthenticateResponse{}
	flex := IsFlexible(SaslAuthenticate, v)
	rd := wire.NewReader(b)
	r.ErrorCode = rd.Int16()
	r.ErrorMessage = rd.NullableStr(flex)
	r.AuthBytes = rd.ByteSlice(flex)
	if v >= 1 {
		r.SessionLifetimeMs = rd.Int64()
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("SaslAuthenticateResponse")
	return decodeErr(SaslAuthenticate, v, &rd)
}
