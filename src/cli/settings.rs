//! What the arguments mean for the library: [`run::Settings`], [`tcp::Config`],
//! [`ws::Options`], the [`Filter`] and the inputs. The only place that looks at the
//! environment (terminals, `NO_COLOR`) to decide how output looks.

use crate::cli::args::{ColorArg, Common, DirectionArg, FormatArg, MessageFilter, WsArgs};
use std::io::{self, IsTerminal};
use wsdissect::layers;
use wsdissect::run::{self, Input};
use wsdissect::tcp;
use wsdissect::view::filter::{Filter, OpcodeMatch};
use wsdissect::view::{ColorChoice, Format, TableStyle};
use wsdissect::ws;
use wsdissect::ws::protocol::WsDirection;

impl Common {
    /// The run's settings; `contents` adds the message criteria of the views that
    /// judge messages.
    pub fn settings(&self, contents: Option<&MessageFilter>) -> run::Settings {
        run::Settings {
            tcp: self.tcp_config(),
            filter: self.filter(contents),
            format: self.format.format(),
            parquet: self.compression,
            threads: self.threads.map_or_else(
                || std::thread::available_parallelism().map_or(1, |n| n.get()),
                usize::from,
            ),
            style: self.style(),
            strict: self.strict,
            quiet: self.quiet,
            stderr_is_terminal: io::stderr().is_terminal(),
            grouping: run::Grouping {
                each_file: self.each_file,
                recursive: self.recursive,
            },
        }
    }

    /// Where the view writes: `--output FILE` (created), else standard output, which a
    /// binary format (Parquet, Arrow) refuses when it is a terminal.
    pub fn output(&self) -> anyhow::Result<Box<dyn io::Write>> {
        use anyhow::Context as _;
        match &self.output {
            Some(p) => {
                let f = std::fs::File::create(p)
                    .with_context(|| format!("creating {}", p.display()))?;
                Ok(Box::new(f))
            }
            None if self.format.format().columnar().is_some() && io::stdout().is_terminal() => {
                anyhow::bail!(
                    "--format {} is binary: give --output FILE or send standard output to a pipe or file",
                    self.format.format().name()
                )
            }
            None => Ok(Box::new(io::stdout().lock())),
        }
    }

