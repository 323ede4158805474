// Asks for every message again until it was delivered five times.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	rocketmq "github.com/rocketmq-rs/rocketmq-rs/go"
	"github.com/rocketmq-rs/rocketmq-rs/go/consumer"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

func main() {
	ns := flag.String("n", "127.0.0.1:9876", "name server")
	flag.Parse()
	c, err := rocketmq.NewPushConsumer(
		consumer.WithGroupName("testGroup"),
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{*ns})),
		consumer.WithConsumerModel(consumer.Clustering),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithMaxReconsumeTimes(16),
	)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	err = c.Subscribe("test", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			fmt.Printf("msg %s reconsumed %d times\n", m.MsgId, m.ReconsumeTimes)
			if m.ReconsumeTimes < 5 {
				return consumer.ConsumeRetryLater, nil
			}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	if err := c.Start(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	if err := c.Shutdown(); err != nil {
		fmt.Println("shutdown consumer error:", err)
	}
}
