//! How far a push consumer is behind on its queues (`GetPushConsumerOffsetDiff`): the broker's
//! max offset minus the group's offset, summed. The consumer commits first, so the group's
//! offsets on the broker are the ones it has consumed up to now.

use rocketmq::client::instance::ClientInstance;
use rocketmq::client::{blocking, pull, ClientError, ConsumerConfig, MessageModel};
use rocketmq::protocol::bodies::MessageQueue;
use rocketmq::protocol::{request_code, response_code, RemotingCommand};

/// The backlog of `queues` (as the consumer shows them: without namespace).
pub(crate) fn of_queues(
    consumer: &blocking::PushConsumer,
    config: &ConsumerConfig,
    queues: &[MessageQueue],
) -> Result<i64, ClientError> {
    if queues.is_empty() {
        return Ok(0);
    }
    if config.message_model != MessageModel::Clustering {
        return Err(ClientError::IllegalArgument(
            "the offset diff needs a clustering consumer: a broadcasting one keeps its offsets \
             on its own disk"
                .into(),
        ));
    }
    consumer.persist_offsets()?;
    // A client of its own: the consumer's is not reachable from here, and this call is rare.
    let client = ClientInstance::new(config.client.clone())?;
    blocking::block_on(async {
        let out = backlog(&client, &config.group, queues).await;
        client.shutdown().await;
        out
    })
}

async fn backlog(
    client: &ClientInstance,
    group: &str,
    queues: &[MessageQueue],
) -> Result<i64, ClientError> {
    let wire = |name: &str| client.config().wrap(name);
    let group = wire(group);
    let mut total = 0;
    for q in queues {
        let q = MessageQueue {
            topic: wire(&q.topic),
            ..q.clone()
        };
        let max = pull::max_offset(client, &q).await?;
        // No offset yet (nothing consumed and committed), or one past the end after a
        // truncation: as in rocketmq-client-go, such a queue adds nothing.
        match consumed(client, &group, &q).await? {
            Some(c) if c <= max => total += max - c,
            _ => {}
        }
    }
    Ok(total)
}

/// The group's committed offset of `q` (QUERY_CONSUMER_OFFSET); `None` when it has none.
async fn consumed(
    client: &ClientInstance,
    group: &str,
    q: &MessageQueue,
) -> Result<Option<i64>, ClientError> {
    let addr = client.master_addr(&q.broker_name, &q.topic).await?;
    let cmd = RemotingCommand::request(request_code::QUERY_CONSUMER_OFFSET)
        .with_ext("consumerGroup", group)
        .with_ext("topic", &q.topic)
        .with_ext("queueId", q.queue_id)
        .with_ext("bname", &q.broker_name);
    let resp = client.invoke(&addr, cmd, client.request_timeout()).await?;
    let refused = |remark: String| ClientError::Broker {
        code: resp.code,
        remark,
        addr: addr.clone(),
    };
    match resp.code {
        response_code::SUCCESS => resp
            .ext_i64("offset")
            .map(|o| (o >= 0).then_some(o))
            .map_err(|e| refused(e.to_string())),
        response_code::QUERY_NOT_FOUND => Ok(None),
        _ => Err(refused(resp.remark.clone().unwrap_or_default())),
    }
}
