//! SEND_MESSAGE (long header names), SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE (one-letter names),
//! and CONSUMER_SEND_MSG_BACK (retry and dead letters).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{header_error, reply};
use crate::broker::timer;
use crate::broker::topic_config::{self, is_send_forbidden, validate_topic_name, TRANS_HALF_TOPIC};
use crate::broker::BrokerInner;
use crate::protocol::bodies::{TopicConfig, PERM_READ, PERM_WRITE};
use crate::protocol::header::HeaderError;
use crate::protocol::message::{
    decode_batch, decode_properties, encode_properties, property, sys_flag, MessageRecord,
};
use crate::protocol::{codes, ids, request_code, response_code as code, RemotingCommand};
use crate::remoting::Channel;
use crate::store::{PutMessageResult, PutMessageStatus};

/// The send header, from either naming.
pub(crate) struct SendHeader {
    pub producer_group: String,
    pub topic: String,
    pub default_topic: String,
    pub default_topic_queue_nums: i32,
    pub queue_id: i32,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub flag: i32,
    pub properties: String,
    pub reconsume_times: i32,
    pub max_reconsume_times: Option<i32>,
    pub batch: bool,
}

impl SendHeader {
    pub fn parse(req: &RemotingCommand) -> Result<SendHeader, HeaderError> {
        // V2 uses one-letter keys; code 10 (and the Go client) long names.
        let v2 = req.ext("a").is_some() && req.ext("b").is_some();
        let n = |long: &'static str, short: &'static str| if v2 { short } else { long };
        Ok(SendHeader {
            producer_group: req.ext_str(n("producerGroup", "a"))?.to_string(),
            topic: req.ext_str(n("topic", "b"))?.to_string(),
            default_topic: req
                .ext(n("defaultTopic", "c"))
                .unwrap_or(topic_config::AUTO_CREATE_TOPIC_KEY)
                .to_string(),
            default_topic_queue_nums: req.ext_i32_or(n("defaultTopicQueueNums", "d"), 4)?,
            queue_id: req.ext_i32_or(n("queueId", "e"), -1)?,
            sys_flag: req.ext_i32_or(n("sysFlag", "f"), 0)?,
            born_timestamp: req.ext_i64_or(n("bornTimestamp", "g"), crate::protocol::now_ms())?,
            flag: req.ext_i32_or(n("flag", "h"), 0)?,
            properties: req.ext(n("properties", "i")).unwrap_or("").to_string(),
            reconsume_times: req.ext_i32_or(n("reconsumeTimes", "j"), 0)?,
            max_reconsume_times: match req.ext(n("maxReconsumeTimes", "l")) {
                Some(_) => Some(req.ext_i32(n("maxReconsumeTimes", "l"))?),
                None => None,
            },
            batch: req.ext_bool(n("batch", "m")) || req.code == request_code::SEND_BATCH_MESSAGE,
        })
    }
}

fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(crate::protocol::now_ms() as u64);
    h.finish() as u32
}

