package protocol

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/gokafka/producer/protocol/wire"
)

// A decoder that misreads a tagged field's version or number keeps it as
// an unknown tag, and its encoder, misreading it alike, sends it back in
// its place: the bytes round-trip, the field is never read. What the
// decoded message holds is what shows it, so this file reads it back by
// reflection, field by field, and compares it with what the generator
// wrote. It decodes nothing with this package or with protocol/wire: the
// kept tags are read as the values they are, and a tagged field's value is
// encoded again by the schema, by its own code below, to compare its bytes
// with the body's.

// definedTag is the value of a tagged field the schema defines at the
// version: the field's name in the schema and its bytes in the body.
type definedTag struct {
	name string
	data []byte
}

// checkDecodedTags reports how msg, decoded from the body g drew, differs
// from it in its tags: the tags it kept as unknown must be exactly those
// the schema leaves undefined where they were written, and its tagged
// fields must hold the values the body gave them, no more, no fewer.
func checkDecodedTags(g *bodyGenerator, schema *messageSchema, msg Message) error {
	r := &decodedTagReader{g: g, tagged: map[string]*schemaField{}}
	r.addTagged(schema.Fields)
	r.addTagged(schema.CommonStructs)
	r.walk(reflect.ValueOf(msg))
	var errs []string
	want, got := sortedUnknown(g.undefined), sortedUnknown(r.unknown)
	if !slices.EqualFunc(want, got, taggedFieldEqual) {
		errs = append(errs, fmt.Sprintf("kept as unknown tags %s, the tags the schema leaves undefined are %s", formatUnknown(got), formatUnknown(want)))
	}
	wantDefined, gotDefined := sortedDefined(g.defined), sortedDefined(r.defined)
	if !slices.EqualFunc(wantDefined, gotDefined, definedTagEqual) {
		errs = append(errs, fmt.Sprintf("reads its tagged fields as %s, the body holds %s", formatDefined(gotDefined), formatDefined(wantDefined)))
	}
	if errs == nil {
		return nil
	}
	return fmt.Errorf("the decoded message %s", strings.Join(errs, "; and it "))
}

// decodedTagReader gathers the tags a decoded message holds: the ones it
// kept as unknown, and the values of its fields that the schema tags.
type decodedTagReader struct {
	g *bodyGenerator
	// tagged holds the schema's tagged fields, at any version, by their
	// names in lower case: a Go field of that name (LeaderID for the
	// schema's LeaderId) holds the field.
	tagged  map[string]*schemaField
	unknown []taggedField
	defined []definedTag
}

func (r *decodedTagReader) addTagged(fields []*schemaField) {
	for _, f := range fields {
		if f.Tag != nil {
			r.tagged[strings.ToLower(f.Name)] = f
		}
		r.addTagged(f.Fields)
	}
}

var keptTagsType = reflect.TypeFor[[]wire.TaggedField]()

// walk goes through the decoded value x, noting the tags kept as unknown
// and each tagged field that holds a value other than its default, which
// is what an absent tag decodes to.
func (r *decodedTagReader) walk(x reflect.Value) {
	switch x.Kind() {
	case reflect.Pointer:
		if !x.IsNil() {
			r.walk(x.Elem())
		}
	case reflect.Slice:
		if x.Type().Elem().Kind() == reflect.Struct {
			for i := range x.Len() {
				r.walk(x.Index(i))
			}
		}
	case reflect.Struct:
		for i := range x.NumField() {
			field := x.Field(i)
			if field.Type() == keptTagsType {
				r.unknown = appendKept(r.unknown, field.Interface().([]wire.TaggedField))
				continue
			}
			if f := r.tagged[strings.ToLower(x.Type().Field(i).Name)]; f != nil && !r.isDefault(f, field) {
				r.defined = append(r.defined, definedTag{f.Name, r.encode(nil, f, f.Type, field)})
			}
			r.walk(field)
		}
	}
}

// isDefault reports whether x holds the default of the tagged field f: a
// tag left out of the body decodes to it, and one the generator writes
// never holds it.
func (r *decodedTagReader) isDefault(f *schemaField, x reflect.Value) bool {
	switch x.Kind() {
	case reflect.Bool:
		return (numberDefault(r.g.t, f) != 0) == x.Bool()
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return x.Int() == numberDefault(r.g.t, f)
	case reflect.Pointer:
		return x.IsNil()
	case reflect.Slice, reflect.String:
		return x.Len() == 0
	}
	r.g.t.Fatalf("%s: a tagged field of kind %s is not checked", f.Name, x.Kind())
	return false
}

