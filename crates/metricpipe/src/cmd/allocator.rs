//! Allocator settings for the long-running, low-rate agent.

/// One glibc malloc arena for the whole process, unless `MALLOC_ARENA_MAX` says otherwise.
///
/// glibc gives each thread that allocates while another holds the main arena an arena of
/// its own (up to 8 per core), and each keeps its freed memory resident. The agent has a
/// dozen threads (its collectors, the sink, librdkafka's main and broker threads) that
/// allocate a few events every 10 s, so contention costs nothing and the extra arenas are
/// pure footprint; docs/PERFORMANCE.md ("The agent's footprint") has the measurement.
/// Call it before the threads start; a no-op outside glibc.
pub fn one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes a malloc parameter; any value is accepted or refused
        // with a return code, and a refusal leaves glibc's default in place.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}
