//! The RocketMQ 4.x client: producers (plain, ordered, batch, transactional), the push consumer
//! (concurrent and orderly), the lite pull consumer, and a blocking facade for bindings.
//!
//! Layout follows RocketMQ's nouns: `instance` (connections, routes, heartbeats, broker→client
//! requests), `route`, `producer`, `push_consumer` + `consume_service`, `lite_pull_consumer`,
//! `rebalance`, `process_queue`, `offset_store`, `pull` (the PULL_MESSAGE exchange), `acl` +
//! `digest` (request signing), `blocking` (sync facade), `bench` (load generator).
//!
//! ```no_run
//! use rocketmq::client::{
//!     ConsumeContext, ConsumeResult, ConsumerConfig, Message, MessageExt, Producer,
//!     ProducerConfig, PushConsumer,
//! };
//!
//! # async fn demo() -> rocketmq::client::Result<()> {
//! let producer = Producer::new(ProducerConfig::new("127.0.0.1:9876", "my_producer"))?;
//! producer.start().await?;
//! let r = producer.send(Message::new("TopicTest", "hello").with_tags("TagA")).await?;
//! println!("{} stored in {:?} at {}", r.msg_id, r.message_queue, r.queue_offset);
//!
//! let consumer = PushConsumer::new(ConsumerConfig::new("127.0.0.1:9876", "my_group"))?;
//! consumer.subscribe("TopicTest", "TagA || TagB")?;
//! consumer.register_message_listener_concurrently(|msgs: &[MessageExt], _: &ConsumeContext| {
//!     for m in msgs {
//!         println!("{}: {:?}", m.msg_id, m.body);
//!     }
//!     ConsumeResult::Success
//! });
//! consumer.start().await?;
//! // ...
//! consumer.shutdown().await; // commits offsets, unregisters
//! producer.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Bindings use [`blocking`], which has the same types with plain methods.

pub mod acl;
pub mod bench;
pub mod blocking;
pub mod config;
pub(crate) mod consume_service;
pub mod consumer;
pub mod digest;
pub mod error;
pub mod instance;
pub mod lite_pull_consumer;
pub mod message;
pub mod offset_store;
pub(crate) mod process_queue;
pub mod producer;
pub mod pull;
pub mod push_consumer;
pub mod rebalance;
pub mod request_reply;
pub mod route;

pub use crate::protocol::bodies::MessageQueue;
pub use acl::Credentials;
pub use config::ClientConfig;
pub use consumer::{
    ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig, MessageListener, MessageModel,
    SharedMessages,
};
pub use error::{ClientError, ErrorKind, Result};
pub use lite_pull_consumer::LitePullConsumer;
pub use message::{Message, MessageExt, SendResult, SendStatus};
pub use producer::{
    LocalTransactionState, MessageQueueSelector, Producer, ProducerConfig, SelectByHash,
    SelectByRandom, TransactionListener, TransactionProducer, TransactionSendResult,
};
pub use pull::{PullResult, PullStatus};
pub use push_consumer::PushConsumer;
pub use rebalance::{
    AllocateByConfig, AllocateConsistentHash, AllocateMessageQueueAveragely,
    AllocateMessageQueueAveragelyByCircle, AllocateStrategy,
};
pub use request_reply::{create_reply_message, create_reply_to, reply_to_client};
