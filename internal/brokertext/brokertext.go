// Package brokertext shows text a broker sent (a SASL mechanism's error,
// the error message of an answer, the host a broker names) inside an error
// of ours. Such text may come before the broker has proven who it is, and
// on a plaintext listener from a man in the middle as easily as from Kafka;
// an error message may quote what some other client sent the broker. It
// ends up on terminals and in logs: shown as it came, a terminal escape in
// it would run there, a line break would fake a line of the caller's
// output, and a response of up to conn.MaxResponseSize would make an error
// of that size, once per broker, record and try.
package brokertext

import (
	"net"
	"strconv"
	"unicode/utf8"

	"github.com/gokafka/producer/internal/badchar"
	"github.com/gokafka/producer/internal/topicname"
)

// maxShown is how much of the text is shown: Kafka's own messages (an
// error message, a SCRAM e= value, an OAUTHBEARER status) are well under
// it, so they are shown whole.
const maxShown = 512

// Quote is s as a Go string literal, control characters escaped, cut
// after its first maxShown bytes (short of a character the cut would
// split) with the length of the whole said after it (badchar.Cut).
//
// It is for text a broker sent, which the error shows as the explanation
// itself and so whole where it can. Input the user gave, which an error
// only needs to point at, is cut shorter (badchar.Excerpt; kprod's
// excerpt shows a header's first few bytes).
func Quote(s string) string { return badchar.Cut(s, maxShown) }

// Topic is a topic name an answer gave, as an error shows it: as it is if
// a broker would take it as a topic's name, as every name the producer
// sends is (internal/topicname), so that its own topics read as they
// always have; else quoted and cut as Quote does, the broker's own text.
func Topic(name string) string {
	if topicname.Check(name) == nil {
		return name
	}
	return Quote(name)
}

// maxHost is the longest host shown as it is: a DNS name has at most 253
// bytes, and no resolver takes a longer one.
const maxHost = 255

// HostPort is the address, host:port as net.JoinHostPort makes it, of a
// broker an answer named (a Metadata answer's brokers, a coordinator).
// The address is dialled, and named in the errors of the broker's
// connections, the dialler's own among them. A host no resolver takes (a
// control character or quote in it, bytes that are not UTF-8, more than
// maxHost bytes) is quoted and cut as Quote does: it failed to dial
// before and fails still, but now shows safely in those errors. Any other
// host is used as it came.
func HostPort(host string, port int32) string {
	if len(host) > maxHost || needsQuoting(host) {
		host = Quote(host)
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// needsQuoting reports whether strconv.Quote would escape anything in s.
func needsQuoting(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if r == '"' || r == '\\' || !strconv.IsPrint(r) {
			return true
		}
	}
	return false
}
