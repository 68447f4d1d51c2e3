package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// queueArgs declare the task queue as a quorum queue (durable, replicated on
// every node of the cluster). Orchestrator and worker declare it alike.
var queueArgs = amqp.Table{"x-queue-type": "quorum"}

func declareQueue(ch *amqp.Channel, name string) error {
	_, err := ch.QueueDeclare(name, true, false, false, false, queueArgs)
	return err
}

// publisher keeps one connection and one confirm-mode channel to the broker,
// redialled in the background when either closes.
type publisher struct {
	url, queue string
	log        *slog.Logger

	mu   sync.Mutex
	conn *amqp.Connection
	ch   *amqp.Channel
}

func (p *publisher) dial() error {
	conn, err := amqp.DialConfig(p.url, amqp.Config{Heartbeat: 10 * time.Second, Properties: amqp.Table{"connection_name": "orchestrator"}})
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err == nil {
		err = declareQueue(ch, p.queue)
	}
	if err == nil {
		err = ch.Confirm(false)
	}
	if err != nil {
		conn.Close()
		return err
	}
	p.mu.Lock()
	p.conn, p.ch = conn, ch
	p.mu.Unlock()
	return nil
}

// keep redials every 2 s while the channel is closed, until ctx ends.
func (p *publisher) keep(ctx context.Context) {
	for {
		if !p.ready() {
			if err := p.dial(); err != nil {
				p.log.Warn("broker connect failed", "event", "broker_connect_failed", "error", err.Error())
			} else {
				p.log.Info("broker connected", "event", "broker_connected", "queue", p.queue)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

func (p *publisher) ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ch != nil && !p.ch.IsClosed()
}

// publish sends body persistently and waits for the broker's confirm.
func (p *publisher) publish(ctx context.Context, id string, body []byte) error {
	p.mu.Lock()
	ch := p.ch
	p.mu.Unlock()
	if ch == nil || ch.IsClosed() {
		return errors.New("broker channel is not open")
	}
	conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", p.queue, false, false, amqp.Publishing{
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		MessageId:    id,
		Timestamp:    time.Now(),
		Body:         body,
	})
	if err != nil {
		return err
	}
	acked, err := conf.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("no confirm: %w", err)
	}
	if !acked {
		return errors.New("broker nacked the message")
	}
	return nil
}

// depth is the queue's ready message count, asked on a channel of its own
// (a failed passive declare closes the channel it ran on).
func (p *publisher) depth() (int, bool) {
	p.mu.Lock()
	conn := p.conn
	p.mu.Unlock()
	if conn == nil || conn.IsClosed() {
		return 0, false
	}
	ch, err := conn.Channel()
	if err != nil {
		return 0, false
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(p.queue, true, false, false, false, queueArgs)
	if err != nil {
		return 0, false
	}
	return q.Messages, true
}

func (p *publisher) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		p.conn.Close()
	}
}
