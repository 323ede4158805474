"""The genuine rocketmq-client-python 2.0.0 (ctypes over librocketmq) against rocketmq-rs'
librocketmq.so: produce, consume, send orderly, and a transaction with a check-back, on an
embedded broker started through the same library. Prints "N passed, N failed"."""
import ctypes
import sys
import threading
import time

from rocketmq.client import (ConsumeStatus, Message, Producer, PushConsumer,
                             TransactionMQProducer, TransactionStatus)
from rocketmq.ffi import dll

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def wait_until(pred, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


# The embedded broker, through rocketmq-rs' additions to the same library.
dll.CreateEmbeddedBroker.restype = ctypes.c_void_p
dll.GetEmbeddedBrokerNameServerAddress.restype = ctypes.c_char_p
dll.GetEmbeddedBrokerNameServerAddress.argtypes = [ctypes.c_void_p]
dll.SetEmbeddedBrokerProperties.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
dll.StartEmbeddedBroker.argtypes = [ctypes.c_void_p]
dll.DestroyEmbeddedBroker.argtypes = [ctypes.c_void_p]
broker = dll.CreateEmbeddedBroker()
dll.SetEmbeddedBrokerProperties(broker, b"transactionTimeOut=1000\ntransactionCheckInterval=1000\n")
if dll.StartEmbeddedBroker(broker) != 0:
    sys.exit("cannot start the embedded broker")
namesrv = dll.GetEmbeddedBrokerNameServerAddress(broker).decode()
print("embedded name server", namesrv)

# Produce.
producer = Producer("py-producer")
producer.set_name_server_address(namesrv)
producer.start()
sent_ids = []
for i in range(5):
    msg = Message("PyTopic")
    msg.set_keys("key-%d" % i)
    msg.set_tags("py")
    msg.set_body("hello from python %d" % i)
    msg.set_property("n", str(i))
    r = producer.send_sync(msg)
    check(r.status == 0 and r.msg_id, "send_sync result %r" % (r,))
    sent_ids.append(r.msg_id)
extra = Message("PyTopic")
extra.set_body("not for the py tag")
producer.send_oneway(extra)
r = producer.send_orderly_with_sharding_key(extra, "order-1")
check(r.status == 0, "send_orderly_with_sharding_key")

# Consume.
received = []
lock = threading.Lock()


def on_message(msg):
    with lock:
        received.append((msg.id, msg.body, msg.tags, msg.keys, msg.get_property("n"), msg.queue_offset))
    return ConsumeStatus.CONSUME_SUCCESS


consumer = PushConsumer("py-consumer")
consumer.set_name_server_address(namesrv)
consumer.subscribe("PyTopic", on_message, expression="py")
consumer.start()
check(wait_until(lambda: len(received) >= 5, 60), "received %d of 5" % len(received))
consumer.shutdown()
with lock:
    ids = {m[0] for m in received}
    check(set(sent_ids) <= ids, "message ids: sent %s, got %s" % (sent_ids, ids))
    check(all(m[1].startswith(b"hello from python") for m in received), "bodies")
    check(all(m[2] == b"py" for m in received), "tags")
    check(all(m[4].decode() == m[3].decode().split("-")[1] for m in received), "keys and properties")

# A consumer without a callback cannot start (status 20).
bare = PushConsumer("py-bare")
bare.set_name_server_address(namesrv)
try:
    bare.start()
    check(False, "start without a callback")
except Exception as e:  # PushConsumerStartFailed
    check("callback" in str(e), "start without a callback: %s" % e)

# Transactions: commit, rollback, and one decided by the broker's check-back.
checked = []


def checker(msg):
    checked.append(msg.body)
    return TransactionStatus.COMMIT


def local_execute(msg, user_args):
    body = msg.body
    if body == b"commit":
        return TransactionStatus.COMMIT
    if body == b"rollback":
        return TransactionStatus.ROLLBACK
    return TransactionStatus.UNKNOWN


tx = TransactionMQProducer("py-tx", checker)
tx.set_name_server_address(namesrv)
tx.start()
for body in ("commit", "rollback", "unknown"):
    m = Message("PyTxTopic")
    m.set_body(body)
    r = tx.send_message_in_transaction(m, local_execute, None)
    check(r.status == 0, "transaction send %s" % body)

tx_bodies = []
txc = PushConsumer("py-tx-consumer")
txc.set_name_server_address(namesrv)
txc.subscribe("PyTxTopic", lambda msg: (tx_bodies.append(msg.body), ConsumeStatus.CONSUME_SUCCESS)[1])
txc.start()
check(wait_until(lambda: b"commit" in tx_bodies and b"unknown" in tx_bodies, 60), "transactional deliveries %s" % tx_bodies)
check(b"unknown" in checked, "the checker was asked: %s" % checked)
time.sleep(0.5)
check(b"rollback" not in tx_bodies, "rolled back message delivered")
txc.shutdown()
tx.shutdown()
producer.shutdown()
dll.DestroyEmbeddedBroker(broker)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
