package interop

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// Request-reply (RocketMQ 4.6+ RPC over messages) between two genuine Go
// clients through the broker: Request / RequestAsync on one side, a push
// consumer answering with consumer.CreateReplyMessage + SendSync (sent as
// SEND_REPLY_MESSAGE) on the other. The broker pushes each reply to the
// requester (PUSH_REPLY_MESSAGE_TO_CLIENT), which matches it by
// CORRELATION_ID; the reply is also stored in <cluster>_REPLY_TOPIC.
func TestRequestReply(t *testing.T) {
	topic := uniqueName(t, "T")
	requester := newProducer(t)
	// The topic exists (auto-created) before the replier subscribes.
	sendOK(t, requester, primitive.NewMessage(topic, []byte("warm-up")))

	replies := newProducer(t)
	// The replier's callback runs on the client's goroutines, also after the
	// test ends: it records failures rather than reporting them itself.
	var replyErrors errorLog
	c := newConsumer(t, uniqueName(t, "CG"))
	waitRoute(t, topic)
	err := c.Subscribe(topic, consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			if consumer.GetReplyToClient(m) == "" {
				continue // the warm-up message
			}
			reply, err := consumer.CreateReplyMessage(m, nil)
			if err != nil {
				replyErrors.add(fmt.Errorf("CreateReplyMessage: %w", err))
				continue
			}
			// v2.1.2's CreateReplyMessage does not set the body it is given.
			reply.Body = append([]byte("re: "), m.Body...)
			if _, err := replies.SendSync(context.Background(), reply); err != nil {
				replyErrors.add(fmt.Errorf("sending the reply to %q: %w", m.Body, err))
			}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("start replier: %v%s", err, brokerNote())
	}

	// The first request also waits for the replier's first rebalance.
	msg := primitive.NewMessage(topic, []byte("ping"))
	reply, err := requester.Request(context.Background(), scaled(deliveryTimeout), msg)
	if err != nil {
		t.Fatalf("Request: %v%s", err, brokerNote())
	}
	if string(reply.Body) != "re: ping" {
		t.Fatalf("reply body %q, want %q (%s)", reply.Body, "re: ping", reply)
	}
	if !strings.HasSuffix(reply.Topic, "_REPLY_TOPIC") {
		t.Errorf("reply topic %q, want <cluster>_REPLY_TOPIC", reply.Topic)
	}
	if got, want := reply.GetProperty(primitive.PropertyCorrelationID), msg.GetProperty(primitive.PropertyCorrelationID); got == "" || got != want {
		t.Errorf("reply correlation id %q, request's %q", got, want)
	}
	if reply.GetProperty(primitive.PropertyMsgType) != "reply" {
		t.Errorf("reply MSG_TYPE %q, want reply", reply.GetProperty(primitive.PropertyMsgType))
	}

	// Concurrent async requests each get their own reply. v2.1.2 runs a
	// RequestAsync callback twice per reply (once when the reply arrives,
	// once more when its future is deleted from the cache, whose eviction
	// hook calls it again), so duplicates are the client's, not the broker's.
	const n = 5
	done := make(chan outcome, 2*n)
	for i := 0; i < n; i++ {
		body := "async-" + string(rune('a'+i))
		err := requester.RequestAsync(context.Background(), scaled(deliveryTimeout),
			func(ctx context.Context, m *primitive.Message, err error) {
				if err != nil {
					done <- outcome{"", err}
					return
				}
				done <- outcome{string(m.Body), nil}
			}, primitive.NewMessage(topic, []byte(body)))
		if err != nil {
			t.Fatalf("RequestAsync: %v%s", err, brokerNote())
		}
	}
	got := map[string]int{}
	deadline := time.After(scaled(2 * deliveryTimeout))
	for len(got) < n {
		select {
		case o := <-done:
			if o.err != nil {
				t.Fatalf("async request: %v%s", o.err, brokerNote())
			}
			got[o.body]++
		case <-deadline:
			t.Fatalf("only %d of %d async replies arrived: %v%s", len(got), n, got, brokerNote())
		}
	}
	for i := 0; i < n; i++ {
		if want := "re: async-" + string(rune('a'+i)); got[want] == 0 || got[want] > 2 {
			t.Errorf("async replies %v, want %q (once, or twice from v2.1.2's double callback)", got, want)
		}
	}
	if errs := replyErrors.all(); len(errs) != 0 {
		t.Fatalf("%d replies failed, e.g. %v%s", len(errs), errs[0], brokerNote())
	}
}

type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

type outcome struct {
	body string
	err  error
}

// A request nobody answers ends with the client's timeout error, not before
// its timeout, and the producer keeps working.
func TestRequestWithoutReplierTimesOut(t *testing.T) {
	topic := uniqueName(t, "T")
	requester := newProducer(t)
	sendOK(t, requester, primitive.NewMessage(topic, []byte("warm-up")))
	timeout := 2 * time.Second
	began := time.Now()
	_, err := requester.Request(context.Background(), timeout, primitive.NewMessage(topic, []byte("anyone?")))
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("Request without a replier: %v, want a timeout error%s", err, brokerNote())
	}
	if elapsed := time.Since(began); elapsed < timeout {
		t.Fatalf("Request gave up after %v, before its %v timeout", elapsed, timeout)
	}
	sendOK(t, requester, primitive.NewMessage(topic, []byte("still works")))
}
