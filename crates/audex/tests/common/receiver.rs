//! The independent OTLP receiver (tests/otlp/receiver.py, the official Python
//! opentelemetry-proto and grpcio packages) as a child process, and what it got.
#![allow(dead_code)]
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python receiver of tests/otlp on a given gRPC port.
pub struct Receiver(Child, PathBuf);

impl Receiver {
    pub fn start(dir: &Path, port: u16) -> Receiver {
        let out = dir.join("received.jsonl");
        let ready = dir.join("ready.json");
        let _ = std::fs::remove_file(&ready);
        let child = Command::new("python3")
            .arg(repo().join("tests/otlp/receiver.py"))
            .args(["--grpc-port", &port.to_string(), "--out"])
            .arg(&out)
            .arg("--ready")
            .arg(&ready)
            .spawn()
            .unwrap();
        let t = Instant::now();
        while !ready.exists() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "receiver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Receiver(child, out)
    }

    pub fn resources(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.1)
            .unwrap_or_default()
            .lines()
            .flat_map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["resources"]
                    .as_array()
                    .unwrap()
                    .clone()
            })
            .map(|r| r["attributes"].clone())
            .collect()
    }

    /// The string values of attribute `key` over every record received.
    pub fn values(&self, key: &str) -> Vec<String> {
        let mut v = Vec::new();
        for l in std::fs::read_to_string(&self.1).unwrap_or_default().lines() {
            let req: Value = serde_json::from_str(l).unwrap();
            for res in req["resources"].as_array().unwrap() {
                for r in res["records"].as_array().unwrap() {
                    if let Some(s) = r["attributes"][key].as_str() {
                        v.push(s.to_string());
                    }
                }
            }
        }
        v
    }

    /// Every accepted request as the receiver summarised it (headers, resources).
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.1)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn ids(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        for l in std::fs::read_to_string(&self.1).unwrap_or_default().lines() {
            let req: Value = serde_json::from_str(l).unwrap();
            for res in req["resources"].as_array().unwrap() {
                for r in res["records"].as_array().unwrap() {
                    let a = &r["attributes"];
                    v.push((
                        a["audit.event_id"].as_str().unwrap().to_string(),
                        a["audit.tenant"].as_str().unwrap_or("").to_string(),
                    ));
                }
            }
        }
        v
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
