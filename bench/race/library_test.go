package race

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestContenderAtARef(t *testing.T) {
	c, err := ContenderByName("gokafka@v1.2.3~4")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "gokafka@v1.2.3~4" || c.Ref != "v1.2.3~4" || c.Package != "./clients/gokafka" {
		t.Errorf("got %+v", c)
	}
	for _, name := range []string{"gokafka@", "franz-go@HEAD", "gokafka"} {
		c, err := ContenderByName(name)
		if name == "gokafka" {
			if err != nil || c.Ref != "" {
				t.Errorf("%s: %+v, %v; want this tree's library", name, c, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: got %+v, want an error", name, c)
		}
	}
}

// gitSetup is raceSetup for the tests of a contender at a ref, which need
// this tree's git history: they skip outside a git work tree.
func gitSetup(t *testing.T) (context.Context, string) {
	t.Helper()
	ctx, moduleDir := raceSetup(t)
	if _, err := gitOutput(ctx, moduleDir, "rev-parse", "HEAD"); err != nil {
		t.Skipf("not in a git work tree with a commit: %v", err)
	}
	return ctx, moduleDir
}

// TestWorkspaceAtARefUsesThatLibrary checks what a gokafka@REF build
// compiles: the root module resolves to the commit's files, written apart
// from this tree, while the bench module stays this tree's.
func TestWorkspaceAtARefUsesThatLibrary(t *testing.T) {
	ctx, moduleDir := gitSetup(t)
	c, err := ContenderByName("gokafka@HEAD")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	work, err := c.workspaceAt(ctx, moduleDir, dir)
	if err != nil {
		t.Fatal(err)
	}
	dirOf := func(module string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", module)
		cmd.Dir = moduleDir
		cmd.Env = append(os.Environ(), "GOWORK="+work)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list -m %s: %v\n%s", module, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	head, err := gitOutput(ctx, moduleDir, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	library := filepath.Join(dir, "library-"+head)
	if got := dirOf("github.com/gokafka/producer"); got != library {
		t.Errorf("the library resolves to %s, want the commit's copy %s", got, library)
	}
	if got := dirOf("github.com/gokafka/producer/bench"); got != moduleDir {
		t.Errorf("the bench module resolves to %s, want this tree's %s", got, moduleDir)
	}
	if _, err := os.Stat(filepath.Join(library, "producer.go")); err != nil {
		t.Errorf("the commit's library was not written: %v", err)
	}

	if _, err := (Contender{Name: "gokafka@no-such-commit", Package: "./clients/gokafka", Ref: "no-such-commit"}).workspaceAt(ctx, moduleDir, dir); err == nil || !strings.Contains(err.Error(), "names no commit") {
		t.Errorf("an unknown commit: %v, want it named as no commit", err)
	}
}

// TestRaceAtARef races the gokafka client built at a commit through the
// whole harness, beside franz-go, and finds it in the report.
func TestRaceAtARef(t *testing.T) {
	ctx, moduleDir := gitSetup(t)
	w, err := WorkloadByName("nokey")
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	res, err := Race(ctx, Options{
		Clients: contendersNamed(t, "gokafka@HEAD", Baseline), Workloads: []Workload{w}, Rounds: 1,
		Records: 2000, LatencyRecords: 200,
		BrokerName: "embedded", ModuleDir: moduleDir, WorkDir: t.TempDir(), Log: &log,
	})
	if err != nil {
		t.Fatalf("race: %v\n%s", err, log.String())
	}
	if len(res.Runs) != 2 {
		t.Fatalf("%d runs, want 2 (skipped: %v):\n%s", len(res.Runs), res.Skipped, log.String())
	}
	for _, r := range res.Runs {
		if want := r.Records + 1; r.Err != "" || r.Produced != want || r.Counted != int64(want) {
			t.Errorf("%s: error %q, produced %d, counted %d, want %d", r.Client, r.Err, r.Produced, r.Counted, want)
		}
	}

	md := render(t, res, t.TempDir())
	head, err := gitOutput(ctx, moduleDir, "rev-parse", "--short", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	// The name gives the commit HEAD was, not "HEAD".
	if want := "| gokafka@" + head + " | this repository's library at " + head + ", in the gokafka client"; !strings.Contains(md, want) {
		t.Errorf("RESULTS.md lacks %q:\n%s", want, md)
	}
}
