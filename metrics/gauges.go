package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/didrouter/didrouter"
)

// maxQueueScan bounds the pending tasks read per workspace on a scrape;
// a deeper queue is reported as this many.
const maxQueueScan = 10000

// scrapeTimeout bounds the store reads of one scrape.
const scrapeTimeout = 2 * time.Second

// WatchIndex reports the number of workers in the routing index
// (didrouter_index_workers), read at each scrape.
func (m *Metrics) WatchIndex(size func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "didrouter_index_workers",
		Help: "Workers held in this instance's in-memory routing index.",
	}, func() float64 { return float64(size()) }))
}

// WatchGate reports the webhooks waiting for a slot at the admission gate
// (didrouter_webhooks_waiting), by class: in_progress (calls the server
// took) and new_call. A new_call figure that stays above zero means calls
// come faster than the database commits them.
func (m *Metrics) WatchGate(waiting func() (inProgress, newCalls int)) {
	for class, pick := range map[string]func(a, b int) int{
		"in_progress": func(a, _ int) int { return a },
		"new_call":    func(_, b int) int { return b },
	} {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "didrouter_webhooks_waiting",
			Help:        "Webhooks waiting for a slot at the admission gate, by class (in_progress, new_call).",
			ConstLabels: prometheus.Labels{"class": class},
		}, func() float64 { return float64(pick(waiting())) }))
	}
}

// WatchQueues reports, at each scrape, the tasks waiting for a worker and
// how long the oldest has waited, per workspace, read from the store (so
// every instance sharing it reports the same figures).
func (m *Metrics) WatchQueues(st didrouter.Reader, clock didrouter.Clock) {
	m.reg.MustRegister(&queueCollector{st: st, clock: clock})
}

var (
	queueDepthDesc = prometheus.NewDesc("didrouter_queue_depth",
		"Tasks pending (waiting for a worker) per workspace, at most 10000.", []string{"workspace_sid"}, nil)
	queueOldestDesc = prometheus.NewDesc("didrouter_queue_oldest_wait_seconds",
		"Age of the oldest pending task per workspace (0 when none waits).", []string{"workspace_sid"}, nil)
)

type queueCollector struct {
	st    didrouter.Reader
	clock didrouter.Clock
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueOldestDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	wss, err := c.st.ListWorkspaces(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueDepthDesc, err)
		return
	}
	now := c.clock.Now()
	for _, ws := range wss {
		tasks, err := c.st.WaitingTasks(ctx, ws.SID, maxQueueScan)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(queueDepthDesc, err)
			return
		}
		oldest := 0.0
		for _, t := range tasks {
			if age := now.Sub(t.DateCreated).Seconds(); age > oldest {
				oldest = age
			}
		}
		ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(len(tasks)), ws.SID)
		ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, oldest, ws.SID)
	}
}
