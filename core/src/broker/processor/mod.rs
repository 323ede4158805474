//! Request processors, one file per request family.

mod admin;
mod client;
mod offset;
pub(crate) mod pull;
mod query;
mod request_reply;
mod send;
mod transaction;

pub(crate) fn transaction_write_op(
    inner: &BrokerInner,
    half: &crate::protocol::message::MessageRecord,
) -> Result<(), String> {
    let props = crate::protocol::message::decode_properties(&half.properties);
    transaction::write_op(
        inner,
        half,
        crate::broker::transaction::decision_key(half, &props),
    )
}

use std::sync::Arc;

use super::BrokerInner;
use crate::protocol::header::HeaderError;
use crate::protocol::{request_code as rc, response_code, RemotingCommand};
use crate::remoting::Channel;

pub(crate) fn reply(
    req: &RemotingCommand,
    code: i32,
    remark: impl Into<String>,
) -> RemotingCommand {
    let remark = remark.into();
    RemotingCommand::response_to(
        req,
        code,
        if remark.is_empty() {
            None
        } else {
            Some(remark)
        },
    )
}

pub(crate) fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, response_code::SUCCESS, None)
}

pub(crate) fn header_error(req: &RemotingCommand, e: HeaderError) -> RemotingCommand {
    reply(req, response_code::SYSTEM_ERROR, e.0)
}

/// Routes a request to its processor.
pub async fn dispatch(
    inner: &Arc<BrokerInner>,
    ch: Channel,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let resp = match req.code {
        rc::SEND_MESSAGE | rc::SEND_MESSAGE_V2 => {
            request_reply::note_requester(inner, &ch, &req);
            send::send_message(inner, &ch, &req).await
        }
        rc::SEND_BATCH_MESSAGE => send::send_message(inner, &ch, &req).await,
        rc::SEND_REPLY_MESSAGE | rc::SEND_REPLY_MESSAGE_V2 => {
            request_reply::send_reply_message(inner, &ch, &req).await
        }
        rc::CONSUMER_SEND_MSG_BACK => send::consumer_send_back(inner, &ch, &req).await,
        rc::PULL_MESSAGE => return pull::process(inner, ch, req, true).await,
        rc::QUERY_CONSUMER_OFFSET => offset::query_consumer_offset(inner, &req),
        rc::UPDATE_CONSUMER_OFFSET => offset::update_consumer_offset(inner, &req),
        rc::GET_MAX_OFFSET => offset::get_max_offset(inner, &req),
        rc::GET_MIN_OFFSET => offset::get_min_offset(inner, &req),
        rc::SEARCH_OFFSET_BY_TIMESTAMP => offset::search_offset_by_timestamp(inner, &req),
        rc::GET_EARLIEST_MSG_STORETIME => offset::get_earliest_msg_storetime(inner, &req),
        rc::HEART_BEAT => client::heartbeat(inner, &ch, &req),
        rc::UNREGISTER_CLIENT => client::unregister_client(inner, &ch, &req),
        rc::GET_CONSUMER_LIST_BY_GROUP => client::get_consumer_list_by_group(inner, &req),
        rc::LOCK_BATCH_MQ => client::lock_batch(inner, &req),
        rc::UNLOCK_BATCH_MQ => client::unlock_batch(inner, &req),
        rc::CHECK_CLIENT_CONFIG => client::check_client_config(inner, &req),
        rc::VIEW_MESSAGE_BY_ID => query::view_message_by_id(inner, &req),
        rc::QUERY_MESSAGE => query::query_message(inner, &req),
        rc::END_TRANSACTION => transaction::end_transaction(inner, &ch, &req).await,
        rc::UPDATE_AND_CREATE_TOPIC => admin::update_and_create_topic(inner, &req),
        rc::DELETE_TOPIC_IN_BROKER => admin::delete_topic(inner, &req),
        rc::GET_ALL_TOPIC_CONFIG => admin::get_all_topic_config(inner, &req),
        rc::GET_TOPIC_NAME_LIST => admin::get_topic_name_list(inner, &req),
        rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => {
            admin::update_and_create_subscription_group(inner, &req)
        }
        rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => admin::get_all_subscription_group(inner, &req),
        rc::DELETE_SUBSCRIPTIONGROUP => admin::delete_subscription_group(inner, &req),
        rc::GET_ALL_CONSUMER_OFFSET => admin::get_all_consumer_offset(inner, &req),
        rc::GET_ALL_DELAY_OFFSET => admin::get_all_delay_offset(inner, &req),
        rc::GET_TOPIC_STATS_INFO => admin::get_topic_stats_info(inner, &req),
        rc::GET_CONSUME_STATS => admin::get_consume_stats(inner, &req),
        rc::GET_CONSUMER_CONNECTION_LIST => admin::get_consumer_connection_list(inner, &req),
        rc::GET_BROKER_RUNTIME_INFO => admin::get_broker_runtime_info(inner, &req),
        rc::GET_CONSUMER_RUNNING_INFO => admin::get_consumer_running_info(inner, &req).await,
        rc::INVOKE_BROKER_TO_RESET_OFFSET => admin::reset_offset(inner, &req).await,
        _ => crate::remoting::Channel::not_supported(&req),
    };
    Some(resp)
}
