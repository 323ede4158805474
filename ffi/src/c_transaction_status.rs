//! `CTransactionStatus.h`: what a local transaction executor or checker answers. Any value
//! other than 0 and 1 is taken as `E_UNKNOWN_TRANSACTION` (the broker asks again later).

#![allow(non_camel_case_types)]

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CTransactionStatus {
    E_COMMIT_TRANSACTION = 0,
    E_ROLLBACK_TRANSACTION = 1,
    E_UNKNOWN_TRANSACTION = 2,
}
