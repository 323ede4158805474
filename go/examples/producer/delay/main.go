// Sends a message delivered after delay level 3 (10 seconds).
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
	for i := 0; i < 10; i++ {
		msg := primitive.NewMessage("test", []byte("this is a delay message")).WithDelayTimeLevel(3)
		res, err := p.SendSync(context.Background(), msg)
		if err != nil {
			fmt.Println("send message error:", err)
			continue
		}
		fmt.Println("send message success:", res.String())
	}
}
