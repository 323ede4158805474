package capi

/*
#include <stdlib.h>
#include "CTopicAdmin.h"
*/
import "C"

import (
	"strings"
	"unsafe"
)

// TopicConfig is what CreateTopic sends to the broker.
type TopicConfig struct {
	Topic          string
	ReadQueueNums  int
	WriteQueueNums int
	Perm           int
	FilterType     string // "" for SINGLE_TAG
	SysFlag        int
	Order          bool
}

// CreateTopic creates (or updates) a topic on the broker at brokerAddr, with the producer's
// name servers and credentials; the producer need not be started.
func (p *Producer) CreateTopic(brokerAddr string, cfg TopicConfig) error {
	addr, topic, filter := cstr(brokerAddr), cstr(cfg.Topic), cstr(cfg.FilterType)
	defer free(addr)
	defer free(topic)
	defer free(filter)
	order := C.int(0)
	if cfg.Order {
		order = 1
	}
	return call("create topic", func() C.int {
		return C.CreateTopic(p.p, addr, topic, C.int(cfg.ReadQueueNums), C.int(cfg.WriteQueueNums),
			C.int(cfg.Perm), filter, C.int(cfg.SysFlag), order)
	})
}

// DeleteTopic deletes a topic from brokers (brokerAddr, or "" for every master of its route
// in cluster, or in every cluster for "") and then from name servers (nameServers, or the
// producer's when empty).
func (p *Producer) DeleteTopic(topic, cluster, brokerAddr string, nameServers []string) error {
	t, c, b, ns := cstr(topic), cstr(cluster), cstr(brokerAddr), cstr(strings.Join(nameServers, ";"))
	defer free(t)
	defer free(c)
	defer free(b)
	defer free(ns)
	return call("delete topic", func() C.int { return C.DeleteTopic(p.p, t, c, b, ns) })
}

// TopicList is every topic the name servers know, sorted.
func (p *Producer) TopicList() ([]string, error) {
	var arr **C.char
	var n C.int
	if err := call("topic list", func() C.int { return C.FetchTopicList(p.p, &arr, &n) }); err != nil {
		return nil, err
	}
	defer C.ReleaseTopicList(arr)
	names := unsafe.Slice(arr, int(n))
	topics := make([]string, 0, len(names))
	for _, name := range names {
		topics = append(topics, C.GoString(name))
	}
	return topics, nil
}
