// Sends a request to RequestTopic and waits for the reply (run examples/consumer/rpc too).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	rocketmq "github.com/rocketmq-rs/rocketmq-rs/go"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
	"github.com/rocketmq-rs/rocketmq-rs/go/producer"
)

func main() {
	ns := flag.String("n", "127.0.0.1:9876", "name server")
	flag.Parse()
	p, err := rocketmq.NewProducer(producer.WithNsResolver(primitive.NewPassthroughResolver([]string{*ns})), producer.WithRetry(2))
	if err != nil {
		fmt.Println("new producer:", err)
		os.Exit(1)
	}
	if err := p.Start(); err != nil {
		fmt.Println("start producer:", err)
		os.Exit(1)
	}
	defer p.Shutdown()
	began := time.Now()
	reply, err := p.Request(context.Background(), 5*time.Second, primitive.NewMessage("RequestTopic", []byte("Hello RPC RocketMQ Go Client!")))
	if err != nil {
		fmt.Println("request error:", err)
		os.Exit(1)
	}
	fmt.Printf("request took %v, reply: %s\n", time.Since(began), reply)
}
