//! The `wsdissect` command line: parses arguments, opens files, picks a view.
//! All decoding lives in the library.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use wsdissect::output::{DumpSink, Format, View};
use wsdissect::pipeline::{self, Diagnostic, RunError};
use wsdissect::shard;
use wsdissect::stream::StreamSink;
use wsdissect::tcp::Config;
use wsdissect::ws;

const EXAMPLES: &str = "\
Examples:
  wsdissect capture.pcapng                    messages as a table
  wsdissect --format jsonl capture.pcap       one JSON object per message
  wsdissect --frames capture.pcap             frames as well as messages
  wsdissect flows capture.pcap                one row per WebSocket connection
  wsdissect tcp --dump-dir out capture.pcap   TCP connections, streams dumped to out/
  tcpdump -i lo -w - | wsdissect -            read standard input

Exit status: 0 ok; 1 problems found (with --strict); 2 unusable input.";

/// Decode WebSocket traffic in packet captures (.pcap, .pcapng).
#[derive(Parser, Debug)]
#[command(version, about, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    messages: MessageArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// One record per WebSocket connection: handshake, extensions, counters.
    Flows(MessageArgs),
    /// One record per TCP connection: packets, bytes, gaps, retransmissions.
    Tcp(TcpArgs),
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// Capture files (pcap or pcapng, detected by content); `-` reads standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Exit with status 1 when anything was undecodable, a violation or gap was seen, or a
    /// limit was hit.
    #[arg(long)]
    strict: bool,
    /// Out-of-order bytes held per TCP direction before a hole is declared a gap.
    #[arg(long, default_value_t = Config::default().max_ooo_bytes, value_name = "BYTES")]
    max_ooo_bytes: usize,
    /// TCP connections tracked at once; the least recently active are evicted beyond it.
    #[arg(long, default_value_t = Config::default().max_flows, value_name = "N")]
    max_flows: usize,
    /// Print no warnings on standard error.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args, Debug, Clone)]
struct MessageArgs {
    #[command(flatten)]
    common: Common,
    /// Also print every frame (frame records before the message they belong to).
    #[arg(long)]
    frames: bool,
    /// Decode connections on this port as WebSocket even without a handshake (repeatable).
    #[arg(long, value_name = "PORT")]
    decode_as: Vec<u16>,
    /// Largest message kept after decompression; bigger ones are truncated and flagged.
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    max_message_size: usize,
}

#[derive(Args, Debug, Clone)]
struct TcpArgs {
    #[command(flatten)]
    common: Common,
    /// Write each direction's reassembled bytes to DIR/flow<N>.<direction>.bin.
    #[arg(long, value_name = "DIR")]
    dump_dir: Option<PathBuf>,
}

/// Outcome of a whole run, mapped to the exit status.
#[derive(Default)]
struct Outcome {
    unusable: bool,
    problems: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(o) => exit_code(o),
        Err(e) => {
            if let Some(ioe) = e.downcast_ref::<io::Error>() {
                if ioe.kind() == io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("wsdissect: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn exit_code(o: (Outcome, bool)) -> ExitCode {
    let (o, strict) = o;
    if o.unusable {
        ExitCode::from(2)
    } else if strict && o.problems > 0 {
        eprintln!("wsdissect: --strict: {} problems found", o.problems);
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn run(cli: Cli) -> anyhow::Result<(Outcome, bool)> {
    match cli.command {
        Some(Command::Tcp(args)) => {
            let strict = args.common.strict;
            Ok((run_tcp(args)?, strict))
        }
        Some(Command::Flows(a)) => run_ws(a, true),
        None => run_ws(cli.messages, false),
    }
}

fn run_ws(a: MessageArgs, flows: bool) -> anyhow::Result<(Outcome, bool)> {
    let c = &a.common;
    let opts = ws::Options {
        decode_as: a.decode_as.clone(),
        messages: !flows,
        frames: !flows && a.frames,
        flows,
        max_message_size: a.max_message_size,
        include_payload_in_frames: a.frames,
    };
    if c.format == Format::Jsonl {
        return Ok((run_ws_parallel(c, opts)?, c.strict));
    }
    let mut view = View::new(c.format, BufWriter::new(io::stdout().lock()), table_width());
    let mut outcome = Outcome::default();
    let quiet = c.quiet;
    for_each_file(
        c,
        &mut outcome,
        |file| Ok(ws::Dissector::new(file.to_string(), opts.clone())),
        |d, _| {
            if !quiet {
                let file = d.file().to_string();
                for w in d.drain_warnings() {
                    eprintln!("wsdissect: {file}: packet {}: {}", w.packet, w.message);
                }
            } else {
                d.drain_warnings();
            }
            for r in d.drain_records() {
                view.write_record(&r)?;
            }
            Ok(())
        },
        |d| Ok(d.problems()),
    )?;
    view.finish()?;
    Ok((outcome, c.strict))
}

/// JSON Lines: several files decoded in parallel, one file's connections spread over
/// the cores; printed in the order a sequential run prints.
fn run_ws_parallel(c: &Common, opts: ws::Options) -> anyhow::Result<Outcome> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = io::stdout().lock();
    let results = pipeline::run_ordered(&c.files, threads, &mut out, |path, w| {
        let file = name(path);
        let mut diag = |d: Diagnostic| {
            if !c.quiet {
                eprintln!("wsdissect: {d}");
            }
        };
        let src = match open(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("wsdissect: {file}: {e}");
                return None;
            }
        };
        let (config, opts) = (tcp_config(c), opts.clone());
        Some(if c.files.len() == 1 && threads > 1 {
            shard::dissect_jsonl(&file, src, config, opts, threads, w, &mut diag)
        } else {
            pipeline::dissect_jsonl(&file, src, config, opts, w, &mut diag)
        })
    })?;
    let mut outcome = Outcome::default();
    for r in results {
        let Some(r) = r else {
            outcome.unusable = true;
            continue;
        };
        match r {
            Ok((stats, problems)) => outcome.problems += stats.problems + problems,
            Err(RunError::Unusable { file, source }) => {
                eprintln!("wsdissect: {file}: {source}");
                outcome.unusable = true;
            }
            Err(RunError::Output(e)) => return Err(e.into()),
        }
    }
    Ok(outcome)
}

fn tcp_config(c: &Common) -> Config {
    Config {
        max_ooo_bytes: c.max_ooo_bytes,
        max_flows: c.max_flows.max(1),
        ..Config::default()
    }
}

fn open(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(io::stdin()))
    } else {
        Ok(Box::new(File::open(path)?))
    }
}

fn name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "<stdin>".into()
    } else {
        path.display().to_string()
    }
}

