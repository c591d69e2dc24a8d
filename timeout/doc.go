// Package timeout bounds one attempt of an operation in time, and keeps the attempt's own
// deadline apart from the caller's: the first is a failure of class timeout (retried, counted by
// a breaker), the second is the caller stopping (class canceled: not retried, neutral).
//
//	text, err := timeout.Do(ctx, 30*time.Second, call)
//
// In a composition it is the innermost layer, inside the breaker, so that a hung call counts
// as a breaker failure (see package breaker's "Composition").
package timeout
