package bufferpool

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBlocksUntilEnoughMemoryReturns(t *testing.T) {
	p, _ := newTestPool(100, 10)
	mustReserve(t, p, 100)
	ch := goAllocate(p, context.Background(), 50, forever)
	waitWaiters(t, p, 1)
	pending(t, ch, "Allocate(50) on a full pool")

	p.Release(30)
	waitAvailable(t, p, 0) // the head collected the 30 bytes and keeps waiting
	equal(t, p.Waiters(), 1, "waiters after a partial release")
	pending(t, ch, "Allocate(50) with 30 bytes collected")

	p.Release(20)
	buf := awaitOK(t, ch, "Allocate(50)")
	equal(t, cap(buf), 50, "cap")
	equal(t, len(buf), 0, "len")
	equal(t, p.Waiters(), 0, "waiters")
	p.Release(50)
	p.Deallocate(buf)
	equal(t, p.Available(), 100, "available at the end")
}

// Waiters are served in arrival order, and the head keeps its place while it
// collects memory: a later, smaller request that would fit is not served
// ahead of it.
func TestWaitersAreServedInArrivalOrder(t *testing.T) {
	p, _ := newTestPool(100, 10)
	ctx := context.Background()
	mustReserve(t, p, 100)
	a := goAllocate(p, ctx, 30, forever)
	waitWaiters(t, p, 1)
	b := goAllocate(p, ctx, 50, forever)
	waitWaiters(t, p, 2)
	c := goReserve(p, ctx, 10, forever)
	waitWaiters(t, p, 3)

	p.Release(30)
	bufA := awaitOK(t, a, "first waiter (30)")
	waitWaiters(t, p, 2)

	p.Release(20)
	waitAvailable(t, p, 0) // the second waiter took the 20 towards its 50
	pending(t, b, "second waiter (50) with 20 collected")
	pending(t, c, "third waiter (10), which 20 bytes would have satisfied")

	p.Release(30)
	bufB := awaitOK(t, b, "second waiter (50)")
	waitWaiters(t, p, 1)
	pending(t, c, "third waiter with nothing free")

	p.Release(10)
	awaitOK(t, c, "third waiter (10)")
	equal(t, p.Waiters(), 0, "waiters")
	p.Deallocate(bufA)
	p.Deallocate(bufB)
	p.Release(10) // the third waiter's reservation
	p.Release(10) // what is left of the initial reservation
	equal(t, p.Available(), 100, "available at the end")
}

// Each release wakes the head waiter only, never the whole queue: the
// failure mode of aiokafka issue #528, where every release woke every
// waiter to re-check and sleep again.
func TestReleaseWakesOnlyTheHead(t *testing.T) {
	p, _ := newTestPool(100, 10)
	ctx := context.Background()
	mustReserve(t, p, 100)
	var chans []<-chan result
	for i := 1; i <= 3; i++ {
		chans = append(chans, goReserve(p, ctx, 100, forever))
		waitWaiters(t, p, i)
	}
	for i := 0; i < 3; i++ {
		p.Release(10)
		waitAvailable(t, p, 0)
	}
	if got := signalsOf(p); !slices.Equal(got, []int{3, 0, 0}) {
		t.Fatalf("wake-ups per waiter after three releases: %v, want [3 0 0]", got)
	}

	// The head completes; nothing is left over, so the new head is not
	// woken just to find nothing.
	p.Release(70)
	awaitOK(t, chans[0], "head waiter")
	waitWaiters(t, p, 2)
	if got := signalsOf(p); !slices.Equal(got, []int{0, 0}) {
		t.Fatalf("wake-ups of the remaining waiters: %v, want [0 0]", got)
	}
	p.Close()
	for i, ch := range chans[1:] {
		if r := await(t, ch, "waiter after Close"); !errors.Is(r.err, ErrClosed) {
			t.Errorf("waiter %d after Close: %v, want ErrClosed", i+1, r.err)
		}
	}
}

// A head served with memory left over passes the turn on: a release that
// covers the next waiter too serves it, woken by the head as it leaves.
// A release wakes the head alone (TestReleaseWakesOnlyTheHead), so a head
// that left without waking the next left that waiter asleep beside free
// memory until another release, or its MaxBlock, failed it.
func TestAServedHeadWakesTheNextWaiterWhenMemoryIsLeft(t *testing.T) {
	p, _ := newTestPool(100, 10)
	ctx := context.Background()
	mustReserve(t, p, 100)
	a := goReserve(p, ctx, 30, forever)
	waitWaiters(t, p, 1)
	b := goReserve(p, ctx, 20, forever)
	waitWaiters(t, p, 2)

	p.Release(50)
	awaitOK(t, a, "head waiter (30)")
	awaitOK(t, b, "second waiter (20), with 20 of the 50 bytes left")
	equal(t, p.Waiters(), 0, "waiters")
	p.Release(50) // the waiters' reservations
	p.Release(50) // what is left of the initial reservation
	equal(t, p.Available(), 100, "available at the end")
}

