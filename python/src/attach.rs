//! Attaching the core's threads to Python, keeping their thread state between calls.
//!
//! A thread Python did not start has no Python thread state. `Python::try_attach`
//! (`PyGILState_Ensure`) creates one on such a thread and `PyGILState_Release` deletes it
//! again as soon as the call ends; so every consume callback, send callback or forwarded log
//! event made and destroyed a thread state, and CPython maps a fresh frame stack for each new
//! one and unmaps it with the thread state — an `mmap`/`munmap` pair per message, with the TLB
//! shootdowns that go with them. Measured on the push consumer: an eighth of a consume thread's
//! time went there.
//!
//! `try_attach` here takes one more `PyGILState_Ensure` reference the first time a thread
//! attaches, and keeps it until the thread exits: the thread state then lives as long as the
//! thread, and each later attach only takes the GIL. The reference is given back by a
//! thread-local destructor when the thread exits (consume threads exit at consumer shutdown),
//! which deletes the thread state — unless the interpreter is gone by then, when there is
//! nothing left to delete.
//!
//! Python code on such a thread now sees one thread state across calls, as on a Python thread:
//! a `threading.local` set in one callback is still there in the next on the same thread.

use std::cell::Cell;

use pyo3::ffi;
use pyo3::prelude::*;

/// Whether this thread holds the extra reference (given back at thread exit).
struct Kept(Cell<bool>);

impl Drop for Kept {
    fn drop(&mut self) {
        if !self.0.get() {
            return;
        }
        // SAFETY: this thread took one PyGILState_Ensure reference (LOCKED: taken while
        // attached) and never released it. Releasing it needs the GIL; the matching
        // Ensure/Release pair around it takes and drops it, and the last Release deletes the
        // thread state. Skipped once the interpreter is finalized: its thread states are gone.
        unsafe {
            if ffi::Py_IsInitialized() == 0 || ffi::PyGILState_GetThisThreadState().is_null() {
                return;
            }
            let outer = ffi::PyGILState_Ensure();
            ffi::PyGILState_Release(ffi::PyGILState_STATE::PyGILState_LOCKED);
            ffi::PyGILState_Release(outer);
        }
    }
}

thread_local! {
    static KEPT: Kept = const { Kept(Cell::new(false)) };
}

/// `Python::try_attach` for the core's threads: the same, except that the thread's Python
/// thread state is kept for its next call (see the module doc). Threads Python started (and
/// so owns the thread state of) are attached as usual.
pub fn try_attach<F, R>(f: F) -> Option<R>
where
    F: for<'py> FnOnce(Python<'py>) -> R,
{
    // SAFETY: callable without the GIL; null when this thread has no Python thread state.
    let foreign = unsafe { ffi::PyGILState_GetThisThreadState() }.is_null();
    Python::try_attach(|py| {
        // `try_with`: a thread already tearing down its thread-locals attaches as before.
        let _ = KEPT.try_with(|kept| {
            if foreign && !kept.0.get() {
                // SAFETY: attached (the GIL is held), so this only counts one more reference
                // to the current thread state; the destructor above gives it back.
                unsafe {
                    ffi::PyGILState_Ensure();
                }
                kept.0.set(true);
            }
        });
        f(py)
    })
}
