package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
)

// newRedis finds the master through Sentinel where REDIS_SENTINEL_HOST is set
// (staging, production), else talks to REDIS_HOST directly (dev: one Redis).
func newRedis(cfg Config) redis.UniversalClient {
	if cfg.SentinelHost != "" {
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:       cfg.SentinelMaster,
			SentinelAddrs:    []string{net.JoinHostPort(cfg.SentinelHost, strconv.Itoa(cfg.SentinelPort))},
			SentinelPassword: cfg.RedisPassword,
			Password:         cfg.RedisPassword,
			DialTimeout:      3 * time.Second,
		})
	}
	return redis.NewClient(&redis.Options{
		Addr:        net.JoinHostPort(cfg.RedisHost, strconv.Itoa(cfg.RedisPort)),
		Password:    cfg.RedisPassword,
		DialTimeout: 3 * time.Second,
	})
}

func resultKey(id string) string { return "result:" + id }

// work is the task itself: the payload's SHA-256, hex.
func work(payload []byte) string {
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:])
}

type worker struct {
	cfg                                      Config
	log                                      *slog.Logger
	db                                       *pgxpool.Pool
	rdb                                      redis.UniversalClient
	completed, redelivered, failed, cacheErr *atomic.Int64
	consuming                                atomic.Bool
}

func runWorker(ctx context.Context, cfg Config, log *slog.Logger, m *Metrics) error {
	db, err := newPool(ctx, cfg.PostgresURL(cfg.PGHost))
	if err != nil {
		return err
	}
	defer db.Close()
	rdb := newRedis(cfg)
	defer rdb.Close()
	w := &worker{
		cfg: cfg, log: log, db: db, rdb: rdb,
		completed:   m.Counter("app_tasks_completed_total", "Tasks this worker completed (result written the first time)."),
		redelivered: m.Counter("app_tasks_redelivered_total", "Deliveries of a task already completed (acked, nothing written)."),
		failed:      m.Counter("app_tasks_failed_total", "Deliveries that could not be processed.", "stage", "work"),
		cacheErr:    m.Counter("app_cache_errors_total", "Results not written to Redis (still in PostgreSQL)."),
	}
	s := newServer(cfg, log, m)
	s.checks["postgresql"] = func(ctx context.Context) error { return db.Ping(ctx) }
	s.checks["redis"] = func(ctx context.Context) error { return rdb.Ping(ctx).Err() }
	s.checks["rabbitmq"] = func(context.Context) error {
		if !w.consuming.Load() {
			return errors.New("not consuming")
		}
		return nil
	}
	s.mux.HandleFunc("GET /health/ready", s.ready)
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.serve(ctx) }()

	for ctx.Err() == nil {
		if err := ensureSchema(ctx, db); err != nil {
			log.Warn("schema not ready", "event", "schema_retry", "error", err.Error())
		} else if err := w.consume(ctx); err != nil {
			log.Warn("consumer stopped", "event", "consumer_error", "error", err.Error())
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	return <-httpDone
}

// consume runs one broker connection until it closes or ctx ends. On ctx's end
// it cancels the consumer, finishes (and acks) the deliveries in hand, and
// closes the channel, which hands any other unacked message back to the queue.
func (w *worker) consume(ctx context.Context) error {
	conn, err := amqp.DialConfig(w.cfg.AMQPURL(), amqp.Config{Heartbeat: 10 * time.Second, Properties: amqp.Table{"connection_name": "worker " + w.cfg.Hostname}})
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if err := declareQueue(ch, w.cfg.Queue); err != nil {
		return err
	}
	if err := ch.Qos(w.cfg.Prefetch, 0, false); err != nil {
		return err
	}
	tag := "worker-" + w.cfg.Hostname
	deliveries, err := ch.ConsumeWithContext(context.Background(), w.cfg.Queue, tag, false, false, false, false, nil)
	if err != nil {
		return err
	}
	w.consuming.Store(true)
	defer w.consuming.Store(false)
	w.log.Info("consuming", "event", "consumer_started", "queue", w.cfg.Queue, "prefetch", w.cfg.Prefetch)

	var wg sync.WaitGroup
	for range w.cfg.Prefetch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range deliveries {
				w.handle(d)
			}
		}()
	}
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	select {
	case <-ctx.Done():
		w.consuming.Store(false)
		w.log.Info("SIGTERM: consumer cancelled; finishing deliveries in hand", "event", "shutdown_begin")
		if err := ch.Cancel(tag, false); err != nil {
			w.log.Warn("cancel failed", "event", "cancel_failed", "error", err.Error())
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(w.cfg.ShutdownTimeout):
			w.log.Warn("shutdown timeout: unfinished deliveries go back to the queue", "event", "shutdown_timeout")
		}
		ch.Close()
		return nil
	case err := <-closed:
		wg.Wait()
		if err == nil {
			return errors.New("connection closed")
		}
		return err
	}
}

// handle processes one delivery: work, write once by task id, cache, ack. It
// deliberately ignores the shutdown: a delivery in hand is finished.
func (w *worker) handle(d amqp.Delivery) {
	var msg taskMessage
	if err := json.Unmarshal(d.Body, &msg); err != nil || msg.ID == "" {
		w.failed.Add(1)
		w.log.Error("malformed message dropped", "event", "task_malformed", "message_id", d.MessageId)
		_ = d.Reject(false)
		return
	}
	if w.cfg.WorkDelay > 0 {
		time.Sleep(w.cfg.WorkDelay)
	}
	result := work(msg.Payload)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	completed, stored, err := completeTask(ctx, w.db, msg.ID, result, w.cfg.Identity())
	switch {
	case errors.Is(err, errNoTask):
		w.failed.Add(1)
		w.log.Error("message for an unknown task dropped", "event", "task_unknown", "task", msg.ID)
		_ = d.Ack(false)
		return
	case err != nil:
		w.failed.Add(1)
		w.log.Error("result not written; message requeued", "event", "task_retry", "task", msg.ID, "error", err.Error())
		time.Sleep(time.Second)
		_ = d.Nack(false, true)
		return
	}
	// The cache is best effort: the result is in PostgreSQL already, where
	// mcp-server falls back to.
	if err := w.rdb.Set(ctx, resultKey(msg.ID), stored, w.cfg.ResultTTL).Err(); err != nil {
		w.cacheErr.Add(1)
		w.log.Warn("result not cached", "event", "cache_failed", "task", msg.ID, "error", err.Error())
	}
	if err := d.Ack(false); err != nil {
		// The broker redelivers it; the write above makes that harmless.
		w.log.Warn("ack failed", "event", "ack_failed", "task", msg.ID, "error", err.Error())
	}
	if completed {
		w.completed.Add(1)
		w.log.Info("task completed", "event", "task_completed", "task", msg.ID, "redelivered", d.Redelivered)
	} else {
		w.redelivered.Add(1)
		w.log.Info("task already completed; delivery acked", "event", "task_duplicate", "task", msg.ID, "redelivered", d.Redelivered)
	}
}
