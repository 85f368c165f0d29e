package main

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/sasl"
)

// commonOptions are the flags perf and produce share: where to produce and
// how the producer is configured. Their defaults are the library's, taken
// from its constants so that --help cannot disagree with the code.
type commonOptions struct {
	brokers           string
	topic             string
	partitions        int32
	replicationFactor int16
	acks              string
	linger            time.Duration
	batchSize         int
	bufferMemory      int64
	maxRequestSize    int
	requestTimeout    time.Duration
	deliveryTimeout   time.Duration
	compression       string
	compressionLevel  int
	maxInFlight       int
	clientID          string
	json              bool
	progress          string

	// TLS, through the library's Config.Dialer (tls.go).
	tls           bool
	tlsCA         string
	tlsCert       string
	tlsKey        string
	tlsServerName string
	tlsConf       *tls.Config // built by validate

	// SASL (sasl.go).
	sasl     saslOptions
	saslMech sasl.Mechanism // built by validate

	// Features the library does not have yet. The flags exist so that the
	// interface is stable, and fail with a usage error rather than being
	// silently ignored.
	idempotent      bool
	transactionalID string
	txnSize         int
}

// defaultEmbeddedPartitions is the partition count of the topic kprod
// creates on its embedded broker unless --partitions says otherwise.
const defaultEmbeddedPartitions = 6

func (o *commonOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.brokers, "brokers", "", "comma-separated `list` of seed brokers, host:port; without it, start an embedded broker")
	fs.StringVar(&o.topic, "topic", "kprod-perf", "topic to produce to; created if missing")
	fs.Int32Var(&o.partitions, "partitions", 0, "partitions of the topic if kprod creates it (default 6 on the embedded broker, the broker's num.partitions otherwise)")
	fs.Int16Var(&o.replicationFactor, "replication-factor", 1, "replication factor of the topic if kprod creates it (-1: the broker's default)")
	fs.StringVar(&o.acks, "acks", producer.AcksAll.String(), "acknowledgements to wait for: all, 1 or 0")
	fs.DurationVar(&o.linger, "linger", producer.DefaultLinger, "how long a batch waits for more records (0: send at once)")
	fs.IntVar(&o.batchSize, "batch-size", producer.DefaultBatchSize, "target batch size per partition, in bytes")
	fs.Int64Var(&o.bufferMemory, "buffer-memory", producer.DefaultBufferMemory, "bytes of records the producer may buffer")
	fs.IntVar(&o.maxRequestSize, "max-request-size", producer.DefaultMaxRequestSize, "largest ProduceRequest, and so the largest record, in bytes")
	fs.DurationVar(&o.requestTimeout, "request-timeout", producer.DefaultRequestTimeout, "how long to wait for a broker's answer")
	fs.DurationVar(&o.deliveryTimeout, "delivery-timeout", producer.DefaultDeliveryTimeout, "how long a record may take to be acknowledged, retries included")
	fs.StringVar(&o.compression, "compression", compression.None.String(), "codec: none, gzip, snappy, lz4 or zstd")
	fs.IntVar(&o.compressionLevel, "compression-level", compression.DefaultLevel, "codec level (0: the codec's default)")
	fs.IntVar(&o.maxInFlight, "max-in-flight", producer.DefaultMaxInFlight, "ProduceRequests awaiting an answer per broker connection")
	fs.StringVar(&o.clientID, "client-id", programName, "client id sent to the brokers")
	fs.BoolVar(&o.json, "json", false, "print the summary as one JSON object on stdout, and nothing else there")
	fs.StringVar(&o.progress, "progress", "auto", "live progress on stderr: auto (when stderr is a terminal), always or never")

	fs.BoolVar(&o.idempotent, "idempotent", true, "idempotent producer: no duplicates or reordering from retries (enable.idempotence); on unless --acks is 1 or 0")
	fs.StringVar(&o.transactionalID, "transactional-id", "", "produce in transactions with this id (not supported yet)")
	fs.IntVar(&o.txnSize, "txn-size", 0, "records per transaction (not supported yet)")
	fs.BoolVar(&o.tls, "tls", false, "connect over TLS, trusting the system's CAs (implied by the other --tls flags)")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "PEM `file` of the CA certificates to trust instead of the system's")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM `file` of the client certificate, for brokers that require one")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM `file` of the client certificate's key")
	fs.StringVar(&o.tlsServerName, "tls-server-name", "", "name to verify the brokers' certificates against (default: the host dialled)")
	o.sasl.register(fs)
}

