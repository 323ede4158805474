//! PULL_MESSAGE, with long polling: a pull that finds nothing waits for a message to land.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{header_error, reply};
use crate::broker::long_poll::PullHoldService;
use crate::broker::BrokerInner;
use crate::protocol::bodies::{SubscriptionData, PERM_READ};
use crate::protocol::header::HeaderError;
use crate::protocol::{response_code as code, RemotingCommand};
use crate::remoting::Channel;
use crate::store::{GetMessageStatus, MessageFilter};

pub const FLAG_COMMIT_OFFSET: i32 = 0x1;
pub const FLAG_SUSPEND: i32 = 0x2;
pub const FLAG_SUBSCRIPTION: i32 = 0x4;

/// Longest a pull may be held, whatever the client asks.
const MAX_SUSPEND: Duration = Duration::from_secs(30);
/// Hold time when long polling is disabled (`shortPollingTimeMills`).
const SHORT_POLL: Duration = Duration::from_secs(1);

/// Tag filter by consume-queue tag code (clients re-check the tag string).
pub(crate) struct TagFilter {
    pub codes: Option<Vec<i32>>,
    pub sql: Option<crate::broker::sql_filter::SqlFilter>,
}

impl MessageFilter for TagFilter {
    fn matches_tags_code(&self, tags_code: i64) -> bool {
        match &self.codes {
            None => true,
            Some(codes) => codes.contains(&(tags_code as i32)),
        }
    }
    fn needs_properties(&self) -> bool {
        self.sql.is_some()
    }
    fn matches_properties(&self, props: &HashMap<String, String>) -> bool {
        match &self.sql {
            None => true,
            Some(f) => f.matches(props),
        }
    }
}

struct PullHeader {
    group: String,
    topic: String,
    queue_id: i32,
    queue_offset: i64,
    max_msg_nums: i32,
    sys_flag: i32,
    commit_offset: i64,
    suspend_timeout_ms: i64,
    subscription: Option<String>,
    sub_version: i64,
    expression_type: String,
}

fn parse(req: &RemotingCommand) -> Result<PullHeader, HeaderError> {
    Ok(PullHeader {
        group: req.ext_str("consumerGroup")?.to_string(),
        topic: req.ext_str("topic")?.to_string(),
        queue_id: req.ext_i32("queueId")?,
        queue_offset: req.ext_i64("queueOffset")?,
        max_msg_nums: req.ext_i32_or("maxMsgNums", 32)?,
        sys_flag: req.ext_i32_or("sysFlag", 0)?,
        commit_offset: req.ext_i64_or("commitOffset", 0)?,
        suspend_timeout_ms: req.ext_i64_or("suspendTimeoutMillis", 15_000)?,
        subscription: req.ext("subscription").map(str::to_string),
        sub_version: req.ext_i64_or("subVersion", 0)?,
        expression_type: req.ext("expressionType").unwrap_or("TAG").to_string(),
    })
}

