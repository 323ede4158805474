// Pull with a few goroutines, persisting offsets on a timer.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	rocketmq "github.com/rocketmq-rs/rocketmq-rs/go"
	"github.com/rocketmq-rs/rocketmq-rs/go/consumer"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

const topic = "test-topic"

func main() {
	ns := flag.String("n", "127.0.0.1:9876", "name server")
	flag.Parse()
	c, err := rocketmq.NewPullConsumer(
		consumer.WithGroupName("testPullGroup"),
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{*ns})),
		consumer.WithAutoCommit(false),
	)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	if err := c.Subscribe(topic, consumer.MessageSelector{}); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	if err := c.Start(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				r, err := c.Pull(ctx, 1)
				if err != nil {
					fmt.Println("pull error:", err)
					continue
				}
				for _, m := range r.GetMessageExts() {
					fmt.Println("pulled:", m.MsgId, string(m.Body))
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := c.PersistOffset(ctx, topic); err != nil {
					fmt.Println("persist offset error:", err)
				}
			}
		}
	}()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	cancel()
	wg.Wait()
	_ = c.Shutdown()
}
