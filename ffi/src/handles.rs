//! Live-handle registries. Every object handed to C is boxed and its address recorded here;
//! every call checks the address before touching it, so a NULL, stale (destroyed) or foreign
//! pointer is answered with `NULL_POINTER` instead of undefined behaviour. (A pointer whose
//! memory was reused for a new object of the same kind cannot be told apart; that is the one
//! hole left, as with any C library.)

use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::{LazyLock, Mutex};

use crate::boundary::{FfiError, FfiResult};

pub(crate) struct Registry<T> {
    what: &'static str,
    live: LazyLock<Mutex<HashSet<usize>>>,
    _kind: PhantomData<fn() -> T>,
}

impl<T> Registry<T> {
    pub const fn new(what: &'static str) -> Self {
        Registry {
            what,
            live: LazyLock::new(|| Mutex::new(HashSet::new())),
            _kind: PhantomData,
        }
    }

    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<usize>> {
        // A panic while holding this lock cannot leave the set inconsistent (single inserts
        // and removes), so a poisoned lock is still usable.
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Boxes `value`, records it and returns the pointer C will own.
    pub fn insert(&self, value: T) -> *mut T {
        let p = Box::into_raw(Box::new(value));
        self.set().insert(p as usize);
        p
    }

    pub fn contains(&self, p: *const T) -> bool {
        !p.is_null() && self.set().contains(&(p as usize))
    }

    /// Borrows a live object.
    ///
    /// # Safety
    /// The caller must not destroy the object while the reference is in use (C's contract:
    /// no concurrent Destroy).
    pub unsafe fn get<'a>(&self, p: *const T) -> FfiResult<&'a T> {
        if self.contains(p) {
            // SAFETY: the address was produced by `insert` and not yet removed, so it points to
            // a live, properly aligned `T`.
            Ok(unsafe { &*p })
        } else {
            Err(FfiError::null(self.what))
        }
    }

    /// Mutably borrows a live object.
    ///
    /// # Safety
    /// As [`Registry::get`], and no other reference to the object may be in use (C's contract:
    /// a setter is not called concurrently with another call on the same handle).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get_mut<'a>(&self, p: *mut T) -> FfiResult<&'a mut T> {
        if self.contains(p) {
            // SAFETY: as in `get`; exclusivity is the caller's contract.
            Ok(unsafe { &mut *p })
        } else {
            Err(FfiError::null(self.what))
        }
    }

    /// The first live object satisfying `pred` (a linear scan: for small registries).
    pub fn find(&self, pred: impl Fn(&T) -> bool) -> Option<*mut T> {
        let set = self.set();
        set.iter()
            // SAFETY: every recorded address is a live `T` (removal takes the same lock).
            .find(|p| pred(unsafe { &*(**p as *const T) }))
            .map(|p| *p as *mut T)
    }

    /// Unrecords and takes back ownership of a live object.
    pub fn remove(&self, p: *mut T) -> FfiResult<Box<T>> {
        if !p.is_null() && self.set().remove(&(p as usize)) {
            // SAFETY: the address came from `Box::into_raw` in `insert` and was live until the
            // removal above, which no other call can repeat.
            Ok(unsafe { Box::from_raw(p) })
        } else {
            Err(FfiError::null(self.what))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_and_foreign_pointers_are_rejected() {
        static R: Registry<u32> = Registry::new("thing");
        let p = R.insert(7);
        assert_eq!(*unsafe { R.get(p) }.unwrap(), 7);
        assert!(R.remove(p).is_ok());
        assert!(R.remove(p).is_err());
        assert!(unsafe { R.get(p) }.is_err());
        assert!(unsafe { R.get(std::ptr::null()) }.is_err());
        let foreign = 0x1234usize as *const u32;
        assert!(unsafe { R.get(foreign) }.is_err());
    }
}
