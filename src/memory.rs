//! Giving freed heap memory back to the operating system.
//!
//! glibc keeps freed memory in its per-thread arenas for reuse. After a login storm
//! (~19 MiB of Argon2 memory per hash) the process would hold on to that memory while
//! idle, so large blocks are mapped from the OS and handed back, and the hashing threads
//! trim their arenas after each hash.

/// Returns free heap pages of every arena to the OS (glibc on Linux; elsewhere a no-op).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the OS; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Serves allocations of at least `bytes` straight from the OS, which takes them back on
/// free. glibc would otherwise raise this threshold after the first such free (to the
/// ~19 MiB of an Argon2 hash), and later blocks could then stay in a thread's arena at a
/// spot `malloc_trim` cannot release: whether the memory came back after a login storm
/// was luck. The price is the page faults of a fresh block on every hash.
pub fn map_large_allocations(bytes: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator setting; it takes no pointers.
    unsafe {
        libc::mallopt(
            libc::M_MMAP_THRESHOLD,
            libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX),
        );
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = bytes;
}
