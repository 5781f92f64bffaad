//! The `wsdissect` command line: parses arguments, opens files, picks a view.
//! All decoding, filtering, statistics and extraction live in the library.

mod cli;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use cli::args::{
    Cli, Command, Common, DirectionArg, ExtractArgs, FlowsArgs, MessageArgs, MessageFilter,
    StatsArgs, TcpArgs, WsArgs,
};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use wsdissect::record::problems::Problems;
use wsdissect::record::Record;
use wsdissect::run::progress::{self, Progress};
use wsdissect::run::shard;
use wsdissect::run::{self, Diagnostic, RunError};
use wsdissect::tcp::stream::StreamSink;
use wsdissect::tcp::{Config, Reassembler};
use wsdissect::view::extract::Extractor;
use wsdissect::view::filter::{Filter, Selector};
use wsdissect::view::stats::Aggregator;
use wsdissect::view::{DumpSink, Format, TableStyle, View};
use wsdissect::ws;

/// Outcome of a whole run, mapped to the exit status.
#[derive(Default)]
struct Outcome {
    unusable: bool,
    problems: Problems,
    strict: bool,
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

fn exit_code(o: Outcome) -> ExitCode {
    if o.unusable {
        ExitCode::from(2)
    } else if o.strict && !o.problems.is_empty() {
        eprintln!("wsdissect: --strict: {}", o.problems);
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Some(Command::Tcp(args)) => run_tcp(args),
        Some(Command::Flows(a)) => run_flows(a),
        Some(Command::Stats(a)) => run_stats(a),
        Some(Command::Extract(a)) => run_extract(a),
        Some(Command::Completions { shell }) => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "wsdissect", &mut io::stdout().lock());
            Ok(Outcome::default())
        }
        Some(Command::Man) => {
            clap_mangen::Man::new(Cli::command()).render(&mut io::stdout().lock())?;
            Ok(Outcome::default())
        }
        None => run_messages(cli.messages),
    }
}

fn filter(c: &Common, m: Option<&MessageFilter>) -> Filter {
    let s = &c.select;
    Filter {
        flow: s.flow,
        client: s.client,
        server: s.server,
        since: s.since,
        until: s.until,
        limit: s.limit,
        direction: m.and_then(|m| m.direction).map(|d| {
            match d {
                DirectionArg::ClientToServer => "client_to_server",
                DirectionArg::ServerToClient => "server_to_client",
            }
            .to_string()
        }),
        opcodes: m.map(|m| m.opcode.clone()).unwrap_or_default(),
        grep: m.and_then(|m| m.grep.clone()),
    }
}

fn ws_options(w: &WsArgs, messages: bool, frames: bool, flows: bool) -> ws::Options {
    ws::Options {
        decode_as: w.decode_as.clone(),
        messages,
        frames,
        flows,
        max_message_size: w.max_message_size,
        include_payload_in_frames: frames,
    }
}

fn stdout_view(c: &Common) -> View<BufWriter<io::StdoutLock<'static>>> {
    let terminal = io::stdout().is_terminal();
    let no_color = std::env::var_os("NO_COLOR");
    View::new(c.format, BufWriter::new(io::stdout().lock()), None).with_style(TableStyle {
        color: c.color.enabled(no_color.as_deref(), terminal),
        wrap: terminal,
        width: None,
    })
}

fn run_messages(a: MessageArgs) -> anyhow::Result<Outcome> {
    let c = &a.common;
    let strict = c.strict;
    let mut view = stdout_view(c);
    let mut sel = Selector::new(filter(c, Some(&a.contents))).hide_flows();
    // Flow records end the wait of frames whose message never came; they are not printed.
    let opts = ws_options(&a.ws, true, a.frames, true);
    if let Some(o) = parallel_jsonl(c, sel.filter(), &opts, false)? {
        return Ok(o);
    }
    let mut print = |r: Record| match r {
        Record::Flow(_) => Ok(()),
        r => view.write_record(&r),
    };
    let o = run_ws(c, opts, |r| {
        sel.push(r, &mut print)?;
        stop_when(sel.full() && !strict)
    })?;
    sel.finish(&mut print)?;
    view.finish()?;
    Ok(o)
}

fn run_flows(a: FlowsArgs) -> anyhow::Result<Outcome> {
    let c = &a.common;
    let strict = c.strict;
    let mut view = stdout_view(c);
    let mut sel = Selector::new(filter(c, None));
    let opts = ws_options(&a.ws, false, false, true);
    if let Some(o) = parallel_jsonl(c, sel.filter(), &opts, true)? {
        return Ok(o);
    }
    let o = run_ws(c, opts, |r| {
        sel.push(r, |r| view.write_record(&r))?;
        stop_when(sel.full() && !strict)
    })?;
    view.finish()?;
    Ok(o)
}

