package main

// The migrate role: the orchestrator's schema migrations, run by a migration Job
// (deployctl.dev/migration, manifests/overlays/kind-real) before the orchestrator
// of the same version starts. Each version runs the steps up to its own, once:
// schema_migrations records each step applied, under an advisory lock.
//
//	v1               creates the schema (tasks)
//	v2               adds tasks.accepted_version, which the v2 orchestrator writes
//	                 (an expand step: v1 ignores the column, so v1 still works)
//	v2-badmigration  v2's steps, then one that fails halfway: its first statement
//	                 commits (task_audit), its second fails (the column exists)

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

type migration struct {
	step       string // recorded in schema_migrations when it succeeded
	statements []string
}

var migrations = map[string][]migration{
	"v1": {{"v1-create-tasks", []string{schemaSQL}}},
	"v2": {
		{"v1-create-tasks", []string{schemaSQL}},
		{"v2-accepted-version", []string{
			`ALTER TABLE tasks ADD COLUMN IF NOT EXISTS accepted_version text`,
		}},
	},
	"v2-badmigration": {
		{"v1-create-tasks", []string{schemaSQL}},
		{"v2-accepted-version", []string{
			`ALTER TABLE tasks ADD COLUMN IF NOT EXISTS accepted_version text`,
		}},
		{"v2-badmigration-audit", []string{
			`CREATE TABLE IF NOT EXISTS task_audit (id text PRIMARY KEY, at timestamptz)`,
			`ALTER TABLE tasks ADD COLUMN accepted_version text`, // not idempotent: fails
		}},
	},
}

const migrationsTableSQL = `CREATE TABLE IF NOT EXISTS schema_migrations (
    step       text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

func runMigrate(ctx context.Context, cfg Config, log *slog.Logger) error {
	steps, ok := migrations[cfg.Version]
	if !ok {
		return fmt.Errorf("no migrations for version %q", cfg.Version)
	}
	pool, err := pgxpool.New(ctx, cfg.PostgresURL(cfg.PGHost))
	if err != nil {
		return err
	}
	defer pool.Close()
	conn, err := waitForConn(ctx, pool, log)
	if err != nil {
		return err
	}
	defer conn.Release()
	// One migrator at a time; a session lock, so each statement can commit on its own.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7246102)`); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, migrationsTableSQL); err != nil {
		return err
	}
	for _, m := range steps {
		var done bool
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE step = $1)`, m.step).Scan(&done)
		if err != nil {
			return err
		}
		if done {
			log.Info("migration step applied already", "event", "migration_skipped", "step", m.step)
			continue
		}
		for i, statement := range m.statements {
			if _, err := conn.Exec(ctx, statement); err != nil {
				return fmt.Errorf("migration step %s, statement %d of %d: %w", m.step, i+1, len(m.statements), err)
			}
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (step) VALUES ($1)`, m.step); err != nil {
			return err
		}
		log.Info("migration step applied", "event", "migration_applied", "step", m.step)
	}
	log.Info("schema migrated", "event", "migrated", "version", cfg.Version)
	return nil
}

// waitForConn waits for the database (it may still be starting), up to a minute.
func waitForConn(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (*pgxpool.Conn, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		conn, err := pool.Acquire(ctx)
		if err == nil {
			return conn, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		log.Warn("database not reachable yet", "event", "migration_retry", "error", err.Error())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
