//! The `spurion` command: parses arguments, hands validated settings to the library, and turns
//! errors into one-line messages and exit codes (1 for a failed run, 2 for bad usage).
//!
//! Nothing here panics on a closed or full stdout or stderr: a command's text is written at
//! the end with its errors handled (a closed pipe ends the program quietly, a full disk is an
//! error), and messages to stderr are best effort.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// One line on stderr; a stderr that cannot be written to is ignored.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn main() -> ExitCode {
    spurion::remove_staging_on_signals();
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            // --help, --version
            return match e.print() {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(err) => {
                    say(&format!(
                        "spurion: error: writing to standard output: {err}"
                    ));
                    ExitCode::from(1)
                }
            };
        }
        Err(e) => {
            say(&format!("spurion: {}", cli::one_line(&e.to_string())));
            return ExitCode::from(2);
        }
    };
    let text = match cli::run(args) {
        Ok(text) => text,
        Err(e) => {
            say(&format!("spurion: error: {e}"));
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`spurion ... | head`): the work is done, nothing to say.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            say(&format!("spurion: error: writing to standard output: {e}"));
            ExitCode::from(1)
        }
    }
}
