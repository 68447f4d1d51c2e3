package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// env is the environment the manifests give (dev ConfigMaps, Secrets' keys)
// plus what is asked per test.
func env(role string, extra map[string]string) func(string) string {
	m := map[string]string{
		"LOG_LEVEL":         "info",
		"POSTGRES_HOST":     "postgresql",
		"POSTGRES_PORT":     "5432",
		"POSTGRES_DB":       "orchestrator",
		"POSTGRES_USER":     "postgres",
		"POSTGRES_PASSWORD": "p@ss:w/rd",
		"RABBITMQ_HOST":     "rabbitmq",
		"RABBITMQ_PORT":     "5672",
		"RABBITMQ_VHOST":    "/",
		"RABBITMQ_USER":     "app",
		"RABBITMQ_PASSWORD": "s3cret",
		"REDIS_HOST":        "redis",
		"REDIS_PORT":        "6379",
		"REDIS_PASSWORD":    "r",
	}
	switch role {
	case roleWorker:
		m["METRICS_PORT"] = "8081"
	case roleMCP:
		m["PORT"] = "3001"
		m["ORCHESTRATOR_URL"] = "http://orchestrator/"
	default:
		m["PORT"] = "8080"
	}
	for k, v := range extra {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestConfigPerRole(t *testing.T) {
	c, err := LoadConfig(roleOrchestrator, env(roleOrchestrator, nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.Queue != "tasks" || c.Prefetch != 10 || c.ShutdownTimeout != 45*time.Second {
		t.Errorf("orchestrator: %+v", c)
	}
	if got, want := c.AMQPURL(), "amqp://app:s3cret@rabbitmq:5672/%2F"; got != want {
		t.Errorf("AMQPURL = %s, want %s", got, want)
	}
	if got := c.PostgresURL(c.PGHost); !strings.HasPrefix(got, "postgres://postgres:p%40ss%3Aw%2Frd@postgresql:5432/orchestrator?") {
		t.Errorf("PostgresURL = %s", got)
	}

	w, err := LoadConfig(roleWorker, env(roleWorker, map[string]string{"WORKER_PREFETCH": "3", "WORKER_WORK_DELAY": "40ms"}))
	if err != nil {
		t.Fatal(err)
	}
	if w.Port != 8081 || w.Prefetch != 3 || w.WorkDelay != 40*time.Millisecond || w.SentinelHost != "" || w.ShutdownTimeout != 100*time.Second {
		t.Errorf("worker: %+v", w)
	}

	m, err := LoadConfig(roleMCP, env(roleMCP, map[string]string{
		"REDIS_SENTINEL_HOST": "redis-sentinel", "REDIS_SENTINEL_PORT": "26379", "REDIS_SENTINEL_MASTER": "mymaster",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if m.Port != 3001 || m.OrchestratorURL != "http://orchestrator" || m.PGReadHost != "postgresql-read" ||
		m.SentinelHost != "redis-sentinel" || m.SentinelPort != 26379 || m.SentinelMaster != "mymaster" || m.AMQPHost != "" {
		t.Errorf("mcp-server: %+v", m)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := LoadConfig("scheduler", env(roleWorker, nil)); err == nil || !strings.Contains(err.Error(), "unknown role") {
		t.Errorf("unknown role: %v", err)
	}
	_, err := LoadConfig(roleWorker, env(roleWorker, map[string]string{"RABBITMQ_USER": "", "METRICS_PORT": "x", "RESULT_TTL": "soon"}))
	for _, want := range []string{"RABBITMQ_USER is not set", `METRICS_PORT="x"`, `RESULT_TTL="soon"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	// mcp-server needs no broker credentials, but the read replica's password.
	if _, err := LoadConfig(roleMCP, env(roleMCP, map[string]string{"RABBITMQ_USER": ""})); err != nil {
		t.Errorf("mcp-server without broker settings: %v", err)
	}
	if _, err := LoadConfig(roleMCP, env(roleMCP, map[string]string{"POSTGRES_PASSWORD": ""})); err == nil {
		t.Error("mcp-server without POSTGRES_PASSWORD: no error")
	}
}

func normalize(sql string) string { return strings.Join(strings.Fields(sql), " ") }

// The statements that make the app idempotent, by shape.
func TestIdempotencySQL(t *testing.T) {
	for name, c := range map[string]struct{ sql, want string }{
		"insert keeps the first task": {insertTaskSQL, "ON CONFLICT (id) DO NOTHING"},
		"completion is guarded":       {completeTaskSQL, "WHERE id = $1 AND state = 'queued'"},
		"delivery takes the row lock": {countDeliverySQL, "UPDATE tasks SET deliveries = deliveries + 1 WHERE id = $1 RETURNING state"},
		"publish marked once":         {markPublishedSQL, "WHERE id = $1 AND published_at IS NULL"},
		"id is the primary key":       {schemaSQL, "id text PRIMARY KEY"},
		"schema only if missing":      {schemaSQL, "CREATE TABLE IF NOT EXISTS tasks"},
	} {
		if !strings.Contains(normalize(c.sql), c.want) {
			t.Errorf("%s: %q not in %q", name, c.want, normalize(c.sql))
		}
	}
	if strings.Contains(normalize(completeTaskSQL), "INSERT") {
		t.Error("completion must update the accepted row, not insert one")
	}
}

func TestParseTaskRequest(t *testing.T) {
	msg, err := parseTaskRequest([]byte(`{"id": "a-1", "payload": {"n": 1,  "text": "x"}}`))
	if err != nil || msg.ID != "a-1" || string(msg.Payload) != `{"n":1,"text":"x"}` {
		t.Errorf("got %+v %v", msg, err)
	}
	for _, body := range []string{`{"id": "", "payload": 1}`, `{"id": "a b", "payload": 1}`, `{"id": "a"}`,
		`{"id": "a", "payload": null}`, `{"id": "a", "payload": 1, "x": 2}`, `not json`} {
		if _, err := parseTaskRequest([]byte(body)); err == nil {
			t.Errorf("%s: accepted", body)
		}
	}
	// The worker's result is the hash of exactly the bytes queued.
	if got := work([]byte(`{"n":1,"text":"x"}`)); len(got) != 64 {
		t.Errorf("work: %s", got)
	}
}

func TestMetricsText(t *testing.T) {
	m := NewMetrics()
	m.Counter("app_tasks_completed_total", "Tasks completed.").Add(3)
	m.Counter("app_results_served_total", "Results served.", "source", "redis").Add(2)
	m.Counter("app_results_served_total", "Results served.", "source", "postgresql").Add(1)
	m.Counter("app_results_served_total", "Results served.", "source", "redis").Add(1)
	m.GaugeFunc("app_queue_messages", "Backlog.", func() (float64, bool) { return 7, true }, "queue", "tasks")
	m.GaugeFunc("app_absent", "Not known now.", func() (float64, bool) { return 0, false })
	var b strings.Builder
	if err := m.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP app_absent Not known now.
# TYPE app_absent gauge
# HELP app_queue_messages Backlog.
# TYPE app_queue_messages gauge
app_queue_messages{queue="tasks"} 7
# HELP app_results_served_total Results served.
# TYPE app_results_served_total counter
app_results_served_total{source="postgresql"} 1
app_results_served_total{source="redis"} 3
# HELP app_tasks_completed_total Tasks completed.
# TYPE app_tasks_completed_total counter
app_tasks_completed_total 3
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	sample := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? -?[0-9.e+]+$`)
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if !strings.HasPrefix(line, "# ") && !sample.MatchString(line) {
			t.Errorf("not a sample line: %q", line)
		}
	}
	if got := renderLabels([]string{"k", "a\"b\\c\nd"}); got != `{k="a\"b\\c\nd"}` {
		t.Errorf("escaping: %s", got)
	}
}
