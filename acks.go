package producer

import "fmt"

// Acks is the durability a ProduceRequest asks for. Its only values are
// AcksAll (the zero value, hence the default), AcksLeader and AcksNone.
//
// The type is opaque on purpose: Kafka's own spelling is a number, and the
// numbers mean opposite things to different people (0 is "no acks" to the
// Java client and sarama, -1 is "all"), so Config{Acks: 0} does not compile
// and no number can be mistaken for a setting. ParseAcks reads the
// settings' usual spellings.
type Acks struct{ level acksLevel }

type acksLevel int8

const (
	all acksLevel = iota // the zero value: Acks{} is AcksAll
	leader
	none
)

// The three settings of Acks. They are variables only because Go has no
// constant structs: treat them as constants.
var (
	// AcksAll waits for every in-sync replica (acks=all, -1). The default,
	// and the only setting idempotence allows.
	AcksAll = Acks{all}
	// AcksLeader waits for the leader only (acks=1): a record the leader
	// acknowledged is lost if it dies before a follower copies it.
	AcksLeader = Acks{leader}
	// AcksNone does not wait at all (acks=0): a record is done once written
	// to the socket, and its offset is unknown (-1). A record the broker
	// refuses is lost, its callback saying success: when a partition's
	// leader moves, the old leader refuses what was sent to it and closes
	// the connection, and the producer then refreshes its metadata and
	// sends the records after that to the new leader. Those written to the
	// old leader before the refresh (behind the refused one on its
	// connection, or on the next one dialled to it) are lost as well, as
	// with the Java client.
	AcksNone = Acks{none}
)

// String is the setting as Kafka's tools spell it: "all", "1" or "0".
func (a Acks) String() string {
	switch a.level {
	case all:
		return "all"
	case leader:
		return "1"
	case none:
		return "0"
	}
	return fmt.Sprintf("Acks(%d)", int8(a.level))
}

// wire is the ProduceRequest's acks field.
func (a Acks) wire() int16 {
	switch a.level {
	case leader:
		return 1
	case none:
		return 0
	}
	return -1
}

// MarshalText writes a as String does, so that Acks reads as "all", "1"
// or "0" in JSON, YAML and any other text a configuration is kept in.
func (a Acks) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads what ParseAcks reads, so that flag.TextVar and the
// decoders of JSON, YAML or TOML fill an Acks from its usual spellings; a
// number in JSON is refused, as Config{Acks: 0} does not compile, since
// the numbers mean opposite things to different people.
func (a *Acks) UnmarshalText(text []byte) error {
	parsed, err := ParseAcks(string(text))
	if err != nil {
		return err
	}
	*a = parsed
	return nil
}

// ParseAcks reads "all", "-1", "1" or "0", the Java client's spellings.
func ParseAcks(s string) (Acks, error) {
	switch s {
	case "all", "-1":
		return AcksAll, nil
	case "1":
		return AcksLeader, nil
	case "0":
		return AcksNone, nil
	}
	return AcksAll, fmt.Errorf("acks %q: want all, -1, 1 or 0", s)
}
