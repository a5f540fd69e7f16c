//! Command-line interface (see DESIGN.md "Command line").
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "audex",
    version,
    about = "Linux kernel audit to normalized security events"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show who touches these paths, live: adds watch rules, prints one line per
    /// event (or JSON), removes the rules on Ctrl-C. Without CAP_AUDIT_CONTROL,
    /// asks a running `audex run` through its local socket (`local:`).
    Watch(WatchArgs),
    /// Read an audit.log (raw or ENRICHED) or stdin and print normalized events.
    Replay(ReplayArgs),
    /// Check, load, delete or list audit rules in auditctl syntax.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Kernel audit status and audex's view of it.
    Status,
    /// The daemon: rules, kernel, tenants and exporters from one config file.
    Run {
        #[arg(long)]
        config: PathBuf,
        /// Its own log lines on stderr: JSON objects (for a log pipeline) or text.
        #[arg(long, value_enum, default_value = "json")]
        log_format: LogFormat,
        /// The lowest level logged, for audex and its dependencies (default:
        /// info for audex, warn for dependencies); `AUDEX_LOG` (a tracing
        /// filter such as `info,kube=debug`) wins over it.
        #[arg(long, value_enum)]
        log_level: Option<LogLevel>,
    },
    /// Check a hash-chained archive: every altered, removed, reordered or
    /// truncated event and every replaced segment, by sequence number. Exit 0
    /// only when all is intact.
    Verify(VerifyArgs),
    /// A compliance report (per control evidence, logins, privileged commands,
    /// identity and audit changes, failed access, loss and downtime) from archives.
    Report(ReportArgs),
    /// Check a config file and report every error with its line, then exit.
    Validate {
        #[arg(long)]
        config: PathBuf,
        /// Check the config alone, as CI can (no file it names is opened, no
        /// environment variable read: `${VAR}` takes its default, else stays
        /// as written); without it, also what this machine must have.
        #[arg(long)]
        no_environment: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Parse rule files and report every error as FILE:LINE: reason.
    Check(RuleSources),
    /// Install exactly the rules of the files (they stay after audex exits).
    Load(RuleSources),
    /// Remove exactly the rules of the files.
    Delete(RuleSources),
    /// Print the kernel's rules in auditctl syntax.
    List,
    /// Print which of a config's filters `run` pushes down to the kernel as
    /// `never` rules, and why the others stay in user space.
    Plan {
        #[arg(long)]
        config: PathBuf,
    },
    /// List the compliance rule packs shipped with audex, or print one.
    Packs {
        /// A pack to print (its rules, then its keys and their controls).
        name: Option<String>,
    },
}

/// Rule files and rule packs.
#[derive(Args, Debug)]
pub struct RuleSources {
    /// Rule files in auditctl syntax.
    pub files: Vec<PathBuf>,
    /// A rule pack shipped with audex (see `audex rules packs`); repeatable.
    #[arg(long = "pack", value_name = "NAME")]
    pub packs: Vec<String>,
}

/// `audex verify`: check a hash-chained archive.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The chain key the archive was written with (`chain_key_file`).
    #[arg(long)]
    pub key_file: PathBuf,
    /// Segment files, or archive directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
    /// JSON lines of exported events holding the archive's `archive-checkpoint`
    /// events (as a jsonl exporter or the SIEM wrote them): a cut or rolled-back
    /// tail is caught even when chain-heads went with it.
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Html,
    Md,
    Json,
}

