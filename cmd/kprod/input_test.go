package main

import (
	"strings"
	"testing"
)

func TestReadLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // longer than the reader's buffer
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a\n", []string{"a"}},
		{"a\n\nb\n", []string{"a", "", "b"}},
		{"a\r\n", []string{"a\r"}},
		{long + "\nshort", []string{long, "short"}},
	} {
		var got []string
		if err := readLines(strings.NewReader(tc.in), func(l []byte) bool {
			got = append(got, string(l))
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("readLines(%.20q) = %d lines, want %d", tc.in, len(got), len(tc.want))
		}
	}
}

func TestSplitLine(t *testing.T) {
	for _, tc := range []struct {
		line, sep, key, value string
		nilKey                bool
	}{
		{"k:v", ":", "k", "v", false},
		{"k:v:w", ":", "k", "v:w", false},
		{":v", ":", "", "v", false},
		{"v", ":", "", "v", true},
		{"k:v", "", "", "k:v", true},
		{"k::v", "::", "k", "v", false},
	} {
		k, v := splitLine([]byte(tc.line), []byte(tc.sep))
		if string(k) != tc.key || (k == nil) != tc.nilKey || string(v) != tc.value {
			t.Errorf("splitLine(%q, %q) = %q (nil %t), %q", tc.line, tc.sep, k, k == nil, v)
		}
	}
}

func TestParseHeaders(t *testing.T) {
	hs, err := parseHeaders([]string{"a=1", "b=", "c", "d=x=y"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 4 || string(hs[0].Value) != "1" || hs[1].Value == nil || len(hs[1].Value) != 0 ||
		hs[2].Value != nil || string(hs[3].Value) != "x=y" {
		t.Errorf("headers %+v", hs)
	}
	if _, err := parseHeaders([]string{"=v"}); err == nil {
		t.Error("a header without a key was accepted")
	}
}
