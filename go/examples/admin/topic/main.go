// Lists the topics, creates one on a broker, shows its queues, then deletes it again.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/rocketmq-rs/rocketmq-rs/go/admin"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

func main() {
	ns := flag.String("n", "127.0.0.1:9876", "name server")
	brokerAddr := flag.String("b", "127.0.0.1:10911", "broker to create the topic on")
	topic := flag.String("t", "newOne", "topic")
	flag.Parse()
	a, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{*ns})))
	if err != nil {
		fmt.Println("new admin:", err)
		os.Exit(1)
	}
	defer a.Close()
	ctx := context.Background()
	if list, err := a.FetchAllTopicList(ctx); err == nil {
		fmt.Println("topics:", list.TopicList)
	}
	if err := a.CreateTopic(ctx, admin.WithTopicCreate(*topic), admin.WithBrokerAddrCreate(*brokerAddr),
		admin.WithReadQueueNums(4), admin.WithWriteQueueNums(4)); err != nil {
		fmt.Println("create topic:", err)
		os.Exit(1)
	}
	fmt.Println("created", *topic, "on", *brokerAddr)
	// The broker registers the new topic with the name server moments later.
	if qs, err := a.FetchPublishMessageQueues(ctx, *topic); err == nil {
		fmt.Println("queues:", qs)
	}
	// Without WithBrokerAddrDelete / WithNameSrvAddr: every broker of the route, every name server.
	if err := a.DeleteTopic(ctx, admin.WithTopicDelete(*topic)); err != nil {
		fmt.Println("delete topic:", err)
		os.Exit(1)
	}
	fmt.Println("deleted", *topic)
}
