package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Every other test of this package checks an encoder against its own
// decoder, or against golden bytes written by the hand that wrote both: a
// field gated on the wrong version in the encoder and the decoder alike
// passes them all. The integration tests compare with franz-go's kmsg, but
// only at the versions kmsg knows (not InitProducerId v6, for one). Here
// the ground truth is the schemas: a generator that shares no code with
// this package (not even protocol/wire) writes random bodies straight from
// them, and at every version this package implements, each message must
// decode those bodies whole and encode them back to the very same bytes.
// Bytes alone cannot show a tagged field gated on the wrong version, or
// given the wrong tag number, in the encoder and the decoder alike: the
// decoder keeps the field as an unknown tag and the encoder sends it back
// as it came. So the generator also notes which of the tags it writes the
// schema defines at that version, and checkDecodedTags (in
// schema_tags_test.go) wants exactly the others kept as unknown tags and
// each defined one read into the field of its name. Still unseen: two
// untagged fields of one type swapped in both directions.

// schemaSeeds is how many random bodies each message gets at each version.
// Seed n draws the same body on every run, so a failure's seed reproduces
// it. 150 bodies for each of the 154 messages and versions take 0.2 s, 2 s
// with -race, and were enough to catch a version condition broken on
// purpose in Produce's and in Metadata's encoders and decoders, and, with
// checkDecodedTags, a tagged field's version or number broken in both in
// ProduceResponse, ApiVersionsResponse and CreateTopicsResponse.
const schemaSeeds = 150

// schemaMessages gives, by API, a new request and a new response to decode
// the generated bodies into.
var schemaMessages = map[APIKey][2]func() Message{
	Produce:            {newProduceRequest, newProduceResponse},
	Metadata:           {newMetadataRequest, newMetadataResponse},
	FindCoordinator:    {newFindCoordinatorRequest, newFindCoordinatorResponse},
	SaslHandshake:      {newSaslHandshakeRequest, newSaslHandshakeResponse},
	ApiVersions:        {newApiVersionsRequest, newApiVersionsResponse},
	CreateTopics:       {newCreateTopicsRequest, newCreateTopicsResponse},
	InitProducerId:     {newInitProducerIdRequest, newInitProducerIdResponse},
	AddPartitionsToTxn: {newAddPartitionsToTxnRequest, newAddPartitionsToTxnResponse},
	AddOffsetsToTxn:    {newAddOffsetsToTxnRequest, newAddOffsetsToTxnResponse},
	EndTxn:             {newEndTxnRequest, newEndTxnResponse},
	TxnOffsetCommit:    {newTxnOffsetCommitRequest, newTxnOffsetCommitResponse},
	SaslAuthenticate:   {newSaslAuthenticateRequest, newSaslAuthenticateResponse},
}

func TestSchemaGeneratedBodiesRoundTrip(t *testing.T) {
	requireSchemas(t)
	for _, api := range slices.Sorted(maps.Keys(apis)) {
		fresh, ok := schemaMessages[api]
		if !ok {
			t.Errorf("%s: not in schemaMessages, so never checked against its schemas", api)
			continue
		}
		for i, kind := range []string{"Request", "Response"} {
			var schema messageSchema
			readSchema(t, api.String()+kind, &schema)
			supported := Supported(api)
			for v := supported.Min; v <= supported.Max; v++ {
				t.Run(fmt.Sprintf("%s%s/v%d", api, kind, v), func(t *testing.T) {
					checkSchemaBodies(t, api.String()+kind, &schema, fresh[i], v)
				})
			}
		}
	}
}

// checkSchemaBodies decodes schemaSeeds bodies of the message name drawn
// from its schema at version v, and encodes each back. It stops at the
// third failure: one broken field fails most bodies alike.
func checkSchemaBodies(t *testing.T, name string, schema *messageSchema, fresh func() Message, v int16) {
	if !versionsInclude(t, schema.ValidVersions, v) {
		t.Fatalf("%s v%d: implemented, but the schema's versions are %s", name, v, schema.ValidVersions)
	}
	flexible := versionsInclude(t, schema.FlexibleVersions, v)
	if api := fresh().Key(); IsFlexible(api, v) != flexible {
		t.Errorf("%s v%d: IsFlexible says %v, the schema's flexibleVersions %q", name, v, !flexible, schema.FlexibleVersions)
	}
	common := make(map[string][]*schemaField, len(schema.CommonStructs))
	for _, s := range schema.CommonStructs {
		common[s.Name] = s.Fields
	}
	failures := 0
	for seed := uint64(0); seed < schemaSeeds && failures < 3; seed++ {
		g := &bodyGenerator{t: t, rng: rand.New(rand.NewPCG(seed, 0)), v: v, flexible: flexible, common: common}
		want := g.structBody(nil, schema.Fields)
		msg := fresh()
		if err := msg.ReadFrom(want, v); err != nil {
			failures++
			t.Errorf("%s v%d seed %d: decoding a body the schema allows: %v\nthe schema's bytes:\n%s", name, v, seed, err, hex.Dump(want))
			continue
		}
		if got := msg.AppendTo(nil, v); !bytes.Equal(got, want) {
			failures++
			t.Errorf("%s v%d seed %d: encoding the decoded body gives other bytes\nthe schema's:\n%sours:\n%s", name, v, seed, hex.Dump(want), hex.Dump(got))
			continue
		}
		if err := checkDecodedTags(g, schema, msg); err != nil {
			failures++
			t.Errorf("%s v%d seed %d: %v\nthe schema's bytes:\n%s", name, v, seed, err, hex.Dump(want))
		}
	}
}

