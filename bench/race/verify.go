package race

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// admin creates each run's topic and counts what landed in it, through
// franz-go's kadm: a client none of the contenders share code with but one.
// It lives in the harness's process for the whole race, which is why it
// does no more than a few small requests a run: whatever the harness's
// memory peaks at, every client started after inherits in its rusage
// maxrss, the peak RSS the race falls back on where a client's own cannot
// be read (readback.go says how). Reading a topic back is left to a
// process of its own (readBack).
type admin struct {
	cl  *kgo.Client
	adm *kadm.Client
}

func newAdmin(brokers []string) (*admin, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	return &admin{cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (a *admin) close() { a.cl.Close() }

// createTopic makes a fresh topic for one run: the count it ends with is
// then that run's alone.
func (a *admin) createTopic(ctx context.Context, topic string, partitions int32) error {
	res, err := a.adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return fmt.Errorf("creating topic %s: %w", topic, err)
	}
	return nil
}

// deleteTopic frees a real broker's disk after a run.
func (a *admin) deleteTopic(ctx context.Context, topic string) error {
	res, err := a.adm.DeleteTopic(ctx, topic)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return fmt.Errorf("deleting topic %s: %w", topic, err)
	}
	return nil
}

// highWatermarks is the sum of the topic's partitions' high watermarks
// (ListOffsets, latest): on a fresh topic, the records it holds.
func (a *admin) highWatermarks(ctx context.Context, topic string) (int64, error) {
	offsets, err := a.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("listing the end offsets of %s: %w", topic, err)
	}
	var sum int64
	var ferr error
	offsets.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && ferr == nil {
			ferr = fmt.Errorf("end offset of %s[%d]: %w", topic, o.Partition, o.Err)
		}
		sum += o.Offset
	})
	if ferr != nil {
		return 0, ferr
	}
	if len(offsets[topic]) == 0 {
		return 0, fmt.Errorf("no partitions listed for %s", topic)
	}
	return sum, nil
}

// checkCount fails unless the topic holds exactly want records: a client
// that lost records, or wrote some twice, did not run the race.
func (a *admin) checkCount(ctx context.Context, topic string, want int64) (int64, error) {
	got, err := a.highWatermarks(ctx, topic)
	if err != nil {
		return 0, err
	}
	if got != want {
		return got, fmt.Errorf("topic %s holds %d records, want %d", topic, got, want)
	}
	return got, nil
}

// readBackTimeout bounds reading a run's topic back: a million records
// take seconds.
const readBackTimeout = 5 * time.Minute

// checkValues reads the topic back and fails unless it holds each of
// values as many times as want says (by index), and nothing else. The
// count of the records alone (checkCount) passes a run that lost one
// record and wrote another twice; their values tell them apart. It runs
// in the racereadback process (readback.go), never in the harness's, after
// the client's process has exited, outside the CPU it is charged.
func checkValues(ctx context.Context, brokers []string, topic string, values [][]byte, want []int) error {
	ctx, cancel := context.WithTimeout(ctx, readBackTimeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return fmt.Errorf("reading %s back: %w", topic, err)
	}
	defer cl.Close()
	indexOf := make(map[string]int, len(values))
	for i, v := range values {
		indexOf[string(v)] = i
	}
	total := 0
	for _, n := range want {
		total += n
	}
	got := make([]int, len(values))
	unknown := 0
	for read := 0; read < total; {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reading %s back: %d of %d records read: %w", topic, read, total, err)
		}
		if err := fetches.Err(); err != nil {
			return fmt.Errorf("reading %s back: %w", topic, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			read++
			if i, ok := indexOf[string(r.Value)]; ok {
				got[i]++
			} else {
				unknown++
			}
		})
	}
	return compareValues(topic, got, want, unknown)
}

// compareValues fails unless got, the records read back by value, is want,
// with none of an unknown value; it names the first value that differs.
func compareValues(topic string, got, want []int, unknown int) error {
	missing, extra, first := 0, 0, -1
	for i := range want {
		switch {
		case got[i] < want[i]:
			missing += want[i] - got[i]
		case got[i] > want[i]:
			extra += got[i] - want[i]
		default:
			continue
		}
		if first < 0 {
			first = i
		}
	}
	if first < 0 && unknown == 0 {
		return nil
	}
	err := fmt.Errorf("topic %s read back: %d records missing, %d extra, %d with a value never sent", topic, missing, extra, unknown)
	if first >= 0 {
		err = fmt.Errorf("%w; value %d held %d times, sent %d", err, first, got[first], want[first])
	}
	return err
}
