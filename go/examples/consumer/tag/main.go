// Consumes only TagA and TagC of TopicTest.
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
	)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	err = c.Subscribe("TopicTest", consumer.MessageSelector{Type: consumer.TAG, Expression: "TagA || TagC"}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		fmt.Printf("subscribe callback: %v \n", msgs)
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