    /// Runs `view` once with every input and the output (`--output FILE` or standard
    /// output), or, when `--output` is an existing directory, once per input argument
    /// (one capture set each) writing `DIR/part-NNNNN-NAME.EXT`, deterministic names in
    /// argument order; the outcomes are added up. The map step of a distributed run:
    /// one task per set, one part per set.
    pub fn each_part(
        &self,
        mut view: impl FnMut(&[Input], Box<dyn io::Write>) -> Result<run::Outcome, run::RunError>,
    ) -> anyhow::Result<Result<run::Outcome, run::RunError>> {
        let inputs = self.inputs();
        let Some(dir) = self.output.as_ref().filter(|p| p.is_dir()) else {
            return Ok(view(&inputs, self.output()?));
        };
        let mut total = run::Outcome::default();
        for (i, input) in inputs.iter().enumerate() {
            let path = dir.join(part_name(i, input, self.format.format()));
            let f = std::fs::File::create(&path)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", path.display()))?;
            match view(std::slice::from_ref(input), Box::new(io::BufWriter::new(f))) {
                Ok(o) => {
                    total.problems.merge(&o.problems);
                    total.unusable |= o.unusable;
                }
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(total))
    }

    /// The capture files, `-` as standard input.
    pub fn inputs(&self) -> Vec<Input> {
        self.files
            .iter()
            .map(|p| {
                if p.as_os_str() == "-" {
                    Input::Stdin
                } else {
                    Input::File(p.clone())
                }
            })
            .collect()
    }

    /// Reassembly limits (at least one connection tracked).
    pub fn tcp_config(&self) -> tcp::Config {
        tcp::Config {
            max_ooo_bytes: self.max_ooo_bytes,
            max_ooo_total: self.max_ooo_total,
            max_flows: self.max_flows.max(1),
            shard: self.shard,
            ..tcp::Config::default()
        }
    }

    /// The connection criteria, and the message criteria of `contents`.
    pub fn filter(&self, contents: Option<&MessageFilter>) -> Filter {
        let s = &self.select;
        Filter {
            flow: s.flow,
            h2_stream: s.h2_stream,
            client: s.client,
            server: s.server,
            since: s.since,
            until: s.until,
            limit: s.limit,
            direction: contents
                .and_then(|m| m.direction)
                .map(DirectionArg::direction),
            opcodes: contents
                .map(|m| {
                    m.opcode
                        .iter()
                        .filter_map(|o| OpcodeMatch::parse(o))
                        .collect()
                })
                .unwrap_or_default(),
            grep: contents.and_then(|m| m.grep.clone()),
        }
    }

    /// Tables wrapped to the terminal when standard output is one, coloured as
    /// `--color` and `NO_COLOR` say.
    pub fn style(&self) -> TableStyle {
        let terminal = io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR");
        TableStyle {
            color: self.color.choice().enabled(no_color.as_deref(), terminal),
            wrap: terminal,
            width: None,
            files: false,
        }
    }
}

/// The name of input `i`'s part in an output directory: `part-00003-NAME.EXT`, NAME the
/// input's file name with anything but letters, digits, `.`, `-`, `_` made `_`.
fn part_name(i: usize, input: &Input, format: Format) -> String {
    let name = match input {
        Input::Stdin => "stdin".to_string(),
        Input::File(p) => p
            .file_name()
            .map_or("input".into(), |n| n.to_string_lossy().into_owned()),
    };
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let ext = match format {
        Format::Table => "txt",
        Format::Jsonl => "jsonl",
        Format::Json => "json",
        Format::Parquet => "parquet",
        Format::Arrow => "arrows",
    };
    format!("part-{i:05}-{name}.{ext}")
}

impl FormatArg {
    /// The view's format.
    pub fn format(self) -> Format {
        match self {
            FormatArg::Table => Format::Table,
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Json => Format::Json,
            FormatArg::Parquet => Format::Parquet,
            FormatArg::Arrow => Format::Arrow,
        }
    }
}

impl ColorArg {
    /// The tables' colour choice.
    pub fn choice(self) -> ColorChoice {
        match self {
            ColorArg::Auto => ColorChoice::Auto,
            ColorArg::Always => ColorChoice::Always,
            ColorArg::Never => ColorChoice::Never,
        }
    }
}

impl DirectionArg {
    /// The direction it selects.
    pub fn direction(self) -> WsDirection {
        match self {
            DirectionArg::ClientToServer => WsDirection::ClientToServer,
            DirectionArg::ServerToClient => WsDirection::ServerToClient,
        }
    }
}

impl WsArgs {
    /// How to decode WebSocket traffic; `frames` for frame records (with payloads).
    /// Reads the key log files; one that cannot be read or is not a key log is an error.
    pub fn options(&self, frames: bool) -> anyhow::Result<run::Decoding> {
        let keys = keys(&self.keylog)?;
        Ok(run::Decoding {
            layers: layers::Options {
                decode_as: self.decode_as.clone(),
                keys,
            },
            ws: ws::Options {
                frames,
                include_payload_in_frames: frames,
                max_message_size: self.max_message_size,
                ..ws::Options::default()
            },
        })
    }
}

/// The secrets of the key log files at `paths` (`--keylog`); a file that cannot be read
/// or is not a key log is an error, lines that are not key log lines are said and
/// skipped.
pub fn keys(paths: &[std::path::PathBuf]) -> anyhow::Result<layers::tls::Keys> {
    let keys = layers::tls::Keys::new();
    for path in paths {
        let stats = run::keylog::read_file(path, &keys)?;
        if stats.bad > 0 {
            eprintln!(
                "wsdissect: key log {}: {} line{} that are not key log lines skipped (the first is line {})",
                path.display(),
                stats.bad,
                if stats.bad == 1 { "" } else { "s" },
                stats.first_bad.unwrap_or(0)
            );
        }
    }
    Ok(keys)
}
