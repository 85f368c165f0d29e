package producer

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// sceneTopics are the topics of every scene and their partition counts.
var sceneTopics = map[string]int32{"a": 4, "b": 3}

// closing is how a scene ends its producer.
type closing int

const (
	// closeMidway closes from another goroutine while records are still
	// being produced, with a short deadline.
	closeMidway closing = iota
	// closeInAHurry closes with a short deadline instead of flushing.
	closeInAHurry
	// closeAfterFlush flushes, then closes.
	closeAfterFlush
)

func (c closing) String() string {
	return [...]string{"midway", "in a hurry", "after a flush"}[c]
}

// scene is the settings of one run, all drawn from its seed.
type scene struct {
	seed    uint64
	records int

	// faultOdds is the chance that a request meets a fault; background
	// faults (leader moves, dropped connections, a smaller
	// message.max.bytes) come at twice these odds every few milliseconds.
	faultOdds float64
	maxDelay  time.Duration // the longest a request is held

	linger          time.Duration
	batchSize       int
	maxInFlight     int
	deliveryTimeout time.Duration
	// bufferMemory and maxBlock, when set, make Produce wait for memory
	// and fail some records with ErrBufferFull.
	bufferMemory int64
	maxBlock     time.Duration

	goroutines        int
	keyed             bool // the partitioner places records, not the test
	flushFromCallback bool
	closeFromCallback bool
	closing           closing

	random *lockedRand // for the faults and the records' placement
}

// drawScene draws the scene of seed.
func drawScene(seed uint64, records int) *scene {
	r := &lockedRand{r: rand.New(rand.NewPCG(seed, seed*7+1))}
	s := &scene{seed: seed, records: records, random: r}
	s.faultOdds = 0.05 + 0.3*r.Float64()
	s.maxDelay = 60 * time.Millisecond
	if r.IntN(3) == 0 {
		s.maxDelay = 400 * time.Millisecond // past RequestTimeout
	}
	s.linger = []time.Duration{NoLinger, 0, time.Millisecond, 3 * time.Millisecond}[r.IntN(4)]
	s.batchSize = 100 + r.IntN(1500)
	s.maxInFlight = 1 + r.IntN(5)
	s.deliveryTimeout = time.Minute // longer than any scene: no record expires
	if r.IntN(3) == 0 {
		s.deliveryTimeout = time.Duration(400+r.IntN(1500)) * time.Millisecond
	}
	if r.IntN(4) == 0 {
		s.bufferMemory = int64(s.batchSize * (2 + r.IntN(6)))
		s.maxBlock = time.Duration(20+r.IntN(200)) * time.Millisecond
	}
	s.goroutines = 1 + r.IntN(3)
	s.keyed = r.IntN(3) == 0
	s.flushFromCallback = r.IntN(3) == 0
	s.closeFromCallback = r.IntN(5) == 0
	s.closing = closing(min(r.IntN(4), int(closeAfterFlush)))
	return s
}

func (s *scene) String() string {
	linger := s.linger.String()
	if s.linger == NoLinger {
		linger = "NoLinger"
	}
	memory := "default buffer memory"
	if s.bufferMemory > 0 {
		memory = fmt.Sprintf("BufferMemory %d MaxBlock %v", s.bufferMemory, s.maxBlock)
	}
	return fmt.Sprintf("seed %d: %d records from %d goroutines (keyed %v); fault odds %.2f, "+
		"delays up to %v; Linger %v BatchSize %d MaxInFlight %d DeliveryTimeout %v, %s; "+
		"Flush from callbacks %v, Close from a callback %v, Close %v",
		s.seed, s.records, s.goroutines, s.keyed, s.faultOdds, s.maxDelay,
		linger, s.batchSize, s.maxInFlight, s.deliveryTimeout, memory,
		s.flushFromCallback, s.closeFromCallback, s.closing)
}

// configure applies the scene's settings. Requests time out soon enough
// that a hung broker costs a scene a fraction of a second, and retries
// come quickly.
func (s *scene) configure(cfg *Config) {
	cfg.Linger = s.linger
	cfg.BatchSize = s.batchSize
	cfg.MaxInFlight = s.maxInFlight
	cfg.RequestTimeout = 300 * time.Millisecond
	cfg.RetryBackoff = 5 * time.Millisecond
	cfg.RetryBackoffMax = 30 * time.Millisecond
	cfg.DeliveryTimeout = s.deliveryTimeout
	if s.bufferMemory > 0 {
		cfg.BufferMemory = s.bufferMemory
		cfg.MaxBlock = s.maxBlock
	}
}

// lockedRand is a random source shared by the goroutines of a scene: the
// fake cluster's connections, which consult the fault hooks, and the
// goroutine injecting background faults.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) IntN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

func (l *lockedRand) Float64() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

// chance reports true with probability p.
func (l *lockedRand) chance(p float64) bool { return l.Float64() < p }
