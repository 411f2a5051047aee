//! The `spurion` command: parses arguments, hands validated settings to the library, and turns
//! errors into one-line messages and exit codes (1 for a failed run, 2 for bad usage).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            // --help, --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("spurion: {}", cli::one_line(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spurion: error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
