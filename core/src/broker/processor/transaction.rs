//! END_TRANSACTION: a producer's commit or rollback of a half message.

use super::{header_error, ok, reply};
use crate::broker::topic_config::TRANS_OP_HALF_TOPIC;
use crate::broker::BrokerInner;
use crate::protocol::header::HeaderError;
use crate::protocol::message::{
    decode_properties, encode_properties, property, sys_flag, MessageRecord,
};
use crate::protocol::{response_code as code, RemotingCommand};
use crate::remoting::Channel;
use crate::store::PutMessageStatus;

/// `commitOrRollback` values.
pub const COMMIT: i32 = 8;
pub const ROLLBACK: i32 = 12;

pub async fn end_transaction(
    inner: &BrokerInner,
    _ch: &Channel,
    req: &RemotingCommand,
) -> RemotingCommand {
    let parsed = (|| -> Result<_, HeaderError> {
        Ok((
            req.ext_str("producerGroup")?.to_string(),
            req.ext_i64("tranStateTableOffset")?,
            req.ext_i64("commitLogOffset")?,
            req.ext_i32("commitOrRollback")?,
        ))
    })();
    let (group, queue_offset, phys_offset, decision) = match parsed {
        Ok(p) => p,
        Err(e) => return header_error(req, e),
    };
    if !inner.is_master() {
        return reply(
            req,
            code::SLAVE_NOT_AVAILABLE,
            "the broker is a slave; end transactions on the master",
        );
    }
    if decision != COMMIT && decision != ROLLBACK {
        // Unknown: nothing to do; the check-back will ask again.
        return ok(req);
    }
    match end(inner, &group, queue_offset, phys_offset, decision == COMMIT) {
        Ok(()) => ok(req),
        Err(remark) => reply(req, code::SYSTEM_ERROR, remark),
    }
}

/// Applies a decision to the half message at `phys_offset`: commit makes it visible in its real
/// topic; both write an op record so it is never checked again.
pub fn end(
    inner: &BrokerInner,
    group: &str,
    queue_offset: i64,
    phys_offset: i64,
    commit: bool,
) -> Result<(), String> {
    let raw = inner
        .store
        .look_message_by_offset(phys_offset)
        .ok_or_else(|| {
            format!("find prepared transaction message failed at commitlog offset {phys_offset}")
        })?;
    let (half, _) = MessageRecord::decode(&raw, false).map_err(|e| e.to_string())?;
    let mut props = decode_properties(&half.properties);
    if props.get(property::PRODUCER_GROUP).map(String::as_str) != Some(group) {
        return Err(format!(
            "the producer group {group} does not match the half message's"
        ));
    }
    if half.queue_offset != queue_offset {
        return Err(format!(
            "the transaction state table offset {queue_offset} does not match the half message's {}",
            half.queue_offset
        ));
    }
    let key = crate::broker::transaction::decision_key(&half, &props);
    if inner.transactions.is_done(key) {
        // Already decided (a duplicate END_TRANSACTION or a late check answer).
        return Ok(());
    }
    if commit {
        let real_topic = props
            .remove(property::REAL_TOPIC)
            .ok_or("the half message has no REAL_TOPIC")?;
        let real_qid = props
            .remove(property::REAL_QUEUE_ID)
            .and_then(|q| q.parse().ok())
            .unwrap_or(0);
        props.remove(property::TRANSACTION_PREPARED);
        props.remove(property::TRANSACTION_PREPARED_QUEUE_OFFSET);
        props.remove(property::TRANSACTION_CHECK_TIMES);
        let msg = MessageRecord {
            topic: real_topic,
            queue_id: real_qid,
            sys_flag: sys_flag::with_transaction_type(
                half.sys_flag,
                sys_flag::TRANSACTION_COMMIT_TYPE,
            ),
            prepared_transaction_offset: phys_offset,
            properties: encode_properties(&props),
            store_host: inner.store_host,
            ..half.clone()
        };
        let r = inner.store.put_message(msg);
        if !matches!(
            r.status,
            PutMessageStatus::PutOk | PutMessageStatus::FlushDiskTimeout
        ) {
            return Err(r.remark.unwrap_or_else(|| {
                format!("storing the committed message failed: {:?}", r.status)
            }));
        }
    }
    write_op(inner, &half, key)
}

/// The op record: tag `d`, body = the half message's queue offset.
pub fn write_op(
    inner: &BrokerInner,
    half: &MessageRecord,
    half_queue_offset: i64,
) -> Result<(), String> {
    let mut props = std::collections::HashMap::new();
    props.insert(property::TAGS.to_string(), "d".to_string());
    props.insert(property::WAIT_STORE_MSG_OK.to_string(), "false".to_string());
    let op = MessageRecord {
        topic: TRANS_OP_HALF_TOPIC.to_string(),
        queue_id: half.queue_id,
        born_timestamp: crate::protocol::now_ms(),
        born_host: inner.store_host,
        store_host: inner.store_host,
        body: bytes::Bytes::from(half_queue_offset.to_string()),
        properties: encode_properties(&props),
        ..Default::default()
    };
    let r = inner.store.put_message(op);
    if matches!(
        r.status,
        PutMessageStatus::PutOk | PutMessageStatus::FlushDiskTimeout
    ) {
        inner.transactions.mark_done(half_queue_offset);
        Ok(())
    } else {
        Err(r
            .remark
            .unwrap_or_else(|| format!("storing the op message failed: {:?}", r.status)))
    }
}
