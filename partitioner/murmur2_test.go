package partitioner

import "testing"

// Hash values from the Java client's own test of Utils.murmur2
// (apache/kafka, clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java,
// testMurmur2). Between them the keys exercise every tail length (0-3 bytes
// after the last 4-byte block).
func TestMurmur2JavaVectors(t *testing.T) {
	cases := []struct {
		key  string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	}
	for _, c := range cases {
		equal(t, Murmur2([]byte(c.key)), c.want, "murmur2(%q)", c.key)
	}
}

// Partitions for 1000 partitions from kafka-python's check against the Java
// partitioner (dpkp/kafka-python, test/test_partitioner.py,
// test_murmur2_java_compatibility).
func TestKeyPartitionKafkaPythonVectors(t *testing.T) {
	cases := []struct {
		key  string
		want int32
	}{
		{"", 681},
		{"a", 524},
		{"ab", 434},
		{"abc", 107},
		{"123456789", 566},
		{"\x00 ", 742},
	}
	for _, c := range cases {
		equal(t, KeyPartition([]byte(c.key), 1000), c.want, "partition of %q", c.key)
	}
}

// A negative hash must be masked with 0x7fffffff, not negated: "21" hashes
// to -973932308, so Java puts it on (-973932308 & 0x7fffffff) % 1000 = 340,
// where abs() would give 308.
func TestKeyPartitionMasksNegativeHash(t *testing.T) {
	h := Murmur2([]byte("21"))
	if h >= 0 {
		t.Fatalf("murmur2(21) = %d, the vector is meant to be negative", h)
	}
	equal(t, h&0x7fffffff, 1173551340, "masked hash")
	equal(t, KeyPartition([]byte("21"), 1000), 340, "partition of 21 of 1000")
	equal(t, KeyPartition([]byte("21"), 7), 1173551340%7, "partition of 21 of 7")
}

func TestKeyPartitionEdgeCases(t *testing.T) {
	// nil and empty hash alike here; telling keyless (nil) from an empty key
	// is the caller's job (Default does it).
	equal(t, Murmur2(nil), Murmur2([]byte{}), "murmur2(nil)")
	equal(t, KeyPartition([]byte("a"), 0), NoPartition, "zero partitions")
	equal(t, KeyPartition([]byte("a"), -3), NoPartition, "negative partition count")
	for _, k := range []string{"x", "yy", "zzz", "wwww", "vvvvv"} {
		equal(t, KeyPartition([]byte(k), 1), 0, "one partition, key %q", k)
	}
}
