package producer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
)

// A record with a header key that is not UTF-8 is refused at once, before
// Produce returns, whether its topic is known or not (it would otherwise
// wait for the metadata first): a Java consumer decodes the key as UTF-8,
// each invalid byte as U+FFFD, and reads another key than the one written.
// The record gets that one outcome, naming the header and the byte, not
// the key, which may be long; the records around it go on, and a key in
// UTF-8 outside ASCII is stored as written.
func TestAHeaderKeyThatIsNotUTF8IsRefused(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	p := newProducer(t, c, nil)
	awaitMetadata(t, p, "t")

	bad := []Header{{Key: "trace", Value: []byte("1")}, {Key: "k\xff", Value: []byte("2")}}
	for _, topic := range []string{"t", "not-yet-known"} {
		var got []error
		p.Produce(ctx(t), &Record{Topic: topic, Value: []byte("v"), Headers: bad}, func(_ RecordMetadata, err error) {
			got = append(got, err)
		})
		require.Len(t, got, 1, "topic %s: the record must have its one outcome before Produce returns", topic)
		err := got[0]
		require.ErrorIs(t, err, ErrInvalidRecord, "topic %s", topic)
		require.ErrorContains(t, err, "Headers[1].Key has the byte 0xff at 1, not UTF-8", "topic %s", topic)
		var pe *PartitionError
		require.ErrorAs(t, err, &pe, "topic %s", topic)
		require.Equal(t, topic, pe.Topic)
	}

	// A long key is not quoted whole: the error names the byte and where.
	long := []Header{{Key: strings.Repeat("k", 1<<20) + "\xc3("}}
	var got error
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v"), Headers: long}, func(_ RecordMetadata, err error) { got = err })
	require.ErrorIs(t, got, ErrInvalidRecord)
	require.ErrorContains(t, got, fmt.Sprintf("Headers[0].Key has the byte 0xc3 at %d, not UTF-8", 1<<20))
	require.Less(t, len(got.Error()), 200, "the key is not quoted whole")

	good := []Header{{Key: "jos\u00e9\x01", Value: []byte("3")}}
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("ok"), Headers: good})
	require.NoError(t, err)
	require.NoError(t, p.Flush(ctx(t)), "the refused records are not waited for")
	stored := c.Records("t", 0)
	require.Len(t, stored, 1, "only the record with keys in UTF-8 is stored")
	require.Equal(t, "jos\u00e9\x01", stored[0].Headers[0].Key)
}
