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