fn run_stats(a: StatsArgs) -> anyhow::Result<Outcome> {
    let c = &a.common;
    let strict = c.strict;
    let mut view = stdout_view(c);
    let f = filter(c, Some(&a.contents));
    let mut agg = Aggregator::new();
    let mut rows = 0u64;
    let opts = ws_options(&a.ws, true, false, true);
    let o = run_ws(c, opts, |r| match r {
        Record::Message(m) => {
            if f.message(&m) {
                agg.message(&m);
            }
            Ok(())
        }
        Record::Flow(fr) => {
            let s = agg.flow(&fr);
            if f.flow(&fr) && f.limit.map_or(true, |l| rows < l) {
                rows += 1;
                view.write(&s)?;
            }
            stop_when(f.limit.is_some_and(|l| rows >= l) && !strict)
        }
        Record::Frame(_) => Ok(()),
    })?;
    view.finish()?;
    Ok(o)
}

fn run_extract(a: ExtractArgs) -> anyhow::Result<Outcome> {
    let c = &a.common;
    let strict = c.strict;
    let f = filter(c, Some(&a.contents));
    let mut ex = Extractor::new(&a.out, c.files.len() > 1)
        .with_context(|| format!("creating {}", a.out.display()))?;
    let mut taken = 0u64;
    let opts = ws_options(&a.ws, true, false, true);
    let o = run_ws(c, opts, |r| match r {
        Record::Message(m) => {
            let take = f.message(&m) && f.limit.map_or(true, |l| taken < l);
            taken += u64::from(take);
            ex.message(m, take)?;
            stop_when(f.limit.is_some_and(|l| taken >= l) && !strict)
        }
        Record::Flow(fr) => {
            ex.end_flow(&fr.file, fr.flow);
            Ok(())
        }
        Record::Frame(_) => Ok(()),
    })?;
    let s = ex.finish()?;
    if !c.quiet {
        eprintln!(
            "wsdissect: wrote {} payload files ({} bytes) to {}; {} messages without payload; manifest {}",
            s.files,
            s.bytes,
            a.out.display(),
            s.without_payload,
            a.out.join(wsdissect::view::extract::MANIFEST).display()
        );
    }
    Ok(o)
}

/// The error that ends reading early once `--limit` is reached (not with `--strict`,
/// which judges the whole capture).
#[derive(Debug)]
struct LimitReached;

impl std::fmt::Display for LimitReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("limit reached")
    }
}

impl std::error::Error for LimitReached {}

fn stop_when(done: bool) -> io::Result<()> {
    if done {
        Err(io::Error::other(LimitReached))
    } else {
        Ok(())
    }
}

fn is_stop(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<LimitReached>())
}

/// Runs every file through a WebSocket dissector, handing each record to `each`.
fn run_ws(
    c: &Common,
    opts: ws::Options,
    mut each: impl FnMut(Record) -> io::Result<()>,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome {
        strict: c.strict,
        ..Default::default()
    };
    let progress = start_progress(c);
    let quiet = c.quiet;
    let mut limits = Problems::default();
    // Warnings of each kind printed per file; the rest counted (reset per file).
    let limiter = std::cell::RefCell::new(run::WarnLimiter::default());
    for_each_file(
        c,
        &progress,
        &mut outcome,
        |file| Ok(ws::Dissector::new(file.to_string(), opts.clone())),
        |d, tcp| {
            for s in tcp.drain_summaries() {
                limits.add_tcp(&s, false);
            }
            if quiet {
                d.drain_warnings();
            } else {
                let file = d.file().to_string();
                for w in d.drain_warnings() {
                    if limiter.borrow_mut().admit(&w.message) {
                        progress.eprintln(&format!(
                            "wsdissect: {file}: packet {}: {}",
                            w.packet, w.message
                        ));
                    }
                }
            }
            for r in d.drain_records() {
                each(r)?;
            }
            Ok(())
        },
        |d| {
            let done = limiter.replace(run::WarnLimiter::default());
            if !quiet {
                for line in done.summary() {
                    progress.eprintln(&format!("wsdissect: {}: {line}", d.file()));
                }
            }
            Ok(run::ws_problems(d.problem_counts(), d.problems()))
        },
    )?;
    outcome.problems.merge(&limits);
    progress.finish();
    Ok(outcome)
}

