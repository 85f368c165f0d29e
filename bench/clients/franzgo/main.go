// Command franzgo is the race's contender for franz-go's kgo client:
// bench.OpenFranzGo, the in-process benchmark's adaptor, in a process of its
// own.
package main

import (
	"github.com/gokafka/producer/bench"
	"github.com/gokafka/producer/bench/driver"
)

func main() { driver.Main("franz-go", "github.com/twmb/franz-go", bench.OpenFranzGo) }
