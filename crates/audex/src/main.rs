//! The audex binary: command line, then one module per command.
mod allocator;
mod cli;
mod compliance_cmd;
mod daemon_state;
mod drift;
mod inputs;
mod live;
mod lock;
mod metrics;
mod outputs;
mod pipeline;
mod progress;
mod replay;
mod rules_cmd;
mod run;
mod signals;
mod status_cmd;
mod watch;
mod watch_line;
mod watch_socket;

use audex::config;
use audex_kernel::caps;
use clap::Parser;

/// The collector allocates small strings for every event; mimalloc's per-thread
/// free lists make that about a fifth cheaper than glibc malloc (see the replay bench).
#[global_allocator]
static GLOBAL: allocator::Allocator = allocator::Allocator;
use std::process::ExitCode;

/// `audex validate --config FILE [--no-environment]`: every error with its
/// line, or a summary.
fn validate(path: &std::path::Path, no_environment: bool) -> anyhow::Result<ExitCode> {
    // On the node the plan is built too: key files are read as `run` reads them.
    let loaded = if no_environment {
        config::load_offline(path)
    } else {
        config::load_plan(path).map(|p| p.config)
    };
    match loaded {
        Ok(c) => {
            for w in c.warnings() {
                eprintln!("{}: warning: {w}", path.display());
            }
            println!(
                "{}: valid ({} tenants, {} exporters, {} watch rules, {} rule files)",
                path.display(),
                c.tenants.len(),
                c.exporters.len(),
                c.rules.watch.len(),
                c.rules.files.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "audex: {} has {} error{}",
                path.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// A write to a closed stdout or stderr pipe (`audex ... | head`) ends the
/// command quietly with exit 2 instead of a panic's 101.
fn quiet_on_closed_pipes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to std") {
            std::process::exit(2);
        }
        default(info)
    }));
}

/// True when the error comes from writing to a closed pipe.
fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The commands that need audit capabilities: they raise what the process holds
/// as permitted (file capabilities `+p`); the others run with none effective.
fn talks_to_kernel(command: &cli::Command) -> bool {
    matches!(
        command,
        cli::Command::Run { .. }
            | cli::Command::Watch(_)
            | cli::Command::Rules(_)
            | cli::Command::Status
    )
}

fn raise_capabilities() {
    match caps::raise_permitted() {
        Ok(raised) if !raised.is_empty() => {
            audex_log::debug!(
                "capabilities raised from the permitted set: {}",
                raised.join(", ")
            )
        }
        Ok(_) => {}
        // Not fatal: what is then missing is named where it is needed.
        Err(e) => audex_log::warn!("raising permitted capabilities: {e}"),
    }
}

/// No transparent huge pages for this process. mimalloc asks for them on its
/// arenas (MADV_HUGEPAGE), so every fresh allocator page it touches after a
/// purge faulted in and zeroed 2 MiB: 8% of `run`'s CPU on the storm bench's
/// exec + file storm (`perf record` of `audex run`, `clear_page_erms` under
/// `_mi_malloc_generic`). The flag holds for mappings made before it too, and
/// whatever the system's THP mode.
fn no_transparent_huge_pages() {
    // SAFETY: prctl with integer arguments only; failure changes nothing.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Exit codes, one table for every command (README "Exit codes"): 0 done and
/// nothing found; 1 findings (tampered archive, invalid config or rules, a
/// refused rule); 2 could not check or run (unreadable input, missing key or
/// capability, output closed or failed, events left undelivered).
fn main() -> ExitCode {
    no_transparent_huge_pages();
    quiet_on_closed_pipes();
    let cli = cli::Cli::parse();
    // One subscriber for the process: JSON lines for the daemon by default,
    // text for commands run at a terminal.
    match &cli.command {
        cli::Command::Run {
            log_format,
            log_level,
            ..
        } => audex_log::init(
            match log_format {
                cli::LogFormat::Json => audex_log::Format::Json,
                cli::LogFormat::Text => audex_log::Format::Text,
            },
            log_level.map(|l| l.as_str()),
        ),
        _ => audex_log::init(audex_log::Format::Text, None),
    }
    if talks_to_kernel(&cli.command) {
        raise_capabilities();
    }
    let result = match cli.command {
        cli::Command::Replay(args) => replay::run(args),
        cli::Command::Watch(args) => watch::run(args),
        cli::Command::Rules(cmd) => rules_cmd::run(cmd),
        cli::Command::Status => status_cmd::run(),
        cli::Command::Validate {
            config,
            no_environment,
        } => validate(&config, no_environment),
        cli::Command::Verify(args) => compliance_cmd::verify(args),
        cli::Command::Report(args) => compliance_cmd::report(args),
        cli::Command::Run { config, .. } => run::run(&config),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_closed_pipe(&e) => ExitCode::from(2),
        Err(e) => {
            audex_log::error!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
