package interop

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// delivery is one message as a consumer callback saw it, and when.
type delivery struct {
	msg *primitive.MessageExt
	at  time.Time
	by  string // which consumer
}

// recorder keeps every delivery of one or more push consumers in arrival
// order. Its callbacks answer ConsumeSuccess unless result says otherwise.
type recorder struct {
	mu     sync.Mutex
	got    []delivery
	result func(m *primitive.MessageExt) consumer.ConsumeResult
	work   time.Duration // simulated processing time per message
}

// callback returns a push consumer callback that records as consumer by.
func (r *recorder) callback(by string) func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	return func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		now := time.Now()
		res := consumer.ConsumeSuccess
		r.mu.Lock()
		for _, m := range msgs {
			r.got = append(r.got, delivery{m, now, by})
			if r.result != nil && r.result(m) != consumer.ConsumeSuccess {
				res = r.result(m)
			}
		}
		work := r.work
		r.mu.Unlock()
		if work > 0 {
			time.Sleep(work) // stands for the application's processing
		}
		return res, nil
	}
}

func (r *recorder) all() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// of lists the deliveries of one body, oldest first.
func (r *recorder) of(body string) []delivery {
	var out []delivery
	for _, d := range r.all() {
		if string(d.msg.Body) == body {
			out = append(out, d)
		}
	}
	return out
}

func (r *recorder) countByBody() map[string]int {
	counts := map[string]int{}
	for _, d := range r.all() {
		counts[string(d.msg.Body)]++
	}
	return counts
}

// waitAll waits until every body in want has been delivered at least once.
func (r *recorder) waitAll(t *testing.T, timeout time.Duration, who string, want []string) {
	t.Helper()
	waitUntil(t, timeout, fmt.Sprintf("%s to receive %d messages", who, len(want)), func() (bool, string) {
		counts := r.countByBody()
		var missing []string
		for _, b := range want {
			if counts[b] == 0 {
				missing = append(missing, b)
			}
		}
		if len(missing) == 0 {
			return true, ""
		}
		return false, fmt.Sprintf("%d deliveries, %d of %d missing, e.g. %q", len(r.all()), len(missing), len(want), short(missing[0]))
	})
}

// subscribeAndStart subscribes a new push consumer of group to topic with
// the selector and starts it; it records into r as by.
func (r *recorder) subscribeAndStart(t *testing.T, by, group, topic string, sel consumer.MessageSelector, opts ...consumer.Option) rocketmq.PushConsumer {
	t.Helper()
	requireBroker(t)
	waitRoute(t, topic)
	c := newConsumer(t, group, opts...)
	if err := c.Subscribe(topic, sel, r.callback(by)); err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("start consumer %s of %s in %s: %v%s", by, topic, group, err, brokerNote())
	}
	return c
}
