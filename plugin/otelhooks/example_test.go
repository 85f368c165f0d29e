package otelhooks_test

import (
	"context"
	"fmt"
	"log"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/plugin/otelhooks"
)

// A span per record, a child of the span in the record's Context. The
// example's broker is in-process and its spans stay in memory; yours
// export them.
func Example() {
	cluster, err := embedded.Start(embedded.Options{Topics: map[string]int32{"events": 1}})
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	tel, err := otelhooks.New(otelhooks.Options{TracerProvider: tp})
	if err != nil {
		log.Fatal(err)
	}
	p, err := producer.New(producer.Config{Brokers: cluster.Addrs(), Hooks: tel.Hooks()})
	if err != nil {
		log.Fatal(err)
	}
	defer tel.Close() // after the producer's Close, deferred next
	defer p.Close(context.Background())

	ctx, request := tp.Tracer("shop").Start(context.Background(), "checkout")
	if _, err := p.Send(ctx, &producer.Record{Topic: "events", Value: []byte("paid"), Context: ctx}); err != nil {
		log.Fatal(err)
	}
	request.End()

	for _, s := range spans.Ended() {
		fmt.Printf("%q (%v), child of %q", s.Name(), s.SpanKind(), parentName(spans.Ended(), s))
		for _, kv := range s.Attributes() {
			if kv.Key == "messaging.destination.partition.id" || kv.Key == "messaging.kafka.offset" {
				fmt.Printf(", %s=%s", kv.Key, kv.Value.String())
			}
		}
		fmt.Println()
	}
	// Output:
	// "send events" (producer), child of "checkout", messaging.destination.partition.id=0, messaging.kafka.offset=0
	// "checkout" (internal), child of "nothing"
}

// parentName is the name of s's parent among spans.
func parentName(spans []sdktrace.ReadOnlySpan, s sdktrace.ReadOnlySpan) string {
	for _, p := range spans {
		if p.SpanContext().SpanID() == s.Parent().SpanID() {
			return p.Name()
		}
	}
	return "nothing"
}
