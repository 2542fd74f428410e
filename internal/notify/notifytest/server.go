package notifytest

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server serves one fake on a loopback port. Close stops it and waits for
// every connection it accepted, so no handler outlives it.
type Server struct {
	// URL is the base URL, "http://127.0.0.1:<port>", without a trailing
	// slash.
	URL string

	srv   *http.Server
	done  chan struct{} // closed when Serve has returned
	conns sync.WaitGroup
}

// serve starts h on a free port of 127.0.0.1. The fakes never listen on
// other interfaces: they accept any well-formed request, and the machine
// they run on is not theirs to expose.
func serve(h http.Handler) (*Server, error) { return Serve(h, "127.0.0.1:0") }

// Serve starts h on addr, which must be a loopback address (a command
// that runs a fake, such as tocsin bench storm, picks its own port).
func Serve(h http.Handler, addr string) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("fake server address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("fake server address %q: fakes listen on loopback only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for fake server: %w", err)
	}
	s := &Server{
		URL:  "http://" + ln.Addr().String(),
		done: make(chan struct{}),
	}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		// No write timeout: a Fault may hold a request on purpose until
		// the client gives up.
		ConnState: func(_ net.Conn, st http.ConnState) {
			// net/http reports StateNew once per connection from the
			// Serve goroutine and ends every connection with StateClosed
			// or StateHijacked, so the counter is balanced, and it is
			// never raised after Close has seen Serve return.
			switch st {
			case http.StateNew:
				s.conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				s.conns.Done()
			}
		},
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln) // always ErrServerClosed after Close, or a listener failure
	}()
	return s, nil
}

// Close closes the listener and every connection, including requests a
// Fault is holding, then waits until all of them have finished. Calling it
// again does nothing more.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	s.conns.Wait()
	return err
}