// messageSchema and schemaField are the parts of a message schema that say
// what is on the wire.
type messageSchema struct {
	ValidVersions    string         `json:"validVersions"`
	FlexibleVersions string         `json:"flexibleVersions"`
	Fields           []*schemaField `json:"fields"`
	CommonStructs    []*schemaField `json:"commonStructs"`
}

type schemaField struct {
	Name             string         `json:"name"`
	Type             string         `json:"type"`
	Versions         string         `json:"versions"`
	NullableVersions string         `json:"nullableVersions"`
	TaggedVersions   string         `json:"taggedVersions"`
	Tag              *int           `json:"tag"`
	Default          any            `json:"default"`
	Fields           []*schemaField `json:"fields"`
}

// versionSpec is a schema's version range: "none", "3", "0-6" or "9+".
var versionSpec = regexp.MustCompile(`^(?:(none)|(\d+)(\+|-(\d+))?)$`)

// versionsInclude reports whether spec includes v; an absent spec (no
// nullableVersions, say) includes nothing.
func versionsInclude(t *testing.T, spec string, v int16) bool {
	if spec == "" {
		return false
	}
	m := versionSpec.FindStringSubmatch(spec)
	if m == nil {
		t.Fatalf("version range %q", spec)
	}
	if m[1] == "none" {
		return false
	}
	lo, _ := strconv.Atoi(m[2])
	switch {
	case m[3] == "+":
		return int(v) >= lo
	case m[4] != "":
		hi, _ := strconv.Atoi(m[4])
		return int(v) >= lo && int(v) <= hi
	}
	return int(v) == lo
}

// bodyGenerator writes one random body of a message at version v, as the
// schema lays it out (KIP-482 for the flexible versions).
type bodyGenerator struct {
	t        *testing.T
	rng      *rand.Rand
	v        int16
	flexible bool
	common   map[string][]*schemaField // the commonStructs' fields, by name

	// What the body holds in its tag sections: the tags the schema leaves
	// undefined at v, which the decoded message must keep as unknown, and
	// the values of the tagged fields it defines, which it must not.
	undefined []taggedField
	defined   []definedTag
}

func (g *bodyGenerator) has(spec string) bool { return versionsInclude(g.t, spec, g.v) }

type taggedField struct {
	tag  int
	data []byte
}

// structBody appends the fields of a struct (or of the message) that exist
// at g.v. In a flexible version its tagged fields follow, each there or
// not at random, and now and then a tag the schema does not know at g.v,
// which a decoder must keep and encode again in its place.
func (g *bodyGenerator) structBody(dst []byte, fields []*schemaField) []byte {
	var tagged []taggedField
	known := map[int]bool{}
	for _, f := range fields {
		if !g.has(f.Versions) {
			continue
		}
		if g.flexible && f.Tag != nil && g.has(f.TaggedVersions) {
			known[*f.Tag] = true
			if g.rng.IntN(2) == 0 {
				if data, ok := g.taggedValue(f); ok {
					tagged = append(tagged, taggedField{*f.Tag, data})
					g.defined = append(g.defined, definedTag{f.Name, data})
				}
			}
			continue
		}
		dst = g.value(dst, f, f.Type, g.has(f.NullableVersions), false)
	}
	if !g.flexible {
		return dst
	}
	if tag := g.rng.IntN(8); g.rng.IntN(4) == 0 && !known[tag] {
		u := taggedField{tag, g.randomBytes(g.rng.IntN(4))}
		tagged = append(tagged, u)
		g.undefined = append(g.undefined, u)
	}
	slices.SortFunc(tagged, func(a, b taggedField) int { return a.tag - b.tag })
	dst = binary.AppendUvarint(dst, uint64(len(tagged)))
	for _, f := range tagged {
		dst = binary.AppendUvarint(dst, uint64(f.tag))
		dst = binary.AppendUvarint(dst, uint64(len(f.data)))
		dst = append(dst, f.data...)
	}
	return dst
}

