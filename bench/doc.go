// Package bench races producers against each other on the same broker with
// the same workload: ours and franz-go's kgo today, the other clients of the
// planned comparison (librdkafka, sarama, kafka-go, the Java producer) as
// they are added. Each contender is a Producer function: the harness owns
// the broker, the records and the clock, so the numbers compare like with
// like.
//
// It is its own module so that the comparison clients never become
// dependencies of the library.
package bench
