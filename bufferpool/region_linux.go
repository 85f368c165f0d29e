//go:build linux && !race

package bufferpool

import "syscall"

// mapRegion maps n bytes of anonymous memory, private to the process.
func mapRegion(n int) ([]byte, error) {
	return syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

func unmapRegion(mem []byte) { _ = syscall.Munmap(mem) }

// releasePages gives b's pages back to the system; they read as zeros if
// touched again, which the pool does not rely on.
func releasePages(b []byte) { _ = syscall.Madvise(b, syscall.MADV_DONTNEED) }
