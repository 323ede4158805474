// Sends a request to RequestTopic; the reply arrives in a callback (run examples/consumer/rpc too).
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
	done := make(chan struct{})
	err = p.RequestAsync(context.Background(), 5*time.Second, func(ctx context.Context, reply *primitive.Message, err error) {
		defer close(done)
		if err != nil {
			fmt.Println("request failed:", err)
			return
		}
		fmt.Printf("request took %v, reply: %s\n", time.Since(began), reply)
	}, primitive.NewMessage("RequestTopic", []byte("Hello RPC RocketMQ Go Client!")))
	if err != nil {
		fmt.Println("request error:", err)
		os.Exit(1)
	}
	<-done
}
