package main

import "net/http"

// dashboardHandler is the hook where the dashboard's owner mounts the dashboard: it returns the
// whole handler for `rebound serve` (the dashboard serves /metrics and /healthz from
// deps.metricsHandler and deps.healthz), or nil to serve only /metrics and /healthz.
func dashboardHandler(deps serveDeps) (http.Handler, error) {
	_ = deps
	return nil, nil
}
