//! Transactions: which half messages are decided (from op records), and the check-back that
//! asks a producer about half messages left undecided past `transactionTimeOut`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::topic_config::{TRANS_CHECK_MAX_TIME_TOPIC, TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC};
use super::BrokerInner;
use crate::protocol::message::{decode_properties, encode_properties, property, MessageRecord};
use crate::protocol::{ids, request_code, RemotingCommand};
use crate::store::{AcceptAll, GetMessageStatus, PutMessageStatus};

/// The internal group whose offset on the half topic records how far checks got.
pub const CHECK_GROUP: &str = "CID_RMQ_SYS_TRANS";

/// The queue offset a decision about this half message is recorded under: the original half
/// message's, carried by check-back copies in `TRAN_PREPARED_QUEUE_OFFSET`.
pub fn decision_key(half: &MessageRecord, props: &HashMap<String, String>) -> i64 {
    props
        .get(property::TRANSACTION_PREPARED_QUEUE_OFFSET)
        .and_then(|v| v.parse().ok())
        .unwrap_or(half.queue_offset)
}

#[derive(Default)]
pub struct TransactionService {
    /// Queue offsets (in the half topic) of half messages with a decision (an op record).
    done: Mutex<HashSet<i64>>,
}

impl TransactionService {
    pub fn is_done(&self, half_queue_offset: i64) -> bool {
        self.done.lock().unwrap().contains(&half_queue_offset)
    }

    pub fn mark_done(&self, half_queue_offset: i64) {
        self.done.lock().unwrap().insert(half_queue_offset);
    }

    /// Rebuilds the decided set from the op topic (after a restart).
    pub fn load(&self, inner: &BrokerInner) {
        let mut offset = inner.store.min_offset_in_queue(TRANS_OP_HALF_TOPIC, 0);
        loop {
            let r = inner
                .store
                .get_message(TRANS_OP_HALF_TOPIC, 0, offset, 256, &AcceptAll);
            if r.status != GetMessageStatus::Found {
                break;
            }
            for raw in &r.messages {
                if let Ok((m, _)) = MessageRecord::decode(raw, false) {
                    if let Some(q) = std::str::from_utf8(&m.body)
                        .ok()
                        .and_then(|s| s.trim().parse().ok())
                    {
                        self.mark_done(q);
                    }
                }
            }
            offset = r.next_begin_offset;
        }
    }

