//! Administration: topics, subscription groups, stats, offsets, and relaying admin questions to
//! consumers (GET_CONSUMER_RUNNING_INFO) or resetting their offsets.

use std::time::Duration;

use super::{header_error, ok, reply};
use crate::broker::topic_config::validate_topic_name;
use crate::broker::BrokerInner;
use crate::protocol::bodies::{MessageQueue, SubscriptionGroupConfig, TopicConfig, TopicList};
use crate::protocol::header::HeaderError;
use crate::protocol::json::from_fastjson;
use crate::protocol::{request_code, response_code as code, RemotingCommand};

/// Writes a fastjson map keyed by MessageQueue objects: `{{"brokerName":..,"queueId":..,"topic":..}:value,...}`.
fn mq_keyed_map(entries: impl Iterator<Item = (MessageQueue, String)>) -> String {
    let mut s = String::from("{");
    for (i, (mq, v)) in entries.enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&serde_json::to_string(&mq).expect("mq serializes"));
        s.push(':');
        s.push_str(&v);
    }
    s.push('}');
    s
}

pub fn update_and_create_topic(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let parsed = (|| -> Result<TopicConfig, HeaderError> {
        Ok(TopicConfig {
            topic_name: req.ext_str("topic")?.to_string(),
            read_queue_nums: req.ext_i32_or("readQueueNums", 16)?,
            write_queue_nums: req.ext_i32_or("writeQueueNums", 16)?,
            perm: req.ext_i32_or("perm", 6)?,
            topic_filter_type: req
                .ext("topicFilterType")
                .unwrap_or("SINGLE_TAG")
                .to_string(),
            topic_sys_flag: req.ext_i32_or("topicSysFlag", 0)?,
            order: req.ext_bool("order"),
        })
    })();
    let cfg = match parsed {
        Ok(c) => c,
        Err(e) => return header_error(req, e),
    };
    if let Err(e) = validate_topic_name(&cfg.topic_name) {
        return reply(req, code::SYSTEM_ERROR, e);
    }
    if inner.topics.is_system_topic(&cfg.topic_name) {
        return reply(
            req,
            code::SYSTEM_ERROR,
            format!(
                "The topic[{}] is conflict with system topic.",
                cfg.topic_name
            ),
        );
    }
    if cfg.read_queue_nums <= 0
        || cfg.write_queue_nums <= 0
        || cfg.read_queue_nums > 1024
        || cfg.write_queue_nums > 1024
    {
        return reply(
            req,
            code::SYSTEM_ERROR,
            "readQueueNums and writeQueueNums must be within 1..=1024",
        );
    }
    inner.topics.upsert(cfg);
    inner.register_soon();
    ok(req)
}

pub fn delete_topic(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let topic = match req.ext_str("topic") {
        Ok(t) => t.to_string(),
        Err(e) => return header_error(req, e),
    };
    if inner.topics.is_system_topic(&topic) {
        return reply(
            req,
            code::SYSTEM_ERROR,
            format!("The topic[{topic}] is a system topic and cannot be deleted."),
        );
    }
    inner.topics.delete(&topic);
    inner.offsets.remove_topic(&topic);
    inner.store.delete_topics(std::slice::from_ref(&topic));
    inner.register_soon();
    ok(req)
}

pub fn get_all_topic_config(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    ok(req).with_body(serde_json::to_vec(&inner.topics.all()).expect("serializes"))
}

pub fn get_topic_name_list(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let list = TopicList {
        topic_list: inner.topics.names(),
        broker_addr: Some(inner.broker_addr()),
    };
    ok(req).with_body(serde_json::to_vec(&list).expect("serializes"))
}

pub fn update_and_create_subscription_group(
    inner: &BrokerInner,
    req: &RemotingCommand,
) -> RemotingCommand {
    match from_fastjson::<SubscriptionGroupConfig>(&req.body) {
        Ok(cfg) if !cfg.group_name.is_empty() => {
            inner.groups.upsert(cfg);
            ok(req)
        }
        Ok(_) => reply(
            req,
            code::SYSTEM_ERROR,
            "the subscription group config has no groupName",
        ),
        Err(e) => reply(
            req,
            code::SYSTEM_ERROR,
            format!("the subscription group config is not valid JSON: {e}"),
        ),
    }
}

