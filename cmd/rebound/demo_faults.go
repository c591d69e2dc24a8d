package main

// The demo's default models on the built-in fake, and its fault script: each rule makes one
// recovery pattern visible. Rules match the last user message, which every step's prompt starts
// with its name in brackets.
const (
	demoPrimary  = "demo-large"
	demoFallback = "demo-small"
)

const demoFaults = `# The demo's default fault script (rebound demo --faults FILE replaces it).
# outline: rate limited twice; the server says when to come back (retry-after-ms)
error 429 retry-after-ms=700 contains="[outline]" times=2
# section_1: a call that never answers, cut by the attempt timeout, then retried
hang contains="[section_1]" times=1
# section_2: prose where JSON was asked for, repaired by re-asking with the parse error
not-json contains="[section_2]" times=1
# section_3: the primary model is overloaded; its breaker opens and the fallback model answers
error 529 model=demo-large contains="[section_3]"
`
