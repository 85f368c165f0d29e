package sender

import (
	"time"

	"github.com/gokafka/producer/protocol"
)

// firstPausingProduceVersion is the first Produce version whose throttled
// answers ask the client to pause (KIP-219). A broker over the client's
// quota answers such a request at once, with how long it will not read the
// connection; before it, the broker held its answer back for that long
// instead, and the client had nothing to wait for.
const firstPausingProduceVersion = 6

// pauseAsked is the quota pause that f's answer asks for, or 0; at most
// the request's own timeout (RequestTimeout). A Kafka broker asks for no
// more than its quota window, a second by default; one asking for more (a
// proxy, a bug: int32's maximum is 24 days) would otherwise hold its
// requests' deadlines, and the sender's Produce requests to it, for as
// long. A broker that really mutes the connection longer fails a request
// at its timeout, as it would with the Java client, which never extends a
// request's timeout for a pause.
func (f *flight) pauseAsked() time.Duration {
	resp, _ := f.resp.(*protocol.ProduceResponse)
	if resp == nil || resp.ThrottleTimeMs <= 0 || f.version < firstPausingProduceVersion {
		return 0
	}
	return time.Duration(min(resp.ThrottleTimeMs, f.req.TimeoutMs)) * time.Millisecond
}

// notePause keeps the quota pause that f's answer asks for. Requests sent
// to the broker during the pause would only queue behind it, each waiting
// out a pause of its own once the broker reads it, until one outlasted
// RequestTimeout and failed the connection with every request on it. So,
// as the Java client does, the sender sends the broker nothing until the
// pause ends; its batches meanwhile wait in the accumulator, where they can
// still expire or move to another leader. The connection was told as the
// answer came (flight.answer): the requests already in flight wait out the
// pause too, and each later one that the broker answers adds another.
func (s *Sender) notePause(f *flight) {
	pause := f.pauseAsked()
	if pause == 0 {
		return
	}
	if until := s.cfg.Clock.Now().Add(pause); until.After(s.pausedUntil) {
		s.pausedUntil = until
	}
}

// paused is how much of a quota pause is left at now, if any.
func (s *Sender) paused(now time.Time) time.Duration {
	if s.pausedUntil.IsZero() {
		return 0
	}
	if left := s.pausedUntil.Sub(now); left > 0 {
		return left
	}
	s.pausedUntil = time.Time{}
	return 0
}
