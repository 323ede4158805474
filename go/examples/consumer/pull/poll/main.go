// The lite pull consumer: Poll, process, ACK.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	rocketmq "github.com/rocketmq-rs/rocketmq-rs/go"
	"github.com/rocketmq-rs/rocketmq-rs/go/consumer"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

func main() {
	ns := flag.String("n", "127.0.0.1:9876", "name server")
	flag.Parse()
	c, err := rocketmq.NewPullConsumer(
		consumer.WithGroupName("testPullGroup"),
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{*ns})),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	if err := c.Subscribe("test-topic", consumer.MessageSelector{Type: consumer.TAG, Expression: "testPull"}); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	if err := c.Start(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	for {
		select {
		case <-stop:
			_ = c.Shutdown()
			return
		default:
		}
		cr, err := c.Poll(context.Background(), 2*time.Second)
		if consumer.IsNoNewMsgError(err) {
			continue
		}
		if err != nil {
			fmt.Println("poll error:", err)
			continue
		}
		for _, m := range cr.GetMsgList() {
			fmt.Println("polled:", m.MsgId, string(m.Body))
		}
		c.ACK(context.Background(), cr, consumer.ConsumeSuccess)
	}
}