pub fn get_all_subscription_group(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    ok(req).with_body(inner.groups.all_json().into_bytes())
}

pub fn delete_subscription_group(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    match req.ext_str("groupName") {
        Ok(g) => {
            inner.groups.delete(g);
            ok(req)
        }
        Err(e) => header_error(req, e),
    }
}

pub fn get_all_consumer_offset(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    ok(req).with_body(inner.offsets.to_json().into_bytes())
}

pub fn get_all_delay_offset(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    ok(req).with_body(inner.schedule.offsets_json().into_bytes())
}

fn queues_of(inner: &BrokerInner, topic: &str) -> Option<Vec<MessageQueue>> {
    let cfg = inner.topics.get(topic)?;
    Some(
        (0..cfg.read_queue_nums.max(cfg.write_queue_nums))
            .map(|q| MessageQueue {
                topic: topic.to_string(),
                broker_name: inner.config.broker_name.clone(),
                queue_id: q,
            })
            .collect(),
    )
}

pub fn get_topic_stats_info(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let topic = match req.ext_str("topic") {
        Ok(t) => t,
        Err(e) => return header_error(req, e),
    };
    let Some(queues) = queues_of(inner, topic) else {
        return reply(
            req,
            code::TOPIC_NOT_EXIST,
            format!("topic[{topic}] not exist"),
        );
    };
    let table = mq_keyed_map(queues.into_iter().map(|mq| {
        let min = inner.store.min_offset_in_queue(&mq.topic, mq.queue_id);
        let max = inner.store.max_offset_in_queue(&mq.topic, mq.queue_id);
        let last = if max > 0 {
            inner
                .store
                .message_store_time(&mq.topic, mq.queue_id, max - 1)
                .unwrap_or(0)
        } else {
            0
        };
        (
            mq,
            format!("{{\"lastUpdateTimestamp\":{last},\"maxOffset\":{max},\"minOffset\":{min}}}"),
        )
    }));
    ok(req).with_body(format!("{{\"offsetTable\":{table}}}").into_bytes())
}

/// Consumer progress per queue: broker offset, consumer offset (lag = difference).
pub fn get_consume_stats(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let group = match req.ext_str("consumerGroup") {
        Ok(g) => g.to_string(),
        Err(e) => return header_error(req, e),
    };
    let topics: Vec<String> = match req.ext("topic").filter(|t| !t.is_empty()) {
        Some(t) => vec![t.to_string()],
        None => inner.offsets.topics_of_group(&group),
    };
    let mut entries = Vec::new();
    for topic in topics {
        let Some(queues) = queues_of(inner, &topic) else {
            continue;
        };
        let committed = inner.offsets.group_offsets(&group, &topic);
        for mq in queues {
            let broker_offset = inner.store.max_offset_in_queue(&mq.topic, mq.queue_id);
            let consumer_offset = committed.get(&mq.queue_id).copied().unwrap_or(0);
            let last = if consumer_offset > 0 {
                inner
                    .store
                    .message_store_time(&mq.topic, mq.queue_id, consumer_offset - 1)
                    .unwrap_or(0)
            } else {
                0
            };
            entries.push((
                mq,
                format!("{{\"brokerOffset\":{broker_offset},\"consumerOffset\":{consumer_offset},\"lastTimestamp\":{last}}}"),
            ));
        }
    }
    let table = mq_keyed_map(entries.into_iter());
    ok(req).with_body(format!("{{\"consumeTps\":0.0,\"offsetTable\":{table}}}").into_bytes())
}

pub fn get_consumer_connection_list(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let group = match req.ext_str("consumerGroup") {
        Ok(g) => g,
        Err(e) => return header_error(req, e),
    };
    let Some(info) = inner.clients.consumer_group(group) else {
        return reply(
            req,
            code::CONSUMER_NOT_ONLINE,
            format!("the consumer group[{group}] not online"),
        );
    };
    let conns: Vec<serde_json::Value> = info
        .channels
        .values()
        .map(|c| {
            serde_json::json!({
                "clientId": c.client_id,
                "clientAddr": c.channel.remote_addr().to_string(),
                "language": c.language.name(),
                "version": c.version,
            })
        })
        .collect();
    let body = serde_json::json!({
        "connectionSet": conns,
        "subscriptionTable": info.subscriptions,
        "consumeType": info.consume_type,
        "messageModel": info.message_model,
        "consumeFromWhere": info.consume_from_where,
    });
    ok(req).with_body(serde_json::to_vec(&body).expect("serializes"))
}

