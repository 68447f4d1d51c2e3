package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Roles the binary plays; APP_ROLE (set by each image) or the first argument picks one.
const (
	roleOrchestrator = "orchestrator"
	roleWorker       = "worker"
	roleMCP          = "mcp-server"
	roleLoad         = "load"    // tests/real's load generator (load.go)
	roleMigrate      = "migrate" // the orchestrator's schema migrations (migrate.go)
)

// Config is everything a role reads from its environment. The names are the
// manifests' (ConfigMaps orchestrator-config, worker-config, mcp-server-config,
// the redis-sentinel Component's REDIS_SENTINEL_*, and the Secrets' keys as the
// Deployments map them); the rest have defaults (README.md lists them).
type Config struct {
	Role     string
	Version  string
	Hostname string
	Port     int // PORT (orchestrator, mcp-server) or METRICS_PORT (worker)
	LogLevel string

	PGHost, PGReadHost, PGDB, PGUser, PGPassword string
	PGPort                                       int

	AMQPHost, AMQPVHost, AMQPUser, AMQPPassword string
	AMQPPort                                    int
	Queue                                       string
	Prefetch                                    int

	RedisHost, RedisPassword     string
	RedisPort                    int
	SentinelHost, SentinelMaster string
	SentinelPort                 int
	ResultTTL                    time.Duration
	OrchestratorURL              string
	WorkDelay, ShutdownTimeout   time.Duration
	PublishTimeout               time.Duration
}

// defaultShutdown is what each role allows itself after SIGTERM: the
// manifests' terminationGracePeriodSeconds (60, 120, 30) less the preStop
// sleep (5 s) and a margin.
var defaultShutdown = map[string]time.Duration{
	roleOrchestrator: 45 * time.Second,
	roleWorker:       100 * time.Second,
	roleMCP:          20 * time.Second,
}

// LoadConfig reads a role's settings through getenv (os.Getenv in main).
func LoadConfig(role string, getenv func(string) string) (Config, error) {
	var errs []string
	str := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	need := func(name string) string {
		v := getenv(name)
		if v == "" {
			errs = append(errs, name+" is not set")
		}
		return v
	}
	num := func(name string, def int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Sprintf("%s=%q is not a positive integer", name, v))
			return def
		}
		return n
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Sprintf("%s=%q is not a duration", name, v))
			return def
		}
		return d
	}

	c := Config{Role: role, Version: str("APP_VERSION", "dev"), LogLevel: str("LOG_LEVEL", "info")}
	c.Hostname, _ = os.Hostname()
	switch role {
	case roleOrchestrator, roleMCP:
		c.Port = num("PORT", map[string]int{roleOrchestrator: 8080, roleMCP: 3001}[role])
	case roleWorker:
		c.Port = num("METRICS_PORT", 8081)
	case roleMigrate:
	default:
		return c, fmt.Errorf("unknown role %q (want %s, %s or %s)", role, roleOrchestrator, roleWorker, roleMCP)
	}

	// PostgreSQL: every role. mcp-server reads through the replicas' Service.
	c.PGHost = str("POSTGRES_HOST", "postgresql")
	c.PGReadHost = str("POSTGRES_READ_HOST", "postgresql-read")
	c.PGPort = num("POSTGRES_PORT", 5432)
	c.PGDB = str("POSTGRES_DB", "orchestrator")
	c.PGUser = str("POSTGRES_USER", "postgres")
	c.PGPassword = need("POSTGRES_PASSWORD")

	// RabbitMQ: orchestrator and worker.
	if role == roleOrchestrator || role == roleWorker {
		c.AMQPHost = str("RABBITMQ_HOST", "rabbitmq")
		c.AMQPPort = num("RABBITMQ_PORT", 5672)
		c.AMQPVHost = str("RABBITMQ_VHOST", "/")
		c.AMQPUser = need("RABBITMQ_USER")
		c.AMQPPassword = need("RABBITMQ_PASSWORD")
		c.Queue = str("TASK_QUEUE", "tasks")
		c.Prefetch = num("WORKER_PREFETCH", 10)
		c.PublishTimeout = dur("PUBLISH_TIMEOUT", 10*time.Second)
	}

	// Redis: worker and mcp-server (the orchestrator is given it but has no use for it).
	if role == roleWorker || role == roleMCP {
		c.RedisHost = str("REDIS_HOST", "redis")
		c.RedisPort = num("REDIS_PORT", 6379)
		c.RedisPassword = getenv("REDIS_PASSWORD")
		c.SentinelHost = getenv("REDIS_SENTINEL_HOST")
		if c.SentinelHost != "" {
			c.SentinelPort = num("REDIS_SENTINEL_PORT", 26379)
			c.SentinelMaster = str("REDIS_SENTINEL_MASTER", "mymaster")
		}
		c.ResultTTL = dur("RESULT_TTL", 24*time.Hour)
	}
	if role == roleMCP {
		c.OrchestratorURL = strings.TrimRight(str("ORCHESTRATOR_URL", "http://orchestrator"), "/")
	}
	if role == roleWorker {
		c.WorkDelay = dur("WORKER_WORK_DELAY", 0)
	}
	c.ShutdownTimeout = dur("SHUTDOWN_TIMEOUT", defaultShutdown[role])

	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// PostgresURL is a pgx connection string for host (the primary's or the read Service).
func (c Config) PostgresURL(host string) string {
	u := url.URL{
		Scheme: "postgres",
		User:   url.UserPassword(c.PGUser, c.PGPassword),
		Host:   net.JoinHostPort(host, strconv.Itoa(c.PGPort)),
		Path:   "/" + c.PGDB,
	}
	q := url.Values{}
	q.Set("sslmode", "disable")
	q.Set("application_name", c.Role)
	q.Set("connect_timeout", "5")
	u.RawQuery = q.Encode()
	return u.String()
}

// AMQPURL is the broker's URL; the vhost "/" is escaped as the AMQP URI scheme wants.
func (c Config) AMQPURL() string {
	u := url.URL{
		Scheme:  "amqp",
		User:    url.UserPassword(c.AMQPUser, c.AMQPPassword),
		Host:    net.JoinHostPort(c.AMQPHost, strconv.Itoa(c.AMQPPort)),
		Path:    "/" + c.AMQPVHost,
		RawPath: "/" + url.PathEscape(c.AMQPVHost),
	}
	return u.String()
}

// Identity names this process in the rows it writes: role/version@host, so a
// rollout shows in the data.
func (c Config) Identity() string {
	return c.Role + "/" + c.Version + "@" + c.Hostname
}
