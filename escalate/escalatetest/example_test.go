package escalatetest_test

import (
	"fmt"

	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/escalate/escalatetest"
)

// The redaction check of the suite: plant secrets in an escalation, look for them in what
// was kept.
func ExampleSecrets() {
	s := escalatetest.NewSecrets()
	e, fields := s.Plant("run-1")
	r := escalate.NewRedactor(fields...)
	kept := r.Text(e.Err.Error()) + r.Text(e.Context) + string(r.JSON(e.State))
	for _, m := range r.Messages(e.Messages) {
		kept += m.Content
	}
	fmt.Println("planted:", len(s.Leaks([]byte(e.Err.Error()+e.Context+string(e.State)))) > 0)
	fmt.Println("kept:", len(s.Leaks([]byte(kept))))
	// Output:
	// planted: true
	// kept: 0
}