/// JSON Lines with no filter, no frames and no progress bar: several files decoded in
/// parallel, one file's connections spread over the cores, printed exactly as the
/// sequential path prints them. `None` when that path is needed.
fn parallel_jsonl(
    c: &Common,
    f: &Filter,
    opts: &ws::Options,
    flow_records: bool,
) -> anyhow::Result<Option<Outcome>> {
    let unfiltered = f.flow.is_none()
        && f.client.is_none()
        && f.server.is_none()
        && f.direction.is_none()
        && f.opcodes.is_empty()
        && f.grep.is_none()
        && f.since.is_none()
        && f.until.is_none()
        && f.limit.is_none();
    let progress = progress::wanted(input_size(c), io::stderr().is_terminal(), c.quiet);
    if c.format != Format::Jsonl || opts.frames || !unfiltered || progress {
        return Ok(None);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = io::stdout().lock();
    let results = run::run_ordered(&c.files, threads, &mut out, |path, w| {
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
        let settings = run::JsonlSettings {
            config: tcp_config(c),
            opts: opts.clone(),
            flow_records,
        };
        Some(if c.files.len() == 1 && threads > 1 {
            shard::dissect_jsonl(&file, src, settings, threads, w, &mut diag)
        } else {
            run::dissect_jsonl(&file, src, settings, w, &mut diag)
        })
    })?;
    let mut outcome = Outcome {
        strict: c.strict,
        ..Default::default()
    };
    for r in results {
        match r {
            Some(Ok(p)) => outcome.problems.merge(&p),
            Some(Err(RunError::Unusable { file, source })) => {
                eprintln!("wsdissect: {file}: {source}");
                outcome.unusable = true;
            }
            Some(Err(RunError::Output(e))) => return Err(e.into()),
            None => outcome.unusable = true,
        }
    }
    Ok(Some(outcome))
}

fn tcp_config(c: &Common) -> Config {
    Config {
        max_ooo_bytes: c.max_ooo_bytes,
        max_ooo_total: c.max_ooo_total,
        max_flows: c.max_flows.max(1),
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

/// A progress bar when stderr is a terminal, the input files are large and not quiet.
/// Bytes of the input files (standard input counts as nothing): decides the progress bar.
fn input_size(c: &Common) -> u64 {
    c.files
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

fn start_progress(c: &Common) -> Progress {
    let total = input_size(c);
    Progress::new(
        total,
        progress::wanted(total, io::stderr().is_terminal(), c.quiet),
    )
}

/// Runs every file through `sink_for`'s sink, calling `each` after every packet and
/// `done` once a file is finished (for the problems its sink counted).
fn for_each_file<S: StreamSink>(
    c: &Common,
    progress: &Progress,
    outcome: &mut Outcome,
    mut sink_for: impl FnMut(&str) -> anyhow::Result<S>,
    mut each: impl FnMut(&mut S, &mut Reassembler) -> io::Result<()>,
    mut done: impl FnMut(&mut S) -> anyhow::Result<Problems>,
) -> anyhow::Result<()> {
    let quiet = c.quiet;
    let mut diag = |d: Diagnostic| {
        if !quiet {
            progress.eprintln(&format!("wsdissect: {d}"));
        }
    };
    for path in &c.files {
        let file = name(path);
        let src = match open(path) {
            Ok(s) => progress.reader(s),
            Err(e) => {
                progress.eprintln(&format!("wsdissect: {file}: {e}"));
                outcome.unusable = true;
                continue;
            }
        };
        let mut sink = sink_for(&file)?;
        let mut after = |s: &mut S, tcp: &mut Reassembler| {
            progress.packet(tcp.flows_seen());
            each(s, tcp)
        };
        match run::run(&file, src, tcp_config(c), &mut sink, &mut diag, &mut after) {
            Ok(stats) => {
                outcome.problems.capture_errors += stats.problems;
                outcome.problems.merge(&done(&mut sink)?);
            }
            Err(RunError::Unusable { file, source }) => {
                progress.eprintln(&format!("wsdissect: {file}: {source}"));
                outcome.unusable = true;
            }
            Err(RunError::Output(e)) if is_stop(&e) => break,
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
    let mut view = stdout_view(c);
    let mut outcome = Outcome {
        strict: c.strict,
        ..Default::default()
    };
    let progress = start_progress(c);
    let mut sel = Selector::new(filter(c, None));
    let dump_dir = args.dump_dir.clone();
    let mut problems = Problems::default();
    for_each_file(
        c,
        &progress,
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
                problems.add_tcp(&s, true);
                if sel.tcp(&s) {
                    view.write(&s)?;
                }
            }
            stop_when(sel.full() && !c.strict)
        },
        |sink| {
            if let Some(d) = sink {
                d.finish()?;
            }
            Ok(Problems::default())
        },
    )?;
    progress.finish();
    outcome.problems.merge(&problems);
    view.finish()?;
    io::stdout().flush()?;
    Ok(outcome)
}
