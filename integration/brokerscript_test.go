package integration

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestClusterIDsNeverStartWithADash draws cluster ids as broker.sh makes
// them. kafka-storage reads an id that starts with '-' as an option and
// fails to format the node: with a plain base64url draw, one start in 64.
// 500 draws would all miss that start with odds under 1 in 2,500.
func TestClusterIDsNeverStartWithADash(t *testing.T) {
	cmd := exec.Command("bash", "-c", `source kafka/nodes.sh && for _ in $(seq 500); do printf "%s\n" "$(cluster_id)"; done`)
	cmd.Env = append(os.Environ(), "STATE_DIR="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("drawing cluster ids with kafka/nodes.sh: %v", err)
	}
	ids := strings.Fields(string(out))
	if len(ids) != 500 {
		t.Fatalf("%d ids drawn, want 500", len(ids))
	}
	// Kafka's Uuid: 16 bytes, base64url without padding.
	uuid := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{21}$`)
	for _, id := range ids {
		if !uuid.MatchString(id) {
			t.Fatalf("cluster id %q is not 22 base64url characters that do not start with '-'", id)
		}
	}
}
