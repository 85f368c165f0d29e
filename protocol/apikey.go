package protocol

import "strconv"

// APIKey identifies a Kafka API (the request_api_key of the request header).
type APIKey int16

// The APIs this producer speaks.
const (
	Produce            APIKey = 0
	Metadata           APIKey = 3
	FindCoordinator    APIKey = 10
	SaslHandshake      APIKey = 17
	ApiVersions        APIKey = 18
	CreateTopics       APIKey = 19
	InitProducerId     APIKey = 22
	AddPartitionsToTxn APIKey = 24
	AddOffsetsToTxn    APIKey = 25
	EndTxn             APIKey = 26
	TxnOffsetCommit    APIKey = 28
	SaslAuthenticate   APIKey = 36
)

// VersionRange is an inclusive range of versions of one API.
type VersionRange struct {
	Min, Max int16
}

// apiInfo is everything version-related this package knows about one API:
// the range it implements and the first flexible version (KIP-482), or -1.
type apiInfo struct {
	name          string
	versions      VersionRange
	firstFlexible int16
}

// apis is a fixed table, not a registry filled at init: adding an API means
// adding a line here and a message type.
var apis = map[APIKey]apiInfo{
	Produce:            {"Produce", VersionRange{3, 13}, 9},
	Metadata:           {"Metadata", VersionRange{1, 13}, 9},
	FindCoordinator:    {"FindCoordinator", VersionRange{0, 6}, 3},
	SaslHandshake:      {"SaslHandshake", VersionRange{0, 1}, -1},
	ApiVersions:        {"ApiVersions", VersionRange{0, 4}, 3},
	CreateTopics:       {"CreateTopics", VersionRange{2, 7}, 5},
	InitProducerId:     {"InitProducerId", VersionRange{0, 6}, 2},
	AddPartitionsToTxn: {"AddPartitionsToTxn", VersionRange{0, 5}, 3},
	AddOffsetsToTxn:    {"AddOffsetsToTxn", VersionRange{0, 4}, 3},
	EndTxn:             {"EndTxn", VersionRange{0, 5}, 3},
	TxnOffsetCommit:    {"TxnOffsetCommit", VersionRange{0, 5}, 3},
	SaslAuthenticate:   {"SaslAuthenticate", VersionRange{0, 2}, 2},
}

// String is the API's name as Kafka's schemas spell it.
func (k APIKey) String() string {
	if a, ok := apis[k]; ok {
		return a.name
	}
	return "API(" + strconv.Itoa(int(k)) + ")"
}

// Supported is the range of versions of api this package implements; the
// zero range for an API it does not know.
func Supported(api APIKey) VersionRange {
	if a, ok := apis[api]; ok {
		return a.versions
	}
	return VersionRange{Min: 0, Max: -1}
}

// firstUnstable is, by API, the first version Kafka's schemas mark
// unstable (latestVersionUnstable). A broker lists an unstable version only
// when told to (unstable.api.versions.enable), and its layout may change
// before a release makes it stable: this package reads and writes it as
// the schemas have it, but never negotiates it, as the Java client does
// not.
var firstUnstable = map[APIKey]int16{
	InitProducerId: 6, // two-phase commit (KIP-939)
}

// Negotiable is the range of versions of api this package sends to a
// broker: those it implements, the unstable ones aside.
func Negotiable(api APIKey) VersionRange {
	r := Supported(api)
	if v, ok := firstUnstable[api]; ok {
		r.Max = min(r.Max, v-1)
	}
	return r
}

// IsFlexible reports whether version v of api uses the flexible encoding
// (compact strings and arrays, tagged fields, request header v2).
func IsFlexible(api APIKey, v int16) bool {
	a, ok := apis[api]
	return ok && a.firstFlexible >= 0 && v >= a.firstFlexible
}
