package fakebroker

import (
	"sort"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// apiVersions answers ApiVersions. A version the cluster does not speak gets
// what Kafka sends since 2.4 (KIP-511): a v0 response with
// UNSUPPORTED_VERSION listing the ApiVersions range it does speak, so the
// client can retry at a common version. The body of such a request is not
// read: its layout is unknown by definition.
func (s *session) apiVersions(version int16, corr int32, body []byte) error {
	r, ok := s.c.versions[protocol.ApiVersions]
	if !ok || version < r.Min || version > r.Max {
		resp := &protocol.ApiVersionsResponse{
			ErrorCode:              kerr.UnsupportedVersion.Code,
			FinalizedFeaturesEpoch: -1,
		}
		if ok {
			resp.ApiKeys = []protocol.ApiVersionsResponseKey{{ApiKey: int16(protocol.ApiVersions), MinVersion: r.Min, MaxVersion: r.Max}}
		}
		return s.write(protocol.ApiVersions, 0, corr, resp)
	}
	var req protocol.ApiVersionsRequest
	if err := req.ReadFrom(body, version); err != nil {
		resp := &protocol.ApiVersionsResponse{ErrorCode: kerr.InvalidRequest.Code, FinalizedFeaturesEpoch: -1}
		return s.write(protocol.ApiVersions, version, corr, resp)
	}
	resp := &protocol.ApiVersionsResponse{FinalizedFeaturesEpoch: -1}
	for api, vr := range s.c.versions {
		resp.ApiKeys = append(resp.ApiKeys, protocol.ApiVersionsResponseKey{ApiKey: int16(api), MinVersion: vr.Min, MaxVersion: vr.Max})
	}
	sort.Slice(resp.ApiKeys, func(i, j int) bool { return resp.ApiKeys[i].ApiKey < resp.ApiKeys[j].ApiKey })
	return s.write(protocol.ApiVersions, version, corr, resp)
}
