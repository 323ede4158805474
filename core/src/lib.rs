//! rocketmq-rs: an Apache RocketMQ 4.x-compatible name server, broker, message store and client.
//!
//! Modules follow RocketMQ's own nouns: `protocol` (the wire, no I/O), `remoting` (connections),
//! `store` (commitlog and consume queues; no network), `namesrv`, `broker`, and `embedded` (both
//! servers in one process).

pub mod broker;
pub mod client;
pub mod embedded;
pub mod namesrv;
pub mod protocol;
pub mod remoting;
pub mod store;
