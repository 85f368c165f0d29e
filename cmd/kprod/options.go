package main

import (
	"crypto/tls"
	"errors"
	"fmt"
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
	embedded          bool
	topic             string
	createTopic       bool
	partitions        int32
	replicationFactor int16

	acks             string
	linger           time.Duration
	batchSize        int
	bufferMemory     int64
	maxBlock         time.Duration
	maxRequestSize   int
	requestTimeout   time.Duration
	deliveryTimeout  time.Duration
	compression      string
	compressionLevel int
	maxInFlight      int
	clientID         string
	idempotent       bool

	props              []string // -X name=value
	producerConfigFile string   // --producer-config

	json     bool
	progress string
	debug    bool

	// TLS (tls.go) and SASL (sasl.go), through the library's Config.TLS
	// and Config.SASL.
	tls           bool
	tlsCA         string
	tlsCert       string
	tlsKey        string
	tlsServerName string
	tlsConf       *tls.Config // built by validate
	sasl          saslOptions
	saslMech      sasl.Mechanism // built by validate

	// Transactions (transactions.go).
	txn txnOptions

	// Set by validate.
	needBrokers bool            // produce: no --brokers is an error without --embedded
	cfg         producer.Config // without Dialer, Logger and, if embedded, Brokers
	sources     configSources
	useEmbedded bool
}

const (
	// defaultTopic is the topic perf and produce write to unless --topic
	// says otherwise, and the one dump's request names.
	defaultTopic = "kprod-perf"
	// defaultEmbeddedPartitions is the partition count of the topic kprod
	// creates on its embedded broker unless --partitions says otherwise.
	defaultEmbeddedPartitions = 6
)

// register adds the flags, in groups; a new group (security, idempotence)
// is one more call here.
func (o *commonOptions) register(fs *pflag.FlagSet) {
	o.registerTarget(fs)
	o.registerProducer(fs)
	o.registerSecurity(fs)
	o.txn.register(fs)
	o.registerOutput(fs)
}

// registerTarget: where the records go.
func (o *commonOptions) registerTarget(fs *pflag.FlagSet) {
	fs.StringVarP(&o.brokers, "brokers", "b", "", "comma-separated `list` of seed brokers, host:port (default $KPROD_BROKERS, as kprod broker prints it)")
	fs.BoolVar(&o.embedded, "embedded", false, "produce to a throw-away embedded broker started for the run (the default of perf without --brokers)")
	fs.StringVarP(&o.topic, "topic", "t", defaultTopic, "topic to produce to")
	fs.BoolVar(&o.createTopic, "create-topic", false, "create the topic if it does not exist (always done on the embedded broker)")
	fs.Int32Var(&o.partitions, "partitions", 0, "partitions of the topic kprod creates (default 6 on the embedded broker, else the broker's num.partitions); an existing topic must have as many")
	fs.Int16Var(&o.replicationFactor, "replication-factor", 1, "replication factor of the topic kprod creates (-1: the broker's default); an existing topic must have as many replicas, if given")
}

// registerProducer: the producer's configuration.
func (o *commonOptions) registerProducer(fs *pflag.FlagSet) {
	fs.StringVar(&o.acks, "acks", producer.AcksAll.String(), "acknowledgements to wait for: all, 1 or 0")
	fs.DurationVar(&o.linger, "linger", producer.DefaultLinger, "how long a batch waits for more records (0: send at once)")
	fs.IntVar(&o.batchSize, "batch-size", producer.DefaultBatchSize, "target batch size per partition, in bytes")
	fs.Int64Var(&o.bufferMemory, "buffer-memory", producer.DefaultBufferMemory, "bytes of records the producer may buffer")
	fs.DurationVar(&o.maxBlock, "max-block", producer.DefaultMaxBlock, "how long Produce may wait for buffer memory, and records for their topic's metadata")
	fs.IntVar(&o.maxRequestSize, "max-request-size", producer.DefaultMaxRequestSize, "largest ProduceRequest, and so the largest record, in bytes")
	fs.DurationVar(&o.requestTimeout, "request-timeout", producer.DefaultRequestTimeout, "how long to wait for a broker's answer")
	fs.DurationVar(&o.deliveryTimeout, "delivery-timeout", 0, "how long a record may take to be acknowledged, retries included (default 2m, or --linger + --request-timeout if larger)")
	fs.StringVarP(&o.compression, "compression", "z", compression.None.String(), "codec: none, gzip, snappy, lz4 or zstd")
	fs.IntVar(&o.compressionLevel, "compression-level", compression.DefaultLevel, "codec level (0: the codec's default)")
	fs.IntVar(&o.maxInFlight, "max-in-flight", producer.DefaultMaxInFlight, "ProduceRequests awaiting an answer per broker connection")
	fs.StringVar(&o.clientID, "client-id", programName, "client id sent to the brokers")
	fs.BoolVar(&o.idempotent, "idempotent", true, "idempotent producer: retries neither duplicate nor reorder records (enable.idempotence); off by default with --acks 1 or 0 or --max-in-flight above 5, as in the Java client")
	fs.StringArrayVarP(&o.props, "property", "X", nil, "producer setting by its Java name, `name=value` (repeatable; kprod's own flags win over it)")
	fs.StringVar(&o.producerConfigFile, "producer-config", "", "Java properties `file` of producer settings (-X and kprod's own flags win over it)")
}

