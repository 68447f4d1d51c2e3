package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// taskIDPattern: the ids clients may choose.
var taskIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// taskMessage is the body of a queued message.
type taskMessage struct {
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// parseTaskRequest validates POST /tasks's body and returns the message to
// queue, its payload compacted (the bytes the worker hashes).
func parseTaskRequest(body []byte) (taskMessage, error) {
	var req taskMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("body: %w", err)
	}
	if !taskIDPattern.MatchString(req.ID) {
		return req, fmt.Errorf("id %q: want 1-128 characters of [A-Za-z0-9._:-]", req.ID)
	}
	if len(req.Payload) == 0 || string(req.Payload) == "null" {
		return req, errors.New("payload is missing")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, req.Payload); err != nil {
		return req, fmt.Errorf("payload: %w", err)
	}
	req.Payload = compact.Bytes()
	return req, nil
}

type orchestrator struct {
	cfg                                             Config
	log                                             *slog.Logger
	db                                              *pgxpool.Pool
	pub                                             *publisher
	accepted, repeated, failed, rejected, conflicts interface{ Add(int64) int64 }
}

func runOrchestrator(ctx context.Context, cfg Config, log *slog.Logger, m *Metrics) error {
	db, err := newPool(ctx, cfg.PostgresURL(cfg.PGHost))
	if err != nil {
		return err
	}
	defer db.Close()
	pub := &publisher{url: cfg.AMQPURL(), queue: cfg.Queue, log: log}
	bctx, bcancel := context.WithCancel(context.Background())
	defer bcancel()
	go pub.keep(bctx)
	defer pub.close()

	o := &orchestrator{
		cfg: cfg, log: log, db: db, pub: pub,
		accepted:  m.Counter("app_tasks_accepted_total", "Tasks stored and confirmed by the broker (202)."),
		repeated:  m.Counter("app_tasks_repeated_total", "POSTs of a task id already accepted (no second task)."),
		failed:    m.Counter("app_tasks_failed_total", "POSTs that failed on the database or the broker (503).", "stage", "accept"),
		rejected:  m.Counter("app_tasks_rejected_total", "POSTs with an invalid body (400)."),
		conflicts: m.Counter("app_tasks_conflict_total", "POSTs of a known id with another payload (409)."),
	}
	m.GaugeFunc("app_queue_messages", "Messages ready in the task queue (the backlog), asked at scrape.",
		func() (float64, bool) { n, ok := pub.depth(); return float64(n), ok }, "queue", cfg.Queue)
	m.GaugeFunc("app_tasks_queued", "Tasks in the database not completed yet (the lag behind the API).",
		func() (float64, bool) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var n int64
			if err := db.QueryRow(ctx, queuedCountSQL).Scan(&n); err != nil {
				return 0, false
			}
			return float64(n), true
		})

	s := newServer(cfg, log, m)
	s.checks["postgresql"] = func(ctx context.Context) error { return db.Ping(ctx) }
	s.checks["rabbitmq"] = func(context.Context) error {
		if !pub.ready() {
			return errors.New("channel not open")
		}
		return nil
	}
	s.mux.HandleFunc("GET /health/ready", s.ready)
	s.mux.HandleFunc("POST /tasks", func(w http.ResponseWriter, r *http.Request) {
		if s.stopping.Load() {
			w.Header().Set("Connection", "close")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "shutting down"})
			return
		}
		o.post(w, r)
	})
	s.mux.HandleFunc("GET /tasks/{id}", o.get)
	var schemaReady atomic.Bool
	s.checks["schema"] = func(context.Context) error {
		if !schemaReady.Load() {
			return errors.New("not created yet")
		}
		return nil
	}
	// Serve at once: alive while the database is still starting, ready once
	// the schema is there (the kubelet's startup probe decides how long is too long).
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.serve(ctx) }()
	for {
		err := ensureSchema(ctx, db)
		if err == nil {
			break
		}
		log.Warn("schema not created yet", "event", "schema_retry", "error", err.Error())
		select {
		case <-ctx.Done():
			return <-httpDone
		case <-time.After(2 * time.Second):
		}
	}
	schemaReady.Store(true)
	log.Info("schema ready", "event", "schema_ready")
	return <-httpDone
}

func (o *orchestrator) post(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		o.rejected.Add(1)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	msg, err := parseTaskRequest(body)
	if err != nil {
		o.rejected.Add(1)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	// Once accepted here the work goes on even if the client hangs up: a task
	// is never left stored but unpublished because a client went away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), o.cfg.PublishTimeout)
	defer cancel()
	created, same, published, state, err := insertTask(ctx, o.db, msg.ID, msg.Payload, o.cfg.Identity(), o.cfg.Version)
	if err != nil {
		o.fail(w, msg.ID, "insert", err)
		return
	}
	if !created {
		if !same {
			o.conflicts.Add(1)
			writeJSON(w, http.StatusConflict, map[string]string{"id": msg.ID, "error": "task id exists with another payload"})
			return
		}
		if published {
			o.repeated.Add(1)
			o.log.Info("task repeated", "event", "task_repeated", "task", msg.ID, "state", state)
			writeJSON(w, http.StatusOK, map[string]any{"id": msg.ID, "state": state, "repeated": true})
			return
		}
		// Stored by an earlier POST whose publish failed: publish now (the
		// worker's write is idempotent, so a second message is harmless).
	}
	body, _ = json.Marshal(msg)
	if err := o.pub.publish(ctx, msg.ID, body); err != nil {
		o.fail(w, msg.ID, "publish", err)
		return
	}
	if err := markPublished(ctx, o.db, msg.ID); err != nil {
		// Stored and queued: the task will complete; only the bookkeeping failed.
		o.log.Warn("published_at not recorded", "event", "mark_published_failed", "task", msg.ID, "error", err.Error())
	}
	o.accepted.Add(1)
	o.log.Info("task accepted", "event", "task_accepted", "task", msg.ID, "new", created)
	writeJSON(w, http.StatusAccepted, map[string]any{"id": msg.ID, "state": "queued"})
}

func (o *orchestrator) fail(w http.ResponseWriter, id, stage string, err error) {
	o.failed.Add(1)
	o.log.Error("task not accepted", "event", "task_accept_failed", "task", id, "stage", stage, "error", err.Error())
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"id": id, "error": stage + ": " + err.Error()})
}

func (o *orchestrator) get(w http.ResponseWriter, r *http.Request) {
	t, err := getTask(r.Context(), o.db, r.PathValue("id"))
	switch {
	case errors.Is(err, errNoTask):
		writeJSON(w, http.StatusNotFound, map[string]string{"id": r.PathValue("id"), "error": "no such task"})
	case err != nil:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, t)
	}
}
