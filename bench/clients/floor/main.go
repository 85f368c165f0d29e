// Command floor is the race's floor: floor.Floor, which sends nothing and
// completes each record through a goroutine of its own, in a process of its
// own. Its CPU per record is what the harness and the hand-off of
// completions cost whatever the client.
package main

import (
	"github.com/gokafka/producer/bench/driver"
	"github.com/gokafka/producer/bench/floor"
)

func main() { driver.Main("floor", "github.com/gokafka/producer/bench", floor.Open) }