/// Checks shared by single and batch sends; returns the topic config and the chosen queue.
#[allow(clippy::result_large_err)] // the error is the response itself, built once per failed send
pub(super) fn check_topic(
    inner: &BrokerInner,
    req: &RemotingCommand,
    h: &SendHeader,
) -> Result<(TopicConfig, i32), RemotingCommand> {
    if inner.config.broker_permission & PERM_WRITE == 0 {
        return Err(reply(
            req,
            code::NO_PERMISSION,
            format!(
                "the broker[{}] sending message is forbidden",
                inner.config.broker_name
            ),
        ));
    }
    if let Err(e) = validate_topic_name(&h.topic) {
        return Err(reply(req, code::SYSTEM_ERROR, e));
    }
    if is_send_forbidden(&h.topic) {
        return Err(reply(
            req,
            code::NO_PERMISSION,
            format!("Sending message to topic[{}] is forbidden.", h.topic),
        ));
    }
    let cfg = match inner.topics.get(&h.topic) {
        Some(c) => c,
        None => {
            let created = if h.topic.starts_with(topic_config::RETRY_GROUP_TOPIC_PREFIX) {
                Some(inner.topics.ensure(&h.topic, 1, PERM_READ | PERM_WRITE).0)
            } else if inner.config.auto_create_topic_enable
                || h.default_topic != topic_config::AUTO_CREATE_TOPIC_KEY
            {
                inner
                    .topics
                    .create_on_send(&h.topic, &h.default_topic, h.default_topic_queue_nums)
            } else {
                None
            };
            match created {
                Some(c) => {
                    inner.register_soon();
                    c
                }
                None => {
                    return Err(reply(
                        req,
                        code::TOPIC_NOT_EXIST,
                        format!(
                        "topic[{}] not exist, apply first please! (autoCreateTopicEnable is {})",
                        h.topic, inner.config.auto_create_topic_enable
                    ),
                    ))
                }
            }
        }
    };
    if cfg.perm & PERM_WRITE == 0 {
        return Err(reply(
            req,
            code::NO_PERMISSION,
            format!("the topic[{}] sending message is forbidden", h.topic),
        ));
    }
    let max_q = cfg.write_queue_nums.max(cfg.read_queue_nums);
    let queue_id = if h.queue_id < 0 {
        (random_u32() % cfg.write_queue_nums.max(1) as u32) as i32
    } else if h.queue_id >= max_q {
        return Err(reply(
            req,
            code::SYSTEM_ERROR,
            format!(
                "request queueId[{}] is illegal, {} Producer: {}",
                h.queue_id,
                format_args!(
                    "topic:{} topicConfig.writeQueueNums:{}",
                    h.topic, cfg.write_queue_nums
                ),
                h.producer_group
            ),
        ));
    } else {
        h.queue_id
    };
    Ok((cfg, queue_id))
}

pub(super) fn body_too_large(
    inner: &BrokerInner,
    req: &RemotingCommand,
    len: usize,
) -> Option<RemotingCommand> {
    let max = inner.config.store.max_message_size_bytes;
    (len > max).then(|| {
        reply(
            req,
            code::MESSAGE_ILLEGAL,
            format!(
                "the message body size {len} bytes is over the broker's maxMessageSize {max} bytes"
            ),
        )
    })
}

/// Maps a store result to a send response (awaiting a sync flush when there is one).
async fn finish_put(
    inner: &BrokerInner,
    req: &RemotingCommand,
    result: PutMessageResult,
    queue_id: i32,
) -> RemotingCommand {
    let mut response_status = code::SUCCESS;
    match result.status {
        PutMessageStatus::PutOk => {}
        PutMessageStatus::FlushDiskTimeout => response_status = code::FLUSH_DISK_TIMEOUT,
        PutMessageStatus::MessageIllegal | PutMessageStatus::PropertiesSizeExceeded => {
            return reply(
                req,
                code::MESSAGE_ILLEGAL,
                result
                    .remark
                    .unwrap_or_else(|| "the message is illegal".into()),
            )
        }
        PutMessageStatus::ServiceNotAvailable => {
            return reply(
                req,
                code::SERVICE_NOT_AVAILABLE,
                result.remark.unwrap_or_else(|| {
                    "service not available now, the store may be shutting down or the disk full"
                        .into()
                }),
            )
        }
        PutMessageStatus::CreateMappedFileFailed => {
            return reply(
                req,
                code::SYSTEM_ERROR,
                result
                    .remark
                    .unwrap_or_else(|| "create mapped file failed".into()),
            )
        }
        PutMessageStatus::UnknownError => {
            return reply(
                req,
                code::SYSTEM_ERROR,
                result
                    .remark
                    .unwrap_or_else(|| "unknown store error".into()),
            )
        }
    }
    if let Some(waiter) = result.flush_waiter {
        // The store resolves the waiter (true) or times it out (false); the outer timeout is a
        // guard against a waiter that is never resolved.
        let guard = Duration::from_millis(inner.config.store.sync_flush_timeout_ms + 1000);
        match tokio::time::timeout(guard, waiter).await {
            Ok(Ok(true)) => {}
            _ => response_status = code::FLUSH_DISK_TIMEOUT,
        }
    }
    let Some(append) = result.append else {
        return reply(req, code::SYSTEM_ERROR, "store returned no append result");
    };
    let mut resp = reply(req, response_status, "");
    resp.set_ext("msgId", append.msg_ids.join(","));
    resp.set_ext("queueId", queue_id);
    resp.set_ext("queueOffset", append.logics_offset);
    resp.set_ext(property::MSG_REGION, &inner.config.region_id);
    resp.set_ext(property::TRACE_SWITCH, inner.config.trace_on);
    resp
}