// brokerList splits --brokers; empty means "start an embedded broker".
func (o *commonOptions) brokerList() []string {
	var out []string
	for b := range strings.SplitSeq(o.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// validate checks the flags before anything starts, so that a usage error
// costs nothing and names its flag.
func (o *commonOptions) validate(cmd *cobra.Command) error {
	changed := cmd.Flags().Changed
	// As the Java client does when enable.idempotence is not set, acks other
	// than all turn idempotence off; asking for both is an error.
	if acks, err := producer.ParseAcks(o.acks); err == nil && acks != producer.AcksAll {
		if changed("idempotent") && o.idempotent {
			return usagef("--idempotent: needs --acks all, not %s", o.acks)
		}
		o.idempotent = false
	}
	for _, name := range []string{"transactional-id", "txn-size"} {
		if changed(name) {
			return usagef("--%s: not supported yet by the producer library", name)
		}
	}
	if changed("brokers") {
		bs := o.brokerList()
		if len(bs) == 0 {
			return usagef("--brokers: empty list")
		}
		for _, b := range bs {
			if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
				return usagef("--brokers: %q is not host:port", b)
			}
		}
	}
	if o.topic == "" {
		return usagef("--topic: empty topic name")
	}
	if changed("partitions") && o.partitions < 1 {
		return usagef("--partitions: %d is less than 1", o.partitions)
	}
	if o.replicationFactor < 1 && o.replicationFactor != -1 {
		return usagef("--replication-factor: %d is neither positive nor -1", o.replicationFactor)
	}
	if _, err := producer.ParseAcks(o.acks); err != nil {
		return usagef("--acks: %v", err)
	}
	if o.linger < 0 {
		return usagef("--linger: %v is negative", o.linger)
	}
	if o.batchSize < 1 {
		return usagef("--batch-size: %d is less than 1", o.batchSize)
	}
	if o.maxInFlight < 1 {
		return usagef("--max-in-flight: %d is less than 1", o.maxInFlight)
	}
	codec, err := compression.ParseCodec(o.compression)
	if err != nil {
		return usagef("--compression: %q: want none, gzip, snappy, lz4 or zstd", o.compression)
	}
	if err := compression.CheckLevel(codec, o.compressionLevel); err != nil {
		return usagef("--compression-level: %v", err)
	}
	switch o.progress {
	case "auto", "always", "never":
	default:
		return usagef("--progress: %q: want auto, always or never", o.progress)
	}
	tlsConf, err := o.tlsConfig()
	if err != nil {
		return err
	}
	o.tlsConf = tlsConf
	if o.saslMech, err = o.sasl.build(changed, os.Getenv, len(o.brokerList()) == 0); err != nil {
		return err
	}
	// The rest (sizes, timeouts and how they combine) is the library's to
	// judge; producerConfig's caller maps its verdict back to a flag.
	return nil
}

// producerConfig is the library configuration the flags describe. validate
// must have accepted them.
func (o *commonOptions) producerConfig(brokers []string) producer.Config {
	acks, _ := producer.ParseAcks(o.acks)
	codec, _ := compression.ParseCodec(o.compression)
	linger := o.linger
	if linger == 0 {
		linger = -1 // the library reads 0 as "default" and a negative value as "none"
	}
	cfg := producer.Config{
		Brokers:            brokers,
		ClientID:           o.clientID,
		Acks:               acks,
		DisableIdempotence: !o.idempotent,
		Linger:             linger,
		BatchSize:          o.batchSize,
		BufferMemory:       o.bufferMemory,
		MaxRequestSize:     o.maxRequestSize,
		RequestTimeout:     o.requestTimeout,
		DeliveryTimeout:    o.deliveryTimeout,
		MaxInFlight:        o.maxInFlight,
		Compression:        codec,
		CompressionLevel:   o.compressionLevel,
	}
	cfg.TLS = o.tlsConf
	cfg.SASL = o.saslMech
	return cfg
}

// configFlags maps the Config fields kprod sets to the flags that set them,
// so that a *producer.ConfigError becomes a usage error naming the flag.
var configFlags = map[string]string{
	"Brokers":            "brokers",
	"ClientID":           "client-id",
	"Acks":               "acks",
	"DisableIdempotence": "idempotent",
	"Linger":             "linger",
	"BatchSize":          "batch-size",
	"BufferMemory":       "buffer-memory",
	"MaxRequestSize":     "max-request-size",
	"RequestTimeout":     "request-timeout",
	"DeliveryTimeout":    "delivery-timeout",
	"MaxInFlight":        "max-in-flight",
	"Compression":        "compression",
	"CompressionLevel":   "compression-level",
}

// newProducer builds the producer, turning a configuration the library
// rejects into a usage error that names the flag.
func newProducer(cfg producer.Config) (*producer.Producer, error) {
	p, err := producer.New(cfg)
	var ce *producer.ConfigError
	if errors.As(err, &ce) {
		if flag, ok := configFlags[ce.Field]; ok {
			return nil, usagef("--%s: %s", flag, ce.Reason)
		}
		return nil, usagef("%v", err)
	}
	return p, err
}
