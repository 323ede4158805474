// Sends ten messages asynchronously and waits for every callback.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"

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
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		err := p.SendAsync(context.Background(), func(ctx context.Context, result *primitive.SendResult, e error) {
			defer wg.Done()
			if e != nil {
				fmt.Println("receive message error:", e)
			} else {
				fmt.Println("send message success:", result.String())
			}
		}, primitive.NewMessage("test", []byte("Hello RocketMQ Go Client!")))
		if err != nil {
			wg.Done()
			fmt.Println("send message error:", err)
		}
	}
	wg.Wait()
}
