package race

import (
	"context"
	"fmt"
	"slices"
)

// javaStartupRecords is how many records the run that measures the Java
// producer's start-up sends: enough for a batch or two, few enough that
// sending them costs next to nothing beside starting a JVM.
const javaStartupRecords = 1000

// measureJavaStartup runs the Java producer once, before the rounds, on
// the first throughput workload it runs, with javaStartupRecords records,
// and returns its CPU: what each of its runs pays before it sends at
// speed (JVM start-up, class loading, JIT), which its CPU per record
// includes and a Go client's hardly has (about 1.3 s against a few ms). It
// is reported beside the ratios, which it does not change. Nil without the
// Java producer, or if the run failed (the log says why).
func (h harness) measureJavaStartup(ctx context.Context, clients []Contender) *Startup {
	o := h.o
	i := slices.IndexFunc(clients, func(c Contender) bool { return c.Java })
	if i < 0 {
		return nil
	}
	for _, w := range o.Workloads {
		if w.Rate > 0 || !clients[i].supports(w) {
			continue
		}
		short := h
		short.o.Records = javaStartupRecords
		fmt.Fprintf(o.Log, "measuring the Java producer's start-up on %d records (round 0, not counted):\n", javaStartupRecords)
		run := short.oneRun(ctx, 0, w, clients[i])
		logRun(o.Log, run, false)
		if run.Err != "" {
			return nil
		}
		return &Startup{Workload: w.Name, Records: run.Records, CPU: run.CPU}
	}
	return nil
}
