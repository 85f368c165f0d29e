package promhooks_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/plugin/promhooks"
)

// A producer's metrics on a Prometheus registry, served for scraping. The
// example's broker is in-process; yours has its own addresses.
func Example() {
	cluster, err := embedded.Start(embedded.Options{Topics: map[string]int32{"events": 3}})
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()

	reg := prometheus.NewRegistry()
	metrics, err := promhooks.New(reg, promhooks.Options{ConstLabels: prometheus.Labels{"client_id": "billing"}})
	if err != nil {
		log.Fatal(err)
	}
	p, err := producer.New(producer.Config{Brokers: cluster.Addrs(), ClientID: "billing", Hooks: metrics.Hooks()})
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		if _, err := p.Send(context.Background(), &producer.Record{Topic: "events", Value: []byte("paid")}); err != nil {
			log.Fatal(err)
		}
	}
	if err := p.Close(context.Background()); err != nil {
		log.Fatal(err)
	}

	// What Prometheus reads at /metrics, usually through
	// http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{})).
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		for _, name := range []string{"kafka_producer_record_send_total", "kafka_producer_buffer_total_bytes", "kafka_producer_connection_count", "kafka_producer_request_latency_seconds_count"} {
			if strings.HasPrefix(line, name) {
				fmt.Println(line)
			}
		}
	}
	// Output:
	// kafka_producer_buffer_total_bytes{client_id="billing"} 3.3554432e+07
	// kafka_producer_connection_count{client_id="billing"} 0
	// kafka_producer_record_send_total{client_id="billing",topic="events"} 3
	// kafka_producer_request_latency_seconds_count{client_id="billing",node_id="0"} 3
}