    /// One pass over the half queue: undecided messages older than the timeout are checked
    /// (or discarded after `transactionCheckMax` checks).
    fn check_pass(&self, inner: &Arc<BrokerInner>) {
        let timeout_ms = inner.config.transaction_timeout_ms;
        let max_checks = inner.config.transaction_check_max;
        let mut offset = inner
            .offsets
            .query(CHECK_GROUP, TRANS_HALF_TOPIC, 0)
            .unwrap_or(0)
            .max(inner.store.min_offset_in_queue(TRANS_HALF_TOPIC, 0));
        let now = crate::protocol::now_ms();
        // Copies re-appended by this pass are left for the next one, so a pass checks each
        // undecided transaction once.
        let pass_start = now;
        'scan: loop {
            let r = inner
                .store
                .get_message(TRANS_HALF_TOPIC, 0, offset, 64, &AcceptAll);
            if r.status != GetMessageStatus::Found {
                break;
            }
            for raw in &r.messages {
                let Ok((half, _)) = MessageRecord::decode(raw, false) else {
                    offset += 1;
                    continue;
                };
                if half.store_timestamp >= pass_start {
                    break 'scan;
                }
                let mut props = decode_properties(&half.properties);
                let key = decision_key(&half, &props);
                if self.is_done(key) {
                    offset = half.queue_offset + 1;
                    continue;
                }
                let immunity_ms = props
                    .get(property::CHECK_IMMUNITY_TIME_IN_SECONDS)
                    .and_then(|s| s.parse::<i64>().ok())
                    .map(|s| s * 1000)
                    .unwrap_or(timeout_ms);
                if now - half.born_timestamp < immunity_ms {
                    // Everything after this one is younger.
                    break 'scan;
                }
                let checks: i32 = props
                    .get(property::TRANSACTION_CHECK_TIMES)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if checks >= max_checks {
                    tracing::info!(
                        offset = half.queue_offset,
                        checks,
                        "half message checked too often; discarded"
                    );
                    let discarded = MessageRecord {
                        topic: TRANS_CHECK_MAX_TIME_TOPIC.to_string(),
                        queue_id: 0,
                        store_host: inner.store_host,
                        ..half.clone()
                    };
                    inner.store.put_message(discarded);
                    let _ = super::processor::transaction_write_op(inner, &half);
                    offset = half.queue_offset + 1;
                    continue;
                }
                // Re-append with one more check counted, so the original is left behind.
                props.insert(
                    property::TRANSACTION_CHECK_TIMES.into(),
                    (checks + 1).to_string(),
                );
                props.insert(
                    property::TRANSACTION_PREPARED_QUEUE_OFFSET.into(),
                    key.to_string(),
                );
                let again = MessageRecord {
                    properties: encode_properties(&props),
                    store_host: inner.store_host,
                    ..half.clone()
                };
                let put = inner.store.put_message(again.clone());
                let Some(append) = put.append.filter(|_| {
                    matches!(
                        put.status,
                        PutMessageStatus::PutOk | PutMessageStatus::FlushDiskTimeout
                    )
                }) else {
                    break 'scan;
                };
                // The old copy is superseded by the new one: the scan moves past it, while a
                // late answer about it still decides the transaction (same decision key).
                offset = half.queue_offset + 1;
                let stored = MessageRecord {
                    queue_offset: append.logics_offset,
                    physical_offset: append.wrote_offset,
                    store_timestamp: append.store_timestamp,
                    ..again
                };
                send_check(inner, stored, &props);
            }
            if r.messages.is_empty() {
                break;
            }
        }
        inner
            .offsets
            .commit(CHECK_GROUP, TRANS_HALF_TOPIC, 0, offset);
    }
}

/// Sends CHECK_TRANSACTION_STATE for a half message to a live producer of its group.
fn send_check(inner: &Arc<BrokerInner>, half: MessageRecord, props: &HashMap<String, String>) {
    let Some(group) = props.get(property::PRODUCER_GROUP) else {
        return;
    };
    let Some(channel) = inner.clients.any_producer_channel(group) else {
        tracing::debug!(group, "no live producer to check a half message with");
        return;
    };
    let uniq = props
        .get(property::UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
        .cloned()
        .unwrap_or_default();
    // The body carries the message as the producer sent it: real topic and queue restored.
    let mut shown = half.clone();
    if let Some(t) = props.get(property::REAL_TOPIC) {
        shown.topic = t.clone();
    }
    if let Some(q) = props
        .get(property::REAL_QUEUE_ID)
        .and_then(|q| q.parse().ok())
    {
        shown.queue_id = q;
    }
    let cmd = RemotingCommand::request(request_code::CHECK_TRANSACTION_STATE)
        .with_ext("tranStateTableOffset", half.queue_offset)
        .with_ext("commitLogOffset", half.physical_offset)
        .with_ext("msgId", &uniq)
        .with_ext("transactionId", &uniq)
        .with_ext(
            "offsetMsgId",
            ids::offset_msg_id(&half.store_host, half.physical_offset),
        )
        .with_body(shown.encode());
    inner.runtime.spawn(async move {
        let _ = channel.invoke_oneway(cmd).await;
    });
}

/// Starts the periodic check-back.
pub fn start(inner: &Arc<BrokerInner>) -> tokio::task::JoinHandle<()> {
    let inner = inner.clone();
    tokio::spawn(async move {
        let period = Duration::from_millis(inner.config.transaction_check_interval_ms.max(100));
        loop {
            tokio::time::sleep(period).await;
            let i = inner.clone();
            let _ = tokio::task::spawn_blocking(move || i.transactions.check_pass(&i)).await;
        }
    })
}
