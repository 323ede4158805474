// Sends messages with tags TagA, TagB and TagC.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	rocketmq "github.com/rocketmq-rs/rocketmq-rs/go"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
	"github.com/rocketmq-rs/rocketmq-rs/go/producer"
)

func main() {
	ns := flag.String("n", "127.0.0.1:9876", "name server")
	flag.Parse()
	p, err := rocketmq.NewProducer(producer.WithNameServer([]string{*ns}), producer.WithRetry(2))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	if err := p.Start(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer p.Shutdown()
	for _, tag := range []string{"TagA", "TagB", "TagC"} {
		msg := primitive.NewMessage("TopicTest", []byte("Hello RocketMQ Go Client! "+tag)).WithTag(tag)
		res, err := p.SendSync(context.Background(), msg)
		if err != nil {
			fmt.Println("send message error:", err)
			continue
		}
		fmt.Println("send message success:", res.String())
	}
}
