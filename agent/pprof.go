package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/aerolithdb/aerolith/internal/nodehost"
)

// pprofWriteTimeout bounds a profiling answer: profiles and traces of up to
// about five minutes.
const pprofWriteTimeout = 5*time.Minute + 10*time.Second

// servePprof serves Go's profiling endpoints (/debug/pprof/...) on addr,
// on a listener of its own so they never share the data API's port or
// its authentication: --pprof-addr is meant for loopback.
func servePprof(addr string, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// Timeouts as on the data API, except that writes may take as long as
	// the longest profile or trace one is likely to ask for (?seconds=).
	srv := nodehost.HTTPServer(mux, pprofWriteTimeout)
	log.Warn("profiling endpoint enabled (unauthenticated)", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof server stopped", "err", err)
		}
	}()
	return srv, nil
}
