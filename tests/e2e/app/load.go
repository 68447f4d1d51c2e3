package main

// The load role: the bounded, steady load of the real suite (tests/real). It
// POSTs tasks to the orchestrator's Service at a fixed rate, as a client would:
// a refused request (an error or any answer but 200/202) is retried with the
// same id until LOAD_PATIENCE has passed. GET /stop on LOAD_PORT ends the load:
// no new task starts, the ones in flight finish. Then it prints one JSON line
// per refusal and a summary, and exits 0.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

type refusal struct {
	Event  string `json:"event"`
	T      int64  `json:"t"` // Unix milliseconds
	ID     string `json:"id"`
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

type loadSummary struct {
	Event    string   `json:"event"`
	Sent     int      `json:"sent"`
	Accepted int      `json:"accepted"`
	Refused  int      `json:"refused"`
	GivenUp  []string `json:"given_up"`
	Start    int64    `json:"start"`
	End      int64    `json:"end"`
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

func runLoad(getenv func(string) string) error {
	target := envOr(getenv, "LOAD_TARGET", "http://orchestrator:8080")
	prefix := envOr(getenv, "LOAD_PREFIX", "load")
	rate, err := strconv.ParseFloat(envOr(getenv, "LOAD_RATE", "20"), 64)
	if err != nil || rate <= 0 {
		return fmt.Errorf("LOAD_RATE must be a positive number")
	}
	limit, err := strconv.Atoi(envOr(getenv, "LOAD_MAX", "20000"))
	if err != nil || limit <= 0 {
		return fmt.Errorf("LOAD_MAX must be a positive integer")
	}
	patience, err := time.ParseDuration(envOr(getenv, "LOAD_PATIENCE", "60s"))
	if err != nil {
		return fmt.Errorf("LOAD_PATIENCE: %v", err)
	}
	port := envOr(getenv, "LOAD_PORT", "8090")

	ctx, stop := context.WithCancel(context.Background())
	mux := http.NewServeMux()
	var mu sync.Mutex
	var refusals []refusal
	var givenUp []string
	sent, accepted := 0, 0
	mux.HandleFunc("GET /stop", func(w http.ResponseWriter, r *http.Request) {
		stop()
		fmt.Fprintln(w, "stopping")
	})
	mux.HandleFunc("GET /progress", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]int{
			"sent": sent, "accepted": accepted, "refused": len(refusals),
		})
	})
	go func() { _ = http.ListenAndServe(":"+port, mux) }()

	client := &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second},
	}
	post := func(id string) (int, error) {
		body, _ := json.Marshal(map[string]any{"id": id, "payload": map[string]string{"n": id}})
		resp, err := client.Post(target+"/tasks", "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	task := func(id string) {
		deadline := time.Now().Add(patience)
		for {
			status, err := post(id)
			if err == nil && (status == http.StatusAccepted || status == http.StatusOK) {
				mu.Lock()
				accepted++
				mu.Unlock()
				return
			}
			r := refusal{Event: "refused", T: time.Now().UnixMilli(), ID: id, Status: status}
			if err != nil {
				r.Error = err.Error()
			}
			mu.Lock()
			refusals = append(refusals, r)
			if time.Now().After(deadline) {
				givenUp = append(givenUp, id)
				mu.Unlock()
				return
			}
			mu.Unlock()
			time.Sleep(250 * time.Millisecond)
		}
	}

	start := time.Now()
	var wg sync.WaitGroup
	ticker := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer ticker.Stop()
loop:
	for n := 0; n < limit; n++ {
		select {
		case <-ctx.Done():
			break loop
		case <-ticker.C:
		}
		id := fmt.Sprintf("%s-%06d", prefix, n)
		mu.Lock()
		sent++
		mu.Unlock()
		wg.Add(1)
		go func() { defer wg.Done(); task(id) }()
	}
	wg.Wait()

	out := json.NewEncoder(os.Stdout)
	mu.Lock()
	defer mu.Unlock()
	for _, r := range refusals {
		_ = out.Encode(r)
	}
	if givenUp == nil {
		givenUp = []string{}
	}
	return out.Encode(loadSummary{
		Event: "summary", Sent: sent, Accepted: accepted, Refused: len(refusals),
		GivenUp: givenUp, Start: start.UnixMilli(), End: time.Now().UnixMilli(),
	})
}