// taggedValue draws a value of the tagged field f, or reports false when it
// drew the default: a tagged field at its default is left out of the
// bytes, so an encoder rightly drops one sent anyway.
func (g *bodyGenerator) taggedValue(f *schemaField) ([]byte, bool) {
	data := g.value(nil, f, f.Type, false, true)
	switch f.Type {
	case "bool", "int8", "int16", "int32", "int64":
	default:
		return data, true // drawn non-empty, so never the default
	}
	def := numberDefault(g.t, f)
	var x int64
	switch len(data) {
	case 1:
		x = int64(int8(data[0]))
		if f.Type == "bool" {
			x = int64(data[0])
		}
	case 2:
		x = int64(int16(binary.BigEndian.Uint16(data)))
	case 4:
		x = int64(int32(binary.BigEndian.Uint32(data)))
	case 8:
		x = int64(binary.BigEndian.Uint64(data))
	}
	return data, x != def
}

// numberDefault is the default of the bool or integer field f: its schema's
// "default", else zero (false).
func numberDefault(t *testing.T, f *schemaField) int64 {
	var def int64
	switch d := f.Default.(type) {
	case nil:
	case string:
		switch d {
		case "false":
		case "true":
			def = 1
		default:
			var err error
			if def, err = strconv.ParseInt(d, 0, 64); err != nil {
				t.Fatalf("%s: default %q", f.Name, d)
			}
		}
	default:
		t.Fatalf("%s: default %v", f.Name, d)
	}
	return def
}

// value appends a value of type typ of the field f: null now and then when
// nullable; never empty (nor null) when nonEmpty, as a tagged field's.
func (g *bodyGenerator) value(dst []byte, f *schemaField, typ string, nullable, nonEmpty bool) []byte {
	null := nullable && g.rng.IntN(3) == 0
	switch typ {
	case "bool":
		return append(dst, byte(g.rng.IntN(2)))
	case "int8":
		return append(dst, byte(g.rng.Uint32()))
	case "int16":
		return binary.BigEndian.AppendUint16(dst, uint16(g.rng.Uint32()))
	case "int32":
		return binary.BigEndian.AppendUint32(dst, g.rng.Uint32())
	case "int64":
		return binary.BigEndian.AppendUint64(dst, g.rng.Uint64())
	case "uuid":
		return append(dst, g.randomBytes(16)...)
	case "string":
		if null {
			return g.stringLength(dst, -1)
		}
		s := make([]byte, g.count(nonEmpty)*3)
		for i := range s {
			s[i] = byte('a' + g.rng.IntN(26))
		}
		return append(g.stringLength(dst, len(s)), s...)
	case "bytes", "records":
		if null {
			return g.length(dst, -1)
		}
		n := g.count(nonEmpty) * 5
		return append(g.length(dst, n), g.randomBytes(n)...)
	}
	if elem, ok := strings.CutPrefix(typ, "[]"); ok {
		if null {
			return g.length(dst, -1)
		}
		n := g.count(nonEmpty)
		dst = g.length(dst, n)
		for range n {
			dst = g.value(dst, f, elem, false, false)
		}
		return dst
	}
	fields := f.Fields
	if len(fields) == 0 {
		fields = g.common[typ]
	}
	if len(fields) == 0 {
		g.t.Fatalf("%s: type %s is not generated", f.Name, typ)
	}
	if nullable {
		g.t.Fatalf("%s: nullable structs are not generated", f.Name)
	}
	return g.structBody(dst, fields)
}

// count draws a small length, zero and one as often as the rest together.
func (g *bodyGenerator) count(nonEmpty bool) int {
	n := g.rng.IntN(4)
	if g.rng.IntN(2) == 0 {
		n = min(n, 1)
	}
	if nonEmpty {
		n = max(n, 1)
	}
	return n
}

func (g *bodyGenerator) randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return b
}

// length appends the length of bytes or of an array, -1 for null: an int32,
// or in a flexible version an unsigned varint of length+1.
func (g *bodyGenerator) length(dst []byte, n int) []byte {
	if g.flexible {
		return binary.AppendUvarint(dst, uint64(n+1))
	}
	return binary.BigEndian.AppendUint32(dst, uint32(int32(n)))
}

// stringLength is length for a string, whose non-flexible length is an
// int16.
func (g *bodyGenerator) stringLength(dst []byte, n int) []byte {
	if g.flexible {
		return g.length(dst, n)
	}
	return binary.BigEndian.AppendUint16(dst, uint16(int16(n)))
}