// A waiter for a poolable buffer that has collected part of its size from
// unpooled memory takes only the rest when a buffer comes back to the free
// list, which gives way to it. Handed the whole buffer besides, the bytes
// it had collected were counted neither free nor handed out, and the pool
// was that much smaller for good.
func TestAWaiterPartlyServedTakesOnlyTheRestFromAFreeBuffer(t *testing.T) {
	p, _ := newTestPool(100, 10)
	ctx := context.Background()
	buf := mustAllocate(t, p, 10)
	mustReserve(t, p, 85)
	ch := goAllocate(p, ctx, 10, forever)
	waitWaiters(t, p, 1)
	waitAvailable(t, p, 0) // it collected the 5 free bytes

	p.Deallocate(buf)
	got := awaitOK(t, ch, "Allocate(10) with 5 bytes collected")
	equal(t, cap(got), 10, "cap")
	equal(t, p.Available(), 5, "available once the waiter is served")
	p.Deallocate(got)
	p.Release(85)
	equal(t, p.Available(), 100, "available at the end")
}

// A waiter whose deadline passes leaves the queue, gives back what it had
// collected, and the next waiter gets it.
func TestTimeoutGivesBackCollectedMemory(t *testing.T) {
	p, clk := newTestPool(100, 10)
	ctx := context.Background()
	mustReserve(t, p, 80)
	a := goAllocate(p, ctx, 50, time.Second)
	waitWaiters(t, p, 1)
	waitAvailable(t, p, 0) // it collected the 20 free bytes
	b := goAllocate(p, ctx, 20, 10*time.Second)
	waitWaiters(t, p, 2)

	clk.Advance(time.Second)
	r := await(t, a, "waiter with a 1s deadline")
	if !errors.Is(r.err, ErrTimeout) {
		t.Fatalf("after its deadline: %v, want ErrTimeout", r.err)
	}
	if msg := r.err.Error(); !strings.Contains(msg, "50 bytes") || !strings.Contains(msg, "1s") {
		t.Errorf("timeout error %q should name the size and the wait", msg)
	}
	bufB := awaitOK(t, b, "next waiter, served from the returned 20 bytes")
	equal(t, cap(bufB), 20, "cap")
	equal(t, p.Waiters(), 0, "waiters")
	equal(t, clk.Timers(), 0, "timers left armed")

	p.Deallocate(bufB)
	p.Release(80)
	equal(t, p.Available(), 100, "available at the end")
}

// A waiter behind the head leaves the queue at its own deadline, though
// the head's comes later: the producer queues waits of different bounds
// (a record's MaxBlock from its Produce, a held record's append its
// DeliveryTimeout), so one behind may end first. The head keeps its place
// and what it collected.
func TestAWaiterBehindTheHeadTimesOutAtItsOwnDeadline(t *testing.T) {
	p, clk := newTestPool(100, 10)
	ctx := context.Background()
	mustReserve(t, p, 80)
	head := goAllocate(p, ctx, 50, forever)
	waitWaiters(t, p, 1)
	waitAvailable(t, p, 0) // it collected the 20 free bytes
	behind := goAllocate(p, ctx, 10, time.Second)
	waitWaiters(t, p, 2)

	clk.Advance(time.Second)
	r := await(t, behind, "the waiter behind the head, at its 1s deadline")
	if !errors.Is(r.err, ErrTimeout) {
		t.Fatalf("after its deadline: %v, want ErrTimeout", r.err)
	}
	pending(t, head, "the head, whose deadline has not passed")
	equal(t, p.Waiters(), 1, "waiters")

	p.Release(30)
	bufHead := awaitOK(t, head, "the head, once memory came back")
	equal(t, cap(bufHead), 50, "cap")
	p.Deallocate(bufHead)
	p.Release(50)
	equal(t, p.Available(), 100, "available at the end")
}

func TestNoWaitFailsAtOnceWhenShort(t *testing.T) {
	p, clk := newTestPool(100, 10)
	mustReserve(t, p, 95)
	for _, wait := range []time.Duration{0, -time.Second} {
		if _, err := p.Allocate(context.Background(), 10, wait); !errors.Is(err, ErrTimeout) {
			t.Errorf("maxWait %v: %v, want ErrTimeout", wait, err)
		}
	}
	equal(t, p.Waiters(), 0, "waiters")
	equal(t, clk.Timers(), 0, "timers")
	equal(t, p.Available(), 5, "available")
}