/// `audex report`: a compliance report from archives.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Archive segment files or directories (protobuf_file archives).
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Only events at or after this time (2026-11-01, 2026-11-01T08:00:00Z, or epoch seconds).
    #[arg(long)]
    pub from: Option<String>,
    /// Only events before this time.
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long, value_enum, default_value = "html")]
    pub format: ReportFormat,
    /// Where to write the report.
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// The archive's chain key: the report then says whether the archive is
    /// intact (as `audex verify` does); without it the report warns that it is
    /// not verified.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Files or directories to watch (a directory covers its subtree).
    #[arg(required_unless_present = "list")]
    pub paths: Vec<PathBuf>,
    /// Watch through the daemon's local socket at this path (default without
    /// CAP_AUDIT_CONTROL: /run/audex/audex.sock).
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// List your watches through the daemon's socket, and exit.
    #[arg(long)]
    pub list: bool,
    /// Which accesses: r(ead), w(rite), x (execute), a(ttribute change).
    #[arg(long, default_value = "rwxa")]
    pub perm: String,
    /// Rule key (default: audex-watch-PID).
    #[arg(long)]
    pub key: Option<String>,
    /// Print JSON lines of the event contract instead of readable lines.
    #[arg(long)]
    pub json: bool,
    /// How to read the kernel: auto, multicast (beside auditd), unicast (as the daemon).
    #[arg(long, default_value = "auto")]
    pub mode: String,
    /// Socket receive buffer in bytes.
    #[arg(long, default_value_t = 8 << 20)]
    pub recv_buffer_bytes: usize,
    /// Kernel backlog limit while watching (restored on exit).
    #[arg(long)]
    pub backlog_limit: Option<u32>,
    /// Kernel rate limit in records/s while watching (restored on exit).
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Kernel backlog_wait_time in jiffies while watching (restored on exit).
    #[arg(long)]
    pub backlog_wait_time: Option<u32>,
    /// Kernel failure mode while watching: 0 silent, 1 printk, 2 panic (restored on exit).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=2))]
    pub failure: Option<u32>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// auditd log lines.
    Audit,
    /// Length-delimited protobuf AuditEvents.
    Proto,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// One proto3-JSON AuditEvent per line.
    Json,
    /// Length-delimited protobuf AuditEvents.
    Proto,
    /// OTLP/JSON ExportLogsServiceRequest lines.
    OtlpJson,
    /// One Elastic Common Schema document per line.
    Ecs,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The logs to read (files, `.gz` files, or directories of `audit.log*`),
    /// replayed in time order by their first records; `-` or nothing for
    /// standard input.
    pub files: Vec<PathBuf>,
    /// What the input is: an audit log (raw or ENRICHED), or length-delimited
    /// AuditEvents (a `protobuf_file` archive segment, `replay --format proto` output).
    #[arg(long, value_enum, default_value = "audit")]
    pub input: InputFormat,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: OutputFormat,
    /// Write events to this file instead of standard output (`-`: standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Send the events through this config's tenants and exporters (backfill a
    /// SIEM) instead of printing them; exits once they are acknowledged.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// With --config: how long to wait for the exporters' acknowledgements.
    #[arg(long, default_value_t = 30)]
    pub deadline_s: u64,
    /// Root under which etc/passwd and etc/group name uids and gids
    /// (ENRICHED names on the records win).
    #[arg(long, default_value = "/")]
    pub host_root: PathBuf,
    /// Do not resolve uid/gid names from the host (ENRICHED names still apply).
    #[arg(long)]
    pub no_names: bool,
    /// Node name for records without a `node=` prefix.
    #[arg(long)]
    pub node: Option<String>,
    /// Keep the raw records of each event in `records[]`.
    #[arg(long)]
    pub with_records: bool,
    /// Do not report serial gaps as records-lost events (for filtered logs,
    /// e.g. `ausearch --raw` output, where gaps are expected).
    #[arg(long)]
    pub ignore_gaps: bool,
    /// Record-time timeout after which an event without EOE is complete.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
    /// Print no summary on standard error.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print at most this many parse errors (all are counted).
    #[arg(long, default_value_t = 10)]
    pub max_errors_shown: u64,
    /// Cores for an audit log (default: the cores there are; 1: one thread):
    /// a reader and a writer, both normalizing, and N-2 more threads (6 at
    /// most) that only normalize; the events and their order are the same as
    /// on one thread.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub threads: Option<u64>,
    /// Only events at or after this time (2026-11-01, 2026-11-01T08:00:00Z, or
    /// epoch seconds); inputs wholly before it are not read.
    #[arg(long)]
    pub from: Option<String>,
    /// Only events before this time; inputs that begin after it are not read.
    #[arg(long)]
    pub to: Option<String>,
}

/// The lowest level `run` logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// How `run` writes its own log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}
