//go:build ignore

// Modzip lays out one module version in a module proxy directory, as
// https://go.dev/ref/mod#goproxy-protocol describes it, so that
// GOPROXY=file://DIR serves it:
//
//	go run scripts/modzip.go -dir cmd/kprod -module github.com/gokafka/producer/cmd/kprod -version v0.1.0 -proxy /tmp/proxy
//
// The zip holds the module's files as `go mod download` would fetch them
// from a tagged repository: every regular file under -dir except those of
// nested modules (directories with their own go.mod) and of version control
// directories. scripts/install-check.sh uses it to rehearse a release.
package main

import (
	"archive/zip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode"
)

func main() {
	dir := flag.String("dir", ".", "the module's directory")
	module := flag.String("module", "", "the module path")
	version := flag.String("version", "", "the version to publish, vX.Y.Z")
	proxy := flag.String("proxy", "", "the proxy directory")
	flag.Parse()
	if *module == "" || *version == "" || *proxy == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := publish(*dir, *module, *version, *proxy); err != nil {
		fmt.Fprintln(os.Stderr, "modzip:", err)
		os.Exit(1)
	}
}

func publish(dir, module, version, proxy string) error {
	at := filepath.Join(proxy, filepath.FromSlash(escape(module)), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(at, version+".mod"), gomod, 0o644); err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(at, version+".info"), info, 0o644); err != nil {
		return err
	}
	if err := writeZip(filepath.Join(at, version+".zip"), dir, module+"@"+version); err != nil {
		return err
	}
	list, err := os.OpenFile(filepath.Join(at, "list"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(list, version)
	return errorsJoin(err, list.Close())
}

// writeZip zips the module's files under prefix/.
func writeZip(name, dir, prefix string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch {
			case rel == ".":
				return nil
			case d.Name() == ".git" || d.Name() == ".hg" || d.Name() == ".svn" || d.Name() == ".bzr":
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module, published on its own
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		w, err := zw.Create(path.Join(prefix, filepath.ToSlash(rel)))
		if err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(w, src)
		return err
	})
	return errorsJoin(walkErr, zw.Close(), f.Close())
}

// escape is a module path as the proxy protocol spells it: each upper-case
// letter becomes '!' and its lower case.
func escape(module string) string {
	var b strings.Builder
	for _, r := range module {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func errorsJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
