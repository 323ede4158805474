//! Request-reply (RocketMQ 4.6+ RPC over messages), the client's share.
//!
//! A requester sends an ordinary message with `CORRELATION_ID` (unique per request),
//! `REPLY_TO_CLIENT` (its client id) and `TTL`, and waits. A consumer of that topic answers
//! with [`create_reply_message`] and a plain send; the broker pushes the reply to the requester
//! (PUSH_REPLY_MESSAGE_TO_CLIENT), whose [`RequestFutures`] hand it to the waiting request by
//! correlation id. The requesting side is `Producer::request` (`producer/request.rs`).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::error::{ClientError, Result};
use super::message::{decompress, Message, MessageExt};
use crate::protocol::message::{property, reply_topic, sys_flag, REPLY_MESSAGE_FLAG};
use crate::protocol::RemotingCommand;

/// Most requests one client may have waiting for replies at once: each holds an entry until
/// its reply or its timeout, so a caller that floods requests nobody answers is stopped here.
pub const MAX_PENDING_REQUESTS: usize = 65_536;

/// Builds the reply to a request message, as Java's `MessageUtil.createReplyMessage` and Go's
/// `consumer.CreateReplyMessage`: to `<cluster>_REPLY_TOPIC` of the cluster that stored the
/// request, with its correlation id, requester and TTL, and `MSG_TYPE=reply` (which makes the
/// producer send it as SEND_REPLY_MESSAGE_V2). Send it with any started producer.
pub fn create_reply_message(request: &MessageExt, body: impl Into<Bytes>) -> Result<Message> {
    create_reply_to(&request.properties, body)
}

/// [`create_reply_message`] from the request's properties alone (for bindings, whose received
/// messages are their own objects).
pub fn create_reply_to(
    request_properties: &HashMap<String, String>,
    body: impl Into<Bytes>,
) -> Result<Message> {
    let get = |k: &str| request_properties.get(k).map(String::as_str);
    let cluster = get(property::CLUSTER)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            ClientError::illegal(format!(
                "create reply message fail, requestMessage error, property[{}] is null: only a \
                 message consumed from a broker (which adds it) can be answered",
                property::CLUSTER
            ))
        })?;
    let mut reply = Message::new(reply_topic(cluster), body);
    reply.set_property(property::MESSAGE_TYPE, REPLY_MESSAGE_FLAG);
    for key in [
        property::CORRELATION_ID,
        property::MESSAGE_REPLY_TO_CLIENT,
        property::MESSAGE_TTL,
    ] {
        if let Some(v) = get(key) {
            reply.set_property(key, v);
        }
    }
    Ok(reply)
}

/// The requester named by a request message (`REPLY_TO_CLIENT`), as Go's
/// `consumer.GetReplyToClient`.
pub fn reply_to_client(request: &MessageExt) -> Option<&str> {
    request.property(property::MESSAGE_REPLY_TO_CLIENT)
}

/// Requests of one client waiting for their replies, by correlation id.
#[derive(Default)]
pub(crate) struct RequestFutures {
    pending: Mutex<HashMap<String, oneshot::Sender<MessageExt>>>,
}

impl RequestFutures {
    /// Starts waiting for the reply to `correlation_id`.
    pub fn register(&self, correlation_id: &str) -> Result<oneshot::Receiver<MessageExt>> {
        let mut pending = self.pending.lock().unwrap();
        if pending.len() >= MAX_PENDING_REQUESTS {
            return Err(ClientError::state(format!(
                "{MAX_PENDING_REQUESTS} requests are already waiting for replies; wait for \
                 some to finish or time out"
            )));
        }
        let (tx, rx) = oneshot::channel();
        pending.insert(correlation_id.to_string(), tx);
        Ok(rx)
    }

    /// Stops waiting (the request finished, failed or timed out).
    pub fn remove(&self, correlation_id: &str) {
        self.pending.lock().unwrap().remove(correlation_id);
    }

    /// Hands a reply to its request; false when no request waits for it (it timed out).
    pub fn complete(&self, reply: MessageExt) -> bool {
        let Some(id) = reply.property(property::CORRELATION_ID) else {
            return false;
        };
        let waiter = self.pending.lock().unwrap().remove(id);
        match waiter {
            Some(tx) => tx.send(reply).is_ok(),
            None => false,
        }
    }

    /// Fails every waiting request (the client shuts down).
    pub fn clear(&self) {
        self.pending.lock().unwrap().clear();
    }
}

/// "ip:port", as this broker and rocketmq-client-go write it, or Java's "/ip:port".
fn parse_host(s: Option<&str>) -> SocketAddr {
    s.map(|s| s.trim_start_matches('/'))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
}

