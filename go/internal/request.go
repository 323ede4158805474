// Package internal holds the few rocketmq-client-go v2 types that v2 declares in its own
// internal package but uses in public signatures (so that this module's signatures match).
package internal

import (
	"context"

	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

// RequestCallback receives the reply of Producer.RequestAsync, or why there is none.
type RequestCallback func(ctx context.Context, msg *primitive.Message, err error)
