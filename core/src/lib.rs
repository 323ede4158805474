pub mod namesrv;
pub mod protocol;
pub mod remoting;
pub mod store;
