//! `audex status`: the kernel's audit status, who is the audit daemon, the rules.
use anyhow::{Context, Result};
use audex_kernel::AuditSocket;
use std::process::ExitCode;

pub fn run() -> Result<ExitCode> {
    let mut s = AuditSocket::open().context("opening the audit netlink socket")?;
    s.set_read_timeout(5000)?;
    let st = s
        .status()
        .map_err(|e| anyhow::anyhow!("reading audit status: {}", e.explained()))?;
    let daemon = if st.pid == 0 {
        "none (records go to the kernel log)".to_string()
    } else {
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", st.pid)).unwrap_or_default();
        format!("pid {} ({})", st.pid, comm.trim())
    };
    println!(
        "enabled                   {}",
        match st.enabled {
            0 => "0 (off)",
            1 => "1 (on)",
            2 => "2 (locked)",
            _ => "?",
        }
    );
    println!("failure                   {}", st.failure);
    println!("audit daemon              {daemon}");
    println!("rate_limit                {}", st.rate_limit);
    println!("backlog_limit             {}", st.backlog_limit);
    println!("backlog                   {}", st.backlog);
    println!("lost                      {}", st.lost);
    println!("backlog_wait_time         {}", st.backlog_wait_time);
    println!("backlog_wait_time_actual  {}", st.backlog_wait_time_actual);
    // audex's view: how it would read the kernel now, and what of the kernel is its own.
    let daemon_alive = st.pid != 0 && std::path::Path::new(&format!("/proc/{}", st.pid)).exists();
    let daemon_is_audex = daemon_alive
        && std::fs::read_to_string(format!("/proc/{}/comm", st.pid))
            .is_ok_and(|c| c.trim() == "audex");
    let mode = if daemon_is_audex {
        "audex is the audit daemon (unicast)"
    } else if daemon_alive {
        "multicast beside the registered daemon (needs CAP_AUDIT_READ)"
    } else {
        "unicast: would register as the audit daemon (needs CAP_AUDIT_CONTROL)"
    };
    println!("audex mode (auto)         {mode}");
    if st.lost > 0 {
        println!("                          the kernel dropped {} records since boot: raise backlog_limit or read faster", st.lost);
    }
    if let Some(d) = crate::daemon_state::read() {
        for l in crate::daemon_state::status_lines(&d) {
            println!("{l}");
        }
    }
    match s.list_rules() {
        Ok(rules) => {
            let ours: Vec<String> = rules
                .iter()
                .map(|r| r.to_text())
                .filter(|t| t.contains("-k audex") || t.contains("key=audex"))
                .collect();
            println!(
                "rules                     {} in the kernel, {} with an audex key",
                rules.len(),
                ours.len()
            );
            for r in ours {
                println!("  {r}");
            }
        }
        Err(e) => println!("rules                     unknown ({e})"),
    }
    Ok(ExitCode::SUCCESS)
}
