// Package secured holds the integration suite of TLS and SASL: against the
// embedded broker (kfake's TLS and its PLAIN and SCRAM users) in every run,
// and against a real secured Kafka when KAFKA_SECURITY says how the broker
// in KAFKA_BROKERS is secured, as `integration/kafka/broker.sh start
// --security MODE` prints (see integration/kafka/security.sh).
package secured
