//! `audex verify --key-file FILE PATH...` and `audex report --input ARCHIVE...`.
use crate::cli::{ReportArgs, ReportFormat, VerifyArgs};
use anyhow::{Context, Result};
use audex_compliance::report::{self, Options};
use audex_compliance::{time, verify};
use audex_export::archive::chain::ChainKey;
use audex_export::archive::reader::segment_files;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit 0 when intact, 1 when anything was found, 2 when it could not check.
pub fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let key = ChainKey::from_file(&args.key_file).map_err(anyhow::Error::msg)?;
    let files = segment_files(&args.paths).map_err(anyhow::Error::msg)?;
    if files.is_empty() {
        eprintln!("audex: no archive segments (*.pb) under the paths given");
        return Ok(ExitCode::from(2));
    }
    let v = match check_archive(&key, &args.paths, &files, args.checkpoints.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("audex: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", v.to_text());
    }
    Ok(if v.intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Verifies `files` (the segments under `paths`), with the chain-heads files of
/// the directories among `paths` and the checkpoints file, if any.
fn check_archive(
    key: &ChainKey,
    paths: &[PathBuf],
    files: &[PathBuf],
    checkpoints: Option<&Path>,
) -> Result<verify::Verdict, String> {
    let evidence = verify::Evidence {
        heads: verify::Evidence::heads_of(key, paths)?,
        checkpoints: checkpoints
            .map(|p| verify::read_checkpoints(key, p))
            .transpose()?,
    };
    verify::verify_with(key, files, &evidence)
}

pub fn report(args: ReportArgs) -> Result<ExitCode> {
    let parse = |s: &Option<String>| s.as_deref().map(time::parse).transpose();
    let opts = Options {
        from: parse(&args.from)
            .map_err(anyhow::Error::msg)
            .context("--from")?,
        to: parse(&args.to)
            .map_err(anyhow::Error::msg)
            .context("--to")?,
        ..Options::default()
    };
    let files = segment_files(&args.input).map_err(anyhow::Error::msg)?;
    if files.is_empty() {
        anyhow::bail!("no archive segments (*.pb) under the --input paths");
    }
    let mut r =
        report::build(&files, opts, "Audit trail compliance report").map_err(anyhow::Error::msg)?;
    if let Some(k) = &args.key_file {
        let key = ChainKey::from_file(k).map_err(anyhow::Error::msg)?;
        let v = check_archive(&key, &args.input, &files, None).map_err(anyhow::Error::msg)?;
        r.integrity = report::Integrity::of(&v);
        if !v.intact {
            eprintln!(
                "audex: the archive is NOT INTACT ({} problem(s)); the report says so (run `audex verify` for the details)",
                v.problems.len()
            );
        }
    } else {
        eprintln!("audex: no --key-file: the report is marked NOT VERIFIED");
    }
    let text = match args.format {
        ReportFormat::Html => report::html::render(&r),
        ReportFormat::Md => report::markdown::render(&r),
        ReportFormat::Json => serde_json::to_string_pretty(&r)? + "\n",
    };
    std::fs::write(&args.output, text)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "audex: report of {} events from {} segment(s) written to {}",
        r.summary.events,
        files.len(),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
