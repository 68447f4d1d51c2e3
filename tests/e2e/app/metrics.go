package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Metrics is a minimal Prometheus text-format registry: counters and gauges,
// each with a fixed label set, rendered in name order.
type Metrics struct {
	mu      sync.Mutex
	entries map[string]*family
}

type family struct {
	name, help, kind string
	series           map[string]*series // by rendered labels
}

type series struct {
	labels string
	value  atomic.Int64
	fn     func() (float64, bool) // gauges computed at scrape time
}

func NewMetrics() *Metrics { return &Metrics{entries: map[string]*family{}} }

// Counter returns the counter name{labels} (labels as "k", "v" pairs), creating it.
func (m *Metrics) Counter(name, help string, labels ...string) *atomic.Int64 {
	return &m.get(name, help, "counter", labels).value
}

// GaugeFunc registers a gauge whose value fn gives at each scrape (ok=false: omitted).
func (m *Metrics) GaugeFunc(name, help string, fn func() (float64, bool), labels ...string) {
	m.get(name, help, "gauge", labels).fn = fn
}

func (m *Metrics) get(name, help, kind string, labels []string) *series {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.entries[name]
	if f == nil {
		f = &family{name: name, help: help, kind: kind, series: map[string]*series{}}
		m.entries[name] = f
	}
	key := renderLabels(labels)
	s := f.series[key]
	if s == nil {
		s = &series{labels: key}
		f.series[key] = s
	}
	return s
}

func renderLabels(pairs []string) string {
	if len(pairs) == 0 {
		return ""
	}
	parts := make([]string, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(pairs[i+1])
		parts = append(parts, fmt.Sprintf(`%s="%s"`, pairs[i], v))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Write renders every family in the text exposition format (version 0.0.4).
func (m *Metrics) Write(w io.Writer) error {
	m.mu.Lock()
	names := make([]string, 0, len(m.entries))
	for name := range m.entries {
		names = append(names, name)
	}
	sort.Strings(names)
	fams := make([]*family, len(names))
	for i, n := range names {
		fams[i] = m.entries[n]
	}
	m.mu.Unlock()

	var b strings.Builder
	for _, f := range fams {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		m.mu.Lock()
		keys := make([]string, 0, len(f.series))
		for k := range f.series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		ss := make([]*series, len(keys))
		for i, k := range keys {
			ss[i] = f.series[k]
		}
		m.mu.Unlock()
		for _, s := range ss {
			if s.fn != nil {
				v, ok := s.fn()
				if !ok {
					continue
				}
				fmt.Fprintf(&b, "%s%s %s\n", f.name, s.labels, strconv.FormatFloat(v, 'g', -1, 64))
				continue
			}
			fmt.Fprintf(&b, "%s%s %d\n", f.name, s.labels, s.value.Load())
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