pub fn get_broker_runtime_info(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let mut table = std::collections::HashMap::new();
    table.insert(
        "commitLogMaxOffset".to_string(),
        inner.store.max_phy_offset().to_string(),
    );
    table.insert(
        "commitLogMinOffset".to_string(),
        inner.store.min_phy_offset().to_string(),
    );
    table.insert(
        "brokerVersion".to_string(),
        crate::protocol::codes::CURRENT_VERSION.to_string(),
    );
    table.insert("brokerVersionDesc".to_string(), "V4_9_8".to_string());
    table.insert("msgPutTotalTodayNow".to_string(), "0".to_string());
    let body = serde_json::json!({ "table": table });
    ok(req).with_body(serde_json::to_vec(&body).expect("serializes"))
}

/// Relays GET_CONSUMER_RUNNING_INFO to the named client and returns its answer.
pub async fn get_consumer_running_info(
    inner: &BrokerInner,
    req: &RemotingCommand,
) -> RemotingCommand {
    let (group, client_id) = match (req.ext_str("consumerGroup"), req.ext_str("clientId")) {
        (Ok(g), Ok(c)) => (g, c),
        (Err(e), _) | (_, Err(e)) => return header_error(req, e),
    };
    let Some(client) = inner.clients.find_consumer_channel(group, client_id) else {
        return reply(
            req,
            code::SYSTEM_ERROR,
            format!("The Consumer <{client_id}> <{group}> not online"),
        );
    };
    let mut forward = RemotingCommand::request(request_code::GET_CONSUMER_RUNNING_INFO);
    forward.ext_fields = req.ext_fields.clone();
    match client.channel.invoke(forward, Duration::from_secs(5)).await {
        Ok(mut r) => {
            r.opaque = req.opaque;
            r.serialize_type = req.serialize_type;
            r
        }
        Err(e) => reply(
            req,
            code::SYSTEM_ERROR,
            format!("invoke the consumer {client_id} failed: {e}"),
        ),
    }
}

/// INVOKE_BROKER_TO_RESET_OFFSET: moves a group's offsets on a topic to a timestamp, and tells
/// its live clients (RESET_CONSUMER_CLIENT_OFFSET) to continue from there.
pub async fn reset_offset(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let parsed = (|| -> Result<_, HeaderError> {
        Ok((
            req.ext_str("topic")?.to_string(),
            req.ext_str("group")?.to_string(),
            req.ext_i64("timestamp")?,
        ))
    })();
    let (topic, group, timestamp) = match parsed {
        Ok(p) => p,
        Err(e) => return header_error(req, e),
    };
    let Some(queues) = queues_of(inner, &topic) else {
        return reply(
            req,
            code::TOPIC_NOT_EXIST,
            format!("topic[{topic}] not exist"),
        );
    };
    let mut table = Vec::new();
    for mq in queues {
        let target = if timestamp < 0 {
            inner.store.max_offset_in_queue(&mq.topic, mq.queue_id)
        } else {
            inner
                .store
                .offset_by_time(&mq.topic, mq.queue_id, timestamp)
        };
        inner.offsets.commit(&group, &topic, mq.queue_id, target);
        table.push((mq, target.to_string()));
    }
    let body = format!(
        "{{\"offsetTable\":{}}}",
        mq_keyed_map(table.iter().cloned())
    );
    if let Some(info) = inner.clients.consumer_group(&group) {
        for c in info.channels.values() {
            let cmd = RemotingCommand::request(request_code::RESET_CONSUMER_CLIENT_OFFSET)
                .with_ext("topic", &topic)
                .with_ext("group", &group)
                .with_ext("timestamp", timestamp)
                .with_ext("isForce", true)
                .with_body(body.clone().into_bytes());
            let _ = c.channel.invoke_oneway(cmd).await;
        }
    }
    ok(req).with_body(body.into_bytes())
}
