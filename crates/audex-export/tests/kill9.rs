//! Kill -9: a collector process (this test binary re-executed as one) spools
//! 5,000 events while the receiver is down and is killed with SIGKILL while it
//! retries; a new process on the same spool delivers every event once the
//! receiver is up. Nothing synced is lost.
mod common;
use audex_export::delivery::{deliver, Control, DeliveryConfig, DeliveryStats, RetryPolicy, Stop};
use audex_export::spool::{Spool, SpoolConfig};
use common::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const EVENTS: u64 = 5000;

/// The collector: spools AUDEX_KILL_PRODUCE events (writing how many are synced
/// to DIR/synced), then delivers to AUDEX_KILL_PORT until the spool is empty.
fn collector(dir: &Path) {
    let port: u16 = std::env::var("AUDEX_KILL_PORT").unwrap().parse().unwrap();
    let produce: u64 = std::env::var("AUDEX_KILL_PRODUCE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .unwrap();
    let (spool, _) = Spool::open(SpoolConfig::new(dir.join("spool"), 1 << 30)).unwrap();
    let spool = Arc::new(Mutex::new(spool));
    let control = Arc::new(Control::default());
    let (ex, encoder) = common::otlp_grpc_pair(port);
    let cfg = DeliveryConfig {
        batch_max_events: 256,
        retry: RetryPolicy {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(300),
        },
        ..Default::default()
    };
    let task = rt.spawn(deliver(
        spool.clone(),
        Box::new(ex),
        cfg,
        Arc::new(DeliveryStats::default()),
        control.clone(),
    ));
    let base = golden_events();
    for i in 0..produce {
        let mut e = base[(i % base.len() as u64) as usize].clone();
        e.id = format!("kill:{i:06}");
        let mut b = Vec::new();
        encoder.encode(&e, &mut b);
        spool.lock().unwrap().append(&b).unwrap();
        if i % 100 == 99 || i + 1 == produce {
            spool.lock().unwrap().sync().unwrap();
            std::fs::write(dir.join("synced.tmp"), (i + 1).to_string()).unwrap();
            std::fs::rename(dir.join("synced.tmp"), dir.join("synced")).unwrap();
        }
    }
    control.wake();
    while spool.lock().unwrap().pending() > 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    control.stop(Stop::Drain(Instant::now() + Duration::from_secs(5)));
    rt.block_on(task).unwrap().unwrap();
}

fn spawn_collector(dir: &Path, port: u16, produce: u64) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill_minus_nine_loses_nothing", "--nocapture"])
        .env("AUDEX_KILL_DIR", dir)
        .env("AUDEX_KILL_PORT", port.to_string())
        .env("AUDEX_KILL_PRODUCE", produce.to_string())
        .spawn()
        .unwrap()
}

#[test]
fn kill_minus_nine_loses_nothing() {
    if let Some(d) = std::env::var_os("AUDEX_KILL_DIR") {
        return collector(&PathBuf::from(d));
    }
    let dir = tmp("kill9");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // 1. The receiver is down: the collector spools everything, retries, is killed.
    let mut c = spawn_collector(&dir, port, EVENTS);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(dir.join("synced"))
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        != Some(EVENTS)
    {
        assert!(
            Instant::now() < deadline,
            "the collector did not spool its events"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300)); // retrying against the closed port
    c.kill().unwrap(); // SIGKILL
    let _ = c.wait();
    // 2. The receiver is up; a new collector on the same spool delivers.
    let rcv = Receiver::start("kill9-rcv", &["--grpc-port", &port.to_string()]);
    let mut c = spawn_collector(&dir, port, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(st) = c.try_wait().unwrap() {
            assert!(st.success(), "the second collector failed: {st:?}");
            break;
        }
        if Instant::now() > deadline {
            let _ = c.kill();
            panic!("the second collector did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for req in rcv.requests() {
        for res in req["resources"].as_array().unwrap() {
            for r in res["records"].as_array().unwrap() {
                seen.insert(
                    r["attributes"]["audit.event_id"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
                total += 1;
            }
        }
    }
    assert_eq!(seen.len() as u64, EVENTS, "every synced event arrives");
    assert_eq!(
        total, EVENTS,
        "and once (the receiver was down, so no ack was lost)"
    );
}