/// Processes a pull. With `allow_suspend`, a pull that finds nothing is parked and `None` is
/// returned (the answer comes later through the channel).
pub async fn process(
    inner: &Arc<BrokerInner>,
    ch: Channel,
    req: RemotingCommand,
    allow_suspend: bool,
) -> Option<RemotingCommand> {
    let h = match parse(&req) {
        Ok(h) => h,
        Err(e) => return Some(header_error(&req, e)),
    };
    if inner.config.broker_permission & PERM_READ == 0 {
        return Some(reply(
            &req,
            code::NO_PERMISSION,
            format!(
                "the broker[{}] pulling message is forbidden",
                inner.config.broker_name
            ),
        ));
    }
    let Some(group_cfg) = inner.groups.find_or_create(&h.group) else {
        return Some(reply(
            &req,
            code::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group [{}] does not exist", h.group),
        ));
    };
    if !group_cfg.consume_enable {
        return Some(reply(
            &req,
            code::NO_PERMISSION,
            format!("subscription group no permission, {}", h.group),
        ));
    }
    let Some(topic_cfg) = inner.topics.get(&h.topic) else {
        return Some(reply(
            &req,
            code::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist, apply first please!", h.topic),
        ));
    };
    if topic_cfg.perm & PERM_READ == 0 {
        return Some(reply(
            &req,
            code::NO_PERMISSION,
            format!("the topic[{}] pulling message is forbidden", h.topic),
        ));
    }
    if h.queue_id < 0 || h.queue_id >= topic_cfg.read_queue_nums {
        return Some(reply(
            &req,
            code::SYSTEM_ERROR,
            format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}]",
                h.queue_id, h.topic, topic_cfg.read_queue_nums
            ),
        ));
    }
    let subscription = if h.sys_flag & FLAG_SUBSCRIPTION != 0 {
        SubscriptionData::new(
            &h.topic,
            h.subscription.as_deref().unwrap_or("*"),
            &h.expression_type,
        )
    } else {
        match inner.clients.subscription(&h.group, &h.topic) {
            Some(s) => {
                if s.sub_version < h.sub_version {
                    return Some(reply(
                        &req,
                        code::SUBSCRIPTION_NOT_LATEST,
                        "the consumer's subscription not latest",
                    ));
                }
                s
            }
            None => {
                return Some(reply(
                    &req,
                    code::SUBSCRIPTION_NOT_EXIST,
                    format!(
                        "the consumer's subscription not exist, group: {} topic: {}",
                        h.group, h.topic
                    ),
                ))
            }
        }
    };
    let filter = match build_filter(inner, &subscription) {
        Ok(f) => f,
        Err(resp_code_remark) => return Some(reply(&req, resp_code_remark.0, resp_code_remark.1)),
    };

    let result = {
        let store = inner.store.clone();
        store.get_message(
            &h.topic,
            h.queue_id,
            h.queue_offset,
            h.max_msg_nums.clamp(1, 1024),
            &filter,
        )
    };
    let (status_code, remark) = match result.status {
        GetMessageStatus::Found => (code::SUCCESS, "FOUND"),
        GetMessageStatus::NoMatchedMessage => (code::PULL_RETRY_IMMEDIATELY, "NO_MATCHED_MESSAGE"),
        GetMessageStatus::MessageWasRemoving => {
            (code::PULL_RETRY_IMMEDIATELY, "MESSAGE_WAS_REMOVING")
        }
        GetMessageStatus::OffsetFoundNull => (code::PULL_NOT_FOUND, "OFFSET_FOUND_NULL"),
        GetMessageStatus::OffsetOverflowOne => (code::PULL_NOT_FOUND, "OFFSET_OVERFLOW_ONE"),
        GetMessageStatus::OffsetOverflowBadly => (code::PULL_OFFSET_MOVED, "OFFSET_OVERFLOW_BADLY"),
        GetMessageStatus::OffsetTooSmall => (code::PULL_OFFSET_MOVED, "OFFSET_TOO_SMALL"),
        GetMessageStatus::NoMatchedLogicQueue | GetMessageStatus::NoMessageInQueue => {
            if h.queue_offset != 0 {
                (code::PULL_OFFSET_MOVED, "NO_MESSAGE_IN_QUEUE")
            } else {
                (code::PULL_NOT_FOUND, "NO_MESSAGE_IN_QUEUE")
            }
        }
    };

    // Store the consumer's progress carried on the pull — when it arrives, not again when a
    // held pull wakes up: by then the client may have committed further, or handed the queue
    // to another client (as RocketMQ, which commits only while suspending is allowed).
    if allow_suspend
        && h.sys_flag & FLAG_COMMIT_OFFSET != 0
        && inner.is_master()
        && h.commit_offset >= 0
    {
        inner
            .offsets
            .commit(&h.group, &h.topic, h.queue_id, h.commit_offset);
    }

    if status_code == code::PULL_NOT_FOUND && allow_suspend && h.sys_flag & FLAG_SUSPEND != 0 {
        let hold = if inner.config.long_polling_enable {
            Duration::from_millis(h.suspend_timeout_ms.max(0) as u64).min(MAX_SUSPEND)
        } else {
            SHORT_POLL
        };
        let codes = filter.codes.clone();
        PullHoldService::suspend(
            inner,
            ch,
            req,
            &h.topic,
            h.queue_id,
            h.queue_offset,
            codes,
            hold,
        );
        return None;
    }

    let mut resp = reply(&req, status_code, remark);
    resp.set_ext("suggestWhichBrokerId", 0);
    resp.set_ext("nextBeginOffset", result.next_begin_offset);
    resp.set_ext("minOffset", result.min_offset);
    resp.set_ext("maxOffset", result.max_offset);
    if status_code == code::SUCCESS {
        let total: usize = result.messages.iter().map(|m| m.len()).sum();
        let mut body = bytes::BytesMut::with_capacity(total);
        for m in &result.messages {
            body.extend_from_slice(m);
        }
        resp.body = body.freeze();
    }
    Some(resp)
}

/// The store filter for a subscription: tag codes, or a compiled SQL92 expression.
pub(crate) fn build_filter(
    inner: &BrokerInner,
    sub: &SubscriptionData,
) -> Result<TagFilter, (i32, String)> {
    if sub.expression_type == "SQL92" {
        if !inner.config.enable_property_filter {
            return Err((
                code::SYSTEM_ERROR,
                "The broker does not support consumer to filter message by SQL92".into(),
            ));
        }
        let f = crate::broker::sql_filter::SqlFilter::compile(&sub.sub_string).map_err(|e| {
            (
                code::SUBSCRIPTION_PARSE_FAILED,
                format!("parse the consumer's subscription failed: {e}"),
            )
        })?;
        return Ok(TagFilter {
            codes: None,
            sql: Some(f),
        });
    }
    if sub.is_all() {
        Ok(TagFilter {
            codes: None,
            sql: None,
        })
    } else {
        Ok(TagFilter {
            codes: Some(sub.code_set.clone()),
            sql: None,
        })
    }
}
