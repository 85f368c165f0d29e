// Command gokafka is the race's contender for this repository's producer:
// bench.OpenOurs, the in-process benchmark's adaptor, in a process of its
// own.
package main

import (
	"github.com/gokafka/producer/bench"
	"github.com/gokafka/producer/bench/driver"
)

func main() { driver.Main("gokafka", "github.com/gokafka/producer", bench.OpenOurs) }