fn table_width() -> Option<u16> {
    if io::stdout().is_terminal() {
        None
    } else {
        Some(200)
    }
}

/// Runs every file through `sink_for`'s sink, calling `each` after every packet.
fn for_each_file<S: StreamSink>(
    c: &Common,
    outcome: &mut Outcome,
    mut sink_for: impl FnMut(&str) -> anyhow::Result<S>,
    mut each: impl FnMut(&mut S, &mut wsdissect::tcp::Reassembler) -> io::Result<()>,
    mut done: impl FnMut(&mut S) -> anyhow::Result<u64>,
) -> anyhow::Result<()> {
    let quiet = c.quiet;
    let mut diag = |d: Diagnostic| {
        if !quiet {
            eprintln!("wsdissect: {d}");
        }
    };
    for path in &c.files {
        let file = name(path);
        let src = match open(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("wsdissect: {file}: {e}");
                outcome.unusable = true;
                continue;
            }
        };
        let mut sink = sink_for(&file)?;
        match pipeline::run(&file, src, tcp_config(c), &mut sink, &mut diag, &mut each) {
            Ok(stats) => {
                outcome.problems += stats.problems;
                outcome.problems += done(&mut sink)?;
            }
            Err(RunError::Unusable { file, source }) => {
                eprintln!("wsdissect: {file}: {source}");
                outcome.unusable = true;
            }
            Err(RunError::Output(e)) => return Err(e.into()),
        }
    }
    Ok(())
}

fn run_tcp(args: TcpArgs) -> anyhow::Result<Outcome> {
    let c = &args.common;
    if let Some(d) = &args.dump_dir {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut view = View::new(c.format, BufWriter::new(io::stdout().lock()), table_width());
    let mut outcome = Outcome::default();
    let dump_dir = args.dump_dir.clone();
    let mut problems = 0u64;
    for_each_file(
        c,
        &mut outcome,
        |file| {
            Ok(match &dump_dir {
                Some(d) if c.files.len() > 1 => {
                    let sub = d.join(file.replace(['/', '\\'], "_"));
                    std::fs::create_dir_all(&sub)?;
                    Some(DumpSink::new(sub))
                }
                Some(d) => Some(DumpSink::new(d.clone())),
                None => None,
            })
        },
        |_, tcp| {
            for s in tcp.drain_summaries() {
                let (a, b) = (&s.client_to_server, &s.server_to_client);
                problems += a.gaps + b.gaps + a.ooo_limit_hits + b.ooo_limit_hits;
                view.write(&s)?;
            }
            Ok(())
        },
        |sink| {
            if let Some(d) = sink {
                d.finish()?;
            }
            Ok(0)
        },
    )?;
    outcome.problems += problems;
    view.finish()?;
    Ok(outcome)
}