/// The reply carried by a PUSH_REPLY_MESSAGE_TO_CLIENT request (header fields plus body),
/// stamped with its arrival time.
pub(crate) fn reply_from_push(req: &RemotingCommand, broker_name: &str) -> Result<MessageExt> {
    let bad = |e: crate::protocol::header::HeaderError| {
        ClientError::illegal(format!("malformed reply push: {}", e.0))
    };
    let sys = req.ext_i32_or("sysFlag", 0).map_err(bad)?;
    let body = if sys & sys_flag::COMPRESSED != 0 {
        Bytes::from(decompress(&req.body)?)
    } else {
        req.body.clone()
    };
    let mut properties =
        crate::protocol::message::decode_properties(req.ext("properties").unwrap_or(""));
    properties.insert(
        property::REPLY_MESSAGE_ARRIVE_TIME.into(),
        crate::protocol::now_ms().to_string(),
    );
    let msg_id = properties
        .get(property::UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
        .cloned()
        .unwrap_or_default();
    Ok(MessageExt {
        topic: req.ext("topic").unwrap_or_default().to_string(),
        flag: req.ext_i32_or("flag", 0).map_err(bad)?,
        body_crc: crate::protocol::message::body_crc(&req.body),
        body,
        properties,
        msg_id,
        offset_msg_id: String::new(),
        broker_name: broker_name.to_string(),
        queue_id: req.ext_i32_or("queueId", 0).map_err(bad)?,
        queue_offset: 0,
        commit_log_offset: 0,
        sys_flag: sys,
        born_timestamp: req.ext_i64_or("bornTimestamp", 0).map_err(bad)?,
        born_host: parse_host(req.ext("bornHost")),
        store_timestamp: req.ext_i64_or("storeTimestamp", 0).map_err(bad)?,
        store_host: parse_host(req.ext("storeHost")),
        reconsume_times: req.ext_i32_or("reconsumeTimes", 0).map_err(bad)?,
        prepared_transaction_offset: 0,
        // Pushed ahead of being stored (as RocketMQ): no stored record to measure yet.
        store_size: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::encode_properties;
    use crate::protocol::request_code;

    fn request_ext(props: &[(&str, &str)]) -> MessageExt {
        let rec = crate::protocol::message::MessageRecord {
            topic: "RequestTopic".into(),
            body: Bytes::from_static(b"question"),
            properties: encode_properties(
                &props
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        };
        MessageExt::from_record(rec, "b").unwrap()
    }

    #[test]
    fn a_reply_goes_to_the_cluster_reply_topic_with_the_request_ids() {
        let req = request_ext(&[
            (property::CLUSTER, "C1"),
            (property::CORRELATION_ID, "c-1"),
            (property::MESSAGE_REPLY_TO_CLIENT, "10.0.0.1@x"),
            (property::MESSAGE_TTL, "3000"),
        ]);
        let reply = create_reply_message(&req, "answer").unwrap();
        assert_eq!(reply.topic, "C1_REPLY_TOPIC");
        assert_eq!(&reply.body[..], b"answer");
        assert_eq!(reply.property(property::MESSAGE_TYPE), Some("reply"));
        assert_eq!(reply.property(property::CORRELATION_ID), Some("c-1"));
        assert_eq!(
            reply.property(property::MESSAGE_REPLY_TO_CLIENT),
            Some("10.0.0.1@x")
        );
        assert_eq!(reply.property(property::MESSAGE_TTL), Some("3000"));
        assert_eq!(reply_to_client(&req), Some("10.0.0.1@x"));
    }

    #[test]
    fn a_message_without_cluster_cannot_be_answered() {
        let req = request_ext(&[(property::CORRELATION_ID, "c-1")]);
        let e = create_reply_message(&req, "answer").unwrap_err();
        assert!(e.to_string().contains("CLUSTER"), "{e}");
    }

    #[test]
    fn a_push_becomes_the_reply_of_its_correlation_id() {
        let futures = RequestFutures::default();
        let mut rx = futures.register("c-9").unwrap();
        let mut props = HashMap::new();
        props.insert(property::CORRELATION_ID.to_string(), "c-9".to_string());
        let push = RemotingCommand::request(request_code::PUSH_REPLY_MESSAGE_TO_CLIENT)
            .with_ext("topic", "C1_REPLY_TOPIC")
            .with_ext("queueId", 0)
            .with_ext("sysFlag", 0)
            .with_ext("bornTimestamp", 5)
            .with_ext("storeTimestamp", 6)
            .with_ext("bornHost", "/127.0.0.1:4000")
            .with_ext("storeHost", "127.0.0.1:10911")
            .with_ext("properties", encode_properties(&props))
            .with_body(&b"answer"[..]);
        let reply = reply_from_push(&push, "broker-a").unwrap();
        assert_eq!(reply.born_host, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(reply.store_host, "127.0.0.1:10911".parse().unwrap());
        assert!(reply
            .property(property::REPLY_MESSAGE_ARRIVE_TIME)
            .is_some());
        assert!(futures.complete(reply));
        let got = rx.try_recv().unwrap();
        assert_eq!(&got.body[..], b"answer");
        // A second (late or duplicate) reply finds nobody waiting.
        assert!(!futures.complete(got));
    }
}
