package fakellm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/rebound-go/rebound/fakellm"
)

func ExampleParseScript() {
	s, err := fakellm.ParseScript(`
seed 7
limit rps=20 burst=20
error 529 times=2 retry-after-ms=50   # two overloads, then success
latency 100ms..300ms p=0.1
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range s.Rules {
		fmt.Println(r.Name)
	}
	_, err = fakellm.ParseScript("error 529\nerror 529 tiems=2")
	fmt.Println(err)
	// Output:
	// line 4: error 529
	// line 5: latency 100ms..300ms
	// fault script line 2: unknown key "tiems" for error
}

// Two overloads, then success: what the Anthropic SDK sees with its retries off.
func ExampleServe() {
	h, err := fakellm.New("error 529 times=2", fakellm.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := fakellm.Serve(h)
	defer srv.Close()
	client := anthropic.NewClient(option.WithBaseURL(srv.AnthropicBaseURL), option.WithAPIKey("test"), option.WithMaxRetries(0))
	params := anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 100,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Write the outline"))},
	}
	for i := 0; i < 3; i++ {
		msg, err := client.Messages.New(context.Background(), params)
		var ae *anthropic.Error
		if errors.As(err, &ae) {
			fmt.Println(ae.StatusCode, ae.Type())
			continue
		}
		fmt.Println(msg.StopReason, msg.Content[0].Text)
	}
	fmt.Println(srv.Counters().ByStatus)
	// Output:
	// 529 overloaded_error
	// 529 overloaded_error
	// end_turn [fakellm 9fcc1bc8ef1c] Write the outline
	// map[200:1 529:2]
}

// The control plane replaces the script of a running server.
func ExampleHandler_control() {
	h, _ := fakellm.New("", fakellm.Options{})
	srv := fakellm.Serve(h)
	defer srv.Close()
	req, _ := http.NewRequest("PUT", srv.URL+"/_fakellm/script", strings.NewReader("quota\nexplode"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, strings.Contains(string(body), `"line":2`))
	// Output:
	// 400 true
}
