package kerr

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestForCodeZeroIsNil(t *testing.T) {
	if err := ForCode(0); err != nil {
		t.Fatalf("ForCode(0) = %v, want nil", err)
	}
}

func TestForCodeReturnsSharedValue(t *testing.T) {
	for _, want := range []*Error{NotLeaderOrFollower, MessageTooLarge, UnknownTopicOrPartition, UnsupportedVersion, UnknownServerError} {
		got := ForCode(want.Code)
		if got != error(want) {
			t.Errorf("ForCode(%d) = %p, want the shared %s at %p", want.Code, got, want.Name, want)
		}
	}
}

func TestIsThroughWrapping(t *testing.T) {
	err := fmt.Errorf("produce to t-0: %w", ForCode(6))
	err = fmt.Errorf("batch 3: %w", err)
	if !errors.Is(err, NotLeaderOrFollower) {
		t.Fatalf("errors.Is(%v, NotLeaderOrFollower) = false", err)
	}
	if errors.Is(err, LeaderNotAvailable) {
		t.Fatalf("errors.Is matched a different code")
	}
}

func TestAsThroughWrapping(t *testing.T) {
	err := fmt.Errorf("init producer id: %w", ForCode(47))
	var ke *Error
	if !errors.As(err, &ke) {
		t.Fatalf("errors.As found no *Error in %v", err)
	}
	if ke != InvalidProducerEpoch || ke.Code != 47 {
		t.Fatalf("errors.As gave %+v", ke)
	}
}

func TestFlagsThroughWrapping(t *testing.T) {
	tests := []struct {
		err              error
		retriable, stale bool
	}{
		{fmt.Errorf("x: %w", NotLeaderOrFollower), true, true},
		{fmt.Errorf("x: %w", fmt.Errorf("y: %w", UnknownTopicOrPartition)), true, true},
		{fmt.Errorf("x: %w", RequestTimedOut), true, false},
		{fmt.Errorf("x: %w", NotEnoughReplicas), true, false},
		{fmt.Errorf("x: %w", MessageTooLarge), false, false},
		{fmt.Errorf("x: %w", UnsupportedVersion), false, false},
		{errors.New("not a kafka error"), false, false},
		{nil, false, false},
		{fmt.Errorf("x: %w", (*Error)(nil)), false, false},
	}
	for _, tt := range tests {
		if got := IsRetriable(tt.err); got != tt.retriable {
			t.Errorf("IsRetriable(%v) = %v, want %v", tt.err, got, tt.retriable)
		}
		if got := NeedsMetadataRefresh(tt.err); got != tt.stale {
			t.Errorf("NeedsMetadataRefresh(%v) = %v, want %v", tt.err, got, tt.stale)
		}
	}
}

func TestUnknownCode(t *testing.T) {
	for _, code := range []int16{99, 129, 32767, -2} {
		err := ForCode(code)
		var ke *Error
		if !errors.As(err, &ke) {
			t.Fatalf("ForCode(%d) = %T, want *Error", code, err)
		}
		want := fmt.Sprintf("UNKNOWN_ERROR_CODE_%d", code)
		if ke.Code != code || ke.Name != want || ke.Retriable || ke.RefreshMetadata {
			t.Errorf("ForCode(%d) = %+v", code, *ke)
		}
		if !strings.HasPrefix(err.Error(), want+": ") {
			t.Errorf("ForCode(%d).Error() = %q", code, err)
		}
		if IsRetriable(err) {
			t.Errorf("unknown code %d is retriable", code)
		}
	}
}

func TestErrorIsOneLine(t *testing.T) {
	got := NotLeaderOrFollower.Error()
	if !strings.HasPrefix(got, "NOT_LEADER_OR_FOLLOWER: For requests intended only for the leader") {
		t.Errorf("Error() = %q", got)
	}
	for c := -1; c <= 200; c++ {
		if e := known(int16(c)); e != nil && strings.ContainsAny(e.Error(), "\r\n") {
			t.Errorf("code %d: Error() spans lines: %q", c, e.Error())
		}
	}
}

type finalErr struct{}

func (finalErr) Error() string { return "the transaction must be aborted" }
func (finalErr) Final()        {}

// A Final error in the chain ends the retries of the Kafka error it wraps,
// which errors.Is still finds.
func TestAFinalErrorEndsTheRetriesOfTheKafkaErrorItWraps(t *testing.T) {
	cause := fmt.Errorf("delivery timeout; last error: %w", NotEnoughReplicas)
	if !IsRetriable(cause) {
		t.Fatalf("IsRetriable(%v) = false, want true", cause)
	}
	final := fmt.Errorf("%w: %w", finalErr{}, cause)
	if IsRetriable(final) {
		t.Errorf("IsRetriable(%v) = true, want false", final)
	}
	if !errors.Is(final, NotEnoughReplicas) {
		t.Errorf("errors.Is(%v, NotEnoughReplicas) = false", final)
	}
}
