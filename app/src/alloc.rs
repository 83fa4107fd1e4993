//! The process's allocator: mimalloc, with the trace store's allocations on pages of their own.
//!
//! A chat request allocates thousands of small, short-lived objects across the runtime's
//! threads (HTTP bodies, JSON, spans); mimalloc serves them with about a third of the CPU the
//! system allocator spends (docs/benchmarks.md, "Per-request cost").
//!
//! The trace store's spans are the opposite: kept for minutes, freed oldest first. Allocated
//! among the requests' blocks, a page emptied of stored spans by evictions may still hold some
//! request's blocks, and what the store takes of the process's memory cannot be told apart
//! from the rest. Here every allocation made while the store marks its work
//! (`ragtrace_core::trace_store::heap`) comes from a mimalloc heap of its own (`mi_heap_new`):
//! its pages hold stored spans only, empty as the oldest traces go, and can be counted
//! ([`store_heap_use`]). Under long answers they came to 1.02 times each byte of the store's
//! cap (docs/benchmarks.md, "Memory under load").
//!
//! The one module of the workspace with `unsafe` code: a global allocator is an `unsafe` trait,
//! and mimalloc's heaps are reached through its C interface.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use libmimalloc_sys as mi;
use ragtrace_core::trace_store::heap::storing;

/// mimalloc, with the trace store's allocations in a heap of their own. Set by `main` as the
/// `#[global_allocator]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allocator;

static STORE_HEAP: AtomicPtr<mi::mi_heap_t> = AtomicPtr::new(ptr::null_mut());

/// The heap the trace store's allocations come from, made on first use; null if mimalloc could
/// not make one (then they come from the main heap, as any other). mimalloc's heaps (v3) are
/// process-wide: any thread allocates from one and frees into it.
fn store_heap() -> *mut mi::mi_heap_t {
    let heap = STORE_HEAP.load(Ordering::Acquire);
    if !heap.is_null() {
        return heap;
    }
    // SAFETY: mi_heap_new takes no arguments; it allocates the heap's own record from
    // mimalloc's main heap, not through this allocator, so it cannot recurse here.
    let new = unsafe { mi::mi_heap_new() };
    if new.is_null() {
        return new;
    }
    match STORE_HEAP.compare_exchange(ptr::null_mut(), new, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => new,
        Err(theirs) => {
            // Another thread made one first; this one never allocated.
            // SAFETY: `new` is a heap of ours, empty and seen by no one else.
            unsafe { mi::mi_heap_delete(new) };
            theirs
        }
    }
}

/// An allocation for the store: from its heap, or the main heap if there is none. Out of line,
/// so that the allocator's common path (not storing) is a flag test and a jump to mimalloc.
#[cold]
#[inline(never)]
unsafe fn store_alloc(size: usize, align: usize, zeroed: bool) -> *mut u8 {
    let heap = store_heap();
    // SAFETY: a heap from `store_heap` (or none), and the size and alignment of a valid layout.
    unsafe {
        match (heap.is_null(), zeroed) {
            (false, false) => mi::mi_heap_malloc_aligned(heap, size, align).cast(),
            (false, true) => mi::mi_heap_zalloc_aligned(heap, size, align).cast(),
            (true, false) => mi::mi_malloc_aligned(size, align).cast(),
            (true, true) => mi::mi_zalloc_aligned(size, align).cast(),
        }
    }
}

/// A reallocation for the store: a block that has to move goes to the store's heap.
#[cold]
#[inline(never)]
unsafe fn store_realloc(ptr: *mut u8, new_size: usize, align: usize) -> *mut u8 {
    let heap = store_heap();
    // SAFETY: `ptr` came from mimalloc with this alignment.
    unsafe {
        if heap.is_null() {
            mi::mi_realloc_aligned(ptr.cast(), new_size, align).cast()
        } else {
            mi::mi_heap_realloc_aligned(heap, ptr.cast(), new_size, align).cast()
        }
    }
}

// SAFETY: every block comes from mimalloc (its main heap or the store's) with the layout's size
// and alignment, and mimalloc frees and reallocates a block whichever heap it came from.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the size and alignment of a valid layout.
        unsafe {
            if storing() {
                return store_alloc(layout.size(), layout.align(), false);
            }
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe {
            if storing() {
                return store_alloc(layout.size(), layout.align(), true);
            }
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator, so from mimalloc.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`.
        unsafe {
            if storing() {
                return store_realloc(ptr, new_size, layout.align());
            }
            mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
        }
    }
}

/// What the store's heap holds now: blocks in use and their bytes, and the bytes of its pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeapUse {
    /// Blocks allocated and not freed.
    pub blocks: usize,
    /// Those blocks' bytes (each counted as its size class's block).
    pub bytes: usize,
    /// Bytes of the pages that hold them (committed memory).
    pub committed: usize,
}

/// Counts what the store's heap holds, page by page.
///
/// mimalloc reads the pages without taking them from the threads that allocate in them: call
/// it only while no other thread allocates for the store (tests, a quiet process). Blocks freed
/// by another thread count until their page is next used.
pub fn store_heap_use() -> HeapUse {
    unsafe extern "C" fn visit(
        _heap: *const mi::mi_heap_t,
        area: *const mi::mi_heap_area_t,
        _block: *mut c_void,
        _size: usize,
        arg: *mut c_void,
    ) -> bool {
        // SAFETY: mimalloc passes a valid area, and `arg` is the `HeapUse` below.
        let (area, sum) = unsafe { (&*area, &mut *arg.cast::<HeapUse>()) };
        sum.blocks += area.used;
        sum.bytes += area.used * area.full_block_size;
        sum.committed += area.committed;
        true
    }
    let mut sum = HeapUse::default();
    let heap = store_heap();
    if heap.is_null() {
        return sum;
    }
    // SAFETY: the heap is ours, the visitor only reads each area, and `sum` outlives the call.
    unsafe {
        mi::mi_heap_visit_blocks(heap, false, Some(visit), (&raw mut sum).cast::<c_void>());
    }
    sum
}