// registerSecurity: TLS and SASL.
func (o *commonOptions) registerSecurity(fs *pflag.FlagSet) {
	fs.BoolVar(&o.tls, "tls", false, "connect over TLS, trusting the system's CAs (implied by the other --tls flags)")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "PEM `file` of the CA certificates to trust instead of the system's")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM `file` of the client certificate, for brokers that require one")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM `file` of the client certificate's key")
	fs.StringVar(&o.tlsServerName, "tls-server-name", "", "name to verify every broker's certificate against (default: each broker's own host)")
	o.sasl.register(fs)
}

// registerOutput: what kprod shows.
func (o *commonOptions) registerOutput(fs *pflag.FlagSet) {
	fs.BoolVar(&o.json, "json", false, "print the summary as one JSON object on stdout, and nothing else there (a run that ends without one: {\"error\": ..., \"exit_code\": N})")
	fs.StringVar(&o.progress, "progress", "auto", "progress on stderr: auto (a bar on a terminal, else a line every 5 s), bar (always: the same), lines or never")
	fs.BoolVarP(&o.debug, "debug", "v", false, "print the producer library's log on stderr")
}

// parseBrokers reads a comma-separated list of host:port.
func parseBrokers(list string) ([]string, error) {
	var out []string
	for b := range strings.SplitSeq(list, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			return nil, fmt.Errorf("%q is not host:port", b)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

// validate checks the flags before anything starts, so that a usage error
// costs nothing and names its flag, and resolves the producer's Config.
func (o *commonOptions) validate(cmd *cobra.Command) error {
	fs := cmd.Flags()
	changed := fs.Changed
	if err := o.checkTargetFlags(changed); err != nil {
		return err
	}
	if err := o.checkProducerFlags(changed); err != nil {
		return err
	}
	if err := o.checkOutputFlags(); err != nil {
		return err
	}
	if err := o.resolveProducer(fs, changed); err != nil {
		return err
	}
	// The library's verdict too, before a broker is started for nothing.
	check := o.cfg
	if o.useEmbedded {
		check.Brokers = []string{"embedded:9092"} // its address is not known yet; any valid one stands in
	}
	var ce *producer.ConfigError
	if err := check.Validate(); errors.As(err, &ce) {
		return o.sources.explain(ce)
	}
	return nil
}

// checkTargetFlags checks the flags of where the records go
// (registerTarget's).
func (o *commonOptions) checkTargetFlags(changed func(string) bool) error {
	if changed("brokers") {
		if _, err := parseBrokers(o.brokers); err != nil {
			return usagef("--brokers: %v", err)
		}
	}
	// The library's rule, which would refuse every record: the name is
	// refused before a topic is created under it.
	if err := producer.ValidateTopicName(o.topic); err != nil {
		return usagef("--topic %q: %v", o.topic, err)
	}
	if changed("partitions") && o.partitions < 1 {
		return usagef("--partitions: %d is less than 1", o.partitions)
	}
	if o.replicationFactor < 1 && o.replicationFactor != -1 {
		return usagef("--replication-factor: %d is neither positive nor -1", o.replicationFactor)
	}
	return nil
}

// checkProducerFlags checks the producer's flags (registerProducer's)
// each on its own, before resolveProducer merges -X and --producer-config
// in.
func (o *commonOptions) checkProducerFlags(changed func(string) bool) error {
	acks, err := producer.ParseAcks(o.acks)
	if err != nil {
		return usagef("--acks: %v", err)
	}
	if changed("idempotent") && o.idempotent && acks != producer.AcksAll {
		return usagef("--idempotent: needs --acks all, not %s", o.acks)
	}
	if o.linger < 0 {
		return usagef("--linger: %v is negative", o.linger)
	}
	if o.batchSize < 1 {
		return usagef("--batch-size: %d is less than 1", o.batchSize)
	}
	if o.bufferMemory < 1 {
		return usagef("--buffer-memory: %d is less than 1", o.bufferMemory)
	}
	if o.maxRequestSize < 1 {
		return usagef("--max-request-size: %d is less than 1", o.maxRequestSize)
	}
	if o.maxInFlight < 1 {
		return usagef("--max-in-flight: %d is less than 1", o.maxInFlight)
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"max-block", o.maxBlock}, {"request-timeout", o.requestTimeout}, {"delivery-timeout", o.deliveryTimeout}} {
		// --delivery-timeout left unset is 0: the library's default, which
		// follows --linger and --request-timeout.
		if d.v <= 0 && (d.flag != "delivery-timeout" || changed(d.flag)) {
			return usagef("--%s: %v is not positive", d.flag, d.v)
		}
	}
	if _, err := compression.ParseCodec(o.compression); err != nil {
		return usagef("--compression: %q: want none, gzip, snappy, lz4 or zstd", o.compression)
	}
	return nil
}

// checkOutputFlags checks the flags of what kprod shows (registerOutput's).
func (o *commonOptions) checkOutputFlags() error {
	switch o.progress {
	case "auto", "bar", "always", "lines", "never":
	default:
		return usagef("--progress: %q: want auto, bar (or always), lines or never", o.progress)
	}
	return nil
}

// resolveProducer sets the producer's Config from the flags, -X and
// --producer-config, the brokers, the transaction, and the TLS and SASL
// the security flags ask for.
func (o *commonOptions) resolveProducer(fs *pflag.FlagSet, changed func(string) bool) error {
	var err error
	if o.cfg, o.sources, err = o.resolveConfig(fs); err != nil {
		return err
	}
	if err := o.checkCompressionLevel(); err != nil {
		return err
	}
	if err := o.chooseBrokers(os.Getenv); err != nil {
		return err
	}
	if err := o.validateTxn(changed); err != nil {
		return err
	}
	if o.tlsConf, err = o.tlsConfig(o.useEmbedded); err != nil {
		return err
	}
	if o.saslMech, err = o.sasl.build(changed, os.Getenv, o.useEmbedded); err != nil {
		return err
	}
	return nil
}

// checkCompressionLevel checks the resolved level against the resolved
// codec, not against --compression's: the codec may come from -X or
// --producer-config and the level from --compression-level. The error
// blames the level and says where the codec came from, which the library's
// own verdict on CompressionLevel would not.
func (o *commonOptions) checkCompressionLevel() error {
	err := compression.CheckLevel(o.cfg.Compression, o.cfg.CompressionLevel)
	if err == nil {
		return nil
	}
	codec := "--compression is at its default"
	if from, set := o.sources["Compression"]; set {
		codec = "codec from " + from
	}
	return usagef("%s: %v (%s)", o.sources.name("CompressionLevel"), err, codec)
}

// chooseBrokers decides between the brokers given (--brokers or -X
// bootstrap.servers, else $KPROD_BROKERS, which getenv reads) and an
// embedded one. Producing to a throw-away broker must be asked for: its
// records are gone when kprod exits, so doing it by mistake would report
// success for data nobody will ever read.
func (o *commonOptions) chooseBrokers(getenv func(string) string) error {
	given := len(o.cfg.Brokers) > 0
	// The variable `kprod broker` prints is the least of the sources: a
	// broker named on the command line or in a file wins, and so does
	// --embedded.
	if env := getenv(brokersEnv); !given && !o.embedded && env != "" {
		brokers, err := parseBrokers(env)
		if err != nil {
			return usagef("$%s: %v", brokersEnv, err)
		}
		o.cfg.Brokers, o.sources["Brokers"], given = brokers, "$"+brokersEnv, true
	}
	switch {
	case o.embedded && given:
		return usagef("--embedded: not with %s", o.sources.name("Brokers"))
	case !given && o.needBrokers && !o.embedded:
		return usagef("--brokers (-b) is required, or $%s as kprod broker prints it; --embedded produces to a throw-away broker instead, whose records are gone when kprod exits", brokersEnv)
	}
	o.useEmbedded = !given
	return nil
}

// flagConfig is the library configuration kprod's own flags describe.
// validate must have accepted them.
func (o *commonOptions) flagConfig() producer.Config {
	acks, _ := producer.ParseAcks(o.acks)
	codec, _ := compression.ParseCodec(o.compression)
	linger := o.linger
	if linger == 0 {
		linger = producer.NoLinger // the library reads 0 as "the default"
	}
	cfg := producer.Config{
		ClientID:           o.clientID,
		Acks:               acks,
		DisableIdempotence: !o.idempotent,
		Linger:             linger,
		BatchSize:          o.batchSize,
		BufferMemory:       o.bufferMemory,
		MaxBlock:           o.maxBlock,
		MaxRequestSize:     o.maxRequestSize,
		RequestTimeout:     o.requestTimeout,
		DeliveryTimeout:    o.deliveryTimeout,
		MaxInFlight:        o.maxInFlight,
		Compression:        codec,
		CompressionLevel:   o.compressionLevel,
	}
	if o.brokers != "" {
		cfg.Brokers, _ = parseBrokers(o.brokers)
	}
	cfg.TransactionalID = o.txn.id
	return cfg
}
