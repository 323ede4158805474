package capi

/*
#include <stdlib.h>
#include "CMessage.h"
#include "CMessageExt.h"
#include "CMessageQueue.h"
#include "CBatchMessage.h"
*/
import "C"

import (
	"errors"
	"unsafe"

	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

// newCMessage copies msg into a native message; free it with C.DestroyMessage.
func newCMessage(msg *primitive.Message) (*C.CMessage, error) {
	if msg == nil {
		return nil, errors.New("rocketmq: nil message")
	}
	topic := cstr(msg.Topic)
	defer free(topic)
	m := C.CreateMessage(topic)
	if m == nil {
		return nil, errors.New("rocketmq: cannot create a message")
	}
	if len(msg.Body) > 0 {
		C.SetByteMessageBody(m, (*C.char)(unsafe.Pointer(&msg.Body[0])), C.int(len(msg.Body)))
	}
	C.SetMessageFlag(m, C.int(msg.Flag))
	for k, v := range msg.GetProperties() {
		ck, cv := cstr(k), cstr(v)
		C.SetMessageProperty(m, ck, cv)
		free(ck)
		free(cv)
	}
	return m, nil
}

// newCBatch copies msgs into a native batch; free it with C.DestroyBatchMessage.
func newCBatch(msgs []*primitive.Message) (*C.CBatchMessage, error) {
	b := C.CreateBatchMessage()
	for _, msg := range msgs {
		m, err := newCMessage(msg)
		if err != nil {
			C.DestroyBatchMessage(b)
			return nil, err
		}
		C.AddMessage(b, m)
		C.DestroyMessage(m)
	}
	return b, nil
}

// goMessageExt copies a native received message into Go memory.
func goMessageExt(m *C.CMessageExt) *primitive.MessageExt {
	topic := C.GoString(C.GetMessageTopic(m))
	body := C.GoBytes(unsafe.Pointer(C.GetMessageBody(m)), C.GetMessageBodyLength(m))
	msg := &primitive.MessageExt{
		MsgId:                     C.GoString(C.GetMessageId(m)),
		OffsetMsgId:               C.GoString(C.GetMessageOffsetMsgId(m)),
		StoreSize:                 int32(C.GetMessageStoreSize(m)),
		QueueOffset:               int64(C.GetMessageQueueOffset(m)),
		SysFlag:                   int32(C.GetMessageSysFlag(m)),
		BornTimestamp:             int64(C.GetMessageBornTimestamp(m)),
		BornHost:                  C.GoString(C.GetMessageBornHost(m)),
		StoreTimestamp:            int64(C.GetMessageStoreTimestamp(m)),
		StoreHost:                 C.GoString(C.GetMessageStoreHost(m)),
		CommitLogOffset:           int64(C.GetMessageCommitLogOffset(m)),
		BodyCRC:                   int32(C.GetMessageBodyCRC(m)),
		ReconsumeTimes:            int32(C.GetMessageReconsumeTimes(m)),
		PreparedTransactionOffset: int64(C.GetMessagePreparedTransactionOffset(m)),
	}
	msg.Topic = topic
	msg.Body = body
	msg.Flag = int32(C.GetMessageFlag(m))
	props := map[string]string{}
	n := int(C.GetMessagePropertyCount(m))
	for i := 0; i < n; i++ {
		k := C.GetMessagePropertyName(m, C.int(i))
		if k == nil {
			continue
		}
		props[C.GoString(k)] = C.GoString(C.GetMessageProperty(m, k))
	}
	msg.WithProperties(props)
	msg.TransactionId = props[primitive.PropertyTransactionID]
	msg.Queue = &primitive.MessageQueue{
		Topic:      topic,
		BrokerName: C.GoString(C.GetMessageBrokerName(m)),
		QueueId:    int(C.GetMessageQueueId(m)),
	}
	return msg
}

// goMessage copies a native message to send (an executor's argument) into Go memory.
func goMessage(m *C.CMessage) *primitive.Message {
	ext := goMessageExt((*C.CMessageExt)(unsafe.Pointer(m)))
	out := primitive.NewMessage(ext.Topic, ext.Body)
	out.Flag = ext.Flag
	out.WithProperties(ext.GetProperties())
	out.TransactionId = ext.TransactionId
	return out
}

func cQueue(q *primitive.MessageQueue) C.CMessageQueue {
	var c C.CMessageQueue
	copyToBuf(unsafe.Pointer(&c.topic[0]), len(c.topic), q.Topic)
	copyToBuf(unsafe.Pointer(&c.brokerName[0]), len(c.brokerName), q.BrokerName)
	c.queueId = C.int(q.QueueId)
	return c
}

func goQueue(c *C.CMessageQueue) *primitive.MessageQueue {
	return &primitive.MessageQueue{
		Topic:      C.GoString(&c.topic[0]),
		BrokerName: C.GoString(&c.brokerName[0]),
		QueueId:    int(c.queueId),
	}
}

// goQueues copies and releases a malloc'ed queue array.
func goQueues(arr *C.CMessageQueue, n C.int) []*primitive.MessageQueue {
	if arr == nil || n == 0 {
		return nil
	}
	defer C.free(unsafe.Pointer(arr))
	items := unsafe.Slice(arr, int(n))
	out := make([]*primitive.MessageQueue, 0, int(n))
	for i := range items {
		out = append(out, goQueue(&items[i]))
	}
	return out
}

func copyToBuf(dst unsafe.Pointer, size int, s string) {
	buf := unsafe.Slice((*byte)(dst), size)
	n := copy(buf[:size-1], s)
	buf[n] = 0
}