func TestContextCancellationGivesBackCollectedMemory(t *testing.T) {
	p, _ := newTestPool(100, 10)
	mustReserve(t, p, 90)
	ctx, cancel := context.WithCancel(context.Background())
	ch := goAllocate(p, ctx, 50, forever)
	waitWaiters(t, p, 1)
	waitAvailable(t, p, 0)

	cancel()
	r := await(t, ch, "cancelled waiter")
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("after cancel: %v, want context.Canceled", r.err)
	}
	equal(t, p.Waiters(), 0, "waiters")
	equal(t, p.Available(), 10, "collected bytes returned")
	// Its error carries the wait allowed and the bytes free once the
	// collected ones went back: the producer quotes both to the user, and
	// figures from before the give-back would understate what was free.
	var we *WaitError
	if !errors.As(r.err, &we) {
		t.Fatalf("%v is not a *WaitError", r.err)
	}
	equal(t, we.MaxWait, forever, "MaxWait")
	equal(t, we.Available, 10, "Available")

	// A context already done allows no wait: it fails where memory is
	// short, and takes memory that is free at once.
	if _, err := p.Allocate(ctx, 15, forever); !errors.Is(err, context.Canceled) {
		t.Errorf("Allocate of more than is free with a done context: %v, want context.Canceled", err)
	}
	equal(t, p.Waiters(), 0, "waiters")
	equal(t, p.Available(), 10, "available")
	if _, err := p.Allocate(ctx, 5, forever); err != nil {
		t.Errorf("Allocate of memory free at once with a done context: %v", err)
	}
	if err := p.Reserve(ctx, 5, forever); err != nil {
		t.Errorf("Reserve of memory free at once with a done context: %v", err)
	}
	equal(t, p.Available(), 0, "available")
}

func TestCloseWakesEveryWaiter(t *testing.T) {
	p, _ := newTestPool(100, 10)
	ctx := context.Background()
	a, b := twoWaiters(t, p)

	p.Close()
	for name, ch := range map[string]<-chan result{"allocate": a, "reserve": b} {
		if r := await(t, ch, name+" waiter after Close"); !errors.Is(r.err, ErrClosed) {
			t.Errorf("%s waiter after Close: %v, want ErrClosed", name, r.err)
		}
	}
	equal(t, p.Waiters(), 0, "waiters")
	equal(t, p.Available(), 5, "collected bytes returned")

	if _, err := p.Allocate(ctx, 1, forever); !errors.Is(err, ErrClosed) {
		t.Errorf("Allocate after Close: %v, want ErrClosed", err)
	}
	if err := p.Reserve(ctx, 1, forever); !errors.Is(err, ErrClosed) {
		t.Errorf("Reserve after Close: %v, want ErrClosed", err)
	}
	p.Release(95) // completions after Close still return memory
	equal(t, p.Available(), 100, "available after Close and Release")
}

// twoWaiters leaves 5 of p's 100 bytes free and two callers waiting: an
// Allocate of 50, which holds the 5, and a Reserve of 10 behind it.
func twoWaiters(t *testing.T, p *Pool) (allocate, reserve <-chan result) {
	t.Helper()
	mustReserve(t, p, 95)
	allocate = goAllocate(p, context.Background(), 50, forever)
	waitWaiters(t, p, 1)
	waitAvailable(t, p, 0)
	reserve = goReserve(p, context.Background(), 10, forever)
	waitWaiters(t, p, 2)
	return allocate, reserve
}

// StopWaits ends every wait with its error, the memory collected going
// back, and refuses later waits until ResumeWaits; memory on hand is still
// handed out.
func TestStopWaitsEndsWaitsUntilResumed(t *testing.T) {
	p, _ := newTestPool(100, 10)
	ctx := context.Background()
	a, b := twoWaiters(t, p)

	aborted := errors.New("transaction aborted")
	p.StopWaits(aborted)
	for name, ch := range map[string]<-chan result{"allocate": a, "reserve": b} {
		if r := await(t, ch, name+" waiter after StopWaits"); !errors.Is(r.err, aborted) {
			t.Errorf("%s waiter after StopWaits: %v, want its error", name, r.err)
		}
	}
	equal(t, p.Waiters(), 0, "waiters")
	equal(t, p.Available(), 5, "collected bytes returned")
	if _, err := p.Allocate(ctx, 50, forever); !errors.Is(err, aborted) {
		t.Errorf("an Allocate that would wait, after StopWaits: %v, want its error", err)
	}
	mustReserve(t, p, 5) // on hand: no wait

	p.ResumeWaits()
	c := goAllocate(p, ctx, 50, forever)
	waitWaiters(t, p, 1)
	pending(t, c, "an Allocate after ResumeWaits")
	p.Release(50)
	awaitOK(t, c, "an Allocate after ResumeWaits")
}

