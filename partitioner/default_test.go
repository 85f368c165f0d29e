package partitioner

import "testing"

// Keyed records hash over all partitions, even unavailable ones, so a key
// keeps its partition through a leader change.
func TestDefaultKeyedUsesAllPartitions(t *testing.T) {
	p := Default(100)
	topic := &Topic{Name: "t", Partitions: 1000, Available: []int32{1, 2}}
	equal(t, p.Partition(topic, []byte("a")), 524, "key a")
	equal(t, p.Partition(topic, []byte("foobar")), KeyPartition([]byte("foobar"), 1000), "key foobar")
}

// An empty key is a key (Java hashes it); only nil means keyless.
func TestDefaultEmptyKeyIsKeyed(t *testing.T) {
	p := Default(100)
	topic := &Topic{Name: "t", Partitions: 1000, Available: []int32{7}}
	equal(t, p.Partition(topic, []byte{}), 681, "empty key")
	equal(t, p.Partition(topic, nil), 7, "keyless goes to the sticky available partition")
}

func TestDefaultKeylessIsSticky(t *testing.T) {
	p := Default(100)
	obs := p.(Observer)
	topic := &Topic{Name: "t", Partitions: 10}
	first := p.Partition(topic, nil)
	for i := 0; i < 9; i++ {
		obs.Appended(topic, first, 10, false)
		equal(t, p.Partition(topic, nil), first, "after %d bytes", 10*(i+1))
	}
	obs.Appended(topic, first, 10, true)
	if p.Partition(topic, nil) == first {
		t.Errorf("did not switch after a full batch")
	}
}

func TestFuncAdapter(t *testing.T) {
	var p Partitioner = Func(func(t *Topic, key []byte) int32 { return t.Partitions - 1 })
	equal(t, p.Partition(&Topic{Partitions: 5}, nil), 4, "custom partition")
}
