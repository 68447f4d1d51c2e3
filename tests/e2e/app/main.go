// Command app is the reference application of the stack for end-to-end runs on
// kind: one static binary that plays the orchestrator, a worker or the MCP
// server, picked by APP_ROLE (each role's image sets it) or the first
// argument. See README.md for what each role does, reads and serves.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	role := os.Getenv("APP_ROLE")
	if len(os.Args) > 1 {
		role = os.Args[1]
	}
	if role == roleLoad { // the real suite's load generator, not part of the stack
		if err := runLoad(os.Getenv); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(2)
		}
		return
	}
	cfg, err := LoadConfig(role, os.Getenv)
	log := newLogger(cfg)
	if err != nil {
		log.Error("cannot start", "event", "config_error", "error", err.Error())
		os.Exit(2)
	}
	log.Info("starting", "event", "start", "port", cfg.Port, "identity", cfg.Identity())

	// SIGTERM (the kubelet) and SIGINT: stop taking work, finish what is in flight.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	m := NewMetrics()
	m.GaugeFunc("app_build_info", "The role and version of this process.",
		func() (float64, bool) { return 1, true }, "role", cfg.Role, "version", cfg.Version)

	if role == roleMigrate { // a Job: migrate, then exit 0, or 1 with the reason
		if err := runMigrate(ctx, cfg, log); err != nil {
			log.Error("migration failed", "event", "migration_failed", "error", err.Error())
			os.Exit(1)
		}
		return
	}
	switch role {
	case roleOrchestrator:
		err = runOrchestrator(ctx, cfg, log, m)
	case roleWorker:
		err = runWorker(ctx, cfg, log, m)
	case roleMCP:
		err = runMCP(ctx, cfg, log, m)
	}
	if err != nil {
		log.Error("exiting", "event", "exit", "error", err.Error())
		os.Exit(1)
	}
	log.Info("stopped", "event", "exit")
}

func newLogger(cfg Config) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(cfg.LogLevel) {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	h := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level})
	return slog.New(h).With("role", cfg.Role, "version", cfg.Version)
}

// server is the HTTP side every role has: liveness, readiness, metrics, and
// the role's own routes.
type server struct {
	cfg      Config
	log      *slog.Logger
	metrics  *Metrics
	mux      *http.ServeMux
	stopping atomic.Bool
	// readiness checks, each with a short timeout; nil error = ready
	checks map[string]func(context.Context) error
}

func newServer(cfg Config, log *slog.Logger, m *Metrics) *server {
	s := &server{cfg: cfg, log: log, metrics: m, mux: http.NewServeMux(), checks: map[string]func(context.Context) error{}}
	s.mux.HandleFunc("GET /health/live", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	s.mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = m.Write(w)
	})
	s.mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"role": cfg.Role, "version": cfg.Version, "host": cfg.Hostname})
	})
	return s
}

// ready answers the readiness probe: not while stopping, and only when every
// dependency answers.
func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	if s.stopping.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "stopping"})
		return
	}
	failed := map[string]string{}
	for name, check := range s.checks {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		if err := check(ctx); err != nil {
			failed[name] = err.Error()
		}
		cancel()
	}
	if len(failed) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unready", "failed": failed})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// serve runs the HTTP server until ctx ends, then stops accepting connections
// and waits (up to the shutdown timeout) for the requests in flight.
func (s *server) serve(ctx context.Context) error {
	srv := &http.Server{
		Addr: ":" + strconv.Itoa(s.cfg.Port),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-App-Version", s.cfg.Version)
			s.mux.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	s.log.Info("SIGTERM: readiness fails, no new connections; finishing requests in flight", "event", "shutdown_begin")
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
