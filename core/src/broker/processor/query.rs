//! VIEW_MESSAGE_BY_ID (by commitlog offset) and QUERY_MESSAGE (by key within a time range).

use super::{header_error, ok, reply};
use crate::broker::BrokerInner;
use crate::protocol::{response_code as code, RemotingCommand};

pub fn view_message_by_id(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let offset = match req.ext_i64("offset") {
        Ok(o) => o,
        Err(e) => return header_error(req, e),
    };
    match inner.store.look_message_by_offset(offset) {
        Some(m) => ok(req).with_body(m),
        None => reply(
            req,
            code::SYSTEM_ERROR,
            format!("can not find message by the offset, {offset}"),
        ),
    }
}

pub fn query_message(inner: &BrokerInner, req: &RemotingCommand) -> RemotingCommand {
    let parsed = (|| {
        Ok::<_, crate::protocol::header::HeaderError>((
            req.ext_str("topic")?.to_string(),
            req.ext_str("key")?.to_string(),
            req.ext_i32_or("maxNum", 32)?,
            req.ext_i64_or("beginTimestamp", 0)?,
            req.ext_i64_or("endTimestamp", i64::MAX)?,
        ))
    })();
    let (topic, key, mut max_num, begin, end) = match parsed {
        Ok(p) => p,
        Err(e) => return header_error(req, e),
    };
    if req.ext_bool("_UNIQUE_KEY_QUERY") {
        max_num = 32;
    }
    let result = inner
        .store
        .query_message(&topic, &key, max_num.clamp(1, 64 * 1024), begin, end);
    let mut resp = if result.messages.is_empty() {
        reply(
            req,
            code::QUERY_NOT_FOUND,
            format!("can not find message, maybe time range not correct, key: {key}"),
        )
    } else {
        let mut body = Vec::new();
        for m in &result.messages {
            body.extend_from_slice(m);
        }
        ok(req).with_body(body)
    };
    resp.set_ext(
        "indexLastUpdateTimestamp",
        result.index_last_update_timestamp,
    );
    resp.set_ext(
        "indexLastUpdatePhyoffset",
        result.index_last_update_phyoffset,
    );
    resp
}
