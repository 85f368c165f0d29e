package race

import (
	"fmt"
	"html"
	"strings"
)

// The chart is hand-written SVG: two panels of horizontal bars, CPU µs per
// record on the left and records/s on the right, one group of bars per
// workload and one bar per client, each labelled with its value. Each
// group has its own scale, its longest bar the panel's width: workloads
// differ by two orders of magnitude (the fixed-rate one idles between
// records), and a bar is there to compare clients on one workload.
const (
	chartWidth  = 980
	labelWidth  = 190
	panelWidth  = 300
	panelGap    = 90
	barHeight   = 11
	barGap      = 2
	groupGap    = 16
	headerLines = 3
)

var palette = []string{"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"}

// Chart draws r's medians.
func Chart(r *Results) string {
	type bar struct {
		client    int // index in r.Clients, which picks its colour
		cpu, rate float64
	}
	type group struct {
		title string
		rate  int // the workload's fixed rate; 0: throughput is what it measures
		bars  []bar
	}
	var groups []group
	for _, name := range r.Workloads {
		w, _ := WorkloadByName(name)
		g := group{title: w.Title, rate: w.Rate}
		for i, c := range r.Clients {
			cl := cellOf(r, name, c)
			// The floor is no client: its throughput, bounded by nothing
			// but the harness, would set every rate bar's scale.
			if cl.runs == 0 || c == Floor {
				continue
			}
			g.bars = append(g.bars, bar{client: i, cpu: cl.cpuPerRecord, rate: cl.recordsPerS})
		}
		if len(g.bars) > 0 {
			groups = append(groups, g)
		}
	}
	height := headerLines*18 + 20
	for _, g := range groups {
		height += len(g.bars)*(barHeight+barGap) + groupGap
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", chartWidth, height)
	fmt.Fprintf(&sb, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&sb, `<text x="10" y="18" font-size="14" font-weight="bold">Producer race on the %s broker: medians of %d interleaved rounds (bars scaled per workload)</text>`+"\n", html.EscapeString(r.Broker), r.Rounds)
	left, right := labelWidth, labelWidth+panelWidth+panelGap
	fmt.Fprintf(&sb, `<text x="%d" y="38" font-weight="bold">client CPU µs per record (less is better)</text>`+"\n", left)
	fmt.Fprintf(&sb, `<text x="%d" y="38" font-weight="bold">records/s (more is better)</text>`+"\n", right)
	// Legend.
	x := 10
	for i, c := range r.Clients {
		if c == Floor {
			continue
		}
		fmt.Fprintf(&sb, `<rect x="%d" y="46" width="10" height="10" fill="%s"/><text x="%d" y="55">%s</text>`+"\n", x, color(i), x+14, html.EscapeString(c))
		x += 14 + 7*len(c) + 16
	}
	y := headerLines*18 + 14
	for _, g := range groups {
		fmt.Fprintf(&sb, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+barHeight, html.EscapeString(g.title))
		var scaleCPU, scaleRate float64
		for _, b := range g.bars {
			scaleCPU, scaleRate = max(scaleCPU, b.cpu), max(scaleRate, b.rate)
		}
		for _, b := range g.bars {
			drawBar(&sb, left, y, b.cpu, scaleCPU, color(b.client), fmt.Sprintf("%.2f", b.cpu))
			if g.rate == 0 {
				drawBar(&sb, right, y, b.rate, scaleRate, color(b.client), fmt.Sprintf("%.0f", b.rate))
			}
			y += barHeight + barGap
		}
		if g.rate > 0 {
			fmt.Fprintf(&sb, `<text x="%d" y="%d" fill="#777">fixed rate: %d records/s</text>`+"\n", right, y-barHeight, g.rate)
		}
		y += groupGap
	}
	for _, px := range []int{left, right} {
		fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", px, headerLines*18+10, px, y-groupGap+4)
	}
	sb.WriteString("</svg>\n")
	return sb.String()
}

// drawBar draws v as a bar of the panel's width times v/scale.
func drawBar(sb *strings.Builder, x, y int, v, scale float64, fill, label string) {
	w := 1
	if scale > 0 {
		w = max(w, int(v/scale*panelWidth))
	}
	fmt.Fprintf(sb, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, x, y, w, barHeight, fill)
	fmt.Fprintf(sb, `<text x="%d" y="%d">%s</text>`+"\n", x+w+4, y+barHeight-2, label)
}

func color(i int) string { return palette[i%len(palette)] }
