pub mod broker;
pub mod protocol;
pub mod remoting;
pub mod store;
pub mod embedded;
