pub mod client;
pub mod protocol;
pub mod remoting;
pub mod store;
