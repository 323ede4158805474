//! Transactional messages (4.x half messages): send a half message, run the local transaction,
//! then END_TRANSACTION commit/rollback; answer the broker's CHECK_TRANSACTION_STATE later.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::{Producer, ProducerConfig, ProducerCore};
use crate::client::error::{ClientError, Result};
use crate::client::instance::{ClientInstance, TransactionCheck, TransactionHooks};
use crate::client::message::{Message, MessageExt, SendResult, SendStatus};
use crate::protocol::ids::decode_offset_msg_id;
use crate::protocol::message::property;
use crate::protocol::{request_code, RemotingCommand};
use crate::remoting::Channel;

/// Outcome of a local transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalTransactionState {
    CommitMessage,
    RollbackMessage,
    /// Not decided yet: the broker will ask again (CHECK_TRANSACTION_STATE).
    Unknown,
}

impl LocalTransactionState {
    /// `commitOrRollback` of END_TRANSACTION.
    pub fn wire_value(self) -> i32 {
        match self {
            LocalTransactionState::CommitMessage => 8,
            LocalTransactionState::RollbackMessage => 12,
            LocalTransactionState::Unknown => 0,
        }
    }
}

/// The application's side of a transaction. A panic counts as `Unknown`.
pub trait TransactionListener: Send + Sync + 'static {
    /// Runs the local transaction after the half message was stored.
    fn execute_local_transaction(
        &self,
        msg: &Message,
        result: &SendResult,
    ) -> LocalTransactionState;
    /// Answers the broker asking about a half message left undecided.
    fn check_local_transaction(&self, msg: &MessageExt) -> LocalTransactionState;
}

/// The send result plus what the local transaction decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSendResult {
    pub send_result: SendResult,
    pub local_state: LocalTransactionState,
}

/// A producer of transactional messages.
#[derive(Clone)]
pub struct TransactionProducer {
    producer: Producer,
    listener: Arc<dyn TransactionListener>,
}

struct Checker {
    group: String,
    listener: Arc<dyn TransactionListener>,
}

impl TransactionHooks for Checker {
    fn check(
        &self,
        instance: &ClientInstance,
        channel: Channel,
        check: TransactionCheck,
        msg: MessageExt,
    ) {
        let instance = instance.clone();
        let listener = self.listener.clone();
        let group = msg
            .property(property::PRODUCER_GROUP)
            .map(str::to_string)
            .unwrap_or_else(|| self.group.clone());
        tokio::spawn(async move {
            // The checker is application code that may block: keep it off the runtime threads.
            let state = tokio::task::spawn_blocking(move || {
                let s = catch_unwind(AssertUnwindSafe(|| listener.check_local_transaction(&msg)))
                    .unwrap_or(LocalTransactionState::Unknown);
                (s, msg)
            })
            .await;
            let Ok((state, msg)) = state else { return };
            let uniq = check
                .msg_id
                .clone()
                .or_else(|| {
                    msg.property(property::UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
                        .map(str::to_string)
                })
                .unwrap_or_else(|| msg.msg_id.clone());
            let mut cmd = RemotingCommand::request(request_code::END_TRANSACTION)
                .with_ext("producerGroup", &group)
                .with_ext("tranStateTableOffset", check.tran_state_table_offset)
                .with_ext("commitLogOffset", check.commit_log_offset)
                .with_ext("commitOrRollback", state.wire_value())
                .with_ext("fromTransactionCheck", true)
                .with_ext("msgId", &uniq)
                .with_ext(
                    "transactionId",
                    check.transaction_id.as_deref().unwrap_or(&uniq),
                );
            if !msg.broker_name.is_empty() {
                cmd.set_ext("bname", &msg.broker_name);
            }
            if let Err(e) = instance.oneway_on(&channel, cmd).await {
                tracing::warn!(error = %e, "answering a transaction check failed");
            }
        });
    }
}

impl TransactionProducer {
    pub fn new(config: ProducerConfig, listener: Arc<dyn TransactionListener>) -> Result<Self> {
        let producer = Producer::new(config)?;
        Ok(TransactionProducer { producer, listener })
    }

    pub async fn start(&self) -> Result<()> {
        let core: &ProducerCore = &self.producer.core;
        core.instance.set_transaction_hooks(Arc::new(Checker {
            group: core.group.clone(),
            listener: self.listener.clone(),
        }));
        self.producer.start().await
    }

    pub async fn shutdown(&self) {
        self.producer.shutdown().await
    }

