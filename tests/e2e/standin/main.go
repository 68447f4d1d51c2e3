// Command standin is the stand-in for every container image of the stack
// (postgres, rabbitmq, redis, their exporters, the app images) and for the
// test suite's own workloads when the end-to-end suite runs on a real kind
// cluster without registry access. The image is FROM scratch around this one
// static binary.
//
// Modes, from STANDIN_MODE (default ok; an unknown mode is taken as ok):
//
//	ok         serve HTTP 200 "ok\n" on every path on the stack's ports
//	           (and any in STANDIN_PORTS, comma separated); a port already
//	           in use is skipped silently, since the containers of one pod
//	           share its network namespace and another stand-in serves it.
//	crashloop  exit 1 at once, wherever it runs (main process, probe, sh).
//	unready    run, listen on nothing, and fail every probe.
//
// Multi-call: the image installs this binary under several names, and it
// acts by the base name it is called by (argv[0]):
//
//	pg_isready, redis-cli, rabbitmq-diagnostics
//	           a probe: exit 0 in mode ok (redis-cli prints PONG), else 1.
//	sh         `sh -c SCRIPT`: a probe if SCRIPT names one of the tools
//	           above (exit 0 in mode ok, else 1); any other script, and
//	           `sh FILE`, exits 0 except in mode crashloop. Nothing is run.
//	anything else (standin, postgres, redis-server, docker-entrypoint.sh)
//	           the main process: serve per mode; arguments are ignored.
//
// The main process exits 0 on SIGTERM or SIGINT (as PID 1 it would otherwise
// ignore them).
package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ports served in mode ok: the stack's containerPorts and probe ports.
var ports = []int{3001, 4369, 5432, 5672, 6379, 8000, 8080, 8081, 9121, 9187, 15672, 15692, 25672, 26379}

// tools are the probe commands the manifests run.
var tools = []string{"pg_isready", "redis-cli", "rabbitmq-diagnostics"}

func main() {
	mode := os.Getenv("STANDIN_MODE")
	unknown := ""
	switch mode {
	case "ok", "crashloop", "unready":
	case "":
		mode = "ok"
	default:
		unknown, mode = mode, "ok"
	}
	name := filepath.Base(os.Args[0])
	switch {
	case name == "sh":
		os.Exit(shell(mode, os.Args[1:]))
	case isTool(name):
		os.Exit(tool(mode, name))
	default:
		if unknown != "" {
			fmt.Fprintf(os.Stderr, "stand-in: unknown STANDIN_MODE %q, taken as ok\n", unknown)
		}
		os.Exit(serve(mode))
	}
}

func isTool(name string) bool {
	for _, t := range tools {
		if name == t {
			return true
		}
	}
	return false
}

// tool answers a probe command.
func tool(mode, name string) int {
	if mode != "ok" {
		fmt.Fprintf(os.Stderr, "%s: stand-in failing (mode %s)\n", name, mode)
		return 1
	}
	if name == "redis-cli" {
		fmt.Println("PONG")
	}
	return 0
}

// shell stands in for /bin/sh: it runs nothing, and answers for the script.
func shell(mode string, args []string) int {
	command := false
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			break
		}
		if a[0] == '-' && strings.ContainsRune(a[1:], 'c') {
			command = true
		}
	}
	if command {
		if i >= len(args) {
			fmt.Fprintln(os.Stderr, "sh: -c requires an argument")
			return 2
		}
		script := args[i]
		for _, t := range tools {
			if strings.Contains(script, t) {
				if mode != "ok" {
					fmt.Fprintf(os.Stderr, "sh: %s: stand-in failing (mode %s)\n", t, mode)
					return 1
				}
				return 0
			}
		}
	}
	if mode == "crashloop" {
		fmt.Fprintln(os.Stderr, "sh: stand-in crashing (mode crashloop)")
		return 1
	}
	return 0
}

// serve is the container's main process.
func serve(mode string) int {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	switch mode {
	case "crashloop":
		fmt.Fprintln(os.Stderr, "stand-in: crashing (mode crashloop)")
		return 1
	case "unready":
		fmt.Println("stand-in: running but never ready (mode unready)")
		<-stop
		return 0
	}
	fmt.Println("stand-in: serving (mode ok)")
	server := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ok\n"))
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	seen := map[int]bool{}
	for _, port := range append(append([]int(nil), ports...), extraPorts()...) {
		if seen[port] {
			continue
		}
		seen[port] = true
		l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			if !errors.Is(err, syscall.EADDRINUSE) {
				fmt.Fprintf(os.Stderr, "stand-in: port %d: %v\n", port, err)
			}
			continue
		}
		go func() { _ = server.Serve(l) }()
	}
	<-stop
	return 0
}

// extraPorts reads STANDIN_PORTS, a comma separated list of ports.
func extraPorts() []int {
	var extra []int
	for _, field := range strings.Split(os.Getenv("STANDIN_PORTS"), ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		port, err := strconv.Atoi(field)
		if err != nil || port < 1 || port > 65535 {
			fmt.Fprintf(os.Stderr, "stand-in: STANDIN_PORTS: bad port %q\n", field)
			continue
		}
		extra = append(extra, port)
	}
	return extra
}
