//! The PULL_MESSAGE exchange (§4.2, §9.3) and the queue offset queries consumers need
//! (GET_MAX_OFFSET, GET_MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP).

use std::time::Duration;

use super::error::{ClientError, Result};
use super::instance::ClientInstance;
use super::message::MessageExt;
use crate::protocol::bodies::{MessageQueue, SubscriptionData};
use crate::protocol::message::{property, MessageRecord};
use crate::protocol::{request_code, response_code, RemotingCommand};

/// PullSysFlag bits.
pub mod pull_flag {
    pub const COMMIT_OFFSET: i32 = 0x1;
    pub const SUSPEND: i32 = 0x2;
    pub const SUBSCRIPTION: i32 = 0x4;
    pub const CLASS_FILTER: i32 = 0x8;
    pub const LITE_PULL: i32 = 0x10;
}

/// What a pull found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PullStatus {
    Found,
    /// Nothing new at this offset (PULL_NOT_FOUND).
    NoNewMsg,
    /// Messages exist but none matched the filter (PULL_RETRY_IMMEDIATELY).
    NoMatchedMsg,
    /// The offset is outside the queue (PULL_OFFSET_MOVED): continue from `next_begin_offset`.
    OffsetIllegal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PullResult {
    pub status: PullStatus,
    pub next_begin_offset: i64,
    pub min_offset: i64,
    pub max_offset: i64,
    pub suggest_which_broker_id: i64,
    /// Decoded, decompressed and filtered by tag string.
    pub msgs: Vec<MessageExt>,
}

/// One pull.
pub(crate) struct PullRequest<'a> {
    pub group: &'a str,
    pub mq: &'a MessageQueue,
    pub subscription: &'a SubscriptionData,
    pub offset: i64,
    pub max_nums: i32,
    pub sys_flag: i32,
    pub commit_offset: i64,
    pub suspend: Duration,
    pub timeout: Duration,
}

pub(crate) async fn pull(instance: &ClientInstance, req: PullRequest<'_>) -> Result<PullResult> {
    let mq = req.mq;
    let mut sys_flag = req.sys_flag;
    let addr = match instance.routes().master_addr(&mq.broker_name) {
        Some(a) => a,
        None => {
            // Reading from a slave: it must not store our offset.
            sys_flag &= !pull_flag::COMMIT_OFFSET;
            instance.read_addr(&mq.broker_name, &mq.topic).await?
        }
    };
    let sub = req.subscription;
    let mut cmd = RemotingCommand::request(request_code::PULL_MESSAGE)
        .with_ext("consumerGroup", req.group)
        .with_ext("topic", &mq.topic)
        .with_ext("queueId", mq.queue_id)
        .with_ext("queueOffset", req.offset)
        .with_ext("maxMsgNums", req.max_nums)
        .with_ext("sysFlag", sys_flag)
        .with_ext("commitOffset", req.commit_offset)
        .with_ext("suspendTimeoutMillis", req.suspend.as_millis() as i64)
        .with_ext("subVersion", sub.sub_version)
        .with_ext("expressionType", &sub.expression_type)
        .with_ext("bname", &mq.broker_name);
    if sys_flag & pull_flag::SUBSCRIPTION != 0 {
        cmd.set_ext("subscription", &sub.sub_string);
    }
    let resp = instance.invoke(&addr, cmd, req.timeout).await?;
    let status = match resp.code {
        response_code::SUCCESS => PullStatus::Found,
        response_code::PULL_NOT_FOUND => PullStatus::NoNewMsg,
        response_code::PULL_RETRY_IMMEDIATELY => PullStatus::NoMatchedMsg,
        response_code::PULL_OFFSET_MOVED => PullStatus::OffsetIllegal,
        code => return Err(ClientError::broker(code, resp.remark.as_deref(), &addr)),
    };
    let num = |k: &str| resp.ext_i64_or(k, 0).unwrap_or(0);
    let mut result = PullResult {
        status,
        next_begin_offset: num("nextBeginOffset"),
        min_offset: num("minOffset"),
        max_offset: num("maxOffset"),
        suggest_which_broker_id: num("suggestWhichBrokerId"),
        msgs: Vec::new(),
    };
    if status == PullStatus::Found {
        let records = MessageRecord::decode_all_with_crc(&resp.body).map_err(|e| {
            ClientError::broker(1, Some(&format!("undecodable pull body: {e}")), &addr)
        })?;
        result.msgs = decode_and_filter(records, mq, sub, result.min_offset, result.max_offset)?;
    }
    Ok(result)
}

