package race

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A contender named gokafka@REF is this race's gokafka client built
// against the library as it was at REF, any commit git names: a change and
// its parent raced in one interleaved race, each round under the same
// machine load, rather than in two races an hour apart. Only the library
// (the root module) is taken from REF; the client and the harness are this
// tree's, so both speak the same settings and report the same way, and REF
// must have the library API the client uses.

// refSeparator splits a contender's name from the commit it is built at.
const refSeparator = "@"

// atRef returns the gokafka contender for a name of the form gokafka@REF.
func atRef(name string) (Contender, bool) {
	base, ref, ok := strings.Cut(name, refSeparator)
	if !ok || base != "gokafka" || ref == "" {
		return Contender{}, false
	}
	for _, c := range Contenders {
		if c.Name == base {
			c.Name, c.Ref = name, ref
			return c, true
		}
	}
	return Contender{}, false
}

// pinned returns c with its ref resolved to a commit, which its name then
// gives: a report of gokafka@HEAD~1 must still say which commit that was
// once the branch has moved on.
func (c Contender) pinned(ctx context.Context, moduleDir string) (Contender, error) {
	commit, err := gitOutput(ctx, moduleDir, "rev-parse", "--verify", "--short", "--end-of-options", c.Ref+"^{commit}")
	if err != nil {
		return c, fmt.Errorf("%s: %q names no commit: %w", c.Name, c.Ref, err)
	}
	base, _, _ := strings.Cut(c.Name, refSeparator)
	c.Name, c.Ref = base+refSeparator+commit, commit
	return c, nil
}

// workspaceAt writes the library at c.Ref into dir, beside a Go workspace
// that uses it with this tree's bench and integration modules, and returns
// the workspace file for GOWORK. moduleDir is the bench module's directory.
func (c Contender) workspaceAt(ctx context.Context, moduleDir, dir string) (string, error) {
	repo, err := gitOutput(ctx, moduleDir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", fmt.Errorf("building %s: finding the repository: %w", c.Name, err)
	}
	commit, err := gitOutput(ctx, repo, "rev-parse", "--verify", "--end-of-options", c.Ref+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("building %s: %q names no commit: %w", c.Name, c.Ref, err)
	}
	// Named by the commit: a ref may hold characters a path (or go work
	// edit, which reads "@" as a version) takes otherwise.
	library := filepath.Join(dir, "library-"+commit)
	if err := os.RemoveAll(library); err != nil {
		return "", err
	}
	if err := os.MkdirAll(library, 0o755); err != nil {
		return "", err
	}
	tarball := library + ".tar"
	if _, err := gitOutput(ctx, repo, "archive", "--format=tar", "-o", tarball, commit); err != nil {
		return "", fmt.Errorf("building %s: %w", c.Name, err)
	}
	defer os.Remove(tarball)
	if err := runCommand(ctx, dir, nil, "tar", "-xf", tarball, "-C", library); err != nil {
		return "", fmt.Errorf("building %s: %w", c.Name, err)
	}

	// The workspace sits in a directory of its own: go work init writes
	// go.work where it runs, and go.work.sum must be there beside it
	// (this tree's has the checksums the nested modules need).
	workDir := filepath.Join(dir, "workspace-"+commit)
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return "", err
	}
	sums, err := os.ReadFile(filepath.Join(repo, "go.work.sum"))
	if err != nil && !os.IsNotExist(err) {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(workDir, "go.work.sum"), sums, 0o644); err != nil {
		return "", err
	}
	integration := filepath.Join(repo, "integration")
	off := []string{"GOWORK=off"}
	if err := runCommand(ctx, workDir, off, "go", "work", "init", moduleDir, integration, library); err != nil {
		return "", fmt.Errorf("building %s: %w", c.Name, err)
	}
	work := filepath.Join(workDir, "go.work")
	// The nested modules require v0.0.0 of the root and integration
	// modules, which this repository's go.work maps to its directories.
	if err := runCommand(ctx, workDir, []string{"GOWORK=" + work}, "go", "work", "edit",
		"-replace=github.com/gokafka/producer@v0.0.0="+library,
		"-replace=github.com/gokafka/producer/integration@v0.0.0="+integration); err != nil {
		return "", fmt.Errorf("building %s: %w", c.Name, err)
	}
	return work, nil
}

// gitOutput runs git in dir and returns its output, trimmed.
func gitOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(errOut.Bytes()))
	}
	return strings.TrimSpace(string(out)), nil
}

// runCommand runs a command in dir with env added to the process's environment,
// and makes its output the error when it fails.
func runCommand(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(msg))
	}
	return nil
}
