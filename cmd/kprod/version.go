package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// libraryPath is the producer library's module, whose version --version
// reports beside kprod's own.
const libraryPath = "github.com/gokafka/producer"

// version is what --version prints after the name: kprod's module version
// (v1.2.3 when installed with go install ...@v1.2.3, "(devel)" when built
// from a checkout), the library's, the commit when the build recorded one,
// and the Go toolchain.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Sprintf("(unknown version) %s", runtime.Version())
	}
	lib := "(unknown)"
	for _, d := range bi.Deps {
		if d.Path == libraryPath {
			lib = d.Version
			if d.Replace != nil {
				lib += " => " + d.Replace.Path
			}
		}
	}
	commit := ""
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			commit = ", commit " + s.Value[:12]
		}
		if s.Key == "vcs.modified" && s.Value == "true" && commit != "" {
			commit += " (modified)"
		}
	}
	return fmt.Sprintf("%s (library %s%s; %s %s/%s)", bi.Main.Version, lib, commit, bi.GoVersion, runtime.GOOS, runtime.GOARCH)
}
