package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The schema (v1), created by the v1 migration (migrate.go) and, for a stack with no
// migration Job, at start if missing. One row per
// task id: the id is the primary key, which is what makes POST /tasks
// idempotent; state moves queued -> completed once, which is what makes the
// worker's write idempotent.
const schemaSQL = `
CREATE TABLE IF NOT EXISTS tasks (
    id           text PRIMARY KEY,
    payload      jsonb NOT NULL,
    state        text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'completed', 'failed')),
    result       text,
    deliveries   integer NOT NULL DEFAULT 0,
    accepted_by  text NOT NULL,
    completed_by text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    completed_at timestamptz
)`

// schemaLock serialises the CREATE TABLE of roles starting together (two
// concurrent CREATE TABLE IF NOT EXISTS can both try to create the row type).
const schemaLockSQL = `SELECT pg_advisory_xact_lock(7246101)`

// insertTaskSQL stores a new task; an existing id is left alone (no second task).
const insertTaskSQL = `INSERT INTO tasks (id, payload, accepted_by) VALUES ($1, $2, $3)
ON CONFLICT (id) DO NOTHING`

// insertTaskVersionedSQL is v2's insert: it also writes accepted_version, the column v2's
// migration adds (migrate.go). v1's insert leaves it NULL: v1 works on either schema.
const insertTaskVersionedSQL = `INSERT INTO tasks (id, payload, accepted_by, accepted_version)
VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`

// writesVersion: from v2 on, the orchestrator writes accepted_version.
func writesVersion(version string) bool {
	return strings.HasPrefix(version, "v2")
}

// existingTaskSQL tells a repeated POST whether it repeats the same payload and
// whether the first one reached the broker.
const existingTaskSQL = `SELECT payload = $2::jsonb, state, published_at IS NOT NULL
FROM tasks WHERE id = $1`

const markPublishedSQL = `UPDATE tasks SET published_at = now() WHERE id = $1 AND published_at IS NULL`

// countDeliverySQL takes the row's lock for the rest of the transaction, so that
// two deliveries of one task (a redelivery racing the first) run one after the
// other; the second then sees the first's committed state.
const countDeliverySQL = `UPDATE tasks SET deliveries = deliveries + 1 WHERE id = $1
RETURNING state, coalesce(result, '')`

// completeTaskSQL writes the result once: guarded by state, a redelivered
// message changes nothing.
const completeTaskSQL = `UPDATE tasks SET state = 'completed', result = $2, completed_by = $3,
completed_at = now() WHERE id = $1 AND state = 'queued'`

const getTaskSQL = `SELECT id, payload::text, state, coalesce(result, ''), deliveries, accepted_by,
coalesce(completed_by, ''), created_at, published_at, completed_at FROM tasks WHERE id = $1`

const queuedCountSQL = `SELECT count(*) FROM tasks WHERE state = 'queued'`

var errNoTask = errors.New("no such task")

// Task is a row of tasks as GET /tasks/{id} returns it.
type Task struct {
	ID          string     `json:"id"`
	Payload     rawJSON    `json:"payload"`
	State       string     `json:"state"`
	Result      string     `json:"result,omitempty"`
	Deliveries  int        `json:"deliveries"`
	AcceptedBy  string     `json:"accepted_by"`
	CompletedBy string     `json:"completed_by,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

func ensureSchema(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, schemaLockSQL); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schemaSQL)
		return err
	})
}

// insertTask reports whether the row is new; if not, whether the payload is the
// one stored and whether that task was published.
func insertTask(ctx context.Context, pool *pgxpool.Pool, id string, payload []byte, by, version string) (created, samePayload, published bool, state string, err error) {
	var tag pgconn.CommandTag
	if writesVersion(version) {
		tag, err = pool.Exec(ctx, insertTaskVersionedSQL, id, string(payload), by, version)
	} else {
		tag, err = pool.Exec(ctx, insertTaskSQL, id, string(payload), by)
	}
	if err != nil {
		return false, false, false, "", err
	}
	if tag.RowsAffected() == 1 {
		return true, true, false, "queued", nil
	}
	err = pool.QueryRow(ctx, existingTaskSQL, id, string(payload)).Scan(&samePayload, &state, &published)
	return false, samePayload, published, state, err
}

func markPublished(ctx context.Context, pool *pgxpool.Pool, id string) error {
	_, err := pool.Exec(ctx, markPublishedSQL, id)
	return err
}

// completeTask records one delivery of the task and, the first time only, its
// result. It returns whether this call completed it and the stored result.
func completeTask(ctx context.Context, pool *pgxpool.Pool, id, result, by string) (completed bool, stored string, err error) {
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var state string
		if err := tx.QueryRow(ctx, countDeliverySQL, id).Scan(&state, &stored); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return errNoTask
			}
			return err
		}
		if state != "queued" {
			return nil
		}
		tag, err := tx.Exec(ctx, completeTaskSQL, id, result, by)
		if err != nil {
			return err
		}
		completed = tag.RowsAffected() == 1
		if completed {
			stored = result
		}
		return nil
	})
	return completed, stored, err
}

func getTask(ctx context.Context, pool *pgxpool.Pool, id string) (Task, error) {
	var t Task
	var payload string
	err := pool.QueryRow(ctx, getTaskSQL, id).Scan(&t.ID, &payload, &t.State, &t.Result,
		&t.Deliveries, &t.AcceptedBy, &t.CompletedBy, &t.CreatedAt, &t.PublishedAt, &t.CompletedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, errNoTask
	}
	t.Payload = rawJSON(payload)
	return t, err
}

func newPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 10
	return pgxpool.NewWithConfig(ctx, cfg)
}
