package producer

import (
	"fmt"
	"math"
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/internal/badchar"
)

// Validate reports what New would reject in cfg, as New reports it (a
// *ConfigError naming the field), without starting anything: a tool can
// check a configuration before it spends anything on it, such as starting
// a broker for Brokers. It does not ask the hooks, whose consent needs the
// producer New makes: a HookAttachProducer hook that refuses it (a
// promhooks.Metrics or otelhooks.Telemetry another producer has already,
// say) passes Validate, and New fails with a *ConfigError naming Hooks.
func (cfg Config) Validate() error {
	given := cfg
	cfg = cfg.WithDefaults()
	return cfg.validate(&given)
}

// refuseNils refuses a nil pointer or func given as the Dialer or the
// Partitioner (SASL and Hooks check theirs with the rest of their
// checks). Such a value is no nil interface, so it is not replaced by the
// default, and its methods would read through it at first use: the
// Dialer's on a producer goroutine, where the panic ends the process, the
// Partitioner's failing every record.
func (cfg *Config) refuseNils() error {
	if holdsNil(cfg.Dialer) {
		return &ConfigError{Field: "Dialer", Reason: fmt.Sprintf("a nil %T: the first dial would panic; leave Dialer nil for a net.Dialer", cfg.Dialer)}
	}
	if holdsNil(cfg.Partitioner) {
		return &ConfigError{Field: "Partitioner", Reason: fmt.Sprintf("a nil %T: it would panic on every record; leave Partitioner nil for partitioner.Default", cfg.Partitioner)}
	}
	return nil
}

// holdsNil reports whether x is a non-nil interface holding a nil pointer
// (var m *plain.Mechanism; cfg.SASL = m) or a nil func (a
// partitioner.Func(nil)), which no comparison with nil catches, and whose
// methods would panic at first use. IsNil is asked only of those two
// kinds, for which it cannot panic.
func holdsNil(x any) bool {
	v := reflect.ValueOf(x)
	return (v.Kind() == reflect.Pointer || v.Kind() == reflect.Func) && v.IsNil()
}

// MaxInFlightLimit is the largest MaxInFlight New accepts. The Java client
// sets none, but every request awaiting an answer holds its batches' memory
// and a slot the sender sizes up front, and a Kafka broker reads a
// connection's next request only after answering the one before: past a few
// hundred, a deeper pipeline buys only memory, and "unlimited" spelled
// math.MaxInt could not be allocated at all.
const MaxInFlightLimit = 1000

// MaxIdempotentInFlight is how many batches of a partition an idempotent
// producer keeps in flight at most, whatever MaxInFlight says: brokers
// remember a producer's last five batches per partition, and recognise a
// retry as a duplicate only among them. It is also the most requests in
// flight the Java client allows an idempotent producer.
const MaxIdempotentInFlight = 5

// ConfigError names the Config field that New rejected. Err is what
// refused it when that was an error of its own (a SASL mechanism's
// Validate, a hook's AttachProducer, compression.ErrInvalidLevel), nil
// otherwise: errors.Is and errors.As see it through the ConfigError, and
// Reason says it in words already.
type ConfigError struct {
	Field  string
	Reason string
	Err    error
}

func (e *ConfigError) Error() string { return "producer config: " + e.Field + ": " + e.Reason }

func (e *ConfigError) Unwrap() error { return e.Err }

// validate checks a Config whose defaults are filled in. given is the
// Config before WithDefaults filled them: a check that compares two fields
// blames one the user set, not one left at its default. The checks run in
// this order, and each stops at its first fault, so that a Config with
// several is told of the same one every time.
func (cfg *Config) validate(given *Config) error {
	if err := cfg.checkBrokers(); err != nil {
		return err
	}
	if err := cfg.checkIdempotence(); err != nil {
		return err
	}
	if err := cfg.checkIDs(); err != nil {
		return err
	}
	if err := cfg.checkSizes(given); err != nil {
		return err
	}
	if err := cfg.checkDurations(); err != nil {
		return err
	}
	if err := cfg.checkWireTimeouts(); err != nil {
		return err
	}
	if err := cfg.checkDeliveryTimeout(); err != nil {
		return err
	}
	// Checked here, as New sorts them, so that Validate reports a value
	// that is no Hook too.
	var sorted hooks
	if err := sortHooks(cfg.Hooks, &sorted); err != nil {
		return err
	}
	if err := cfg.refuseNils(); err != nil {
		return err
	}
	if err := cfg.checkCompression(); err != nil {
		return err
	}
	return cfg.validateSecurity()
}

