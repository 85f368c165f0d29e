package protocol

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// schemasDir holds the message schemas the version table was written from,
// relative to this package.
const schemasDir = "../../shared/kafka-protocol/messages"

// TestVersionTableMatchesTheSchemas keeps the version table honest: for
// every API, the highest version implemented is the schema's latest, and a
// latest version the schema marks unstable is never negotiated.
func TestVersionTableMatchesTheSchemas(t *testing.T) {
	requireSchemas(t)
	for api := range apis {
		schema := readRequestSchema(t, api)
		latest := schema.latest(t)
		if got := Supported(api).Max; got != latest {
			t.Errorf("%s: the table implements up to v%d, the schema's latest is v%d", api, got, latest)
		}
		want := latest
		if schema.LatestVersionUnstable {
			want = latest - 1
		}
		if got := Negotiable(api).Max; got != want {
			t.Errorf("%s: negotiates up to v%d, want v%d (latest v%d unstable: %v)", api, got, want, latest, schema.LatestVersionUnstable)
		}
	}
}

// requireSchemas skips a test that checks the package against the schemas
// when they are absent, but fails it under CI=true: as in kerr's table
// test, CI has ../shared beside the clone, and a check skipped there would
// never run.
func requireSchemas(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(schemasDir); errors.Is(err, fs.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is absent, and CI=true: the package must be checked against it", schemasDir)
		}
		t.Skipf("%s is absent; nothing to check against", schemasDir)
	}
}

type requestSchema struct {
	ValidVersions         string `json:"validVersions"`
	LatestVersionUnstable bool   `json:"latestVersionUnstable"`
}

// commentLine matches the schemas' // comments, which JSON does not allow.
var commentLine = regexp.MustCompile(`(?m)^\s*//.*$`)

func readRequestSchema(t *testing.T, api APIKey) requestSchema {
	t.Helper()
	var s requestSchema
	readSchema(t, api.String()+"Request", &s)
	return s
}

// readSchema decodes the schema of the message name (e.g. "ProduceResponse")
// into schema.
func readSchema(t *testing.T, name string, schema any) {
	t.Helper()
	path := filepath.Join(schemasDir, name+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(commentLine.ReplaceAll(data, nil), schema); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// latest is the highest of the schema's validVersions ("0-6", or "3").
func (s requestSchema) latest(t *testing.T) int16 {
	t.Helper()
	m := regexp.MustCompile(`^(?:\d+-)?(\d+)$`).FindStringSubmatch(s.ValidVersions)
	if m == nil {
		t.Fatalf("validVersions %q", s.ValidVersions)
	}
	v, err := strconv.ParseInt(m[1], 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return int16(v)
}
