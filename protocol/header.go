package protocol

import "github.com/gokafka/producer/protocol/wire"

// Request and response headers. A request's header version follows from its
// API and version: v2 (v1 plus a tagged-field section) for flexible versions,
// else v1. Header v0, without a client id, only ever served ControlledShutdown
// v0, which no producer sends. The response header is v1 (correlation id plus
// tagged fields) for flexible versions, else v0 — except for ApiVersions.

// AppendRequestHeader appends the request header for version of api. The
// client id is a NULLABLE_STRING even in header v2: the schema exempts it
// from the compact encoding so that a broker can read it before it knows
// whether it speaks the request's version.
func AppendRequestHeader(dst []byte, api APIKey, version int16, correlationID int32, clientID *string) []byte {
	dst = wire.AppendInt16(dst, int16(api))
	dst = wire.AppendInt16(dst, version)
	dst = wire.AppendInt32(dst, correlationID)
	dst = wire.AppendNullableString(dst, clientID)
	if IsFlexible(api, version) {
		dst = append(dst, 0) // no tagged fields
	}
	return dst
}

// ReadRequestHeader splits a request into its header and body, choosing the
// header version from the API and version it reads. It serves tests and
// tools that play the broker; unknown header tags are dropped. Errors are
// *DecodeError naming the API and version read so far.
func ReadRequestHeader(b []byte) (api APIKey, version int16, correlationID int32, clientID *string, body []byte, err error) {
	rd := wire.NewReader(b)
	api = APIKey(rd.Int16())
	version = rd.Int16()
	correlationID = rd.Int32()
	clientID = rd.NullableString()
	if IsFlexible(api, version) {
		rd.SkipTaggedFields()
	}
	body = rd.Rest()
	if err := decodeErr(api, version, &rd); err != nil {
		return api, version, 0, nil, nil, err
	}
	return api, version, correlationID, clientID, body, nil
}

// responseHeaderFlexible reports whether the response to version of api has
// header v1. ApiVersions responses keep header v0 at every version: a client
// that asked for a version the broker does not speak must still find the
// correlation id and the error code where it expects them (KIP-511).
func responseHeaderFlexible(api APIKey, version int16) bool {
	return api != ApiVersions && IsFlexible(api, version)
}

// AppendResponseHeader appends the response header for version of api, for
// tests and tools that play the broker.
func AppendResponseHeader(dst []byte, api APIKey, version int16, correlationID int32) []byte {
	dst = wire.AppendInt32(dst, correlationID)
	if responseHeaderFlexible(api, version) {
		dst = append(dst, 0) // no tagged fields
	}
	return dst
}

// ReadResponseHeader splits a response to version of api into its
// correlation id and body. The body aliases b. Header tags are dropped: none
// is defined, and the correlation id is all a client needs. Errors are
// *DecodeError naming api and version, with the offset within the header.
func ReadResponseHeader(b []byte, api APIKey, version int16) (correlationID int32, body []byte, err error) {
	rd := wire.NewReader(b)
	correlationID = rd.Int32()
	if responseHeaderFlexible(api, version) {
		rd.SkipTaggedFields()
	}
	body = rd.Rest()
	if err := decodeErr(api, version, &rd); err != nil {
		return 0, nil, err
	}
	return correlationID, body, nil
}
