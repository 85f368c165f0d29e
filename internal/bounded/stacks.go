package bounded

import "runtime"

// Stacks is every goroutine's stack, as a panic prints them. A wait inside
// code a test cannot hook (a mutex, a channel, a loop not started yet)
// shows there, and a test polls it with a bounded wait.
func Stacks() string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}
