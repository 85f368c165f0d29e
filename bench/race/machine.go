package race

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// describeMachine gathers what the report says about the machine; what it
// cannot find it leaves empty.
func describeMachine(java string) Machine {
	m := Machine{OS: runtime.GOOS + "/" + runtime.GOARCH, Cores: runtime.NumCPU(), Go: runtime.Version()}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m.OS = strings.TrimSpace(string(out)) + " " + runtime.GOARCH
	}
	m.CPU = procField("/proc/cpuinfo", "model name")
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "" {
		if n, err := strconv.Atoi(strings.Fields(kb)[0]); err == nil {
			m.Memory = strconv.Itoa(n>>20) + " GiB"
		}
	}
	if java != "" {
		m.Java = javaVersion(java)
	}
	return m
}

// procField is the value of the first "name: value" line of a /proc file.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Machine is what the report says about where it ran.
type Machine struct {
	OS     string `json:"os"`
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	Memory string `json:"memory"`
	Go     string `json:"go"`
	Java   string `json:"java,omitempty"`
}

// ModuleDir finds the bench module's directory with `go list`, so that the
// race runs from anywhere in the repository.
func ModuleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/gokafka/producer/bench").Output()
	if err != nil {
		return "", fmt.Errorf("finding the bench module (run from inside the repository): %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", fmt.Errorf("bench module at %q: %w", dir, err)
	}
	return dir, nil
}

// commitOf is the repository's commit, marked when the work tree has
// changes, untracked files included (a new .go file in a package is built
// into the binaries as surely as an edited one; ignored files are not);
// empty outside git. The race's own output (the results files, RESULTS.md
// and the charts) does not count as a change: a race on one broker right
// after one on another finds the first's output written, a new results
// file or chart among it.
func commitOf(ctx context.Context, dir string) string {
	commit, err := gitOutput(ctx, dir, "rev-parse", "--short", "HEAD")
	if err != nil {
		return ""
	}
	changed, err := gitOutput(ctx, dir, "status", "--porcelain", "--untracked-files=all", "--",
		":(top)", ":(top,exclude)bench/results", ":(top,exclude)bench/RESULTS.md", ":(top,exclude)bench/race-*.svg")
	if err != nil || changed != "" {
		commit += "-dirty"
	}
	return commit
}
