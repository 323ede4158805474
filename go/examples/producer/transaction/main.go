// Transactional messages: the local transaction answers "unknown" and the broker's check-back
// decides.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	rocketmq "github.com/rocketmq-rs/rocketmq-rs/go"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
	"github.com/rocketmq-rs/rocketmq-rs/go/producer"
)

type demoListener struct {
	localTrans       *sync.Map
	transactionIndex int32
}

func (dl *demoListener) ExecuteLocalTransaction(msg *primitive.Message) primitive.LocalTransactionState {
	n := atomic.AddInt32(&dl.transactionIndex, 1)
	dl.localTrans.Store(msg.GetProperty("order"), primitive.LocalTransactionState(n%3+1))
	fmt.Printf("executed local transaction of order %s\n", msg.GetProperty("order"))
	return primitive.UnkonwnState
}

func (dl *demoListener) CheckLocalTransaction(msg *primitive.MessageExt) primitive.LocalTransactionState {
	v, ok := dl.localTrans.Load(msg.GetProperty("order"))
	if !ok {
		return primitive.CommitMessageState
	}
	state := v.(primitive.LocalTransactionState)
	fmt.Printf("check of order %s: %d\n", msg.GetProperty("order"), state)
	return state
}

func main() {
	ns := flag.String("n", "127.0.0.1:9876", "name server")
	flag.Parse()
	p, err := rocketmq.NewTransactionProducer(&demoListener{localTrans: new(sync.Map)},
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{*ns})), producer.WithRetry(1))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	if err := p.Start(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	for i := 0; i < 10; i++ {
		msg := primitive.NewMessage("TopicTest5", []byte("Hello RocketMQ again "+strconv.Itoa(i)))
		msg.WithProperty("order", strconv.Itoa(i))
		res, err := p.SendMessageInTransaction(context.Background(), msg)
		if err != nil {
			fmt.Println("send message error:", err)
			continue
		}
		fmt.Println("send message success:", res.String())
	}
	time.Sleep(time.Minute) // let the broker check back
	if err := p.Shutdown(); err != nil {
		fmt.Println("shutdown producer error:", err)
	}
}
