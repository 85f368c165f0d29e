//go:build race

package main

// raceEnabled makes TestMain build kprod with the race detector too.
const raceEnabled = true
