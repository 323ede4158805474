//! The library's own tokio runtime, for the embedded broker. Created on first use and never
//! shut down: its threads are daemon-like, so a process that forgets to shut down still exits.

use std::sync::OnceLock;

use tokio::runtime::Runtime;

/// Worker threads of the embedded broker's runtime: enough for a name server and a broker
/// serving local tests.
const EMBEDDED_WORKER_THREADS: usize = 2;

pub(crate) fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(EMBEDDED_WORKER_THREADS)
            .thread_name("rocketmq-embedded")
            .enable_all()
            .build()
            .expect("cannot start the embedded broker's runtime")
    })
}
