// Quickstart: an embedded broker, a producer and a push consumer in one program.
package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	rocketmq "github.com/rocketmq-rs/rocketmq-rs/go"
	"github.com/rocketmq-rs/rocketmq-rs/go/broker"
	"github.com/rocketmq-rs/rocketmq-rs/go/consumer"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
	"github.com/rocketmq-rs/rocketmq-rs/go/producer"
)

func main() {
	b, err := broker.StartBroker()
	if err != nil {
		fail(err)
	}
	defer b.Shutdown()
	fmt.Println("embedded name server at", b.NameServer())

	p, err := rocketmq.NewProducer(producer.WithNameServer(b.NameServers()), producer.WithGroupName("quickstart"))
	if err != nil {
		fail(err)
	}
	if err := p.Start(); err != nil {
		fail(err)
	}
	defer p.Shutdown()
	const n = 10
	for i := 0; i < n; i++ {
		r, err := p.SendSync(context.Background(), primitive.NewMessage("quickstart", []byte(fmt.Sprintf("hello %d", i))))
		if err != nil {
			fail(err)
		}
		fmt.Println("sent:", r.MsgID, "queue", r.MessageQueue.QueueId, "offset", r.QueueOffset)
	}

	var got atomic.Int32
	c, err := rocketmq.NewPushConsumer(consumer.WithNameServer(b.NameServers()), consumer.WithGroupName("quickstart"),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		fail(err)
	}
	err = c.Subscribe("quickstart", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			fmt.Println("received:", string(m.Body))
			got.Add(1)
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		fail(err)
	}
	if err := c.Start(); err != nil {
		fail(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < n && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	_ = c.Shutdown()
	if got.Load() < n {
		fail(fmt.Errorf("received %d of %d messages", got.Load(), n))
	}
	fmt.Println("quickstart: all", n, "messages went round")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "quickstart:", err)
	os.Exit(1)
}
