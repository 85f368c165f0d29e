package protocol

import "github.com/gokafka/producer/protocol/wire"

// ApiVersionsRequest asks a broker which API versions it speaks (KIP-35,
// KIP-511). It is the first request on every connection.
type ApiVersionsRequest struct {
	ClientSoftwareName    string // v3+
	ClientSoftwareVersion string // v3+
	UnknownTags           []wire.TaggedField
}

// ApiVersionsResponse lists the broker's supported API version ranges. Its
// header is always response header v0, even at flexible versions, so a client
// can read it whatever version it asked for.
type ApiVersionsResponse struct {
	ErrorCode              int16
	ApiKeys                []ApiVersionsResponseKey
	ThrottleTimeMs         int32                                 // v1+
	SupportedFeatures      []ApiVersionsResponseFeature          // v3+, tag 0
	FinalizedFeaturesEpoch int64                                 // v3+, tag 1; -1 when unknown (the default)
	FinalizedFeatures      []ApiVersionsResponseFinalizedFeature // v3+, tag 2
	ZkMigrationReady       bool                                  // v3+, tag 3
	UnknownTags            []wire.TaggedField
}

// ApiVersionsResponseKey is one API's supported range.
type ApiVersionsResponseKey struct {
	ApiKey      int16
	MinVersion  int16
	MaxVersion  int16
	UnknownTags []wire.TaggedField
}

// ApiVersionsResponseFeature is a feature the broker supports (KIP-584).
type ApiVersionsResponseFeature struct {
	Name        string
	MinVersion  int16
	MaxVersion  int16
	UnknownTags []wire.TaggedField
}

// ApiVersionsResponseFinalizedFeature is a cluster-wide finalized feature level.
type ApiVersionsResponseFinalizedFeature struct {
	Name            string
	MaxVersionLevel int16
	MinVersionLevel int16
	UnknownTags     []wire.TaggedField
}

// Key implements Message.
func (*ApiVersionsRequest) Key() APIKey { return ApiVersions }

// ResponseKind implements Request.
func (*ApiVersionsRequest) ResponseKind() Response { return new(ApiVersionsResponse) }

// AppendTo implements Message. Versions 0-2 have an empty body.
func (r *ApiVersionsRequest) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(ApiVersions, v)
	if v >= 3 {
		dst = wire.AppendStr(dst, r.ClientSoftwareName, flex)
		dst = wire.AppendStr(dst, r.ClientSoftwareVersion, flex)
	}
	if flex {
		dst = appendTagSection(dst, nil, nil, r.UnknownTags)
	}
	return dst
}

// ReadFrom implements Message.
func (r *ApiVersionsRequest) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(ApiVersions, v); err != nil {
		return err
	}
	*r = ApiVersionsRequest{}
	flex := IsFlexible(ApiVersions, v)
	rd := wire.NewReader(b)
	if v >= 3 {
		r.ClientSoftwareName = rd.Str(flex)
		r.ClientSoftwareVersion = rd.Str(flex)
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(nil)
	}
	rd.Done("ApiVersionsRequest")
	return decodeErr(ApiVersions, v, &rd)
}

// The top-level tags of ApiVersionsResponse (KIP-584, KIP-866).
const (
	tagSupportedFeatures      = 0
	tagFinalizedFeaturesEpoch = 1
	tagFinalizedFeatures      = 2
	tagZkMigrationReady       = 3
)

// Key implements Message.
func (*ApiVersionsResponse) Key() APIKey { return ApiVersions }

// AppendTo implements Message. Tagged fields are written only when they
// differ from their defaults (empty, -1, false), as Kafka writes them, so a
// response that carries no feature information stays as short as a v2 one.
func (r *ApiVersionsResponse) AppendTo(dst []byte, v int16) []byte {
	flex := IsFlexible(ApiVersions, v)
	dst = wire.AppendInt16(dst, r.ErrorCode)
	dst = wire.AppendLen(dst, len(r.ApiKeys), flex)
	for i := range r.ApiKeys {
		k := &r.ApiKeys[i]
		dst = wire.AppendInt16(dst, k.ApiKey)
		dst = wire.AppendInt16(dst, k.MinVersion)
		dst = wire.AppendInt16(dst, k.MaxVersion)
		if flex {
			dst = appendTagSection(dst, nil, nil, k.UnknownTags)
		}
	}
	if v >= 1 {
		dst = wire.AppendInt32(dst, r.ThrottleTimeMs)
	}
	if flex {
		var set [4]uint32
		known := set[:0]
		if len(r.SupportedFeatures) > 0 {
			known = append(known, tagSupportedFeatures)
		}
		if r.FinalizedFeaturesEpoch != -1 {
			known = append(known, tagFinalizedFeaturesEpoch)
		}
		if len(r.FinalizedFeatures) > 0 {
			known = append(known, tagFinalizedFeatures)
		}
		if r.ZkMigrationReady {
			known = append(known, tagZkMigrationReady)
		}
		dst = appendTagSection(dst, known, r.appendTag, r.UnknownTags)
	}
	return dst
}

