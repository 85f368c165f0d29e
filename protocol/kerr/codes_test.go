package kerr

import (
	"encoding/csv"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"testing"
)

// csvPath is the table codes.go was written from, relative to this package.
const csvPath = "../../../shared/kafka-protocol/error-codes.csv"

// TestTableMatchesCSV keeps codes.go honest: every row of the CSV must have a
// value with the same name, message and flags, and the table must hold no code
// the CSV lacks.
func TestTableMatchesCSV(t *testing.T) {
	f, err := os.Open(csvPath)
	if errors.Is(err, fs.ErrNotExist) {
		// Outside CI a checkout may lack ../shared; CI has it beside the
		// clone, and a check that skips there would never run at all.
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is absent, and CI=true: the table must be checked against it", csvPath)
		}
		t.Skipf("%s is absent; nothing to check against", csvPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 || len(rows[0]) != 5 || rows[0][0] != "code" {
		t.Fatalf("unexpected CSV shape: header %v, %d rows", rows[0], len(rows))
	}
	inCSV := map[int16]bool{}
	for _, row := range rows[1:] {
		c, err := strconv.ParseInt(row[0], 10, 16)
		if err != nil {
			t.Fatalf("row %v: %v", row, err)
		}
		code := int16(c)
		inCSV[code] = true
		want := Error{
			Code:            code,
			Name:            row[1],
			Retriable:       parseBool(t, row[2]),
			RefreshMetadata: parseBool(t, row[3]),
			Message:         row[4],
		}
		got := known(code)
		if got == nil {
			t.Errorf("code %d (%s) is missing from the table", code, row[1])
			continue
		}
		if *got != want {
			t.Errorf("code %d:\n got %+v\nwant %+v", code, *got, want)
		}
	}
	for c := -1000; c <= 1000; c++ {
		if known(int16(c)) != nil && !inCSV[int16(c)] {
			t.Errorf("code %d is in the table but not in the CSV", c)
		}
	}
}

func parseBool(t *testing.T, s string) bool {
	t.Helper()
	b, err := strconv.ParseBool(s)
	if err != nil {
		t.Fatalf("flag %q: %v", s, err)
	}
	return b
}
