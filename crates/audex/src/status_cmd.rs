//! `audex status`: the kernel's audit status, who is the audit daemon, the rules.
use anyhow::{Context, Result};
use audex_kernel::AuditSocket;
use std::process::ExitCode;

pub fn run() -> Result<ExitCode> {
    let mut s = AuditSocket::open().context("opening the audit netlink socket")?;
    s.set_read_timeout(5000)?;
    let st = s.status().map_err(|e| {
        if e.errno() == Some(libc::EPERM) {
            anyhow::anyhow!("reading audit status: missing capability CAP_AUDIT_CONTROL (run as root or grant it)")
        } else {
            anyhow::anyhow!("reading audit status: {e}")
        }
    })?;
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
    match s.list_rules() {
        Ok(rules) => {
            let ours = rules
                .iter()
                .filter(|r| r.to_text().contains("audex"))
                .count();
            println!(
                "rules                     {} ({} with an audex key)",
                rules.len(),
                ours
            );
        }
        Err(e) => println!("rules                     unknown ({e})"),
    }
    Ok(ExitCode::SUCCESS)
}
