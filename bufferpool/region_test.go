//go:build linux && !race

package bufferpool

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// The region is in use only in this build; under the race detector the
// buffers stay on the heap (region_heap.go) and these tests do not apply.

// first is the address of buf's first byte, which len 0 does not hide.
func first(buf []byte) *byte { return &buf[:1][0] }

func TestPoolableBuffersComeFromTheRegion(t *testing.T) {
	p, _ := newTestPool(4*8192, 8192)
	if p.region == nil {
		t.Fatal("no region mapped for a pool of 4 poolable buffers")
	}
	a, b := mustAllocate(t, p, 8192), mustAllocate(t, p, 8192)
	equal(t, first(a), &p.region.mem[0], "the first buffer is the region's first slot")
	equal(t, first(b), &p.region.mem[8192], "the second buffer is the next slot")
	equal(t, cap(a), 8192, "a slot's capacity")
	// A slot is writable to its end, and writing it leaves its neighbour.
	b = append(b, make([]byte, 8192)...)
	a = append(a, make([]byte, 8192)...)
	for i := range a {
		a[i] = 0xaa
	}
	equal(t, b[0], 0, "the neighbour's first byte")

	other := mustAllocate(t, p, 100)
	if _, carved := p.region.index[first(other)]; carved {
		t.Error("a buffer of another size came from the region")
	}
	p.Deallocate(a)
	p.Deallocate(b)
	p.Deallocate(other)
	equal(t, p.Available(), 4*8192, "available at the end")
}

// A free-listed buffer given up for another size goes back to the region
// as a spare slot, and the next poolable buffer reuses it: the region never
// needs more slots than total/poolable.
func TestGivenUpSlotsAreReused(t *testing.T) {
	page := os.Getpagesize()
	size := 2 * page
	p, _ := newTestPool(2*size, size)
	a, b := mustAllocate(t, p, size), mustAllocate(t, p, size)
	a = append(a, 1)
	p.Deallocate(a)
	p.Deallocate(b)

	big := mustAllocate(t, p, 2*size) // drops both free-listed buffers
	equal(t, len(p.region.spare), 2, "spare slots after the free list gave way")
	p.Deallocate(big)

	c, d := mustAllocate(t, p, size), mustAllocate(t, p, size)
	equal(t, p.region.next, 2, "slots carved: the spares were reused")
	if first(c) != &p.region.mem[0] && first(d) != &p.region.mem[0] {
		t.Error("the first slot was not reused")
	}
	// A given-up slot's pages went back to the system, so it reads as zeros.
	reused := c
	if first(d) == &p.region.mem[0] {
		reused = d
	}
	equal(t, reused[:1][0], 0, "the released slot's first byte")
	p.Deallocate(c)
	p.Deallocate(d)
}

// Closing the pool keeps the region while a buffer is out, since a batch
// completing after Close still owns its bytes; the last buffer back unmaps
// it.
func TestTheRegionOutlivesCloseUntilTheLastBufferReturns(t *testing.T) {
	p, _ := newTestPool(4*4096, 4096)
	a, b := mustAllocate(t, p, 4096), mustAllocate(t, p, 4096)
	p.Deallocate(a)
	p.Close()
	if p.region == nil {
		t.Fatal("the region was unmapped with a buffer still out")
	}
	b = append(b, "still the batch's"...) // would fault on an unmapped page
	p.Deallocate(b)
	if p.region != nil {
		t.Fatal("the region is still mapped after every buffer came back")
	}
	equal(t, p.Available(), 4*4096, "available after the region went")
}

func TestCloseWithEveryBufferBackUnmaps(t *testing.T) {
	p, _ := newTestPool(4*4096, 4096)
	p.Deallocate(mustAllocate(t, p, 4096))
	p.Close()
	if p.region != nil {
		t.Fatal("the region is still mapped after Close with nothing out")
	}
}

// The region asks for transparent huge pages (see mapRegion): the kernel
// shows the advice as "hg" among the flags of the mapping that holds it,
// whether or not the system then grants huge pages.
func TestTheRegionAsksForHugePages(t *testing.T) {
	p, _ := newTestPool(4*8192, 8192)
	if p.region == nil {
		t.Fatal("no region mapped")
	}
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage"); err != nil {
		t.Skipf("this kernel has no transparent huge pages to ask for: %v", err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("cannot read the mappings: %v", err)
	}
	flags, ok := vmFlagsAt(string(smaps), uintptr(unsafe.Pointer(&p.region.mem[0])))
	if !ok {
		t.Fatal("no mapping in /proc/self/smaps holds the region")
	}
	if !slices.Contains(strings.Fields(flags), "hg") {
		t.Errorf("the region's mapping has flags %q, without hg (MADV_HUGEPAGE)", flags)
	}
}

// vmFlagsAt returns the VmFlags of the mapping in smaps that holds addr.
func vmFlagsAt(smaps string, addr uintptr) (string, bool) {
	holds := false
	for line := range strings.Lines(smaps) {
		if start, end, isHeader := mappingRange(line); isHeader {
			holds = start <= addr && addr < end
			continue
		}
		if flags, isFlags := strings.CutPrefix(line, "VmFlags:"); isFlags && holds {
			return strings.TrimSpace(flags), true
		}
	}
	return "", false
}

// mappingRange parses a mapping's header line ("7f01a000-7f03a000 rw-p
// ..."); other lines of smaps ("Rss:     2048 kB") are not headers.
func mappingRange(line string) (start, end uintptr, ok bool) {
	span, _, _ := strings.Cut(line, " ")
	lo, hi, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(lo, 16, 64)
	e, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(s), uintptr(e), true
}

// BenchmarkFillBufferMemory fills a new pool's 32 MiB with 64 KiB batches,
// writing every byte, as a producer does once per process when its broker
// is slower than it. The first write to each page of the region is a page
// fault; faults/op counts them (the process's minor faults, from
// getrusage): about 16 with the region's huge pages, 8,192 with 4 KiB
// pages, plus the benchmark's own few.
func BenchmarkFillBufferMemory(b *testing.B) {
	const total, size = 32 << 20, 64 << 10
	ctx := context.Background()
	record := bytes.Repeat([]byte{0xa5}, size)
	bufs := make([][]byte, 0, total/size)
	var faults int64
	b.SetBytes(total)
	for b.Loop() {
		p, _ := newTestPool(total, size)
		before := minorFaults(b)
		for range total / size {
			buf, err := p.Allocate(ctx, size, 0)
			if err != nil {
				b.Fatal(err)
			}
			bufs = append(bufs, append(buf, record...))
		}
		faults += minorFaults(b) - before
		for _, buf := range bufs {
			p.Deallocate(buf[:0])
		}
		bufs = bufs[:0]
		p.Close() // every buffer is back: the region is unmapped
	}
	b.ReportMetric(float64(faults)/float64(b.N), "faults/op")
}

func minorFaults(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return int64(ru.Minflt) // int32 on 32-bit platforms
}
