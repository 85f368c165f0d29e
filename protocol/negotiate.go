package protocol

import (
	"errors"
	"fmt"
	"math"
)

// Version negotiation (KIP-35): a connection asks the broker for its ranges
// with ApiVersions and then sends every request at the highest version both
// sides speak. The ranges hold for that connection only; a reconnect may
// meet an upgraded or downgraded broker and must ask again.

// VersionError says that we and a broker share no version of an API.
type VersionError struct {
	API    APIKey
	Ours   VersionRange // what this package sends (Negotiable); empty if nothing
	Theirs VersionRange // what the broker listed; empty if it did not list the API
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("no common version of %s: we speak %s, the broker %s", e.API, e.Ours.describe(), e.Theirs.describe())
}

// Unwrap lets errors.Is(err, ErrUnsupportedVersion) match.
func (e *VersionError) Unwrap() error { return ErrUnsupportedVersion }

func (r VersionRange) describe() string {
	if r.Min > r.Max {
		return "no version"
	}
	return fmt.Sprintf("v%d-v%d", r.Min, r.Max)
}

// AllVersions narrows nothing: the versions a caller with no limit of its
// own may send (see NegotiateWithin).
var AllVersions = VersionRange{Min: 0, Max: math.MaxInt16}

// Negotiate returns the highest version of api that both this package and a
// broker speaking the range broker support, unstable ones aside (see
// Negotiable), or a *VersionError.
func Negotiate(api APIKey, broker VersionRange) (int16, error) {
	return NegotiateWithin(api, AllVersions, broker)
}

// NegotiateWithin is Negotiate for a caller that may send only the versions
// in allowed: one whose request has fields older versions lack, or that
// speaks a newer version's semantics only under a condition. The
// *VersionError gives our range narrowed to allowed, so that it says why a
// broker whose oldest version is above the caller's newest is not asked.
func NegotiateWithin(api APIKey, allowed, broker VersionRange) (int16, error) {
	ours := Negotiable(api)
	ours.Min, ours.Max = max(ours.Min, allowed.Min), min(ours.Max, allowed.Max)
	v := min(ours.Max, broker.Max)
	if v < ours.Min || v < broker.Min || broker.Min > broker.Max {
		return 0, &VersionError{API: api, Ours: ours, Theirs: broker}
	}
	return v, nil
}

// BrokerVersions is what one broker said it speaks, by API. The zero value
// (nil) knows no API, so every For fails.
type BrokerVersions map[APIKey]VersionRange

// NewBrokerVersions collects the ranges of an ApiVersions response. It does
// not look at the response's error code; callers check that first (see
// ApiVersionsRetryVersion). If an API is listed twice the last entry wins.
func NewBrokerVersions(resp *ApiVersionsResponse) BrokerVersions {
	bv := make(BrokerVersions, len(resp.ApiKeys))
	for _, k := range resp.ApiKeys {
		bv[APIKey(k.ApiKey)] = VersionRange{Min: k.MinVersion, Max: k.MaxVersion}
	}
	return bv
}

// For returns the version to send api at on this broker's connection, or a
// *VersionError when there is none, including when the broker did not list
// the API.
func (bv BrokerVersions) For(api APIKey) (int16, error) {
	return bv.Within(api, AllVersions)
}

// Within is For for a caller that may send only the versions in allowed
// (see NegotiateWithin).
func (bv BrokerVersions) Within(api APIKey, allowed VersionRange) (int16, error) {
	r, ok := bv[api]
	if !ok {
		r = VersionRange{Min: 0, Max: -1} // none
	}
	return NegotiateWithin(api, allowed, r)
}

// errUnsupportedVersionCode is UNSUPPORTED_VERSION, the error code of an
// ApiVersions response to a version the broker does not speak.
const errUnsupportedVersionCode = 35

// ApiVersionsRetryVersion returns the ApiVersions version to retry with after
// a broker rejected ours. The first request on a connection is sent at our
// highest ApiVersions version, before we know the broker's ranges; a broker
// that does not speak it answers UNSUPPORTED_VERSION (35) in a v0 response
// (read it with ReadApiVersionsResponse) whose ApiKeys holds at least the
// ApiVersions range it does speak (KIP-511, Kafka 2.4+). The retry uses the
// highest version of that range we also speak, or v0 — which every broker
// since 0.10 speaks — when the range is missing or shares nothing with ours.
func ApiVersionsRetryVersion(resp *ApiVersionsResponse) int16 {
	for _, k := range resp.ApiKeys {
		if APIKey(k.ApiKey) != ApiVersions {
			continue
		}
		if v, err := Negotiate(ApiVersions, VersionRange{Min: k.MinVersion, Max: k.MaxVersion}); err == nil {
			return v
		}
		break
	}
	return 0
}

// ReadApiVersionsResponse decodes the body of an ApiVersions response to a
// request sent at version v. A broker that does not speak v answers in v0
// whatever was asked, so when the body does not decode at v it is decoded
// again at v0, as Kafka's own client does; the v0 reading is kept only if it
// carries UNSUPPORTED_VERSION, so that a corrupt response still fails with
// the error of the version that was asked for.
func ReadApiVersionsResponse(body []byte, v int16) (*ApiVersionsResponse, error) {
	resp := new(ApiVersionsResponse)
	err := resp.ReadFrom(body, v)
	if err == nil {
		return resp, nil
	}
	if v == 0 || errors.Is(err, ErrUnsupportedVersion) {
		return nil, err
	}
	v0 := new(ApiVersionsResponse)
	if v0.ReadFrom(body, 0) != nil || v0.ErrorCode != errUnsupportedVersionCode {
		return nil, err
	}
	return v0, nil
}
