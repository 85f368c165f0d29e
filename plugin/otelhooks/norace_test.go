//go:build !race

package otelhooks_test

const raceEnabled = false
