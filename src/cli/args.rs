//! The command line's arguments, as clap reads them: the messages view's flags at the
//! top level, one subcommand per other view, and the options every view shares
//! ([`Common`]). Their meaning for the library is in `cli/settings.rs`; the doc comments
//! here are the help text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use regex::Regex;
use std::path::PathBuf;
use wsdissect::tcp::shard::Shard;
use wsdissect::tcp::Config;
use wsdissect::util::time::{parse_rfc3339, parse_rfc3339_until, Timestamp};
use wsdissect::view::filter::{AddrMatch, OPCODES};
use wsdissect::view::ParquetCompression;

const EXAMPLES: &str = "\
Examples:
  wsdissect capture.pcapng                    messages as a table
  wsdissect --format jsonl capture.pcap       one JSON object per message
  wsdissect --frames capture.pcap             frames as well as messages
  wsdissect --flow 3 --opcode text --grep 'error|fail' capture.pcap
  wsdissect --server '[::1]:8080' --direction server_to_client capture.pcap
  wsdissect --since 2024-01-18T13:15:36Z --limit 10 capture.pcap
  wsdissect flows capture.pcap                one row per WebSocket connection
  wsdissect stats capture.pcap                counts, sizes, ratios, ping RTT, close
  wsdissect extract capture.pcap --out dir    payload files + dir/manifest.jsonl
  wsdissect tcp --dump-dir out capture.pcap   TCP connections, streams dumped to out/
  wsdissect --strict --quiet capture.pcap     CI: exit 1 on any problem
  tcpdump -i lo -w - | wsdissect -            read standard input
  wsdissect completions bash > wsdissect.bash
  wsdissect man > wsdissect.1

Exit status: 0 ok; 1 problems found (with --strict); 2 unusable input.";

/// Decode WebSocket traffic in packet captures (.pcap, .pcapng).
#[derive(Parser, Debug)]
#[command(version, about, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub messages: MessageArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// One record per WebSocket connection: handshake, extensions, counters.
    #[command(after_help = EXAMPLES)]
    Flows(FlowsArgs),
    /// Per connection and direction: messages by opcode, bytes, sizes, rate, ping
    /// round trips, close handshake, gaps and violations.
    #[command(after_help = EXAMPLES)]
    Stats(StatsArgs),
    /// Every message payload as a file (decoded), with a manifest.jsonl of records and
    /// SHA-256 digests.
    #[command(after_help = EXAMPLES)]
    Extract(ExtractArgs),
    /// One record per TCP connection: packets, bytes, gaps, retransmissions.
    #[command(after_help = EXAMPLES)]
    Tcp(TcpArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    #[command(hide = true)]
    Man,
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Capture files (pcap or pcapng, detected by content), or directories of them; `-`
    /// reads standard input. Several files are one capture, read in timestamp order.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Decode every file as a capture of its own (in parallel where the output allows),
    /// instead of all files as one capture.
    #[arg(long)]
    pub each_file: bool,
    /// Read the capture files in the subdirectories of directory arguments too.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// How Parquet is compressed: zstd (level 1), zstd:LEVEL (-7 to 22; lower is faster),
    /// lz4 or none.
    #[arg(long, value_name = "CODEC", default_value = "zstd", value_parser = compression)]
    pub compression: ParquetCompression,
    /// Threads to decode (and compress Parquet) on (default: one per core); 1 decodes
    /// every capture on one thread and compresses on one more.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Decode only shard K of N: the TCP connections whose canonical 5-tuple hash modulo
    /// N is K (0 ≤ K < N), so that N runs, on as many machines, split a capture set.
    #[arg(long, value_name = "K/N", value_parser = shard)]
    pub shard: Option<Shard>,
    /// Write the output to FILE instead of standard output; an existing directory gets
    /// one part per input argument (a file, or a directory: a set), named
    /// `part-NNNNN-NAME.EXT` after the argument's position and name.
    #[arg(long, value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,
    /// Exit with status 1 when anything was undecodable, a violation or gap was seen, or a
    /// limit was hit (counts by kind on standard error).
    #[arg(long)]
    pub strict: bool,
    /// Out-of-order bytes held per TCP direction before a hole is declared a gap.
    #[arg(long, default_value_t = Config::default().max_ooo_bytes, value_name = "BYTES", value_parser = size)]
    pub max_ooo_bytes: usize,
    /// Out-of-order bytes held across all TCP connections; beyond it the holes of the
    /// connection holding most are declared gaps.
    #[arg(long, default_value_t = Config::default().max_ooo_total, value_name = "BYTES", value_parser = size)]
    pub max_ooo_total: usize,
    /// TCP connections tracked at once; the least recently active are evicted beyond it.
    #[arg(long, default_value_t = Config::default().max_flows, value_name = "N")]
    pub max_flows: usize,
    /// Print no warnings and no progress bar on standard error.
    #[arg(long, short)]
    pub quiet: bool,
    /// Colour tables (never JSON); `auto` colours on a terminal unless NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    pub color: ColorArg,
    #[command(flatten)]
    pub select: ConnectionFilter,
}