// encode appends the decoded value x of type typ of the field f as the
// schema lays it out in a flexible version, the only kind that has tags.
// A struct's fields are found by their schema names, ignoring case, so a
// value read into the wrong field comes out as other bytes.
func (r *decodedTagReader) encode(dst []byte, f *schemaField, typ string, x reflect.Value) []byte {
	if x.Kind() == reflect.Pointer {
		if x.IsNil() {
			return append(dst, 0) // null: a compact length of -1+1
		}
		x = x.Elem()
	}
	switch typ {
	case "bool":
		if x.Bool() {
			return append(dst, 1)
		}
		return append(dst, 0)
	case "int8":
		return append(dst, byte(x.Int()))
	case "int16":
		return binary.BigEndian.AppendUint16(dst, uint16(x.Int()))
	case "int32":
		return binary.BigEndian.AppendUint32(dst, uint32(x.Int()))
	case "int64":
		return binary.BigEndian.AppendUint64(dst, uint64(x.Int()))
	case "uuid":
		for i := range x.Len() {
			dst = append(dst, byte(x.Index(i).Uint()))
		}
		return dst
	case "string":
		dst = binary.AppendUvarint(dst, uint64(x.Len()+1))
		return append(dst, x.String()...)
	case "bytes", "records":
		if x.IsNil() && r.g.has(f.NullableVersions) {
			return append(dst, 0)
		}
		dst = binary.AppendUvarint(dst, uint64(x.Len()+1))
		return append(dst, x.Bytes()...)
	}
	if elem, ok := strings.CutPrefix(typ, "[]"); ok {
		if x.IsNil() && r.g.has(f.NullableVersions) {
			return append(dst, 0)
		}
		dst = binary.AppendUvarint(dst, uint64(x.Len()+1))
		for i := range x.Len() {
			dst = r.encode(dst, f, elem, x.Index(i))
		}
		return dst
	}
	fields := f.Fields
	if len(fields) == 0 {
		fields = r.g.common[typ]
	}
	var tags []taggedField
	for _, sf := range fields {
		if !r.g.has(sf.Versions) {
			continue
		}
		field := x.FieldByNameFunc(func(name string) bool { return strings.EqualFold(name, sf.Name) })
		if !field.IsValid() {
			r.g.t.Fatalf("%s has no field named %s, or more than one", x.Type(), sf.Name)
		}
		if sf.Tag != nil && r.g.has(sf.TaggedVersions) {
			if !r.isDefault(sf, field) {
				tags = append(tags, taggedField{*sf.Tag, r.encode(nil, sf, sf.Type, field)})
			}
			continue
		}
		dst = r.encode(dst, sf, sf.Type, field)
	}
	if kept := x.FieldByName("UnknownTags"); kept.IsValid() {
		tags = appendKept(tags, kept.Interface().([]wire.TaggedField))
	}
	dst = binary.AppendUvarint(dst, uint64(len(tags)))
	for _, t := range sortedUnknown(tags) {
		dst = binary.AppendUvarint(dst, uint64(t.tag))
		dst = binary.AppendUvarint(dst, uint64(len(t.data)))
		dst = append(dst, t.data...)
	}
	return dst
}

// appendKept appends the tags a decoded struct kept as unknown.
func appendKept(dst []taggedField, kept []wire.TaggedField) []taggedField {
	for _, k := range kept {
		dst = append(dst, taggedField{int(k.Tag), k.Data})
	}
	return dst
}

func sortedUnknown(tags []taggedField) []taggedField {
	return slices.SortedFunc(slices.Values(tags), func(a, b taggedField) int {
		return cmp.Or(cmp.Compare(a.tag, b.tag), bytes.Compare(a.data, b.data))
	})
}

func taggedFieldEqual(a, b taggedField) bool { return a.tag == b.tag && bytes.Equal(a.data, b.data) }

func formatUnknown(tags []taggedField) string {
	s := make([]string, len(tags))
	for i, t := range tags {
		s[i] = fmt.Sprintf("%d=%x", t.tag, t.data)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func sortedDefined(tags []definedTag) []definedTag {
	return slices.SortedFunc(slices.Values(tags), func(a, b definedTag) int {
		return cmp.Or(strings.Compare(a.name, b.name), bytes.Compare(a.data, b.data))
	})
}

func definedTagEqual(a, b definedTag) bool { return a.name == b.name && bytes.Equal(a.data, b.data) }

func formatDefined(tags []definedTag) string {
	s := make([]string, len(tags))
	for i, t := range tags {
		s[i] = fmt.Sprintf("%s=%x", t.name, t.data)
	}
	return "[" + strings.Join(s, " ") + "]"
}
