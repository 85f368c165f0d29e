// Command kprod is the command-line producer of github.com/gokafka/producer.
//
//	kprod perf    [flags]           generate records and report throughput and latency
//	kprod produce [flags] [FILE...] produce the lines of stdin, or each file as one record
//	kprod dump    [flags]           print the bytes of the ProduceRequest that given records would make
//	kprod broker  [flags]           run the embedded broker, for other runs to use
//	kprod                           same as `kprod perf` with its defaults
//
// Without --brokers, perf starts an embedded broker (in a child process, so
// that the CPU time and allocations it reports are the producer's alone) and
// creates the topic on it; produce does so only with --embedded.
//
// Exit status: 0 when every record was acknowledged, 1 when any failed or the
// run was interrupted, 2 for a usage error.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit statuses; part of the command's contract.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	programName = "kprod"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is what a command reads and writes, so the whole program can run
// against in-memory streams.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// run executes the command line args and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCommand(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	var fe *failedError
	if errors.As(err, &fe) {
		// The summary has already said what failed.
		return exitFailed
	}
	code := exitFailed
	var ue *usageError
	if errors.As(err, &ue) {
		code = exitUsage
	}
	msg := err.Error()
	if ue != nil {
		msg = ue.Error()
	}
	_, _ = io.WriteString(stderr, prefixed(msg))
	if wantsJSON(cmd, args) {
		// No summary came: a script reading stdout as JSON still gets
		// one object, which says why.
		_ = json.NewEncoder(stdout).Encode(failure{Error: msg, ExitCode: code})
	}
	return code
}

// failure is what --json writes on stdout for a run that ends without a
// summary (a usage error, a missing topic, no broker, Ctrl-C while waiting
// for the broker, the topic or the transaction coordinator). Its field
// names are part of kprod's contract, as the summary's are.
type failure struct {
	Error    string `json:"error"`
	ExitCode int    `json:"exit_code"`
}

// wantsJSON says whether --json was given to cmd. A usage error in the
// flags may have stopped their parsing before --json, so args, as given,
// are read too, as pflag reads them: a value that follows its flag is not
// a flag, and the last --json given wins.
func wantsJSON(cmd *cobra.Command, args []string) bool {
	fs := cmd.Flags()
	f := fs.Lookup("json")
	if f == nil {
		return false
	}
	if f.Changed {
		return f.Value.String() == "true"
	}
	wants := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return wants
		case strings.HasPrefix(a, "--"):
			name, v, hasValue := strings.Cut(a[2:], "=")
			switch {
			case name == "json" && hasValue:
				// pflag's reading of a bool; a value it refuses is its
				// own usage error, and no --json.
				wants, _ = strconv.ParseBool(v)
			case name == "json":
				wants = true
			case !hasValue && takesValue(fs.Lookup(name)):
				i++
			}
		case strings.HasPrefix(a, "-"):
			// Shorthands, -vk VALUE or -kVALUE: the first that takes a
			// value takes the rest of a, or the next argument.
			for j := 1; j < len(a); j++ {
				if takesValue(fs.ShorthandLookup(a[j : j+1])) {
					if j == len(a)-1 {
						i++
					}
					break
				}
			}
		}
	}
	return wants
}

// takesValue says whether f, if a flag, reads a value: every flag but a
// bool one (which pflag gives a value to use when none is given).
func takesValue(f *pflag.Flag) bool { return f != nil && f.NoOptDefVal == "" }

// usageError is a bad command line: exit status 2, a one-line message that
// names the flag.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// failedError means records failed or the run was interrupted: exit status
// 1, with nothing more to print because the summary said it.
type failedError struct{}

func (*failedError) Error() string { return "some records were not acknowledged" }

// noArgs rejects positional arguments as a usage error: every input of kprod
// is a flag or stdin.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q (see %s --help)", args[0], cmd.CommandPath())
	}
	return nil
}

// flagError turns pflag's parse errors, which already name the flag, into
// usage errors.
func flagError(_ *cobra.Command, err error) error { return &usageError{msg: err.Error()} }

func newRootCommand(e *env) *cobra.Command {
	perfOpts := newPerfOptions()
	root := &cobra.Command{
		Use:   programName,
		Short: "Produce records to Kafka and show what happened",
		Long: `kprod produces records with github.com/gokafka/producer and reports throughput,
latency, batching, compression and CPU cost.

Without a sub-command it runs "kprod perf" with its defaults: one million
100-byte records to an embedded broker started for the occasion.`,
		Args:          noArgs,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPerf(cmd, e, perfOpts)
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	perfOpts.register(root)

	root.AddCommand(newPerfCommand(e), newProduceCommand(e), newDumpCommand(e), newBrokerCommand(e))
	for _, c := range root.Commands() {
		if c.Args == nil {
			c.Args = noArgs
		}
		c.SilenceErrors = true
		c.SilenceUsage = true
		c.SetFlagErrorFunc(flagError)
	}
	return root
}
