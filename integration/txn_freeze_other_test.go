//go:build !unix

package integration

import "errors"

// freeze needs SIGSTOP, which only Unix has; broker.sh runs on Unix alone.
func freeze(int) error { return errors.New("freezing a process needs SIGSTOP (Unix)") }

// thaw needs SIGCONT, as freeze needs SIGSTOP.
func thaw(int) error { return errors.New("thawing a process needs SIGCONT (Unix)") }
