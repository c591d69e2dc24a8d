package fakellm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ListenAndServe serves h on addr (e.g. "127.0.0.1:8089"; port 0 picks one) until ctx ends,
// then releases hanging requests and shuts the server down. ready, if not nil, is called with
// the address actually listened on once the listener is open. It returns nil after a shutdown
// caused by ctx.
func ListenAndServe(ctx context.Context, addr string, h *Handler, ready func(addr string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fakellm listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("fakellm serve: %w", err)
	case <-ctx.Done():
	}
	h.Close()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("fakellm shutdown: %w", err)
	}
	return nil
}
