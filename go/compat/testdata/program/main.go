// One program, compiled twice by go/compat/run.sh: against rocketmq-rs' Go module (as written)
// and against the genuine rocketmq-client-go v2 (imports rewritten). Both talk to the same
// rocketmq-rs broker (embedded, from this module's broker package). It exercises only the v2
// API, so compiling both ways also checks that the signatures match.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rocketmq-rs/rocketmq-rs/go/broker"

	rocketmq "github.com/rocketmq-rs/rocketmq-rs/go"
	"github.com/rocketmq-rs/rocketmq-rs/go/consumer"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
	"github.com/rocketmq-rs/rocketmq-rs/go/producer"
)

var failures []string

func check(ok bool, format string, args ...interface{}) {
	if !ok {
		failures = append(failures, fmt.Sprintf(format, args...))
	}
}

type listener struct{}

func (listener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	if string(m.Body) == "tx-commit" {
		return primitive.CommitMessageState
	}
	return primitive.RollbackMessageState
}

func (listener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	return primitive.RollbackMessageState
}

func main() {
	b, err := broker.StartBroker()
	if err != nil {
		fmt.Println("broker:", err)
		os.Exit(1)
	}
	defer b.Shutdown()
	ns := primitive.NewPassthroughResolver([]string{b.NameServer()})
	run := os.Getenv("COMPAT_RUN")
	topic, group := "CompatTopic"+run, "compat-"+run

	p, err := rocketmq.NewProducer(producer.WithNsResolver(ns), producer.WithGroupName(group), producer.WithRetry(2))
	if err != nil {
		fmt.Println("producer:", err)
		os.Exit(1)
	}
	if err := p.Start(); err != nil {
		fmt.Println("start producer:", err)
		os.Exit(1)
	}
	const n = 6
	var lastOffset int64 = -1
	for i := 0; i < n; i++ {
		m := primitive.NewMessage(topic, []byte(fmt.Sprintf("body-%d", i))).WithTag("TagA").WithKeys([]string{fmt.Sprintf("key-%d", i)})
		m.WithProperty("idx", fmt.Sprint(i))
		r, err := p.SendSync(context.Background(), m)
		check(err == nil, "send %d: %v", i, err)
		if err == nil {
			check(r.Status == primitive.SendOK && r.MsgID != "" && r.MessageQueue != nil, "send result %v", r)
			lastOffset = r.QueueOffset
		}
	}
	check(lastOffset >= 0, "queue offsets")
	batch := []*primitive.Message{
		primitive.NewMessage(topic, []byte("batch-0")).WithTag("TagA"),
		primitive.NewMessage(topic, []byte("batch-1")).WithTag("TagA"),
	}
	_, err = p.SendSync(context.Background(), batch...)
	check(err == nil, "batch: %v", err)
	_, err = p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("filtered")).WithTag("TagB"))
	check(err == nil, "tag B: %v", err)

	var mu sync.Mutex
	got := map[string]*primitive.MessageExt{}
	c, err := rocketmq.NewPushConsumer(consumer.WithNsResolver(ns), consumer.WithGroupName(group+"-c"),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		fmt.Println("consumer:", err)
		os.Exit(1)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "TagA"},
		func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				got[string(m.Body)] = m
			}
			return consumer.ConsumeSuccess, nil
		})
	check(err == nil, "subscribe: %v", err)
	check(c.Start() == nil, "start consumer")
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		k := len(got)
		mu.Unlock()
		if k >= n+2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	_ = c.Shutdown()
	mu.Lock()
	check(len(got) == n+2, "consumed %d, want %d", len(got), n+2)
	for i := 0; i < n; i++ {
		m := got[fmt.Sprintf("body-%d", i)]
		if m == nil {
			check(false, "body-%d missing", i)
			continue
		}
		check(m.GetTags() == "TagA" && m.GetKeys() == fmt.Sprintf("key-%d", i) && m.GetProperty("idx") == fmt.Sprint(i),
			"properties of body-%d: %v", i, m)
		check(m.MsgId != "" && m.StoreTimestamp > 0 && m.BornTimestamp > 0 && strings.Contains(m.StoreHost, ":"), "ext fields %v", m)
	}
	check(got["filtered"] == nil, "TagB delivered")
	mu.Unlock()

	tp, err := rocketmq.NewTransactionProducer(listener{}, producer.WithNsResolver(ns), producer.WithGroupName(group+"-tx"))
	if err == nil {
		err = tp.Start()
	}
	check(err == nil, "transaction producer: %v", err)
	if err == nil {
		r, err := tp.SendMessageInTransaction(context.Background(), primitive.NewMessage(topic+"Tx", []byte("tx-commit")))
		check(err == nil && r.State == primitive.CommitMessageState, "transaction commit: %v %v", r, err)
		r, err = tp.SendMessageInTransaction(context.Background(), primitive.NewMessage(topic+"Tx", []byte("tx-rollback")))
		check(err == nil && r.State == primitive.RollbackMessageState, "transaction rollback: %v %v", r, err)
		_ = tp.Shutdown()
	}
	_ = p.Shutdown()

	if len(failures) > 0 {
		for _, f := range failures {
			fmt.Println("FAIL:", f)
		}
		os.Exit(1)
	}
	fmt.Println("compat program: all checks passed")
}
