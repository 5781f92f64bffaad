//! The `wsdissect` command line: arguments → settings → one library call per view →
//! exit status. Arguments are in `cli/args.rs`, what they mean for the library in
//! `cli/settings.rs`; reading, decoding, filtering and printing are in the library
//! (`wsdissect::run`).

mod cli;

use clap::{CommandFactory, Parser};
use cli::args::{Cli, Command};
use std::io;
use std::process::ExitCode;
use wsdissect::run::{self, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let strict = cli.common().is_some_and(|c| c.strict);
    match run(cli) {
        Ok(o) => exit_code(&o, strict),
        Err(e) if cli::broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wsdissect: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// 2 when an input was unusable; 1 with `--strict` when there were problems (counted
/// on standard error); 0 otherwise.
fn exit_code(o: &Outcome, strict: bool) -> ExitCode {
    if o.unusable {
        ExitCode::from(2)
    } else if strict && !o.problems.is_empty() {
        eprintln!("wsdissect: --strict: {}", o.problems);
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let stdout = || io::stdout().lock();
    let outcome = match cli.command {
        None => {
            let a = cli.messages;
            let c = &a.common;
            if let Some(e) = cli::misplaced_view(&c.files) {
                return Err(e);
            }
            let settings = c.settings(Some(&a.contents));
            let ws = a.ws.options(a.frames)?;
            c.each_part(|inputs, out| run::messages(&settings, &ws, inputs, out))?
        }
        Some(Command::Flows(a)) => {
            let c = &a.common;
            let settings = c.settings(None);
            let ws = a.ws.options(false)?;
            c.each_part(|inputs, out| run::flows(&settings, &ws, inputs, out))?
        }
        Some(Command::Stats(a)) => {
            let c = &a.common;
            let settings = c.settings(Some(&a.contents));
            let ws = a.ws.options(false)?;
            c.each_part(|inputs, out| run::stats(&settings, &ws, inputs, out))?
        }
        Some(Command::Extract(a)) => {
            let c = &a.common;
            let settings = c.settings(Some(&a.contents));
            run::extract(
                &settings,
                &a.ws.options(false)?,
                &c.inputs(),
                &a.out,
                a.force,
            )
        }
        Some(Command::Tcp(a)) => {
            let c = &a.common;
            let settings = c.settings(None);
            let keys = cli::settings::keys(&a.keylog)?;
            c.each_part(|inputs, out| {
                run::tcp(&settings, &keys, inputs, a.dump_dir.as_deref(), out)
            })?
        }
        Some(Command::Completions { shell }) => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "wsdissect", &mut stdout());
            return Ok(Outcome::default());
        }
        Some(Command::Man) => {
            clap_mangen::Man::new(Cli::command()).render(&mut stdout())?;
            return Ok(Outcome::default());
        }
    };
    outcome.map_err(cli::error)
}
