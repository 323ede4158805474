package capi

/*
#include <stdlib.h>
#include "CEmbeddedBroker.h"
*/
import "C"

// EmbeddedBroker is a name server and a broker inside this process.
type EmbeddedBroker struct {
	b *C.CEmbeddedBroker
	// NameServer and Broker are "127.0.0.1:port" once started.
	NameServer string
	Broker     string
	StoreDir   string
}

// StartEmbeddedBroker starts one with broker.conf text over the defaults (storeDir "" = a
// temporary store removed at shutdown).
func StartEmbeddedBroker(properties, storeDir string) (*EmbeddedBroker, error) {
	b := C.CreateEmbeddedBroker()
	if b == nil {
		return nil, &Error{Op: "create embedded broker", Status: StatusNullPointer}
	}
	eb := &EmbeddedBroker{b: b}
	props := cstr(properties)
	defer free(props)
	if err := call("broker properties", func() C.int { return C.SetEmbeddedBrokerProperties(b, props) }); err != nil {
		eb.Shutdown()
		return nil, err
	}
	if storeDir != "" {
		d := cstr(storeDir)
		defer free(d)
		if err := call("store dir", func() C.int { return C.SetEmbeddedBrokerStoreDir(b, d) }); err != nil {
			eb.Shutdown()
			return nil, err
		}
	}
	if err := call("start embedded broker", func() C.int { return C.StartEmbeddedBroker(b) }); err != nil {
		eb.Shutdown()
		return nil, err
	}
	eb.NameServer = C.GoString(C.GetEmbeddedBrokerNameServerAddress(b))
	eb.Broker = C.GoString(C.GetEmbeddedBrokerAddress(b))
	eb.StoreDir = C.GoString(C.GetEmbeddedBrokerStoreDir(b))
	return eb, nil
}

// Shutdown stops and frees the broker.
func (eb *EmbeddedBroker) Shutdown() {
	if eb.b != nil {
		C.DestroyEmbeddedBroker(eb.b)
		eb.b = nil
	}
}
