//! Send completions for asyncio (`rocketmq.aio`).
//!
//! Finished sends are queued here by the client's threads, which wake the event loop through a
//! socket the loop watches (`loop.add_reader`) — once for everything that finishes before the
//! loop gets to it. The loop's thread then takes the queue and resolves its futures. So no
//! client thread takes the GIL for an asyncio send, and one wake-up of the loop serves every
//! send that finished meanwhile (the per-send callback into Python that `send_async` makes
//! took the GIL from the loop's thread and woke it once per message).

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use rocketmq::client::{ClientError, SendResult};

use crate::convert;

/// What the client's threads and the loop share.
pub struct Shared {
    queue: Mutex<Queue>,
    /// The writing end of the wake-up socket.
    wake: UnixStream,
}

#[derive(Default)]
struct Queue {
    done: Vec<(u64, Result<SendResult, ClientError>)>,
    /// A wake-up byte is on its way and the loop has not taken the queue since: further
    /// completions need none.
    signalled: bool,
}

impl Shared {
    /// Queues the outcome of the send `token` (on a client thread).
    pub fn push(&self, token: u64, r: Result<SendResult, ClientError>) {
        let wake = {
            let mut q = self.queue.lock().unwrap();
            q.done.push((token, r));
            !std::mem::replace(&mut q.signalled, true)
        };
        if wake {
            // At most one byte is ever unread (see `signalled`), so this cannot find the socket
            // full; once the loop side is closed nobody is waiting any more.
            let _ = (&self.wake).write(&[1]);
        }
    }
}

/// One event loop's completions: `fileno()` for `loop.add_reader`, `drain()` when readable.
#[pyclass(module = "rocketmq._native", frozen)]
pub struct Completions {
    shared: Arc<Shared>,
    /// The reading end of the wake-up socket.
    reader: UnixStream,
}

impl Completions {
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }
}

/// A finished send as `drain` hands it over: `(token, SendResult, None)` or
/// `(token, None, exception)`.
type Finished = (u64, Option<Py<PyAny>>, Option<PyErr>);

#[pymethods]
impl Completions {
    #[new]
    fn new() -> PyResult<Self> {
        let (reader, wake) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        wake.set_nonblocking(true)?;
        Ok(Completions {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue::default()),
                wake,
            }),
            reader,
        })
    }

    /// The descriptor that turns readable when sends have finished.
    fn fileno(&self) -> i32 {
        self.reader.as_raw_fd()
    }

    /// The sends finished since the last call, oldest first.
    fn drain(&self, py: Python<'_>) -> PyResult<Vec<Finished>> {
        // The wake-up byte first, then the queue: a send finishing in between still sees
        // `signalled` and its completion is in what is taken here; one finishing later writes a
        // new byte, and the loop calls again.
        let mut buf = [0u8; 64];
        loop {
            match (&self.reader).read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        let done = {
            let mut q = self.shared.queue.lock().unwrap();
            q.signalled = false;
            std::mem::take(&mut q.done)
        };
        done.into_iter()
            .map(|(token, r)| {
                Ok(match r {
                    Ok(sr) => (token, Some(convert::send_result(py, &sr)?), None),
                    Err(e) => (
                        token,
                        None,
                        Some(convert::client_error(py, "send_async", &e)),
                    ),
                })
            })
            .collect()
    }
}
