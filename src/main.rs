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
