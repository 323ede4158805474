//! The RocketMQ 4.x client: producers (plain, ordered, batch, transactional), the push consumer
//! (concurrent and orderly), the lite pull consumer, and a blocking facade for bindings.
//!
//! Layout follows RocketMQ's nouns: `instance` (connections, routes, heartbeats, broker→client
//! requests), `route`, `producer`, `push_consumer`, `lite_pull_consumer`, `rebalance`,
//! `process_queue`, `offset_store`, `pull` (the PULL_MESSAGE exchange), `acl` + `digest`
//! (request signing), `blocking` (sync facade), `bench` (load generator).

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
pub mod route;

pub use crate::protocol::bodies::MessageQueue;
pub use acl::Credentials;
pub use config::ClientConfig;
pub use consumer::{
    ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig, MessageListener, MessageModel,
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
