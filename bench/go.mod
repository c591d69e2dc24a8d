module github.com/rebound-go/rebound/bench

go 1.26.0

require github.com/rebound-go/rebound v0.0.0

replace github.com/rebound-go/rebound => ../