/// Group max reconsume times: the header's, else the subscription group's.
fn max_reconsume(inner: &BrokerInner, group: &str, header: Option<i32>, version: i32) -> i32 {
    match header {
        Some(m) if version >= codes::VERSION_MAX_RECONSUME_HEADER && m >= 0 => m,
        _ => inner
            .groups
            .find_or_create(group)
            .map(|g| g.retry_max_times)
            .unwrap_or(16),
    }
}

pub async fn send_message(
    inner: &Arc<BrokerInner>,
    ch: &Channel,
    req: &RemotingCommand,
) -> RemotingCommand {
    let h = match SendHeader::parse(req) {
        Ok(h) => h,
        Err(e) => return header_error(req, e),
    };
    if h.batch {
        return send_batch(inner, ch, req, h).await;
    }
    let (cfg, queue_id) = match check_topic(inner, req, &h) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if let Some(r) = body_too_large(inner, req, req.body.len()) {
        return r;
    }
    let mut props = decode_properties(&h.properties);
    // WAIT is dropped from what is stored, except WAIT=false, which tells the store not to
    // hold this send for a sync flush.
    if props.get(property::WAIT_STORE_MSG_OK).map(String::as_str) != Some("false") {
        props.remove(property::WAIT_STORE_MSG_OK);
    }
    props.insert(property::CLUSTER.into(), inner.config.cluster_name.clone());
    let mut msg = MessageRecord {
        topic: h.topic.clone(),
        queue_id,
        flag: h.flag,
        sys_flag: h.sys_flag,
        born_timestamp: h.born_timestamp,
        born_host: ch.remote_addr(),
        store_host: inner.store_host,
        reconsume_times: h.reconsume_times,
        body: req.body.clone(),
        properties: String::new(),
        ..Default::default()
    };
    if cfg.topic_filter_type == "MULTI_TAG" {
        msg.sys_flag |= sys_flag::MULTI_TAGS;
    }

    // A direct send to a retry topic past its max goes to the dead letters.
    if h.topic.starts_with(topic_config::RETRY_GROUP_TOPIC_PREFIX) {
        let group = &h.topic[topic_config::RETRY_GROUP_TOPIC_PREFIX.len()..];
        let max = max_reconsume(inner, group, h.max_reconsume_times, req.version);
        if h.reconsume_times >= max {
            let dlq = topic_config::dlq_topic(group);
            inner.topics.ensure(&dlq, 1, PERM_WRITE);
            inner.register_soon();
            msg.topic = dlq;
            msg.queue_id = 0;
            props.remove(property::DELAY_TIME_LEVEL);
        }
    }

    let tx_type = sys_flag::transaction_type(msg.sys_flag);
    if props
        .get(property::TRANSACTION_PREPARED)
        .map(String::as_str)
        == Some("true")
        || tx_type == sys_flag::TRANSACTION_PREPARED_TYPE
    {
        // Half message: parked in the half topic until END_TRANSACTION.
        props.insert(property::REAL_TOPIC.into(), msg.topic.clone());
        props.insert(property::REAL_QUEUE_ID.into(), msg.queue_id.to_string());
        msg.topic = TRANS_HALF_TOPIC.to_string();
        msg.queue_id = 0;
        msg.sys_flag =
            sys_flag::with_transaction_type(msg.sys_flag, sys_flag::TRANSACTION_NOT_TYPE);
        msg.properties = encode_properties(&props);
    } else if let Some(at) = match timer::delivery_time(
        &props,
        crate::protocol::now_ms(),
        inner.config.timer_max_delay_sec * 1000,
    ) {
        Ok(at) => at.filter(|at| *at > crate::protocol::now_ms()),
        Err(e) => return reply(req, code::MESSAGE_ILLEGAL, e),
    } {
        inner.timer.redirect(&mut msg, &mut props, at);
        let result = inner.store.put_message(msg);
        inner.timer.notify();
        return finish_put(inner, req, result, queue_id).await;
    } else if let Some(level) = props
        .get(property::DELAY_TIME_LEVEL)
        .and_then(|d| d.parse::<i32>().ok())
        .filter(|l| *l > 0)
    {
        inner.schedule.redirect(&mut msg, &mut props, level);
    } else {
        msg.properties = encode_properties(&props);
    }
    let result = inner.store.put_message(msg);
    finish_put(inner, req, result, queue_id).await
}

