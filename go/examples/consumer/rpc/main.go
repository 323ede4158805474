// Answers the requests sent to RequestTopic (examples/producer/rpc/...) with a reply message.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	rocketmq "github.com/rocketmq-rs/rocketmq-rs/go"
	"github.com/rocketmq-rs/rocketmq-rs/go/consumer"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
	"github.com/rocketmq-rs/rocketmq-rs/go/producer"
)

func main() {
	ns := flag.String("n", "127.0.0.1:9876", "name server")
	flag.Parse()
	resolver := primitive.NewPassthroughResolver([]string{*ns})
	// Replies are sent by a producer of their own.
	replies, err := rocketmq.NewProducer(producer.WithNsResolver(resolver), producer.WithGroupName("rpc_replier"))
	if err != nil {
		fmt.Println("new producer:", err)
		os.Exit(1)
	}
	if err := replies.Start(); err != nil {
		fmt.Println("start producer:", err)
		os.Exit(1)
	}
	defer replies.Shutdown()

	c, err := rocketmq.NewPushConsumer(consumer.WithGroupName("rpc_consumer"), consumer.WithNsResolver(resolver),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromLastOffset))
	if err != nil {
		fmt.Println("new consumer:", err)
		os.Exit(1)
	}
	err = c.Subscribe("RequestTopic", consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			for _, msg := range msgs {
				reply, err := consumer.CreateReplyMessage(msg, []byte("reply message contents."))
				if err != nil {
					fmt.Println("create reply message:", err)
					continue
				}
				res, err := replies.SendSync(context.Background(), reply)
				if err != nil {
					fmt.Println("send reply:", err)
					continue
				}
				fmt.Printf("replied to %s: %s\n", consumer.GetReplyToClient(msg), res)
			}
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		fmt.Println("subscribe:", err)
		os.Exit(1)
	}
	if err := c.Start(); err != nil {
		fmt.Println("start consumer:", err)
		os.Exit(1)
	}
	defer c.Shutdown()
	fmt.Println("answering requests on RequestTopic; Ctrl-C to stop")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	<-stop
}
