//! SEND_REPLY_MESSAGE (long header names) / SEND_REPLY_MESSAGE_V2 (one-letter names): the
//! answer of a request-reply exchange (RocketMQ 4.6+ RPC over messages).
//!
//! The requester sent an ordinary message carrying `CORRELATION_ID` and `REPLY_TO_CLIENT` (its
//! client id); a consumer answers with a message to `<cluster>_REPLY_TOPIC` carrying the same
//! two properties and `MSG_TYPE=reply`. This processor pushes that reply straight to the
//! requester (PUSH_REPLY_MESSAGE_TO_CLIENT on the connection the requester heartbeats on as a
//! producer) and stores it in its topic, so it can be queried like any message. As in RocketMQ,
//! the answer to the replier says whether the push reached the requester; a failed store is
//! logged and leaves the response's `msgId` at `"0"`.

use std::net::SocketAddr;
use std::time::Duration;

use super::send::{body_too_large, check_topic, SendHeader};
use super::{header_error, reply};
use crate::broker::BrokerInner;
use crate::protocol::message::{decode_properties, encode_properties, property, MessageRecord};
use crate::protocol::{request_code, response_code as code, RemotingCommand};
use crate::remoting::Channel;
use crate::store::PutMessageStatus;

/// How long the broker waits for the requester to acknowledge a pushed reply. The replier's
/// own send timeout (3 s by default) bounds what waiting longer could achieve.
const PUSH_REPLY_TIMEOUT: Duration = Duration::from_secs(3);

pub async fn send_reply_message(
    inner: &BrokerInner,
    ch: &Channel,
    req: &RemotingCommand,
) -> RemotingCommand {
    let h = match SendHeader::parse(req) {
        Ok(h) => h,
        Err(e) => return header_error(req, e),
    };
    if h.batch {
        return reply(
            req,
            code::MESSAGE_ILLEGAL,
            "a reply message cannot be a batch; send one reply per request",
        );
    }
    let (_, queue_id) = match check_topic(inner, req, &h) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if let Some(r) = body_too_large(inner, req, req.body.len()) {
        return r;
    }
    let unit_mode = req.ext_bool("unitMode") || req.ext_bool("k");
    let born_host = ch.remote_addr();

    let pushed = push_reply(inner, &h, queue_id, unit_mode, born_host, req).await;

    let mut resp = match &pushed {
        Ok(()) => reply(req, code::SUCCESS, ""),
        Err(remark) => reply(req, code::SYSTEM_ERROR, remark.clone()),
    };
    resp.set_ext("msgId", "0");
    resp.set_ext("queueId", queue_id);
    resp.set_ext("queueOffset", 0);
    resp.set_ext(property::MSG_REGION, &inner.config.region_id);
    resp.set_ext(property::TRACE_SWITCH, inner.config.trace_on);

    // Stored as it arrived, delivered or not: the reply stays queryable in its topic.
    let mut props = decode_properties(&h.properties);
    props.remove(property::WAIT_STORE_MSG_OK);
    let record = MessageRecord {
        topic: h.topic.clone(),
        queue_id,
        flag: h.flag,
        sys_flag: h.sys_flag,
        born_timestamp: h.born_timestamp,
        born_host,
        store_host: inner.store_host,
        reconsume_times: h.reconsume_times,
        body: req.body.clone(),
        properties: encode_properties(&props),
        ..Default::default()
    };
    let result = inner.store.put_message(record);
    match (result.status, result.append) {
        (PutMessageStatus::PutOk | PutMessageStatus::FlushDiskTimeout, Some(append)) => {
            resp.set_ext("msgId", append.msg_ids.join(","));
            resp.set_ext("queueOffset", append.logics_offset);
        }
        (status, _) => tracing::warn!(
            topic = %h.topic,
            ?status,
            remark = ?result.remark,
            "a reply message could not be stored"
        ),
    }
    resp
}

/// Called for every single-message send: a request message names its requester
/// (`REPLY_TO_CLIENT`), and the connection it came over is that requester's. Remembered so
/// that the reply reaches a requester this broker has no heartbeat from yet
/// (rocketmq-client-go sends none before a request when it already knows the topic's route,
/// and its next one may be 30 s away). A cheap substring test keeps other sends unaffected.
pub(super) fn note_requester(inner: &BrokerInner, ch: &Channel, req: &RemotingCommand) {
    let key = if req.code == request_code::SEND_MESSAGE_V2 {
        "i"
    } else {
        "properties"
    };
    let Some(props) = req.ext(key) else {
        return;
    };
    if !props.contains(property::MESSAGE_REPLY_TO_CLIENT) {
        return;
    }
    if let Some(requester) = decode_properties(props).get(property::MESSAGE_REPLY_TO_CLIENT) {
        inner.clients.note_requester(requester, ch);
    }
}

/// Pushes the reply to the client named by its `REPLY_TO_CLIENT`; `Err` is the remark for the
/// replier.
async fn push_reply(
    inner: &BrokerInner,
    h: &SendHeader,
    queue_id: i32,
    unit_mode: bool,
    born_host: SocketAddr,
    req: &RemotingCommand,
) -> Result<(), String> {
    let mut props = decode_properties(&h.properties);
    let Some(requester) = props.get(property::MESSAGE_REPLY_TO_CLIENT).cloned() else {
        return Err(format!(
            "the reply message has no {} property: set it (with {}) from the request, e.g. \
             with create_reply_message",
            property::MESSAGE_REPLY_TO_CLIENT,
            property::CORRELATION_ID
        ));
    };
    let Some(channel) = inner.clients.find_requester_channel(&requester) else {
        return Err(format!(
            "push reply message fail, channel of <{requester}> not found: the requester is \
             gone or has not sent a heartbeat to this broker (the reply was stored but not \
             delivered)"
        ));
    };
    let now = crate::protocol::now_ms();
    props.insert(property::PUSH_REPLY_TIME.into(), now.to_string());
    props.remove(property::WAIT_STORE_MSG_OK);
    let push = RemotingCommand::request(request_code::PUSH_REPLY_MESSAGE_TO_CLIENT)
        .with_ext("producerGroup", &h.producer_group)
        .with_ext("topic", &h.topic)
        .with_ext("defaultTopic", &h.default_topic)
        .with_ext("defaultTopicQueueNums", h.default_topic_queue_nums)
        .with_ext("queueId", queue_id)
        .with_ext("sysFlag", h.sys_flag)
        .with_ext("bornTimestamp", h.born_timestamp)
        .with_ext("flag", h.flag)
        .with_ext("properties", encode_properties(&props))
        .with_ext("reconsumeTimes", h.reconsume_times)
        .with_ext("unitMode", unit_mode)
        .with_ext("bornHost", born_host)
        .with_ext("storeHost", inner.store_host)
        .with_ext("storeTimestamp", now)
        .with_body(req.body.clone());
    match channel.invoke(push, PUSH_REPLY_TIMEOUT).await {
        Ok(r) if r.code == code::SUCCESS => Ok(()),
        Ok(r) => Err(format!(
            "push reply message to <{requester}> fail: it answered {} ({}): {}",
            code::name(r.code),
            r.code,
            r.remark.unwrap_or_default()
        )),
        Err(e) => Err(format!("push reply message to <{requester}> fail: {e}")),
    }
}