/// Filters every view honours.
#[derive(Args, Debug, Clone)]
pub struct ConnectionFilter {
    /// Only connection N (0-based, as Wireshark's tcp.stream).
    #[arg(long, value_name = "N", help_heading = "Filters")]
    pub flow: Option<u64>,
    /// Only the WebSocket on HTTP/2 stream S (RFC 8441), with --flow its connection.
    #[arg(long, value_name = "S", help_heading = "Filters")]
    pub h2_stream: Option<u32>,
    /// Only connections from this client: ADDR, ADDR:PORT, [V6ADDR]:PORT.
    #[arg(long, value_name = "ADDR[:PORT]", help_heading = "Filters")]
    pub client: Option<AddrMatch>,
    /// Only connections to this server: ADDR, ADDR:PORT, [V6ADDR]:PORT.
    #[arg(long, value_name = "ADDR[:PORT]", help_heading = "Filters")]
    pub server: Option<AddrMatch>,
    /// Only records at or after this RFC 3339 time (connections: active then).
    #[arg(long, value_name = "TIME", value_parser = parse_time, help_heading = "Filters")]
    pub since: Option<Timestamp>,
    /// Only records at or before this RFC 3339 time (connections: active then); a date
    /// alone means to the end of that day.
    #[arg(long, value_name = "TIME", value_parser = parse_until, help_heading = "Filters")]
    pub until: Option<Timestamp>,
    /// At most N records (messages, connections; frames go with their message).
    #[arg(long, value_name = "N", help_heading = "Filters")]
    pub limit: Option<u64>,
}

/// Filters on message contents.
#[derive(Args, Debug, Clone)]
pub struct MessageFilter {
    /// Only messages (and frames) going this way.
    #[arg(long, value_enum, help_heading = "Filters")]
    pub direction: Option<DirectionArg>,
    /// Only these opcodes, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "OPCODES",
          value_parser = clap::builder::PossibleValuesParser::new(OPCODES),
          help_heading = "Filters")]
    pub opcode: Vec<String>,
    /// Only text messages matching this regular expression.
    #[arg(long, value_name = "REGEX", value_parser = parse_regex, help_heading = "Filters")]
    pub grep: Option<Regex>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DirectionArg {
    #[value(name = "client_to_server", alias = "c2s")]
    ClientToServer,
    #[value(name = "server_to_client", alias = "s2c")]
    ServerToClient,
}

#[derive(Args, Debug, Clone)]
pub struct WsArgs {
    /// Decode connections on this port as WebSocket even without a handshake (repeatable).
    #[arg(long, value_name = "PORT")]
    pub decode_as: Vec<u16>,
    /// Decrypt TLS with the secrets in this NSS key log file (`SSLKEYLOGFILE`;
    /// repeatable). Secrets in a pcapng's Decryption Secrets Blocks are used without it.
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<std::path::PathBuf>,
    /// Largest message kept after decompression; bigger ones are truncated and flagged.
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES", value_parser = size)]
    pub max_message_size: usize,
}

#[derive(Args, Debug, Clone)]
pub struct MessageArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub ws: WsArgs,
    #[command(flatten)]
    pub contents: MessageFilter,
    /// Also print every frame (frame records before the message they belong to).
    #[arg(long)]
    pub frames: bool,
}

#[derive(Args, Debug, Clone)]
pub struct FlowsArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub ws: WsArgs,
}

#[derive(Args, Debug, Clone)]
pub struct StatsArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub ws: WsArgs,
    #[command(flatten)]
    pub contents: MessageFilter,
}