// StopWaits ends the waits under way though ResumeWaits comes before their
// callers run again: such a caller leaves with the stop's error rather
// than wait on and take memory, and the memory it had collected serves
// the next waiter. Here the first caller is held in its WithOnWait hook,
// queued with its 5 bytes but not yet waiting on its wake-up, across both
// calls; the second queues after ResumeWaits and waits as usual.
func TestStopWaitsEndsTheWaitsUnderWayThoughResumeWaitsComesFirst(t *testing.T) {
	p, _ := newTestPool(100, 10)
	mustReserve(t, p, 95)
	queued, goOn := make(chan struct{}), make(chan struct{})
	ctx := WithOnWait(context.Background(), func() {
		close(queued)
		<-goOn
	})
	a := goAllocate(p, ctx, 50, forever)
	select {
	case <-queued:
	case <-time.After(bound):
		t.Fatalf("Allocate(50) on a full pool did not queue within %v", bound)
	}
	equal(t, p.Available(), 0, "available with the first caller queued")

	aborted := errors.New("transaction aborted")
	p.StopWaits(aborted)
	p.ResumeWaits()
	b := goReserve(p, context.Background(), 5, forever)
	waitWaiters(t, p, 2)
	p.Release(45) // what the first caller, waiting on, would take
	close(goOn)

	if r := await(t, a, "the caller waiting at StopWaits"); !errors.Is(r.err, aborted) {
		t.Fatalf("the caller waiting at StopWaits: cap %d err %v, want its error", cap(r.buf), r.err)
	}
	awaitOK(t, b, "a Reserve(5) queued after ResumeWaits")
	equal(t, p.Waiters(), 0, "waiters")
	equal(t, p.Available(), 45, "available (the 5 bytes collected went to the next waiter)")
}

// A deallocated poolable buffer goes to the head even when the head wants
// another size: the free list gives way.
func TestHeadCollectsFromFreeList(t *testing.T) {
	p, _ := newTestPool(256, 128)
	a, b := mustAllocate(t, p, 128), mustAllocate(t, p, 128)
	ch := goAllocate(p, context.Background(), 200, forever)
	waitWaiters(t, p, 1)
	p.Deallocate(a)
	waitAvailable(t, p, 0)
	pending(t, ch, "Allocate(200) with 128 collected")
	p.Deallocate(b)
	buf := awaitOK(t, ch, "Allocate(200)")
	equal(t, p.Available(), 56, "available")
	equal(t, len(p.free), 0, "free list")
	p.Deallocate(buf)
	equal(t, p.Available(), 256, "available at the end")
}

// Memory is free while someone is queued only in the moment between a
// release and the head acting on its wake-up. The test freezes that moment
// by returning bytes without waking anyone, then checks that newcomers
// neither take them on arrival nor from a place further back in the queue.
func TestNewcomersDoNotOvertakeTheQueue(t *testing.T) {
	p, _ := newTestPool(100, 10)
	ctx := context.Background()
	mustReserve(t, p, 100)
	head := goAllocate(p, ctx, 100, forever)
	waitWaiters(t, p, 1)

	p.mu.Lock()
	p.nonPooled += 50 // a release whose wake-up the head has not acted on yet
	p.mu.Unlock()

	if _, err := p.Allocate(ctx, 10, 0); !errors.Is(err, ErrTimeout) {
		t.Fatalf("newcomer took memory past a queued waiter (err %v)", err)
	}
	late := goAllocate(p, ctx, 10, forever)
	waitWaiters(t, p, 2)
	equal(t, p.Available(), 50, "bytes left for the head after a newcomer queued")
	pending(t, late, "newcomer queued behind the head")

	p.Release(50) // 100 free: the head is woken and completes
	bufHead := awaitOK(t, head, "head waiter")
	waitWaiters(t, p, 1)
	pending(t, late, "newcomer with nothing free")
	p.Deallocate(bufHead)
	bufLate := awaitOK(t, late, "newcomer after the head")
	p.Deallocate(bufLate)
	equal(t, p.Available(), 100, "available at the end")
}

