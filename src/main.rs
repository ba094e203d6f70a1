// The dataflow allocates and frees many small objects on several threads; mimalloc spends
// far less time on that than glibc's malloc (a profile of a worker showed ~40% in malloc/free).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    return_freed_memory_at_once();
    match rtds::cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One line, causes included: "rtds: cannot read x.json: No such file or directory".
            eprintln!("rtds: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// mimalloc keeps pages its threads freed for a while before it returns them to the OS
/// (`purge_delay`, 10 ms, acted on only when the thread next passes a purge point); a worker
/// catching up a backlog frees records as fast as it reads new ones, and the delay let its
/// process hold about 60 MB more (240 against 180 MB at 1,000,000 records, `-n 2 -w 2`).
/// `MIMALLOC_PURGE_DELAY` in the environment still wins.
fn return_freed_memory_at_once() {
    // `mi_option_purge_delay` in mimalloc.h (v2 and v3 keep the enum's order; libmimalloc-sys
    // names no constant for it).
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options; any value is valid, and it is read at each purge.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) }
    }
}
