//! `Producer::request`: send a message and wait for the consumer's reply (RocketMQ 4.6+
//! request-reply; the reply path is described in `client/request_reply.rs`).

use std::time::Duration;

use tokio::time::{timeout_at, Instant};

use super::{Message, Producer};
use crate::client::error::{ClientError, Result};
use crate::client::instance::ClientInstance;
use crate::client::message::MessageExt;
use crate::protocol::ids::UniqueIdGenerator;
use crate::protocol::message::property;

/// Stops waiting for a reply however the request ends (reply, error, timeout, dropped future).
struct Waiting<'a> {
    instance: &'a ClientInstance,
    correlation_id: String,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.instance.inner.requests.remove(&self.correlation_id);
    }
}

impl Producer {
    /// Sends `msg` as a request and waits up to `timeout` (sending included) for the reply a
    /// consumer sends back with [`create_reply_message`](crate::client::create_reply_message).
    ///
    /// The message gets `CORRELATION_ID` (unique per request), `REPLY_TO_CLIENT` (this client's
    /// id) and `TTL` (the timeout in ms), as Java's `DefaultMQProducer.request`. A failed send
    /// is that send's error; no reply in time is [`ClientError::ReplyTimeout`].
    pub async fn request(&self, msg: Message, timeout: Duration) -> Result<MessageExt> {
        let deadline = Instant::now() + timeout;
        self.core.check_running()?;
        if timeout.is_zero() {
            return Err(ClientError::illegal(
                "a request needs a timeout above zero to wait for its reply",
            ));
        }
        let mut msg = msg;
        let correlation_id = UniqueIdGenerator::global().next_id();
        msg.set_property(property::CORRELATION_ID, &correlation_id);
        msg.set_property(property::MESSAGE_REPLY_TO_CLIENT, self.client_id());
        msg.set_property(property::MESSAGE_TTL, &timeout.as_millis().to_string());
        let out = self.core.prepare(msg)?;
        let instance = &self.core.instance;
        let send_timed_out = || ClientError::Timeout {
            what: format!("sending the request to topic '{}'", out.topic),
            timeout_ms: timeout.as_millis() as u64,
        };

        // The broker pushes the reply over the connection this client heartbeats on: it must
        // know us before the reply comes back (Java heartbeats here too).
        let route = timeout_at(deadline, instance.route(&out.topic, true))
            .await
            .map_err(|_| send_timed_out())??;
        timeout_at(deadline, instance.ensure_heartbeat(&route))
            .await
            .map_err(|_| send_timed_out())?;

        let reply = instance.inner.requests.register(&correlation_id)?;
        let _waiting = Waiting {
            instance,
            correlation_id: correlation_id.clone(),
        };
        timeout_at(
            deadline,
            self.core
                .send_with_retries(&out, self.core.config.retry_times_when_send_failed),
        )
        .await
        .map_err(|_| send_timed_out())??;
        match timeout_at(deadline, reply).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(ClientError::state(
                "the producer was shut down while the request waited for its reply",
            )),
            Err(_) => Err(ClientError::ReplyTimeout {
                topic: self.core.instance.config().unwrap(&out.topic),
                correlation_id,
                timeout_ms: timeout.as_millis() as u64,
            }),
        }
    }

    /// [`request`](Self::request) in the background: `callback` gets the reply or the error
    /// (on a runtime thread: do not block in it for long). Must be called inside a tokio
    /// runtime. Errors found before sending (not started, bad message) are returned at once.
    pub fn request_with_callback<F>(
        &self,
        msg: Message,
        timeout: Duration,
        callback: F,
    ) -> Result<()>
    where
        F: FnOnce(Result<MessageExt>) + Send + 'static,
    {
        self.core.check_running()?;
        self.core.check_message(&msg)?;
        let producer = self.clone();
        tokio::spawn(async move { callback(producer.request(msg, timeout).await) });
        Ok(())
    }
}