async fn send_batch(
    inner: &Arc<BrokerInner>,
    ch: &Channel,
    req: &RemotingCommand,
    h: SendHeader,
) -> RemotingCommand {
    let (cfg, queue_id) = match check_topic(inner, req, &h) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if h.topic.starts_with(topic_config::RETRY_GROUP_TOPIC_PREFIX) {
        return reply(
            req,
            code::MESSAGE_ILLEGAL,
            format!("batch request does not support retry group {}", h.topic),
        );
    }
    if sys_flag::transaction_type(h.sys_flag) != sys_flag::TRANSACTION_NOT_TYPE {
        return reply(
            req,
            code::MESSAGE_ILLEGAL,
            "batch messages cannot be transactional",
        );
    }
    let items = match decode_batch(&req.body) {
        Ok(i) if !i.is_empty() => i,
        Ok(_) => return reply(req, code::MESSAGE_ILLEGAL, "the batch is empty"),
        Err(e) => {
            return reply(
                req,
                code::MESSAGE_ILLEGAL,
                format!("the batch body is malformed: {}", e.0),
            )
        }
    };
    let mut batch_props: HashMap<String, String> = decode_properties(&h.properties);
    batch_props.insert(property::CLUSTER.into(), inner.config.cluster_name.clone());
    let mut msgs = Vec::with_capacity(items.len());
    for it in items {
        if let Some(r) = body_too_large(inner, req, it.body.len()) {
            return r;
        }
        let mut props = decode_properties(&it.properties);
        for (k, v) in &batch_props {
            props.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let mut sys = h.sys_flag;
        if cfg.topic_filter_type == "MULTI_TAG" {
            sys |= sys_flag::MULTI_TAGS;
        }
        msgs.push(MessageRecord {
            topic: h.topic.clone(),
            queue_id,
            flag: it.flag,
            sys_flag: sys,
            born_timestamp: h.born_timestamp,
            born_host: ch.remote_addr(),
            store_host: inner.store_host,
            body: it.body,
            properties: encode_properties(&props),
            ..Default::default()
        });
    }
    let result = inner.store.put_messages(msgs);
    finish_put(inner, req, result, queue_id).await
}

/// CONSUMER_SEND_MSG_BACK: a consumer failed a message; it goes to `%RETRY%<group>` after a
/// growing delay, or to `%DLQ%<group>` once it has been retried too often.
pub async fn consumer_send_back(
    inner: &Arc<BrokerInner>,
    ch: &Channel,
    req: &RemotingCommand,
) -> RemotingCommand {
    let parsed = (|| -> Result<_, HeaderError> {
        Ok((
            req.ext_i64("offset")?,
            req.ext_str("group")?.to_string(),
            req.ext_i32_or("delayLevel", 0)?,
            match req.ext("maxReconsumeTimes") {
                Some(_) => Some(req.ext_i32("maxReconsumeTimes")?),
                None => None,
            },
        ))
    })();
    let (offset, group, delay_level, max_header) = match parsed {
        Ok(p) => p,
        Err(e) => return header_error(req, e),
    };
    let Some(group_cfg) = inner.groups.find_or_create(&group) else {
        return reply(
            req,
            code::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group not exist, {group}"),
        );
    };
    if inner.config.broker_permission & PERM_WRITE == 0 {
        return reply(
            req,
            code::NO_PERMISSION,
            format!(
                "the broker[{}] sending message is forbidden",
                inner.config.broker_name
            ),
        );
    }
    if group_cfg.retry_queue_nums <= 0 {
        return super::ok(req);
    }
    let retry = topic_config::retry_topic(&group);
    let (_, created) =
        inner
            .topics
            .ensure(&retry, group_cfg.retry_queue_nums, PERM_READ | PERM_WRITE);
    if created {
        inner.register_soon();
    }
    let Some(raw) = inner.store.look_message_by_offset(offset) else {
        return reply(
            req,
            code::SYSTEM_ERROR,
            format!("look message by offset failed, {offset}"),
        );
    };
    let Ok((orig, _)) = MessageRecord::decode(&raw, false) else {
        return reply(
            req,
            code::SYSTEM_ERROR,
            format!("the message at offset {offset} is unreadable"),
        );
    };
    let mut props = decode_properties(&orig.properties);
    props
        .entry(property::RETRY_TOPIC.into())
        .or_insert_with(|| orig.topic.clone());
    let max = max_reconsume(inner, &group, max_header, req.version);
    let (topic, queue_id, level) = if orig.reconsume_times >= max || delay_level < 0 {
        let dlq = topic_config::dlq_topic(&group);
        let (_, created) = inner.topics.ensure(&dlq, 1, PERM_WRITE);
        if created {
            inner.register_soon();
        }
        (dlq, 0, 0)
    } else {
        let level = if delay_level == 0 {
            3 + orig.reconsume_times
        } else {
            delay_level
        };
        (
            retry,
            (random_u32() % group_cfg.retry_queue_nums as u32) as i32,
            level,
        )
    };
    // As RocketMQ: the first delivery's offset id, kept across retries; the header's
    // originMsgId (a client id) is not used.
    if !props.contains_key(property::ORIGIN_MESSAGE_ID) {
        let id = ids::offset_msg_id(&orig.store_host, orig.physical_offset);
        props.insert(property::ORIGIN_MESSAGE_ID.into(), id);
    }
    props.remove(property::DELAY_TIME_LEVEL);
    props.remove(property::WAIT_STORE_MSG_OK);
    let mut msg = MessageRecord {
        topic,
        queue_id,
        flag: orig.flag,
        sys_flag: orig.sys_flag,
        born_timestamp: orig.born_timestamp,
        born_host: orig.born_host,
        store_host: inner.store_host,
        reconsume_times: orig.reconsume_times + 1,
        body: orig.body.clone(),
        properties: String::new(),
        ..Default::default()
    };
    if level > 0 {
        inner.schedule.redirect(&mut msg, &mut props, level);
    } else {
        msg.properties = encode_properties(&props);
    }
    let _ = ch;
    let result = inner.store.put_message(msg);
    match result.status {
        PutMessageStatus::PutOk | PutMessageStatus::FlushDiskTimeout => super::ok(req),
        _ => reply(
            req,
            code::SYSTEM_ERROR,
            result
                .remark
                .unwrap_or_else(|| format!("{:?}", result.status)),
        ),
    }
}
