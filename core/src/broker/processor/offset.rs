//! Consumer offsets and queue offsets: QUERY/UPDATE_CONSUMER_OFFSET, GET_MAX/MIN_OFFSET,
//! SEARCH_OFFSET_BY_TIMESTAMP, GET_EARLIEST_MSG_STORETIME.

use super::{header_error, ok, reply};
use crate::broker::BrokerInner;
use crate::protocol::{response_code as code, RemotingCommand};

fn with_offset(req: &RemotingCommand, offset: i64) -> RemotingCommand {
    let mut r = ok(req);
    r.set_ext("offset", offset);
    r
}

macro_rules! try_header {
    ($req:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return header_error($req, e),
        }
    };
}

pub fn query_consumer_offset(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let group = try_header!(req, req.ext_str("consumerGroup"));
    let topic = try_header!(req, req.ext_str("topic"));
    let queue_id = try_header!(req, req.ext_i32("queueId"));
    if let Some(o) = inner.offsets.query(group, topic, queue_id) {
        return with_offset(req, o);
    }
    // A new group reads a young queue from its start (RocketMQ answers 0 while the first
    // message is still in memory; ours are mapped, so while the queue starts at 0).
    let min = inner.store.min_offset_in_queue(topic, queue_id);
    if min <= 0 {
        return with_offset(req, 0);
    }
    reply(
        req,
        code::QUERY_NOT_FOUND,
        "Not found, maybe this group consumer boot first",
    )
}

pub fn update_consumer_offset(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let group = try_header!(req, req.ext_str("consumerGroup"));
    let topic = try_header!(req, req.ext_str("topic"));
    let queue_id = try_header!(req, req.ext_i32("queueId"));
    let offset = try_header!(req, req.ext_i64("commitOffset"));
    inner.offsets.commit(group, topic, queue_id, offset);
    ok(req)
}

pub fn get_max_offset(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let topic = try_header!(req, req.ext_str("topic"));
    let queue_id = try_header!(req, req.ext_i32("queueId"));
    with_offset(req, inner.store.max_offset_in_queue(topic, queue_id))
}

pub fn get_min_offset(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let topic = try_header!(req, req.ext_str("topic"));
    let queue_id = try_header!(req, req.ext_i32("queueId"));
    with_offset(req, inner.store.min_offset_in_queue(topic, queue_id))
}

pub fn search_offset_by_timestamp(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let topic = try_header!(req, req.ext_str("topic"));
    let queue_id = try_header!(req, req.ext_i32("queueId"));
    let ts = try_header!(req, req.ext_i64("timestamp"));
    with_offset(req, inner.store.offset_by_time(topic, queue_id, ts))
}

pub fn get_earliest_msg_storetime(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let topic = try_header!(req, req.ext_str("topic"));
    let queue_id = try_header!(req, req.ext_i32("queueId"));
    let mut r = ok(req);
    r.set_ext(
        "timestamp",
        inner
            .store
            .earliest_message_time(topic, queue_id)
            .unwrap_or(-1),
    );
    r
}