/// Records → messages, keeping only those whose tag is subscribed (the broker filtered by tag
/// hash; hashes collide).
pub(crate) fn decode_and_filter(
    records: Vec<(MessageRecord, i32)>,
    mq: &MessageQueue,
    sub: &SubscriptionData,
    min_offset: i64,
    max_offset: i64,
) -> Result<Vec<MessageExt>> {
    let by_tag = sub.expression_type != "SQL92" && !sub.tags_set.is_empty();
    let mut out = Vec::with_capacity(records.len());
    for (rec, crc) in records {
        // Room for MIN_OFFSET and MAX_OFFSET.
        let mut m = MessageExt::from_record_with_crc(rec, crc, &mq.broker_name, 2)?;
        if by_tag
            && !m
                .tags()
                .is_some_and(|t| sub.tags_set.iter().any(|s| s == t))
        {
            continue;
        }
        m.properties
            .insert(property::MIN_OFFSET.into(), min_offset.to_string());
        m.properties
            .insert(property::MAX_OFFSET.into(), max_offset.to_string());
        out.push(m);
    }
    Ok(out)
}

async fn offset_query(
    instance: &ClientInstance,
    mq: &MessageQueue,
    code: i32,
    extra: Option<(&str, i64)>,
    answer_key: &str,
) -> Result<i64> {
    let addr = instance.read_addr(&mq.broker_name, &mq.topic).await?;
    let mut cmd = RemotingCommand::request(code)
        .with_ext("topic", &mq.topic)
        .with_ext("queueId", mq.queue_id)
        .with_ext("bname", &mq.broker_name);
    if let Some((k, v)) = extra {
        cmd.set_ext(k, v);
    }
    let resp = instance
        .invoke(&addr, cmd, instance.request_timeout())
        .await?;
    if resp.code != response_code::SUCCESS {
        return Err(ClientError::broker(
            resp.code,
            resp.remark.as_deref(),
            &addr,
        ));
    }
    resp.ext_i64(answer_key)
        .map_err(|e| ClientError::broker(1, Some(&e.to_string()), &addr))
}

/// The next offset to be written in `mq` (GET_MAX_OFFSET).
pub async fn max_offset(instance: &ClientInstance, mq: &MessageQueue) -> Result<i64> {
    offset_query(instance, mq, request_code::GET_MAX_OFFSET, None, "offset").await
}

/// The first offset still available in `mq` (GET_MIN_OFFSET).
pub async fn min_offset(instance: &ClientInstance, mq: &MessageQueue) -> Result<i64> {
    offset_query(instance, mq, request_code::GET_MIN_OFFSET, None, "offset").await
}

/// The offset of the message stored closest to `timestamp_ms` (SEARCH_OFFSET_BY_TIMESTAMP).
pub async fn search_offset(
    instance: &ClientInstance,
    mq: &MessageQueue,
    timestamp_ms: i64,
) -> Result<i64> {
    offset_query(
        instance,
        mq,
        request_code::SEARCH_OFFSET_BY_TIMESTAMP,
        Some(("timestamp", timestamp_ms)),
        "offset",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_keeps_subscribed_tags_only() {
        // Records as a pull body carries them: each with the body CRC stored in it.
        let rec = |tag: Option<&str>, off: i64| {
            let r = MessageRecord {
                topic: "T".into(),
                body: bytes::Bytes::from_static(b"x"),
                queue_offset: off,
                properties: tag.map(|t| format!("TAGS\u{1}{t}")).unwrap_or_default(),
                store_host: "127.0.0.1:10911".parse().unwrap(),
                ..Default::default()
            };
            let wire = bytes::Bytes::from(r.encode());
            let (decoded, _, crc) = MessageRecord::decode_with_crc(&wire, true).unwrap();
            assert_eq!(decoded, r);
            (decoded, crc)
        };
        let mq = MessageQueue {
            topic: "T".into(),
            broker_name: "b".into(),
            queue_id: 0,
        };
        let recs = vec![
            rec(Some("A"), 0),
            rec(Some("B"), 1),
            rec(None, 2),
            rec(Some("C"), 3),
        ];
        let sub = SubscriptionData::new("T", "A || C", "TAG");
        let got = decode_and_filter(recs.clone(), &mq, &sub, 0, 4).unwrap();
        let offs: Vec<i64> = got.iter().map(|m| m.queue_offset).collect();
        assert_eq!(offs, vec![0, 3]);
        assert_eq!(got[0].property("MAX_OFFSET"), Some("4"));
        assert_eq!(got[0].broker_name, "b");
        assert_eq!(got[0].body_crc, crate::protocol::message::body_crc(b"x"));
        let all = SubscriptionData::new("T", "*", "TAG");
        assert_eq!(decode_and_filter(recs, &mq, &all, 0, 4).unwrap().len(), 4);
    }
}