    /// The plain producer underneath (for ordinary sends from the same group).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Sends a half message, runs the local transaction and ends it.
    pub async fn send_message_in_transaction(&self, msg: Message) -> Result<TransactionSendResult> {
        let listener = self.listener.clone();
        self.send_message_in_transaction_with(msg, move |m, r| {
            listener.execute_local_transaction(m, r)
        })
        .await
    }

    /// Like `send_message_in_transaction` with a per-call local transaction (the listener's
    /// `check_local_transaction` still answers broker checks).
    pub async fn send_message_in_transaction_with<F>(
        &self,
        mut msg: Message,
        local: F,
    ) -> Result<TransactionSendResult>
    where
        F: FnOnce(&Message, &SendResult) -> LocalTransactionState,
    {
        let core = &self.producer.core;
        if msg.delay_level() > 0 {
            // The broker would treat a delayed half message as a scheduled one.
            msg.properties.remove(property::DELAY_TIME_LEVEL);
        }
        msg.set_property(property::TRANSACTION_PREPARED, "true");
        msg.set_property(property::PRODUCER_GROUP, &core.group);
        let result = self.producer.send(msg.clone()).await?;
        let (state, remark) = if result.status == SendStatus::SendOk {
            if let Some(id) = &result.transaction_id {
                msg.set_property(property::TRANSACTION_ID, id);
            }
            match catch_unwind(AssertUnwindSafe(|| local(&msg, &result))) {
                Ok(s) => (s, None),
                Err(p) => (
                    LocalTransactionState::Unknown,
                    Some(format!("local transaction panicked: {}", panic_text(&p))),
                ),
            }
        } else {
            (LocalTransactionState::RollbackMessage, None)
        };
        self.end_transaction(&result, state, remark).await?;
        Ok(TransactionSendResult {
            send_result: result,
            local_state: state,
        })
    }

    async fn end_transaction(
        &self,
        result: &SendResult,
        state: LocalTransactionState,
        remark: Option<String>,
    ) -> Result<()> {
        let core = &self.producer.core;
        let (_, commit_log_offset) =
            decode_offset_msg_id(&result.offset_msg_id).ok_or_else(|| {
                ClientError::broker(
                    1,
                    Some(&format!(
                        "the send answer carried an undecodable offset id '{}'",
                        result.offset_msg_id
                    )),
                    "",
                )
            })?;
        let topic = core.instance.config().wrap(&result.message_queue.topic);
        let addr = core
            .instance
            .master_addr(&result.message_queue.broker_name, &topic)
            .await?;
        let mut cmd = RemotingCommand::request(request_code::END_TRANSACTION)
            .with_ext("producerGroup", &core.group)
            .with_ext("tranStateTableOffset", result.queue_offset)
            .with_ext("commitLogOffset", commit_log_offset)
            .with_ext("commitOrRollback", state.wire_value())
            .with_ext("fromTransactionCheck", false)
            .with_ext("msgId", &result.msg_id)
            .with_ext(
                "transactionId",
                result.transaction_id.as_deref().unwrap_or(&result.msg_id),
            )
            .with_ext("bname", &result.message_queue.broker_name);
        cmd.remark = remark;
        core.instance.invoke_oneway(&addr, cmd).await
    }
}

pub(crate) fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    struct Undecided;
    impl TransactionListener for Undecided {
        fn execute_local_transaction(&self, _: &Message, _: &SendResult) -> LocalTransactionState {
            LocalTransactionState::Unknown
        }
        fn check_local_transaction(&self, _: &MessageExt) -> LocalTransactionState {
            LocalTransactionState::Unknown
        }
    }

    /// The instance owns the checker; a checker owning the instance back was a cycle that kept
    /// every transaction producer (instance, routes, listener) alive after shutdown.
    #[tokio::test]
    async fn a_shut_down_transaction_producer_frees_its_listener() {
        let listener: Arc<dyn TransactionListener> = Arc::new(Undecided);
        let freed = Arc::downgrade(&listener);
        // Nothing listens there: start only registers the group and schedules the periodic tasks.
        let tp = TransactionProducer::new(ProducerConfig::new("127.0.0.1:1", "pg_tx"), listener)
            .unwrap();
        tp.start().await.unwrap();
        tp.shutdown().await;
        drop(tp);
        // Aborted periodic tasks drop their instance handles when the runtime next runs them.
        let deadline = Instant::now() + Duration::from_secs(10);
        while freed.upgrade().is_some() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            freed.upgrade().is_none(),
            "the listener outlived its producer"
        );
    }
}