// OnWait hears of each caller that starts to wait, once, and of no caller
// served at once.
func TestOnWaitHearsOfEachWaiterOnce(t *testing.T) {
	p, _ := newTestPool(100, 10)
	waits := make(chan struct{}, 4)
	p.OnWait(func() { waits <- struct{}{} })
	mustReserve(t, p, 90)
	equal(t, len(waits), 0, "calls for a reservation served at once")

	ch := goAllocate(p, context.Background(), 50, forever)
	select {
	case <-waits:
	case <-time.After(10 * time.Second):
		t.Fatal("OnWait was not called for Allocate(50) on a full pool")
	}
	waitWaiters(t, p, 1)
	p.Release(30) // 40 of the 50 bytes: it keeps waiting
	waitAvailable(t, p, 0)
	equal(t, len(waits), 0, "calls after a wake-up that did not serve it")
	p.Release(10)
	p.Deallocate(awaitOK(t, ch, "Allocate(50)"))
}

// The function WithOnWait puts in a caller's context hears of that
// caller's wait alone, once, beside OnWait's, and not of a call served at
// once.
func TestWithOnWaitHearsOfItsCallersWaitOnly(t *testing.T) {
	p, _ := newTestPool(100, 10)
	waits := make(chan struct{}, 4)
	ctx := WithOnWait(context.Background(), func() { waits <- struct{}{} })
	mustReserve(t, p, 90)
	if err := p.Reserve(ctx, 10, forever); err != nil {
		t.Fatalf("Reserve(10) with 10 bytes free: %v", err)
	}
	equal(t, len(waits), 0, "calls for a reservation served at once")

	other := goAllocate(p, context.Background(), 50, forever)
	waitWaiters(t, p, 1)
	mine := goAllocate(p, ctx, 30, forever)
	select {
	case <-waits:
	case <-time.After(bound):
		t.Fatal("the context's function was not called for its Allocate(30) on a full pool")
	}
	waitWaiters(t, p, 2)
	p.Release(60) // 50 for the other caller, 10 of the 30
	p.Deallocate(awaitOK(t, other, "Allocate(50)"))
	p.Deallocate(awaitOK(t, mine, "Allocate(30)"))
	equal(t, len(waits), 0, "calls after the first for its caller, or for another caller")
}

// AllocateUntil and ReserveUntil arm their wait at the caller's deadline,
// so an Advance between the caller's reading of the clock and the arming
// (here every time: the fake runs it just before) does not push the
// deadline back, as a maxWait read before it and counted from the arming
// would. A deadline already passed allows no wait, as a maxWait of 0.
func TestAWaitUntilADeadlineEndsThereThoughTheClockMovedBeforeItQueued(t *testing.T) {
	waits := map[string]func(p *Pool, deadline time.Time) <-chan result{
		"AllocateUntil": func(p *Pool, deadline time.Time) <-chan result {
			ch := make(chan result, 1)
			go func() {
				buf, err := p.AllocateUntil(context.Background(), 10, deadline)
				ch <- result{buf, err}
			}()
			return ch
		},
		"ReserveUntil": func(p *Pool, deadline time.Time) <-chan result {
			ch := make(chan result, 1)
			go func() { ch <- result{err: p.ReserveUntil(context.Background(), 10, deadline)} }()
			return ch
		},
	}
	for name, wait := range waits {
		t.Run(name, func(t *testing.T) {
			p, clk := newTestPool(100, 10)
			mustReserve(t, p, 100)
			deadline := clk.Now().Add(time.Second)
			clk.BeforeArm(func(at time.Time) {
				if at.Equal(deadline) {
					clk.Advance(time.Second)
				}
			})
			r := await(t, wait(p, deadline), "a wait whose deadline the clock reached as it was armed")
			if !errors.Is(r.err, ErrTimeout) {
				t.Fatalf("at its deadline: %v, want ErrTimeout", r.err)
			}
			if msg := r.err.Error(); !strings.Contains(msg, "within 1s") {
				t.Errorf("timeout error %q should name the wait it had, 1s", msg)
			}

			r = await(t, wait(p, clk.Now().Add(-time.Second)), "a wait whose deadline had passed")
			var we *WaitError
			if !errors.As(r.err, &we) || !errors.Is(r.err, ErrTimeout) || we.MaxWait != 0 {
				t.Fatalf("deadline passed: %v, want ErrTimeout with no wait", r.err)
			}
			equal(t, p.Waiters(), 0, "waiters")
			equal(t, clk.Timers(), 0, "timers left armed")
		})
	}
}