// badField is the *ConfigError of a field refused for the reason format
// and args say.
func badField(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// checkBrokers refuses an empty Brokers and the first address in it that
// could not be dialled as given.
func (cfg *Config) checkBrokers() error {
	if len(cfg.Brokers) == 0 {
		return badField("Brokers", "at least one seed broker is required")
	}
	for _, b := range cfg.Brokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || port == "" {
			return &ConfigError{Field: "Brokers", Reason: fmt.Sprintf("%q is not host:port", b), Err: err}
		}
		// Go dials this machine for an empty host, and finds no host with
		// a space in it, which records learn only at MaxBlock. Both are
		// mistakes: a variable left unset in os.Getenv("HOST")+":9092", a
		// list split at ", ".
		if host == "" {
			return badField("Brokers", "%q has no host (an unset variable?)", b)
		}
		if strings.ContainsFunc(host, unicode.IsSpace) {
			return badField("Brokers", "%q has a space in its host", b)
		}
		// Refused here, as the Java client refuses it, a bad port would
		// otherwise surface only as records that find no metadata.
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return &ConfigError{Field: "Brokers", Reason: fmt.Sprintf("%q: the port is not a number from 1 to 65535", b), Err: err}
		}
	}
	return nil
}

// checkIdempotence refuses acks that idempotence cannot honour, and
// transactions without idempotence.
func (cfg *Config) checkIdempotence() error {
	// An acks idempotence cannot honour is an error, not a silent
	// downgrade, as in the Java client with enable.idempotence set (see
	// Acks for where it differs). A transactional producer is not told to
	// turn idempotence off, which its transactions need too.
	if !cfg.DisableIdempotence && cfg.Acks != AcksAll {
		if cfg.TransactionalID != "" {
			return badField("Acks", "transactions (TransactionalID is set) need idempotence, and so AcksAll, not acks=%v", cfg.Acks)
		}
		return badField("Acks", "idempotence (on by default) needs AcksAll; set DisableIdempotence to use acks=%v", cfg.Acks)
	}
	if cfg.TransactionalID != "" && cfg.DisableIdempotence {
		return badField("TransactionalID", "transactions need idempotence; DisableIdempotence is set")
	}
	return nil
}

// checkIDs refuses a ClientID or a TransactionalID that a Kafka string
// cannot carry as given: too long, or not UTF-8.
func (cfg *Config) checkIDs() error {
	// Both go in every request as Kafka strings, whose int16 length a
	// longer one would wrap: the broker would read the rest as the body.
	if len(cfg.ClientID) > math.MaxInt16 {
		return badField("ClientID", "%d bytes, more than the %d a Kafka string holds", len(cfg.ClientID), math.MaxInt16)
	}
	if len(cfg.TransactionalID) > math.MaxInt16 {
		return badField("TransactionalID", "%d bytes, more than the %d a Kafka string holds", len(cfg.TransactionalID), math.MaxInt16)
	}
	// The broker decodes a Kafka string as UTF-8, each invalid byte as
	// U+FFFD, so it would know the producer by another id than this one:
	// in its logs, quotas and ACLs, and for a transactional id, where two
	// that differ only in such bytes are one to it, fencing each other.
	// The error names the byte and where it is, not the id, which could
	// make it 32 KiB of escapes.
	for _, id := range []struct{ field, value string }{
		{"ClientID", cfg.ClientID}, {"TransactionalID", cfg.TransactionalID},
	} {
		if bad := badchar.NotUTF8(id.value); bad != "" {
			return badField(id.field, "has %s, which Kafka's broker reads as another character", bad)
		}
	}
	return nil
}

