//! Client bookkeeping: HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP,
//! LOCK_BATCH_MQ / UNLOCK_BATCH_MQ, CHECK_CLIENT_CONFIG.

use std::time::Instant;

use serde::Deserialize;

use super::{ok, reply};
use crate::broker::client_manager::ClientChannel;
use crate::broker::topic_config::retry_topic;
use crate::broker::BrokerInner;
use crate::protocol::bodies::{
    ConsumerListBody, HeartbeatData, LockBatchRequestBody, LockBatchResponseBody, SubscriptionData,
    PERM_READ, PERM_WRITE,
};
use crate::protocol::json::from_fastjson;
use crate::protocol::{response_code as code, RemotingCommand};
use crate::remoting::Channel;

pub fn heartbeat(inner: &BrokerInner, ch: &Channel, req: &RemotingCommand) -> RemotingCommand {
    let hb: HeartbeatData = match from_fastjson(&req.body) {
        Ok(h) => h,
        Err(e) => {
            return reply(
                req,
                code::SYSTEM_ERROR,
                format!("the heartbeat body is not valid HeartbeatData JSON: {e}"),
            )
        }
    };
    let client = |hb: &HeartbeatData| ClientChannel {
        channel: ch.clone(),
        client_id: hb.client_id.clone(),
        language: req.language,
        version: req.version,
        last_update: Instant::now(),
    };
    for c in &hb.consumer_data_set {
        if let Some(group) = inner.groups.find_or_create(&c.group_name) {
            // Every known group gets its retry topic, so failed messages have somewhere to go.
            let (_, created) = inner.topics.ensure(
                &retry_topic(&c.group_name),
                group.retry_queue_nums.max(1),
                PERM_READ | PERM_WRITE,
            );
            if created {
                inner.register_soon();
            }
        }
        if let Some(change) = inner.clients.register_consumer(c, client(&hb)) {
            inner.notify_consumer_ids_changed(&change.group, change.notify);
        }
    }
    for p in &hb.producer_data_set {
        inner.clients.register_producer(&p.group_name, client(&hb));
    }
    // A heartbeat processed after its connection closed must not leave a ghost member for
    // 120 s: the close flag is set before `on_close` runs, so undo what was registered.
    if ch.is_closed() {
        inner.clients.channel_closed(ch);
    }
    ok(req)
}

pub fn unregister_client(
    inner: &BrokerInner,
    ch: &Channel,
    req: &RemotingCommand,
) -> RemotingCommand {
    if let Some(g) = req.ext("producerGroup") {
        inner.clients.unregister_producer(g, ch);
    }
    if let Some(g) = req.ext("consumerGroup") {
        if let Some(client_id) = req.ext("clientID") {
            inner.locks.unlock_client(g, client_id);
        }
        if let Some(change) = inner.clients.unregister_consumer(g, ch) {
            inner.notify_consumer_ids_changed(&change.group, change.notify);
        }
    }
    ok(req)
}

pub fn get_consumer_list_by_group(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let Some(group) = req.ext("consumerGroup") else {
        return reply(
            req,
            code::SYSTEM_ERROR,
            "the request header field 'consumerGroup' is missing",
        );
    };
    let ids = inner.clients.consumer_ids(group);
    if ids.is_empty() {
        return reply(
            req,
            code::SYSTEM_ERROR,
            format!("no consumer for this group, {group}"),
        );
    }
    ok(req).with_body(
        serde_json::to_vec(&ConsumerListBody {
            consumer_id_list: ids,
        })
        .expect("serializes"),
    )
}

pub fn lock_batch(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let body: LockBatchRequestBody = match from_fastjson(&req.body) {
        Ok(b) => b,
        Err(e) => {
            return reply(
                req,
                code::SYSTEM_ERROR,
                format!("the lock body is not valid JSON: {e}"),
            )
        }
    };
    let locked = inner
        .locks
        .try_lock_batch(&body.consumer_group, &body.mq_set, &body.client_id);
    ok(req).with_body(
        serde_json::to_vec(&LockBatchResponseBody {
            lock_ok_mq_set: locked,
        })
        .expect("serializes"),
    )
}

pub fn unlock_batch(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let body: LockBatchRequestBody = match from_fastjson(&req.body) {
        Ok(b) => b,
        Err(e) => {
            return reply(
                req,
                code::SYSTEM_ERROR,
                format!("the unlock body is not valid JSON: {e}"),
            )
        }
    };
    inner
        .locks
        .unlock_batch(&body.consumer_group, &body.mq_set, &body.client_id);
    ok(req)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct CheckClientRequestBody {
    subscription_data: Option<SubscriptionData>,
}

/// Validates a consumer's subscription (SQL92 expressions are compiled here so a bad one fails
/// at subscribe time with a clear message).
pub fn check_client_config(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let body: CheckClientRequestBody = from_fastjson(&req.body).unwrap_or_default();
    if let Some(sub) = body.subscription_data {
        if sub.expression_type == "SQL92" {
            if let Err((c, remark)) = super::pull::build_filter(inner, &sub) {
                return reply(req, c, remark);
            }
        }
    }
    ok(req)
}
