package driver

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles starts a CPU profile into cpuFile and arranges a heap
// profile into memFile; an empty name skips that profile. The returned stop
// ends the CPU profile and writes the heap profile. The race never sets
// them: a profiled run is not a measured one. They are for looking inside
// one client's run by hand:
//
//	go run ./bench/clients/gokafka -settings '...' -cpuprofile cpu.prof
func startProfiles(cpuFile, memFile string) (stop func() error, err error) {
	stopCPU := func() error { return nil }
	if cpuFile != "" {
		f, err := os.Create(cpuFile)
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		stopCPU = func() error {
			pprof.StopCPUProfile()
			return f.Close()
		}
	}
	return func() error {
		err := stopCPU()
		if memFile == "" {
			return err
		}
		f, ferr := os.Create(memFile)
		if ferr != nil {
			return fmt.Errorf("heap profile: %w", ferr)
		}
		defer f.Close()
		runtime.GC() // the in-use figures as of the last collection
		if werr := pprof.WriteHeapProfile(f); werr != nil {
			return fmt.Errorf("heap profile: %w", werr)
		}
		return err
	}, nil
}
