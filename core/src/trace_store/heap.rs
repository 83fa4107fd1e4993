//! Which allocations are the store's, for a global allocator that keeps them apart.
//!
//! The store's spans live for minutes; a request's own allocations (HTTP buffers, JSON, the
//! spans on their way to the exporter) for microseconds. When both come from the same pages, a
//! page that evictions have emptied of stored spans may still hold some request's blocks, and
//! the store's share of the process's memory cannot be told apart. The store marks the work
//! that allocates what it keeps ([`for_the_store`]); a global allocator that reads [`storing`]
//! can serve those allocations from a heap of their own (ragtrace's does, `app/src/alloc.rs`),
//! whose pages hold stored spans only, empty as the oldest traces are evicted, and can be
//! counted. With any other allocator the mark is read by nobody and costs a thread-local write.

use std::cell::Cell;

thread_local! {
    static STORING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is now allocating for the trace store. Cheap enough to ask on every
/// allocation: a read of a thread-local flag.
#[inline]
pub fn storing() -> bool {
    // A constant-initialised `Cell` has no destructor: it is readable for the whole life of
    // the thread, from inside the allocator too.
    STORING.try_with(Cell::get).unwrap_or(false)
}

/// Runs `f` with this thread's allocations marked as the store's (and the mark as it was
/// after, even if `f` panics).
pub fn for_the_store<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            STORING.set(self.0);
        }
    }
    let _restore = Restore(STORING.replace(true));
    f()
}

#[cfg(test)]
mod tests {
    use super::{for_the_store, storing};

    #[test]
    fn the_mark_holds_inside_and_is_restored_after() {
        assert!(!storing());
        for_the_store(|| {
            assert!(storing());
            for_the_store(|| assert!(storing()));
            // A nested scope restores the outer mark, not "unmarked".
            assert!(storing());
        });
        assert!(!storing());
        let unwound = std::panic::catch_unwind(|| for_the_store(|| panic!("in the store")));
        assert!(unwound.is_err());
        assert!(!storing(), "a panic inside leaves the mark set");
        // Other threads are not marked by this one.
        for_the_store(|| assert!(!std::thread::spawn(storing).join().unwrap()));
    }
}
