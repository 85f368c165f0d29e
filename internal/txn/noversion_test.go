package txn

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/protocol"
)

// A coordinator request that can go at no version the coordinator speaks
// is not sent, and stops the producer: asked again, the coordinator would
// speak none either, and the transactions could never commit. So the Java
// client stops (TransactionManager's TxnRequestHandler.onComplete: a
// version mismatch is a fatal error), whichever request it is. Before, a
// SendOffsets made the transaction abortable, and a loop aborting as the
// docs say aborted every transaction for ever; an end said to call it
// again, which met the same refusal.
func TestACoordinatorRequestNoVersionOfWhichFitsStopsTheProducer(t *testing.T) {
	ctx := context.Background()
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10}}
	cases := []struct {
		call   string
		api    protocol.APIKey
		theirs protocol.VersionRange // all above the versions we send
		fail   func(r *rig) error    // the call that meets it
	}{
		{"Init", protocol.InitProducerId, protocol.VersionRange{Min: 99, Max: 99}, func(r *rig) error {
			return r.m.Init(ctx)
		}},
		{"adding a partition", protocol.AddPartitionsToTxn, protocol.VersionRange{Min: maxAddPartitionsVersion + 1, Max: 5}, func(r *rig) error {
			require.False(r.t, r.admit(tp0))
			require.Eventually(r.t, func() bool { return r.state() == FatalError }, waitTime, time.Millisecond,
				"the addition did not stop the producer")
			return r.m.Commit(ctx)
		}},
		{"SendOffsets", protocol.AddOffsetsToTxn, protocol.VersionRange{Min: 99, Max: 99}, func(r *rig) error {
			return r.m.SendOffsets(ctx, offsets, Group{ID: "g"})
		}},
		{"SendOffsets", protocol.TxnOffsetCommit, protocol.VersionRange{Min: 6, Max: 6}, func(r *rig) error {
			return r.m.SendOffsets(ctx, offsets, Group{ID: "g"})
		}},
		{"Commit", protocol.EndTxn, protocol.VersionRange{Min: 5, Max: 5}, func(r *rig) error {
			r.addedToTheTransaction(false)
			return r.m.Commit(ctx)
		}},
		{"Abort", protocol.EndTxn, protocol.VersionRange{Min: 5, Max: 5}, func(r *rig) error {
			r.addedToTheTransaction(false)
			return r.m.Abort(ctx)
		}},
	}
	for _, c := range cases {
		t.Run(c.call+" "+c.api.String(), func(t *testing.T) {
			r := newRig(t, false)
			r.coords.speaks = map[protocol.APIKey]protocol.VersionRange{c.api: c.theirs}
			if c.api != protocol.InitProducerId {
				require.NoError(t, r.m.Init(ctx))
				require.NoError(t, r.m.Begin())
			}
			err := c.fail(r)
			require.ErrorIs(t, err, ErrFatal)
			require.ErrorIs(t, err, protocol.ErrUnsupportedVersion)
			var verr *protocol.VersionError
			require.ErrorAs(t, err, &verr)
			require.Equal(t, c.api, verr.API)
			require.ErrorContains(t, err, "upgrade the older of the two")
			require.Equal(t, FatalError, r.state())
			require.NotContains(t, r.coords.apis(), c.api, "sent at a version the coordinator does not speak")
			require.ErrorIs(t, r.m.Begin(), ErrFatal, "every later call")
		})
	}
}

// Offsets with a membership meet a group coordinator older than Kafka 2.5,
// which speaks TxnOffsetCommit v0-v2, as the producer does: only the
// membership needs v3. The error says so, and not that the two share no
// version of the request and to upgrade the older of the two (which could
// be the producer), after telling to send the group's ID alone or upgrade
// the brokers. A group coordinator speaking no version of the request at
// all still gets those words.
func TestAnOldGroupCoordinatorsRefusalOfAMembershipDoesNotSayNoVersionIsShared(t *testing.T) {
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10}}
	r := initialized(t, false)
	r.coords.speaks = map[protocol.APIKey]protocol.VersionRange{protocol.TxnOffsetCommit: {Min: 0, Max: 2}}
	err := r.m.SendOffsets(context.Background(), offsets, Group{ID: "g", Generation: 7})
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorContains(t, err, "create a new producer and send the group's ID alone, or upgrade the brokers")
	require.NotContains(t, err.Error(), "share no version")
	require.NotContains(t, err.Error(), "upgrade the older of the two")

	r = initialized(t, false)
	r.coords.speaks = map[protocol.APIKey]protocol.VersionRange{protocol.TxnOffsetCommit: {Min: 1, Max: 0}}
	err = r.m.SendOffsets(context.Background(), offsets, Group{ID: "g", Generation: 7})
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorContains(t, err, "the group coordinator and this producer share no version of TxnOffsetCommit")
}

// Under transactions v2 a coordinator request goes at v2's versions or not
// at all: an EndTxn v4 would end the transaction without the epoch bump v2
// counts on, and a TxnOffsetCommit v4 would be checked as v1's, against a
// group never added to the transaction. A coordinator that speaks no
// version as high (a broker rolled back) stops the producer, as one that
// shares no version of the request does, rather than get the v1 request.
func TestAV2RequestGoesAtNoV1Version(t *testing.T) {
	ctx := context.Background()
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10}}
	for _, c := range []struct {
		call string
		api  protocol.APIKey
		fail func(r *rig) error
	}{
		{"Commit", protocol.EndTxn, func(r *rig) error {
			r.addedToTheTransaction(true)
			return r.m.Commit(ctx)
		}},
		{"SendOffsets", protocol.TxnOffsetCommit, func(r *rig) error {
			return r.m.SendOffsets(ctx, offsets, Group{ID: "g"})
		}},
		{"SendOffsets with a membership", protocol.TxnOffsetCommit, func(r *rig) error {
			return r.m.SendOffsets(ctx, offsets, Group{ID: "g", Generation: 7})
		}},
	} {
		t.Run(c.call, func(t *testing.T) {
			r := initialized(t, true)
			r.coords.speaks = map[protocol.APIKey]protocol.VersionRange{c.api: {Min: 0, Max: 4}}
			err := c.fail(r)
			require.ErrorIs(t, err, ErrFatal)
			require.ErrorIs(t, err, protocol.ErrUnsupportedVersion)
			require.NotContains(t, r.coords.apis(), c.api, "a v2 transaction's request sent at v4")
		})
	}
}
