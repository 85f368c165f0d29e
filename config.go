package producer

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/sasl"
)

// Config configures a Producer. The zero value of every field means its
// default, stated in the field's comment beside the name of the Java client's
// and kafka-python's setting it corresponds to. New validates the whole struct
// and names the offending field in its error.
type Config struct {
	// Brokers are the seed brokers, "host:port", tried in random order until
	// one answers; the rest of the cluster is learned from metadata. An
	// address without a host (":9092", from a variable left unset) or
	// with spaces in it (" b:9092") is refused, not dialled. A
	// metadata request that no broker the metadata named answers goes to
	// the seeds again, so that a cluster whose brokers all moved is found
	// through them (as the Java client's metadata.recovery.strategy=
	// rebootstrap does).
	// Java: bootstrap.servers; kafka-python: bootstrap_servers. Required.
	Brokers []string

	// ClientID names this producer in broker logs and quotas. It must be
	// UTF-8, as the broker decodes it. Java: client.id; kafka-python:
	// client_id. Default "gokafka-producer".
	ClientID string

	// Acks is how many replicas must have the records before the broker
	// answers: AcksAll, AcksLeader or AcksNone (a number does not compile:
	// see Acks). Java: acks; kafka-python: acks. Default (the zero value)
	// AcksAll, which with the broker's min.insync.replicas is the only
	// setting that does not lose acknowledged records when a leader dies.
	// Idempotence needs it: AcksLeader or AcksNone also need
	// DisableIdempotence, and New refuses them without it. The Java client
	// (since Kafka 3.2, KAFKA-13673) instead turns idempotence off
	// unasked for acks other than all, and refuses them only with
	// enable.idempotence=true set explicitly; a zero Config cannot tell
	// "not set" from "set", so here the setting that weakens delivery is
	// the one spelled out.
	Acks Acks

	// DisableIdempotence turns idempotence off. Idempotence is on by
	// default, as in the Java client since Kafka 3.0 (KIP-679): the
	// producer gets an id from the cluster (InitProducerId) and numbers
	// each partition's batches, so that a batch sent again after a lost
	// answer is written once, and retries cannot reorder a partition's
	// records. It costs nothing on the wire but an id and three fields per
	// batch. Without it, retries may duplicate and reorder records, unless
	// MaxInFlight is 1; the callbacks of a batch retried behind a later
	// one still run first, so that their order is then not the offsets'.
	// Java: enable.idempotence (default true); kafka-python:
	// enable_idempotence (default true since kafka-python 3.0, KIP-679;
	// false before). Default false: idempotent.
	DisableIdempotence bool

	// Linger is how long a batch waits for more records before it is sent,
	// trading latency for fewer, larger requests. The zero value is the
	// default, 5ms, not "no wait": NoLinger (any negative value) sends a
	// batch as soon as a sender can take it, which is what linger.ms=0
	// means to the Java client. Java: linger.ms; kafka-python: linger_ms.
	// Default 5ms, the Java client's default since Kafka 4.0 (KIP-1030): at
	// low rates it costs a few ms, at high rates batches fill before it
	// passes anyway.
	Linger time.Duration

	// BatchSize is the target size of one partition's batch in bytes
	// (uncompressed, the batch's header included); a record larger than it
	// gets a batch of its own. A MaxRequestSize below it is the batch size
	// instead, so that a batch fits a request (and a broker whose
	// message.max.bytes MaxRequestSize was lowered to). It is also how many
	// bytes the default partitioner sends to one partition before moving
	// on. The zero value is the default, not the Java client's
	// batch.size=0 (no batching): for a batch of each record, set 1, which
	// every record exceeds. Java: batch.size; kafka-python: batch_size.
	// Default 64 KiB rather than Java's 16 KiB: at the high rates this
	// producer is built for, 16 KiB batches of small records make four times
	// as many requests for no latency gain. Each batch takes BatchSize of
	// BufferMemory however few records it holds, so the default 32 MiB
	// holds 512 open batches: when more partitions than
	// BufferMemory/BatchSize receive records at once, Produce waits for
	// memory, every batch goes as soon as a sender can take it, and
	// batches shrink to the few records that came meanwhile (the Java
	// client does the same). For records spread over that many
	// partitions, raise BufferMemory to about their number times
	// BatchSize, or lower BatchSize to what one partition's batch
	// gathers within Linger.
	BatchSize int

	// BufferMemory caps the bytes of batches and of records waiting for
	// their topic's metadata (those may use all of it but one batch's
	// size, so that they can always be batched once metadata comes): it
	// must hold a batch (BatchSize), and New refuses it below. When
	// it is used up, Produce waits up to MaxBlock for memory. Records whose
	// metadata came give their memory to the batches at once, and until
	// appended, or while they wait for a partition the topic does not have
	// yet, count only in that share, which then adds to it. The halves of
	// a batch the broker refused as too large come from the heap, as in the
	// Java client, and for a while add to it. On Linux (but under the race
	// detector) the batches' buffers are mapped outside the Go heap, and a
	// page is backed by memory only once used: they count once in the
	// process's memory, not twice through the garbage collector's headroom
	// (nor do they pace the collector: GOGC and GOMEMLIMIT do, as ever).
	// A record larger than it fails at once with ErrRecordTooLarge, as one
	// larger than MaxRequestSize does. At most math.MaxInt: 2 GiB less a
	// byte where an int is 32 bits. Java: buffer.memory; kafka-python:
	// none (buffer_memory, deprecated in 2.x, was removed in 3.0).
	// Default 32 MiB.
	BufferMemory int64

	// MaxBlock bounds how long Produce and Send wait for buffer memory, and
	// how long a record waits for its topic's metadata before it fails with
	// ErrUnknownTopic (a record for an explicit partition the metadata does
	// not have yet waits as long, then fails with ErrInvalidRecord); a shorter
	// DeliveryTimeout ends that wait first. PartitionsFor waits for a topic no
	// longer either. Once its metadata came, such a record waits for a batch's
	// memory up to MaxBlock again, but never past its DeliveryTimeout. Java:
	// max.block.ms; kafka-python: max_block_ms. Default 60s. For Produce never
	// to wait for memory (max.block.ms=0), pass it a ctx already done: it then
	// takes only memory free at once, and a record it finds none for fails
	// with ErrBufferFull as well as the ctx's error, as does one whose ctx
	// ends while it waits. It does not bound Flush or Close (nor does
	// Java's), nor, unlike Java's, the transaction calls (InitTransactions,
	// SendOffsetsToTransaction, CommitTransaction, AbortTransaction): each
	// waits as long as its ctx lets it, so give them one with a deadline.
	MaxBlock time.Duration

	// MaxRequestSize caps the record batches of one ProduceRequest, and so
	// one batch (see BatchSize) and the largest record, which goes alone in
	// a batch if it is larger than BatchSize; the request's own fields (its
	// header, topic names and partition numbers, tens of bytes) come on
	// top. A batch sent for the first time is counted at its size before
	// compression, which most batches shrink from; small batches under a
	// codec with framing (gzip's is 18 bytes) may grow, and a request of
	// many such batches pass the cap by their growth, as the Java client's
	// estimates of sizes before compression may. One batch never passes
	// it. At most math.MaxInt32, as a batch's length and a request's size
	// are int32 on the wire; a request near it, its fields and that growth
	// on top, could pass an int32, so keep well below (a broker's
	// socket.request.max.bytes, 100 MiB by default, refuses far less).
	// Java: max.request.size; kafka-python: max_request_size. Default 1
	// MiB (1,048,576 bytes), as in both. The broker's default
	// message.max.bytes is 12 bytes more, 1,048,588 (1 MiB and the log's
	// overhead, a batch's offset and length), so a batch within the
	// default passes it.
	MaxRequestSize int

	// RequestTimeout is how long the producer waits for a broker's answer
	// before it closes the connection and retries; it is also sent to the
	// broker as the ProduceRequest's timeout for replication (acks=all), so
	// the producer stops waiting about when the broker would answer
	// REQUEST_TIMED_OUT, as the Java client does; with idempotence the
	// retry of a batch the broker had written is answered as a duplicate,
	// with its offsets. Java's docs advise more than the brokers'
	// replica.lag.time.max.ms (both default to 30s): a lagging follower
	// then leaves the ISR before a batch waiting on it is retried, which a
	// producer without idempotence may duplicate. A broker that throttles
	// the producer to a quota (KIP-219) gives its requests in flight the
	// pause on top, and gets no Produce request until the pause ends;
	// another request sent to it meanwhile (metadata, a transaction's) has
	// its RequestTimeout from the pause's end. A pause is taken as
	// RequestTimeout at most (a Kafka broker asks for no more than its
	// quota window, a second by default).
	// At least 1ms and at most math.MaxInt32 ms (about 24.8 days): the
	// wire's unit and its int32. Java: request.timeout.ms; kafka-python:
	// request_timeout_ms. Default 30s.
	RequestTimeout time.Duration

	// DeliveryTimeout bounds the time from Produce returning to the
	// record's callback, retries included: the clock starts when Produce
	// returns, also for a record that then waits for its topic's metadata,
	// and stops when the outcome is known. A record still waiting for
	// metadata, still in a batch, or in a request without an answer when it
	// runs out fails with ErrDeliveryTimeout; in the last case also with
	// ErrMaybeWritten, since the broker may have written it. Only a
	// callback still running (yours) can make another record's callback
	// later than that. It must be at least Linger + RequestTimeout, so that
	// a record can linger and then wait one full request: left at zero, it
	// is the larger of 120s and that sum; set below it, New refuses it. The
	// Java client does both the same (raising a defaulted
	// delivery.timeout.ms with a warning). Java: delivery.timeout.ms;
	// kafka-python: delivery_timeout_ms. Default 120s, or Linger +
	// RequestTimeout if larger.
	DeliveryTimeout time.Duration

	// RetryBackoff is the first wait before a retry; each further retry of
	// the same batch doubles it, up to RetryBackoffMax, with ±20% jitter
	// (KIP-580). They pace metadata refreshes alike: one asked for (a moved
	// leader, an unknown topic) comes at most every RetryBackoff, and after
	// a refresh that failed (no broker answered) not before RetryBackoff
	// doubled by each refresh in a row that failed. Reconnecting to a broker
	// is ReconnectBackoff's to pace. RetryBackoffMax left at zero is the
	// larger of 1s and RetryBackoff, so that a RetryBackoff set alone is the
	// wait it says (the Java client would wait its default max, 1s,
	// instead), and RetryBackoff left at zero the smaller of 100ms and
	// RetryBackoffMax; both set, the max below the base, New refuses as a
	// contradiction (the Java client waits the max, without growth).
	// Java: retry.backoff.ms / retry.backoff.max.ms; kafka-python:
	// retry_backoff_ms. Defaults 100ms and 1s.
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration

	// MaxInFlight is how many ProduceRequests may await an answer on one
	// broker connection. With idempotence, at most 5 batches of one
	// partition are in flight whatever it says: brokers recognise a
	// duplicate among a producer's last five batches only, and a
	// partition keeps one in flight until its broker has acknowledged one
	// (after its first batch, a failure, a new leader, a new producer id,
	// or a minute without sending, accumulator.PipelineIdle): a broker
	// that does not know the producer, or has forgotten it, takes any
	// sequence. Without idempotence, 1 keeps a partition's records in
	// order across retries.
	// (The Java client instead turns idempotence off for more than 5,
	// unless enable.idempotence was set, and then refuses them.)
	// Java: max.in.flight.requests.per.connection; kafka-python:
	// max_in_flight_requests_per_connection. Default 5; at most
	// MaxInFlightLimit.
	//
	// Unlike the Java client's, a request behind another needs a full
	// batch (or a retry, a Flush, or memory to free): batches that are not
	// full, their Linger over or not, wait for the answers in flight and
	// then go together; one that such a request had no room for goes in
	// the next, its Linger over. A Kafka broker reads a connection's next
	// request only once it has answered the one before, so such a request
	// would wait there anyway; held back, it takes the records that come
	// meanwhile, and the broker answers fewer, fuller requests sooner.
	MaxInFlight int

	// Compression is the codec of every batch. Java: compression.type;
	// kafka-python: compression_type. Default none. zstd needs brokers of
	// Kafka 2.1 or newer: a broker that speaks Produce below v7 cannot take
	// it, and its batches fail with an error wrapping
	// kerr.UnsupportedCompressionType.
	Compression compression.Codec

	// CompressionLevel is the codec's level; 0 means the codec's default.
	// A level means what it means in Java: gzip's -1, Java's default, is
	// its default, as 0 is; lz4's 9, Java's default, is its fast
	// compressor, as 0 is, and 1 to 8 its slower high-compression modes
	// (Java's 10 to 17, deeper modes still, are refused rather than
	// lowered); zstd's 3 is its default, klauspost's fastest encoder, or
	// the producer's own compressor for a batch that encoder cannot
	// shrink: faster than klauspost's encoder at level 3, smaller on JSON,
	// 7% larger on source text (PERFORMANCE.md), and 4 is klauspost's
	// encoder at level 3 (see the compression package's level constants
	// for each codec's range). Java: compression.gzip.level,
	// compression.lz4.level, compression.zstd.level (KIP-390);
	// kafka-python: none.
	CompressionLevel int

	// Partitioner picks the partition of records without an explicit one.
	// Java: partitioner.class; kafka-python: partitioner. Default
	// partitioner.Default of the batch size (BatchSize, or MaxRequestSize
	// if smaller): Java's murmur2 for keyed records, the
	// uniform sticky partitioner (KIP-794) for keyless ones. It runs on
	// the goroutine that appends the record: Produce's caller's, where a
	// panic in it reaches the caller; or, for a record that waited for
	// metadata, the producer's, where a panic in it is recovered and
	// logged (see partitioner.Partitioner). A panic in Partition comes
	// before the append: the record is not buffered, and fails (its
	// callback not run on the caller's goroutine, where the panic is its
	// outcome, its HookRecordAcknowledged hooks hearing it failed). One in
	// an Observer's Appended or a LoadReporter's SetLoad comes after the
	// append: the record is buffered and goes to its outcome like any
	// other, its callback run. A nil pointer or func as the Partitioner is
	// a ConfigError at New.
	//
	// The producer tells the Partitioner of each append, and reports load
	// to it, if it implements partitioner.Observer and LoadReporter: a
	// Partitioner that wraps Default or UniformSticky must forward both,
	// or their keyless records never switch partition. A partitioner.Func
	// that calls them does not; partitioner.Override, which sends some
	// records elsewhere and leaves the rest to them, does.
	//
	// The Java client's other partitioner settings:
	//
	//	partitioner.ignore.keys=true
	//	    partitioner.UniformSticky(BatchSize): keyed records are spread
	//	    as keyless ones are.
	//	partitioner.adaptive.partitioning.enable
	//	    Always on in Default and UniformSticky, which are LoadReporters
	//	    (keyless records steer away from partitions with long queues);
	//	    off only with a Partitioner that does not implement
	//	    LoadReporter.
	//	partitioner.availability.timeout.ms
	//	    Not implemented: a partition leaves partitioner.Topic.Available
	//	    only when it has no leader among the metadata's brokers; one
	//	    whose broker is slow stays in, and the load reports steer
	//	    keyless records away from it by the batches queued for it.
	//
	// Keys land where the Java client's default and franz-go's (kgo's
	// UniformBytesPartitioner, murmur2 for keys) put them. Sarama's
	// default hashes keys with FNV-1a, so a sarama user's keys land on
	// other partitions here; a partitioner.Func computing sarama's
	// partition (int32 of the key's 32-bit FNV-1a, modulo the partition
	// count, negated if negative) keeps them where they were.
	Partitioner partitioner.Partitioner

	// MetadataMaxAge is how often metadata is refreshed even when nothing
	// asks for it, so that new partitions and moved leaders are found.
	// While a partition of a topic in use has no leader (it is offline),
	// metadata is asked for with backoff instead, up to every
	// RetryBackoffMax, buffered records or not, so that it is used again
	// as soon as it has one, as the Java client asks.
	// Java: metadata.max.age.ms; kafka-python: metadata_max_age_ms.
	// Default 5m.
	MetadataMaxAge time.Duration

	// MetadataMaxIdle is how long the producer keeps a topic's metadata
	// after its last use: a topic it has buffered nothing of, started no
	// batch of, and not awaited (PartitionsFor) for this long is forgotten,
	// so that refreshes stop asking for every topic it ever produced to. A
	// record for it later waits for its metadata again, as the first did.
	// Java: metadata.max.idle.ms; kafka-python: none. Default 5m; at least
	// 5s, as in Java.
	MetadataMaxIdle time.Duration

	// AllowAutoTopicCreation lets a broker with auto.create.topics.enable
	// create a topic the first time this producer asks for it. Java: none
	// (its producer always lets the broker create the topic;
	// allow.auto.create.topics is the consumer's setting); kafka-python:
	// allow_auto_create_topics (default true). Default false, unlike both:
	// a typo in a topic name should fail, not create a topic. Left off,
	// the ErrUnknownTopic of a topic the cluster does not know says so.
	AllowAutoTopicCreation bool

	// TransactionalID makes the producer transactional: records are
	// produced inside transactions (InitTransactions once, then
	// BeginTransaction, and CommitTransaction or AbortTransaction), which
	// consumers reading committed records see whole or not at all. A second
	// producer with the same id fences this one. A producer that runs no
	// transaction for longer than the cluster's
	// transactional.id.expiration.ms (7 days by default) stops in its next
	// one, with ErrTransactionFatal: the coordinator has forgotten the id
	// (INVALID_PRODUCER_ID_MAPPING; the Java client stops alike since
	// Kafka 4.0), which a new producer registers again. Needs idempotence.
	// It must be UTF-8: the broker decodes it as such, and would know two
	// ids that differ only in other bytes as one. Java: transactional.id;
	// kafka-python: transactional_id. Default "": no transactions.
	TransactionalID string

	// TransactionTimeout is how long the transaction coordinator lets a
	// transaction stay open before it aborts it (which ends the producer at
	// CommitTransaction, and with transactions v1 at AbortTransaction: see
	// ErrTransactionFatal); at least 1ms, the wire's unit, and at most the
	// brokers' transaction.max.timeout.ms (15 minutes unless set), over
	// which InitTransactions fails with ErrTransactionFatal
	// (INVALID_TRANSACTION_TIMEOUT). Java: transaction.timeout.ms;
	// kafka-python: transaction_timeout_ms. Default 60s.
	TransactionTimeout time.Duration

	// ReconnectBackoff and ReconnectBackoffMax pace reconnection attempts to
	// a broker, exponentially with jitter: a broker's records wait for its
	// next attempt, made as soon as the backoff allows (RetryBackoff plays
	// no part there, as in the Java client). As with RetryBackoffMax,
	// ReconnectBackoffMax left at zero is the larger of 1s and
	// ReconnectBackoff, ReconnectBackoff left at zero the smaller of 50ms
	// and ReconnectBackoffMax, and a max set below its base is refused. A
	// ReconnectBackoff set alone below 1s still grows, up to 1s (the Java
	// client, given reconnect.backoff.ms alone, makes it the max too, and
	// waits it every time). Java: reconnect.backoff.ms /
	// reconnect.backoff.max.ms; kafka-python: reconnect_backoff_ms /
	// reconnect_backoff_max_ms. Defaults 50ms and 1s.
	ReconnectBackoff    time.Duration
	ReconnectBackoffMax time.Duration

	// Logger receives the producer's events: at Debug, unreachable
	// brokers, failed requests, retries, splits, metadata refreshes and
	// producer ids; at Info, brokers leaving the metadata (or back before
	// their old sender ended) and the transaction protocol; at Warn,
	// failures it retries (a metadata refresh, InitProducerId, a
	// re-authentication) and a transaction that must abort; at Error, a
	// transactional producer stopped and, with its stack, a panic it
	// recovers where no caller could: a Partitioner's on a record that
	// waited for metadata or on a forgotten topic, a SASL mechanism's, a
	// response decoder's. Java: none (SLF4J, set up outside the client);
	// kafka-python: none (the logging module). Default: discard.
	Logger *slog.Logger

	// ConnectionSetupTimeout bounds setting up a broker connection: the
	// Dialer's connect and, with TLS, the handshake; the ctx the Dialer
	// gets ends then. (SASL's steps are bounded by RequestTimeout each.) A
	// Dialer's own timeout, such as net.Dialer.Timeout, applies too: the
	// shorter wins. Java: socket.connection.setup.timeout.ms, which there
	// also grows with each consecutive failure up to
	// socket.connection.setup.timeout.max.ms (30s); here it stays put,
	// ReconnectBackoff spacing the attempts. kafka-python: none.
	// Default 10s.
	ConnectionSetupTimeout time.Duration

	// Dialer opens broker connections; a *net.Dialer or a *tls.Dialer fits
	// (TLS is better than the latter: its errors are told apart, and on
	// Linux its socket's reads and writes skip the Go scheduler's
	// bookkeeping, as a plain TCP connection's do, where a *tls.Conn's
	// transport is out of reach; see package conn). How long
	// it may take is ConnectionSetupTimeout's to say, even for a Dialer
	// that ignores its ctx (an SSH tunnel's Dial, which takes none): the
	// connection attempt fails then, or as Close abandons it, without
	// waiting for the Dialer, and a connection it returns after that is
	// closed. A nil pointer as the Dialer is a ConfigError at New. Java:
	// none, a *tls.Dialer standing for security.protocol=SSL;
	// kafka-python: none. Default: a net.Dialer.
	Dialer Dialer

	// TLS, when set, secures every broker connection with this
	// configuration: server verification against RootCAs (the system's if
	// nil), a client certificate in Certificates for mutual TLS, SNI and
	// the name verified from ServerName or else the broker's host. A
	// ServerName set is every broker's: leave it empty for a cluster whose
	// brokers each have a certificate of their own (one copied from a dial
	// of the bootstrap address fails every other broker). A certificate
	// that does not verify fails records at once with an *AuthError. Do
	// not combine with a *tls.Dialer. Java: security.protocol=SSL or
	// SASL_SSL with ssl.*; kafka-python: security_protocol, ssl_context.
	// Default: no TLS.
	TLS *tls.Config

	// SASL, when set, authenticates every broker connection with this
	// mechanism (sasl/plain, sasl/scram, sasl/oauthbearer, or your own
	// sasl.Mechanism), re-authenticating before the broker's session
	// expires (KIP-368), or, when the session is too short for Kafka's one
	// re-authentication a second, letting the connection close as it
	// expires, to be dialed again. Refused credentials fail records at once
	// with an *AuthError. A mechanism that cannot start (a token fetch that
	// fails: the identity provider answered 503) refuses nothing: the
	// connection fails, retriably, and is dialed again at the reconnect
	// backoff's pace until DeliveryTimeout (MaxBlock for records waiting
	// for metadata), as the Java client retries a failing token refresh;
	// one that can never start (sasl.Validator: an OAUTHBEARER mechanism
	// without a provider) is a ConfigError at New, and credentials the
	// mechanism judges invalid (sasl.ErrInvalidCredentials: an OAUTHBEARER
	// token with an extension name that is not letters only) are refused
	// credentials, an *AuthError at once. Each of the mechanism's
	// steps (fetching a token included) must end within RequestTimeout, or
	// the connection fails, retriably, as a request that timed out does; at
	// a re-authentication, a token fetch that fails or times out is retried
	// instead, at the reconnect backoff's pace, while the current session
	// lasts. A nil pointer as the mechanism, or one without a Name, is a
	// ConfigError at New. A panic in the mechanism (in a token provider,
	// say) is recovered and logged: a Start's as one that could not start, a
	// Step's as refused credentials. Java: security.protocol=SASL_PLAINTEXT
	// or SASL_SSL, sasl.mechanism, sasl.jaas.config; kafka-python:
	// sasl_mechanism, sasl_plain_username, sasl_plain_password,
	// sasl_oauth_token_provider. Default: none.
	SASL sasl.Mechanism

	// Hooks watch the producer, for metrics, tracing and logs: each is a
	// value implementing one or more of the Hook* interfaces (see Hook),
	// such as the Prometheus and OpenTelemetry plugins'. Every hook of an
	// event is called in this order; a value that implements none of them
	// is an error, and so are a nil pointer or func, whose first event
	// would panic, and a hook listed twice (a plugin's Hooks appended
	// twice, or beside the plugin itself), which would count or trace
	// every event twice. Hooks that cannot be compared with == (a func, a struct
	// holding a slice) are not checked, nor are those of a zero-size type
	// or a pointer to one, which have no state to tell apart (two &T{} may
	// share one address). Java: interceptor.classes, metric.reporters;
	// kafka-python: metric_reporters. Default none, which costs nothing.
	Hooks []Hook

	// clock is the time source; tests in this package replace it.
	clock clock.Clock
}

// Dialer opens a connection to a broker. *net.Dialer and *tls.Dialer
// implement it, which is how TLS plugs in.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}
