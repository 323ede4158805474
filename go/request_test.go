package rocketmq_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/rocketmq-rs/rocketmq-rs/go"
	"github.com/rocketmq-rs/rocketmq-rs/go/broker"
	"github.com/rocketmq-rs/rocketmq-rs/go/consumer"
	"github.com/rocketmq-rs/rocketmq-rs/go/internal/capi"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
	"github.com/rocketmq-rs/rocketmq-rs/go/producer"
)

// startReplier consumes topic and answers every request with "re: <body>" through a producer
// of its own, as v2's examples/consumer/rpc does.
func startReplier(t *testing.T, b *broker.Broker, topic string) *atomic.Int32 {
	t.Helper()
	replies := startProducer(t, b, producer.WithGroupName("p-replies-"+t.Name()))
	var failures atomic.Int32
	c, err := rocketmq.NewPushConsumer(
		consumer.WithGroupName("c-replier-"+t.Name()),
		consumer.WithNsResolver(b.Resolver()),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			for _, msg := range msgs {
				if consumer.GetReplyToClient(msg) == "" {
					continue // not a request
				}
				reply, err := consumer.CreateReplyMessage(msg, append([]byte("re: "), msg.Body...))
				if err != nil {
					failures.Add(1)
					t.Errorf("create reply: %v", err)
					continue
				}
				if _, err := replies.SendSync(context.Background(), reply); err != nil {
					failures.Add(1)
					t.Errorf("send reply: %v", err)
				}
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Shutdown() })
	return &failures
}

func TestRequestReply(t *testing.T) {
	b := broker.Start(t)
	topic := "TopicGoRequest"
	requester := startProducer(t, b)
	ctx := context.Background()
	// The topic exists before the replier looks for its route.
	if _, err := requester.SendSync(ctx, primitive.NewMessage(topic, []byte("warm-up"))); err != nil {
		t.Fatal(err)
	}
	failures := startReplier(t, b, topic)

	msg := primitive.NewMessage(topic, []byte("ping"))
	reply, err := requester.Request(ctx, 30*time.Second, msg)
	if err != nil {
		t.Fatal(err)
	}
	if string(reply.Body) != "re: ping" || reply.Topic != "DefaultCluster_REPLY_TOPIC" {
		t.Fatalf("reply %s", reply)
	}
	if reply.GetProperty(primitive.PropertyCorrelationID) == "" || reply.GetProperty(primitive.PropertyReplyMessageArriveTime) == "" {
		t.Fatalf("reply properties %s", reply)
	}
	if msg.GetProperty(primitive.PropertyCorrelationID) != "" {
		t.Fatal("the caller's message was changed")
	}

	type outcome struct {
		msg *primitive.Message
		err error
	}
	done := make(chan outcome, 3)
	for _, body := range []string{"a1", "a2", "a3"} {
		err := requester.RequestAsync(ctx, 30*time.Second, func(ctx context.Context, m *primitive.Message, err error) {
			done <- outcome{m, err}
		}, primitive.NewMessage(topic, []byte(body)))
		if err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]bool{}
	for i := 0; i < 3; i++ {
		o := <-done
		if o.err != nil {
			t.Fatal(o.err)
		}
		got[string(o.msg.Body)] = true
	}
	if !got["re: a1"] || !got["re: a2"] || !got["re: a3"] {
		t.Fatalf("async replies %v", got)
	}
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d replies failed", n)
	}
}

func TestRequestTimesOutWhenNobodyReplies(t *testing.T) {
	b := broker.Start(t)
	requester := startProducer(t, b)
	ctx := context.Background()
	began := time.Now()
	_, err := requester.Request(ctx, 800*time.Millisecond, primitive.NewMessage("TopicGoNobody", []byte("anyone?")))
	var e *capi.Error
	if !errors.As(err, &e) || e.Status != capi.StatusProducerRequestTimeout || !strings.Contains(err.Error(), "no reply") {
		t.Fatalf("want a request timeout, got %v", err)
	}
	if time.Since(began) < 800*time.Millisecond {
		t.Fatal("returned before the timeout")
	}

	// A request still waiting when the producer shuts down fails at once.
	p, err := rocketmq.NewProducer(producer.WithNsResolver(b.Resolver()), producer.WithGroupName("p-shutdown"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	failed := make(chan error, 1)
	err = p.RequestAsync(ctx, time.Minute, func(ctx context.Context, m *primitive.Message, err error) {
		failed <- err
	}, primitive.NewMessage("TopicGoNobody", []byte("still there?")))
	if err != nil {
		t.Fatal(err)
	}
	shutdownBegan := time.Now()
	if err := p.Shutdown(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-failed:
		if err == nil {
			t.Fatal("a request nobody answered succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the pending request's callback never ran")
	}
	if time.Since(shutdownBegan) > 30*time.Second {
		t.Fatal("shutdown waited for the request's timeout")
	}

	// Not started, nil message.
	idle, err := rocketmq.NewProducer(producer.WithNsResolver(b.Resolver()), producer.WithGroupName("p-idle"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idle.Request(ctx, time.Second, primitive.NewMessage("T", []byte("x"))); !errors.Is(err, producer.ErrNotRunning) {
		t.Fatalf("not started: %v", err)
	}
	if _, err := requester.Request(ctx, time.Second, nil); !errors.Is(err, producer.ErrMessageEmpty) {
		t.Fatalf("nil message: %v", err)
	}
	_ = idle.Shutdown()
}
