//! The binary's own code: its arguments ([`args`]) and what they mean for the library
//! ([`settings`]), and how the library's errors are told. `anyhow` lives here and in
//! `main.rs` only; the library returns typed errors.

pub mod args;
pub mod settings;

use std::io;
use wsdissect::run::RunError;

/// A run's error as the command line tells it: an output error as its I/O cause alone
/// (the `wsdissect: ` line shows no `output:`), the others with their causes.
pub fn error(e: RunError) -> anyhow::Error {
    match e {
        RunError::Output(e) => e.into(),
        e => e.into(),
    }
}

/// Whether the run ended because standard output was closed (`wsdissect … | head`): not
/// a failure.
pub fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .find_map(|c| c.downcast_ref::<io::Error>())
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// The views named as subcommands: written after options (`wsdissect --format jsonl flows
/// x.pcap`), clap reads them as file names.
const VIEWS: [&str; 6] = ["flows", "stats", "extract", "tcp", "completions", "man"];

/// An error when the first input of the default view is the name of another view and no
/// such file exists: options came before the view's name.
pub fn misplaced_view(files: &[std::path::PathBuf]) -> Option<anyhow::Error> {
    let first = files.first()?;
    let name = first.to_str()?;
    (VIEWS.contains(&name) && !first.exists()).then(|| {
        anyhow::anyhow!(
            "`{name}` is a view, not a file: give its name first, then its options \
             (`wsdissect {name} --format jsonl FILE`)"
        )
    })
}
