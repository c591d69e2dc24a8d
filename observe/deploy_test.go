package observe_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rebound-go/rebound/observe"
)

// The alert rules and the Grafana dashboard in deploy/ must name only metrics this package
// exports, or they would silently never fire or show nothing.
func TestDeployFilesNameExportedMetrics(t *testing.T) {
	known := map[string]bool{}
	descRe := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for _, c := range append(observe.NewMetrics(nil).Collectors(), observe.NewEscalationCollector(nil, observe.EscalationConfig{})) {
		dc := make(chan *prometheus.Desc, 8)
		c.Describe(dc)
		close(dc)
		for d := range dc {
			for _, m := range descRe.FindAllStringSubmatch(d.String(), -1) {
				known[m[1]] = true
			}
		}
	}
	if !known["rebound_escalations_open"] || !known["rebound_checkpoint_write_seconds"] {
		t.Fatalf("could not read the metric names: %v", known)
	}
	nameRe := regexp.MustCompile(`rebound_[a-z_]+`)
	for _, path := range []string{"../deploy/prometheus/alerts.yml", "../deploy/grafana/rebound-dashboard.json"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nameRe.FindAllString(string(b), -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
			if !known[base] {
				t.Errorf("%s names %s, which package observe does not export", path, n)
			}
		}
	}
}
