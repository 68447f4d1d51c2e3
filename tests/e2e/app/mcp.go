package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

const resultSQL = `SELECT state, coalesce(result, '') FROM tasks WHERE id = $1`

func runMCP(ctx context.Context, cfg Config, log *slog.Logger, m *Metrics) error {
	// Reads go to the replicas' Service; no schema work here.
	db, err := newPool(ctx, cfg.PostgresURL(cfg.PGReadHost))
	if err != nil {
		return err
	}
	defer db.Close()
	rdb := newRedis(cfg)
	defer rdb.Close()
	fromRedis := m.Counter("app_results_served_total", "Results served, by where they were found.", "source", "redis")
	fromPG := m.Counter("app_results_served_total", "Results served, by where they were found.", "source", "postgresql")
	missing := m.Counter("app_results_missing_total", "GET /results for a task unknown or not completed.")
	failed := m.Counter("app_tasks_failed_total", "Result lookups that failed on both stores.", "stage", "read")

	s := newServer(cfg, log, m)
	client := &http.Client{Timeout: 2 * time.Second}
	s.checks["redis"] = func(ctx context.Context) error { return rdb.Ping(ctx).Err() }
	s.checks["postgresql-read"] = func(ctx context.Context) error { return db.Ping(ctx) }
	// The manifests' /health also checks the orchestrator behind the server.
	s.checks["orchestrator"] = func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.OrchestratorURL+"/health/live", nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("orchestrator: HTTP %d", resp.StatusCode)
		}
		return nil
	}
	s.mux.HandleFunc("GET /health", s.ready)
	s.mux.HandleFunc("GET /health/ready", s.ready)
	s.mux.HandleFunc("GET /results/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		v, err := rdb.Get(r.Context(), resultKey(id)).Result()
		if err == nil {
			fromRedis.Add(1)
			writeJSON(w, http.StatusOK, map[string]string{"id": id, "result": v, "source": "redis"})
			return
		}
		if !errors.Is(err, redis.Nil) {
			log.Warn("redis read failed; reading the replica", "event", "cache_read_failed", "task", id, "error", err.Error())
		}
		var state, result string
		err = db.QueryRow(r.Context(), resultSQL, id).Scan(&state, &result)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			missing.Add(1)
			writeJSON(w, http.StatusNotFound, map[string]string{"id": id, "error": "no such task"})
		case err != nil:
			failed.Add(1)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"id": id, "error": err.Error()})
		case state != "completed":
			missing.Add(1)
			writeJSON(w, http.StatusNotFound, map[string]string{"id": id, "state": state, "error": "not completed"})
		default:
			fromPG.Add(1)
			writeJSON(w, http.StatusOK, map[string]string{"id": id, "result": result, "source": "postgresql"})
		}
	})
	return s.serve(ctx)
}
