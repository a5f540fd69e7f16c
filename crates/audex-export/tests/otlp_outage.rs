//! Outage: the receiver is down while 2,000 events/s flow for 30 s
//! (AUDEX_OUTAGE_SECS to shorten), then comes up. Every event arrives once, in
//! order; the events wait on disk, not in memory (peak RSS grows by far less than
//! they weigh); the spool empties.
mod common;
use audex_export::delivery::{deliver, Control, DeliveryConfig, DeliveryStats, RetryPolicy, Stop};
use audex_export::spool::{Spool, SpoolConfig};
use common::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn outage_then_recovery_delivers_everything_in_order() {
    let secs: u64 = std::env::var("AUDEX_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let rate = 2000u64;
    let base = golden_events();
    let port = free_port();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .unwrap();
    let (spool, _) = Spool::open(SpoolConfig::new(tmp("outage").join("spool"), 1 << 30)).unwrap();
    let spool = Arc::new(Mutex::new(spool));
    let stats = Arc::new(DeliveryStats::default());
    let control = Arc::new(Control::default());
    let (exporter, encoder) = common::otlp_grpc_pair(port);
    let cfg = DeliveryConfig {
        batch_max_events: 512,
        batch_delay: Duration::from_millis(50),
        retry: RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        },
        ..DeliveryConfig::default()
    };
    let task = rt.spawn(deliver(
        spool.clone(),
        Box::new(exporter),
        cfg,
        stats.clone(),
        control.clone(),
    ));

    // The producer: `rate` events per second, each with its own id, synced every 100 ms.
    let hwm_before = vm_hwm_kib();
    let start = Instant::now();
    let total = rate * secs;
    let mut produced = 0u64;
    let mut bytes = 0u64;
    while produced < total {
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        {
            let mut sp = spool.lock().unwrap();
            while produced < due {
                let mut e = base[(produced % base.len() as u64) as usize].clone();
                e.id = format!("outage:{produced:08}");
                e.serial = produced;
                let mut b = Vec::new();
                encoder.encode(&e, &mut b);
                bytes += b.len() as u64;
                sp.append(&b).unwrap();
                produced += 1;
            }
            sp.sync().unwrap();
        }
        control.wake();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        spool.lock().unwrap().pending() > total * 9 / 10,
        "nothing can be delivered while the receiver is down"
    );
    let rcv = Receiver::start("outage-rcv", &["--grpc-port", &port.to_string()]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while spool.lock().unwrap().pending() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    control.stop(Stop::Drain(Instant::now() + Duration::from_secs(2)));
    let pending = rt.block_on(task).unwrap().unwrap();
    assert_eq!(pending, 0, "the spool empties");
    assert!(
        spool.lock().unwrap().bytes() < 1 << 20,
        "acked segments are deleted"
    );
    // (Measured before this test reads the receiver's output, which is large.)
    let grew_mib = (vm_hwm_kib() - hwm_before) / 1024;

    // Every event once, in the order produced.
    let mut order = Vec::new();
    for req in rcv.requests() {
        for res in req["resources"].as_array().unwrap() {
            for r in res["records"].as_array().unwrap() {
                order.push(
                    r["attributes"]["audit.event_id"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
            }
        }
    }
    assert_eq!(order.len() as u64, total, "every event arrives once");
    for (i, id) in order.iter().enumerate() {
        assert_eq!(id, &format!("outage:{i:08}"), "in order");
    }
    eprintln!(
        "{total} events ({} MiB encoded) waited on disk; peak RSS grew {grew_mib} MiB",
        bytes >> 20
    );
    assert!(
        grew_mib < 64,
        "memory stays bounded: peak RSS grew {grew_mib} MiB"
    );
}
