//! Connections carrying remoting frames: a server that accepts them, a client that opens them,
//! and on both sides a `Channel` that matches responses to requests by `opaque` and lets either
//! side send requests (the broker calls clients too).

mod channel;
mod client;
mod inbox;
mod server;

pub use channel::{blocking_caller, Channel, RemotingError};
pub use client::RemotingClient;
pub use server::{RemotingServer, ServerHandle};

use std::future::Future;
use std::pin::Pin;

use crate::protocol::RemotingCommand;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Handles requests arriving on a channel. Returning `None` means no response now (oneway, or
/// the handler answers later through the channel, as a long-polling pull does).
pub trait RequestHandler: Send + Sync + 'static {
    fn handle(
        &self,
        channel: Channel,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>>;

    /// The connection closed (peer gone or protocol error).
    fn on_close(&self, _channel: &Channel) {}
}
