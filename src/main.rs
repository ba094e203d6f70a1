// The dataflow allocates and frees many small objects on several threads; mimalloc spends
// far less time on that than glibc's malloc (a profile of a worker showed ~40% in malloc/free).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    match rtds::cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One line, causes included: "rtds: cannot read x.json: No such file or directory".
            eprintln!("rtds: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
