package main

import (
	"bufio"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// histogram is a Prometheus histogram's cumulative bucket counts by upper bound, summed over
// its label sets.
type histogram map[float64]float64

// scrapeHistogram reads the histogram name from a gateway's /metrics (nil if absent).
func scrapeHistogram(base, name string) histogram {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	h := histogram{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"_bucket{") {
			continue
		}
		i := strings.Index(line, `le="`)
		if i < 0 {
			continue
		}
		rest := line[i+4:]
		j := strings.IndexByte(rest, '"')
		le, err1 := strconv.ParseFloat(rest[:j], 64)
		if rest[:j] == "+Inf" {
			le, err1 = 1e18, nil
		}
		f := strings.Fields(line)
		n, err2 := strconv.ParseFloat(f[len(f)-1], 64)
		if err1 == nil && err2 == nil {
			h[le] += n
		}
	}
	return h
}

// quantile estimates the q-quantile of the observations between before and after (linear
// within a bucket, as Prometheus's histogram_quantile does).
func quantile(before, after histogram, q float64) (time.Duration, bool) {
	if after == nil {
		return 0, false
	}
	var les []float64
	for le := range after {
		les = append(les, le)
	}
	slices.Sort(les)
	if len(les) == 0 {
		return 0, false
	}
	total := after[les[len(les)-1]] - before[les[len(les)-1]]
	if total <= 0 {
		return 0, false
	}
	rank := q * total
	prevLE, prevN := 0.0, 0.0
	for _, le := range les {
		n := after[le] - before[le]
		if n >= rank {
			if le >= 1e18 {
				return time.Duration(prevLE * float64(time.Second)), true
			}
			frac := 0.0
			if n > prevN {
				frac = (rank - prevN) / (n - prevN)
			}
			return time.Duration((prevLE + frac*(le-prevLE)) * float64(time.Second)), true
		}
		prevLE, prevN = le, n
	}
	return 0, false
}
