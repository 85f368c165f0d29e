package otelhooks

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/gokafka/producer"
)

// series is the attributes that tell one producer's measurements from
// another's on a shared MeterProvider, and the attribute sets built on
// them, once per topic and per broker: without them two producers' buffer
// gauges would be one series, and their counters and histograms would add
// up.
type series struct {
	clientID string // the producer's, "" until OnNewProducer
	// base is Options.ConstAttributes, then messaging.system and
	// messaging.client.id: on every measurement, the gauges' own
	// attributes. A constant attribute with the key of one of ours is
	// overridden by it.
	base   []attribute.KeyValue
	gauges metric.MeasurementOption
	topics sync.Map // topic name -> topicAttrs
	nodes  sync.Map // broker id -> metric.MeasurementOption
}

// newSeries is the series of p's measurements; p is nil for those of
// events before OnNewProducer, which the producer never sends.
func newSeries(p *producer.Producer, constAttrs []attribute.KeyValue) *series {
	s := &series{}
	s.base = append(s.base, constAttrs...)
	s.base = append(s.base, attribute.String("messaging.system", "kafka"))
	if p != nil {
		s.clientID = p.ClientID()
		s.base = append(s.base, attribute.String("messaging.client.id", s.clientID))
	}
	s.gauges = metric.WithAttributeSet(s.with())
	return s
}

// with is the base attributes and extra.
func (s *series) with(extra ...attribute.KeyValue) attribute.Set {
	kvs := make([]attribute.KeyValue, 0, len(s.base)+len(extra))
	return attribute.NewSet(append(append(kvs, s.base...), extra...)...)
}

// topicAttrs is the attributes of a topic's measurements: of its batches,
// and of its records' sends. The sends' are kept as the option slices the
// per-record measurements take too: a slice built for each call escapes
// (an interface method's variadic argument), an allocation per record.
type topicAttrs struct {
	batches    metric.MeasurementOption
	sendAdd    []metric.AddOption
	sendRecord []metric.RecordOption
}

// The messaging conventions require messaging.operation.name (and
// messaging.operation.type where one applies) of the per-record
// measurements, messaging.client.sent.messages and
// messaging.client.operation.duration: a producer's operation is a send.
var (
	operationName = attribute.String("messaging.operation.name", "send")
	operationType = attribute.String("messaging.operation.type", "send")
)

// topic is the attributes of a topic's measurements.
func (s *series) topic(name string) topicAttrs {
	if o, ok := s.topics.Load(name); ok {
		return o.(topicAttrs)
	}
	dest := attribute.String("messaging.destination.name", name)
	sends := metric.WithAttributeSet(s.with(operationName, operationType, dest))
	o := topicAttrs{
		batches:    metric.WithAttributeSet(s.with(dest)),
		sendAdd:    []metric.AddOption{sends},
		sendRecord: []metric.RecordOption{sends},
	}
	s.topics.Store(name, o)
	return o
}

// failed is the attributes of a failed record's measurements, built for
// each: failures are few, and their error.type many.
func (s *series) failed(topic string, err error) metric.MeasurementOption {
	return metric.WithAttributeSet(s.with(operationName, operationType,
		attribute.String("messaging.destination.name", topic), attribute.String("error.type", producer.ErrorName(err))))
}

// node is the attributes of a broker's measurements.
func (s *series) node(id int32) metric.MeasurementOption {
	if o, ok := s.nodes.Load(id); ok {
		return o.(metric.MeasurementOption)
	}
	o := metric.WithAttributeSet(s.with(attribute.Int("kafka.node.id", int(id))))
	s.nodes.Store(id, o)
	return o
}
