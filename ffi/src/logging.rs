//! Library logging: the core's `tracing` events go to stderr when `RUST_LOG` is set (for
//! example `RUST_LOG=rocketmq=debug`); silent otherwise, as a library should be.

use std::sync::Once;

pub(crate) fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let Ok(filter) = std::env::var("RUST_LOG") else {
            return;
        };
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    });
}