// checkSizes refuses a size in bytes, or a count of requests in flight,
// that is negative or past what the wire, the platform or the sender can
// hold, and a batch the buffer cannot hold.
func (cfg *Config) checkSizes(given *Config) error {
	if cfg.BatchSize < 0 {
		return badField("BatchSize", "%d is negative", cfg.BatchSize)
	}
	if cfg.MaxRequestSize < 0 {
		return badField("MaxRequestSize", "%d is negative", cfg.MaxRequestSize)
	}
	// A batch's length and a request's size are int32 on the wire; BatchSize
	// is cut to MaxRequestSize, so this bounds it too.
	if cfg.MaxRequestSize > math.MaxInt32 {
		return badField("MaxRequestSize", "%d does not fit a batch's or a request's int32 size on the wire; at most %d", cfg.MaxRequestSize, math.MaxInt32)
	}
	if cfg.BufferMemory < 0 {
		return badField("BufferMemory", "%d is negative", cfg.BufferMemory)
	}
	// The buffer pool counts its bytes in int, which is 32 bits on some
	// platforms: there a larger BufferMemory would wrap to a pool of
	// another size (none at all for 2 GiB) while Stats reported this one.
	if cfg.BufferMemory > math.MaxInt {
		return badField("BufferMemory", "%d does not fit this platform's int of %d bits; at most %d", cfg.BufferMemory, strconv.IntSize, math.MaxInt)
	}
	if err := cfg.checkBatchFitsBuffer(given); err != nil {
		return err
	}
	if cfg.MaxInFlight < 0 {
		return badField("MaxInFlight", "%d is negative", cfg.MaxInFlight)
	}
	if cfg.MaxInFlight > MaxInFlightLimit {
		return badField("MaxInFlight", "%d is more than MaxInFlightLimit %d: a deeper pipeline only holds more memory", cfg.MaxInFlight, MaxInFlightLimit)
	}
	return nil
}

// checkDurations refuses a negative duration, a MetadataMaxIdle below the
// Java client's least, and a backoff's max below its base.
func (cfg *Config) checkDurations() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"MaxBlock", cfg.MaxBlock}, {"RequestTimeout", cfg.RequestTimeout},
		{"DeliveryTimeout", cfg.DeliveryTimeout}, {"RetryBackoff", cfg.RetryBackoff},
		{"RetryBackoffMax", cfg.RetryBackoffMax}, {"MetadataMaxAge", cfg.MetadataMaxAge},
		{"MetadataMaxIdle", cfg.MetadataMaxIdle},
		{"ReconnectBackoff", cfg.ReconnectBackoff}, {"ReconnectBackoffMax", cfg.ReconnectBackoffMax},
		{"TransactionTimeout", cfg.TransactionTimeout}, {"ConnectionSetupTimeout", cfg.ConnectionSetupTimeout},
	} {
		if d.v < 0 {
			return badField(d.name, "%v is negative", d.v)
		}
	}
	if cfg.MetadataMaxIdle < minMetadataMaxIdle {
		return badField("MetadataMaxIdle", "%v is less than %v, the least the Java client allows: a topic forgotten sooner would be looked up again and again", cfg.MetadataMaxIdle, minMetadataMaxIdle)
	}
	// Only a max set below its base gets here (WithDefaults raised one left
	// at zero): the Java client would wait the max, never growing, but a
	// user who set both contradicts themselves, and is told so.
	if cfg.RetryBackoffMax < cfg.RetryBackoff {
		return badField("RetryBackoffMax", "%v is less than RetryBackoff %v", cfg.RetryBackoffMax, cfg.RetryBackoff)
	}
	if cfg.ReconnectBackoffMax < cfg.ReconnectBackoff {
		return badField("ReconnectBackoffMax", "%v is less than ReconnectBackoff %v", cfg.ReconnectBackoffMax, cfg.ReconnectBackoff)
	}
	return nil
}