#[derive(Args, Debug, Clone)]
pub struct ExtractArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub ws: WsArgs,
    #[command(flatten)]
    pub contents: MessageFilter,
    /// Directory to write payload files and manifest.jsonl into (created if needed).
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// Write into DIR even when it is not empty (files of an earlier run may mix with
    /// this one's).
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct TcpArgs {
    #[command(flatten)]
    pub common: Common,
    /// Write each direction's reassembled bytes to DIR/flow<N>.<direction>.bin, and
    /// the plaintext of decrypted TLS connections to DIR/flow<N>.<direction>.tls.bin.
    #[arg(long, value_name = "DIR")]
    pub dump_dir: Option<PathBuf>,
    /// TLS secrets for the decrypted dumps (NSS key log file; repeatable).
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<PathBuf>,
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    parse_rfc3339(s).ok_or_else(|| not_a_time(s))
}

fn parse_until(s: &str) -> Result<Timestamp, String> {
    parse_rfc3339_until(s).ok_or_else(|| not_a_time(s))
}

fn not_a_time(s: &str) -> String {
    format!(
        "{s:?} is not an RFC 3339 time or date (e.g. 2024-01-18T13:15:36.5Z, 2024-01-18T14:15:36+01:00, 2024-01-18)"
    )
}

fn parse_regex(s: &str) -> Result<Regex, String> {
    Regex::new(s).map_err(|e| e.to_string())
}

impl Cli {
    /// The options of the view asked for (none for `completions` and `man`).
    pub fn common(&self) -> Option<&Common> {
        match &self.command {
            None => Some(&self.messages.common),
            Some(Command::Flows(a)) => Some(&a.common),
            Some(Command::Stats(a)) => Some(&a.common),
            Some(Command::Extract(a)) => Some(&a.common),
            Some(Command::Tcp(a)) => Some(&a.common),
            Some(Command::Completions { .. } | Command::Man) => None,
        }
    }
}

/// `zstd`, `zstd:LEVEL`, `lz4` or `none`.
fn compression(s: &str) -> Result<ParquetCompression, String> {
    let bad = || format!("{s:?} is not zstd, zstd:LEVEL (-7 to 22), lz4 or none");
    match s {
        "zstd" => Ok(ParquetCompression::default()),
        "lz4" => Ok(ParquetCompression::Lz4),
        "none" => Ok(ParquetCompression::None),
        _ => {
            let level = s.strip_prefix("zstd:").ok_or_else(bad)?;
            let level: i32 = level.trim().parse().map_err(|_| bad())?;
            (-7..=22)
                .contains(&level)
                .then_some(ParquetCompression::Zstd(level))
                .ok_or_else(bad)
        }
    }
}

/// `K/N`, `0 ≤ K < N`.
fn shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("{s:?} is not K/N with 0 <= K < N (e.g. 0/4)");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    Shard::new(k, n).ok_or_else(bad)
}

/// Output format of every view (`view::Format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// A readable table.
    Table,
    /// One JSON object per line.
    Jsonl,
    /// One JSON array.
    Json,
    /// Parquet, zstd-compressed: one typed column per field (README, "Parquet and
    /// Arrow"); to --output FILE or a pipe.
    Parquet,
    /// An Arrow IPC stream, the same columns as Parquet; to --output FILE or a pipe.
    Arrow,
}

/// When to colour tables (`view::ColorChoice`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// When standard output is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    /// Always (e.g. for `less -R`), whatever `NO_COLOR` says.
    Always,
    /// Never.
    Never,
}

/// A byte count: digits with an optional unit, `K`/`KB` (1000), `KiB` (1024), `M`, `MiB`,
/// `G`, `GiB` (`64MiB`, `4096`, `1G`).
fn size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (digits, then K, KiB, M, MiB, G or GiB)"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        u => return Err(format!("unknown size unit {u:?} (K, KiB, M, MiB, G, GiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_units() {
        assert_eq!(size("4096"), Ok(4096));
        assert_eq!(size("64MiB"), Ok(64 << 20));
        assert_eq!(size("2k"), Ok(2000));
        assert_eq!(size("1 GiB"), Ok(1 << 30));
        assert!(size("12XB").is_err());
        assert!(size("MiB").is_err());
        assert!(size("99999999999999999999G").is_err());
    }
}
