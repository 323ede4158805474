// Sends ten messages as one batch.
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
	var msgs []*primitive.Message
	for i := 0; i < 10; i++ {
		msgs = append(msgs, primitive.NewMessage("test", []byte(fmt.Sprintf("Hello RocketMQ Go Client! num: %d", i))))
	}
	res, err := p.SendSync(context.Background(), msgs...)
	if err != nil {
		fmt.Println("send message error:", err)
		os.Exit(1)
	}
	fmt.Println("send message success:", res.String())
}