// checkWireTimeouts refuses a RequestTimeout or a TransactionTimeout that
// the int32 milliseconds they are sent in cannot say.
func (cfg *Config) checkWireTimeouts() error {
	// Both go on the wire in whole milliseconds: less than one would be
	// sent as 0, which the broker reads as no time at all.
	if cfg.RequestTimeout < time.Millisecond {
		return badField("RequestTimeout", "%v is less than a millisecond, the request's unit", cfg.RequestTimeout)
	}
	if cfg.TransactionTimeout < time.Millisecond {
		return badField("TransactionTimeout", "%v is less than a millisecond, InitProducerId's unit", cfg.TransactionTimeout)
	}
	const maxInt32Duration = time.Duration(1<<31-1) * time.Millisecond
	if cfg.RequestTimeout > maxInt32Duration {
		return badField("RequestTimeout", "%v does not fit the request's int32 milliseconds", cfg.RequestTimeout)
	}
	if cfg.TransactionTimeout > maxInt32Duration {
		return badField("TransactionTimeout", "%v does not fit InitProducerId's int32 milliseconds", cfg.TransactionTimeout)
	}
	return nil
}

// checkDeliveryTimeout refuses a DeliveryTimeout that cannot cover the
// linger in effect and one full request.
func (cfg *Config) checkDeliveryTimeout() error {
	// A sum no Duration holds leaves no DeliveryTimeout to blame, set or
	// not.
	linger := cfg.lingerInEffect()
	if linger > math.MaxInt64-cfg.RequestTimeout {
		return badField("Linger", "%v + RequestTimeout %v overflows a time.Duration, so no DeliveryTimeout can cover them", linger, cfg.RequestTimeout)
	}
	// The Java client enforces the same bound on a delivery.timeout.ms it
	// was given: a record must be able to linger and then wait one full
	// request before its delivery times out. WithDefaults raised one left
	// at zero to fit.
	if linger > cfg.DeliveryTimeout-cfg.RequestTimeout {
		return badField("DeliveryTimeout", "%v is less than Linger %v + RequestTimeout %v", cfg.DeliveryTimeout, linger, cfg.RequestTimeout)
	}
	return nil
}

// checkCompression refuses an unknown codec, and a level the codec has
// not.
func (cfg *Config) checkCompression() error {
	if _, err := compression.ParseCodec(cfg.Compression.String()); err != nil {
		return &ConfigError{Field: "Compression", Reason: err.Error(), Err: err}
	}
	if err := compression.CheckLevel(cfg.Compression, cfg.CompressionLevel); err != nil {
		return &ConfigError{Field: "CompressionLevel", Reason: err.Error(), Err: err}
	}
	return nil
}

// checkBatchFitsBuffer refuses a batch size, which a MaxRequestSize below
// BatchSize cut, that BufferMemory cannot hold. A BatchSize left at zero
// is not blamed: the user set only BufferMemory (a zero BatchSize cut to
// MaxRequestSize is at most the default, which the default BufferMemory
// holds), and naming BatchSize blamed a field they never set. With
// BatchSize set, it is named, BufferMemory set or not: the buffer is the
// budget every batch is carved from, and the batch is the part that does
// not fit in it.
func (cfg *Config) checkBatchFitsBuffer(given *Config) error {
	if int64(cfg.BatchSize) <= cfg.BufferMemory {
		return nil
	}
	if given.BatchSize == 0 {
		batch := fmt.Sprintf("%d bytes, the default BatchSize", DefaultBatchSize)
		if cfg.BatchSize < DefaultBatchSize {
			batch = fmt.Sprintf("%d bytes, MaxRequestSize (the default BatchSize, %d, cut to it)", cfg.BatchSize, DefaultBatchSize)
		}
		return &ConfigError{Field: "BufferMemory", Reason: fmt.Sprintf(
			"%d cannot hold one batch of %s: set a BatchSize of at most %d, or a larger BufferMemory",
			cfg.BufferMemory, batch, cfg.BufferMemory)}
	}
	// BufferMemory comes before MaxRequestSize in the words: a tool that
	// blames the first field they name that its user set (kprod's flags)
	// would otherwise blame MaxRequestSize for a buffer too small.
	cut := ""
	if cfg.BatchSize < given.BatchSize {
		cut = fmt.Sprintf(" (BatchSize %d, cut to MaxRequestSize)", given.BatchSize)
	}
	return &ConfigError{Field: "BatchSize", Reason: fmt.Sprintf("%d exceeds BufferMemory %d%s", cfg.BatchSize, cfg.BufferMemory, cut)}
}
