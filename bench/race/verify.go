package race

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// admin creates each run's topic and counts what landed in it, through
// franz-go's kadm: a client none of the contenders share code with but one.
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