// appendTag writes the value of one known top-level tag; tags exist only in
// flexible versions, so the compact forms are used throughout.
func (r *ApiVersionsResponse) appendTag(dst []byte, tag uint32) []byte {
	switch tag {
	case tagSupportedFeatures:
		dst = wire.AppendCompactArrayLen(dst, len(r.SupportedFeatures))
		for i := range r.SupportedFeatures {
			f := &r.SupportedFeatures[i]
			dst = wire.AppendCompactString(dst, f.Name)
			dst = wire.AppendInt16(dst, f.MinVersion)
			dst = wire.AppendInt16(dst, f.MaxVersion)
			dst = appendTagSection(dst, nil, nil, f.UnknownTags)
		}
	case tagFinalizedFeaturesEpoch:
		dst = wire.AppendInt64(dst, r.FinalizedFeaturesEpoch)
	case tagFinalizedFeatures:
		dst = wire.AppendCompactArrayLen(dst, len(r.FinalizedFeatures))
		for i := range r.FinalizedFeatures {
			f := &r.FinalizedFeatures[i]
			dst = wire.AppendCompactString(dst, f.Name)
			dst = wire.AppendInt16(dst, f.MaxVersionLevel)
			dst = wire.AppendInt16(dst, f.MinVersionLevel)
			dst = appendTagSection(dst, nil, nil, f.UnknownTags)
		}
	case tagZkMigrationReady:
		dst = wire.AppendBool(dst, r.ZkMigrationReady)
	}
	return dst
}

// ReadFrom implements Message. A broker that rejects the requested version
// answers in v0 instead; see ReadApiVersionsResponse.
func (r *ApiVersionsResponse) ReadFrom(b []byte, v int16) error {
	if err := checkVersion(ApiVersions, v); err != nil {
		return err
	}
	*r = ApiVersionsResponse{FinalizedFeaturesEpoch: -1}
	flex := IsFlexible(ApiVersions, v)
	rd := wire.NewReader(b)
	r.ErrorCode = rd.Int16()
	if n := readArrayLen(&rd, flex, 6, "api keys"); n > 0 {
		r.ApiKeys = make([]ApiVersionsResponseKey, n)
		for i := range r.ApiKeys {
			k := &r.ApiKeys[i]
			k.ApiKey = rd.Int16()
			k.MinVersion = rd.Int16()
			k.MaxVersion = rd.Int16()
			if flex {
				k.UnknownTags = rd.TaggedFields(nil)
			}
		}
	}
	if v >= 1 {
		r.ThrottleTimeMs = rd.Int32()
	}
	if flex {
		r.UnknownTags = rd.TaggedFields(r.readTag)
	}
	rd.Done("ApiVersionsResponse")
	return decodeErr(ApiVersions, v, &rd)
}

// readTag decodes one known top-level tag from field, which holds exactly
// the tag's bytes.
func (r *ApiVersionsResponse) readTag(tag uint32, field *wire.Reader) bool {
	switch tag {
	case tagSupportedFeatures:
		if n := readArrayLen(field, true, 6, "supported features"); n > 0 {
			r.SupportedFeatures = make([]ApiVersionsResponseFeature, n)
			for i := range r.SupportedFeatures {
				f := &r.SupportedFeatures[i]
				f.Name = field.CompactString()
				f.MinVersion = field.Int16()
				f.MaxVersion = field.Int16()
				f.UnknownTags = field.TaggedFields(nil)
			}
		}
	case tagFinalizedFeaturesEpoch:
		r.FinalizedFeaturesEpoch = field.Int64()
	case tagFinalizedFeatures:
		if n := readArrayLen(field, true, 6, "finalized features"); n > 0 {
			r.FinalizedFeatures = make([]ApiVersionsResponseFinalizedFeature, n)
			for i := range r.FinalizedFeatures {
				f := &r.FinalizedFeatures[i]
				f.Name = field.CompactString()
				f.MaxVersionLevel = field.Int16()
				f.MinVersionLevel = field.Int16()
				f.UnknownTags = field.TaggedFields(nil)
			}
		}
	case tagZkMigrationReady:
		r.ZkMigrationReady = field.Bool()
	default:
		return false
	}
	return true
}
