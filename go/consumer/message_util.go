package consumer

import (
	"errors"

	"github.com/rocketmq-rs/rocketmq-rs/go/internal/capi"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

// CreateReplyMessage builds the reply to a request message received by a consumer: to the
// <cluster>_REPLY_TOPIC of the cluster that stored the request, with its correlation id,
// requester and TTL, MSG_TYPE=reply, and body. Send it with any started producer (SendSync);
// the broker pushes it to the requester. Unlike v2.1.2 (which leaves the reply's body empty),
// the body is set.
func CreateReplyMessage(requestMessage *primitive.MessageExt, body []byte) (*primitive.Message, error) {
	if requestMessage == nil {
		return nil, errors.New("create reply message fail, requestMessage cannot be null")
	}
	return capi.CreateReplyMessage(requestMessage, body)
}

// GetReplyToClient returns the client id of the requester of a request message.
func GetReplyToClient(msg *primitive.MessageExt) string {
	return msg.GetProperty(primitive.PropertyMessageReplyToClient)
}
