// Package peers holds benchmarks of Rebound's breaker and retry against peer libraries:
// sony/gobreaker v2, failsafe-go and cenkalti/backoff v5. It has no code of its own; run
//
//	cd bench && go test -run '^$' -bench . -benchmem ./peers/
//
// See bench/README.md for a table of one run.
package peers
