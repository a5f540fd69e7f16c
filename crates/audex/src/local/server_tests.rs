//! The socket itself, with rules kept in memory: its mode, a stale socket
//! replaced and a live one refused, bad and over-long requests answered
//! with the reason while the daemon goes on serving, a watch's events and
//! the stopping line over the wire, a client that leaves ending its watch.
use super::protocol::{parse, Message, Reply, Request, MAX_REQUEST_BYTES};
use super::registry::{InMemoryRules, Limits};
use super::server::Server;
use audex_proto::v1::{AuditEvent, File};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "audex-server-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn server(dir: &Path) -> (Server, InMemoryRules) {
    let rules = InMemoryRules::default();
    let limits = Limits {
        max_watches_per_user: 4,
        max_events_per_s_per_user: 1000,
        admin_gids: vec![],
    };
    let mut s = Server::bind(
        &dir.join("run/audex.sock"),
        "n1",
        limits,
        Box::new(rules.clone()),
    )
    .unwrap();
    s.start().unwrap();
    (s, rules)
}

/// Sends `request` (raw bytes), returns a reader of the answer.
fn ask(socket: &Path, request: &[u8]) -> BufReader<UnixStream> {
    let mut c = UnixStream::connect(socket).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(request).unwrap();
    BufReader::new(c)
}

fn next(r: &mut BufReader<UnixStream>) -> Message {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).unwrap();
    parse(&line).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&line)))
}

fn request(req: &Request) -> Vec<u8> {
    let mut v = serde_json::to_vec(req).unwrap();
    v.push(b'\n');
    v
}

#[test]
fn bad_requests_get_the_reason_and_the_socket_goes_on_serving() {
    let dir = temp_dir("bad");
    let (s, _) = server(&dir);
    let sock = s.path().to_path_buf();
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o666
    );
    let refused = |m: Message| match m {
        Message::Reply(Reply::Refused { reason }) => reason,
        other => panic!("{other:?}"),
    };
    assert!(refused(next(&mut ask(&sock, b"{\"watch\": 3}\n"))).starts_with("bad request"));
    let long = vec![b'x'; MAX_REQUEST_BYTES + 10];
    assert!(refused(next(&mut ask(&sock, &long))).contains("at most"));
    let relative = request(&Request::Watch {
        paths: vec!["tmp".into()],
        perm: "wa".into(),
    });
    assert!(refused(next(&mut ask(&sock, &relative))).contains("not an absolute path"));
    let bad_perm = request(&Request::Watch {
        paths: vec![dir.clone()],
        perm: "q".into(),
    });
    assert!(refused(next(&mut ask(&sock, &bad_perm))).contains("--perm"));
    // Still serving.
    let list = next(&mut ask(&sock, &request(&Request::List {})));
    assert_eq!(
        list,
        Message::Reply(Reply::Subscriptions { watches: vec![] })
    );
    s.stop("test over");
    assert!(!sock.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_watch_gets_its_events_and_the_stopping_line_and_ends_when_its_client_leaves() {
    let dir = temp_dir("watch");
    let watched = dir.join("w");
    std::fs::create_dir_all(&watched).unwrap();
    let (s, rules) = server(&dir);
    let sock = s.path().to_path_buf();
    let watch = request(&Request::Watch {
        paths: vec![watched.clone()],
        perm: "wa".into(),
    });
    let mut first = ask(&sock, &watch);
    assert!(matches!(
        next(&mut first),
        Message::Reply(Reply::Watching { .. })
    ));
    let mut second = ask(&sock, &watch);
    assert!(matches!(
        next(&mut second),
        Message::Reply(Reply::Watching { .. })
    ));
    assert_eq!(rules.rules().len(), 1, "{:?}", rules.rules());
    let ev = AuditEvent {
        action: "opened".into(),
        files: vec![File {
            path: watched.join("f").to_string_lossy().into(),
            nametype: "NORMAL".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    s.offer(&ev);
    assert!(matches!(next(&mut first), Message::Event(e) if e.action == "opened"));
    // The second client leaves: its watch ends, the shared rule stays.
    drop(second);
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.counts().0 != 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(s.counts(), (1, 1));
    let notes = s.tick();
    assert!(
        notes.iter().any(|n| n.action == "watch-unsubscribed"),
        "{notes:?}"
    );
    s.stop("audex run is stopping");
    assert_eq!(
        next(&mut first),
        Message::Reply(Reply::Stopping {
            reason: "audex run is stopping".into()
        })
    );
    assert!(rules.rules().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stopping_does_not_wait_for_a_socket_file_someone_removed() {
    let dir = temp_dir("removed");
    let (s, _) = server(&dir);
    std::fs::remove_file(s.path()).unwrap();
    let t = Instant::now();
    s.stop("over");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_closed_runtime_directory_is_made_searchable_for_clients() {
    let dir = temp_dir("closed");
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    let (s, _) = server(&dir);
    let mode = std::fs::metadata(&run).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o711);
    s.stop("over");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stale_socket_is_replaced_and_a_live_one_refused() {
    let dir = temp_dir("stale");
    let (s, _) = server(&dir);
    let sock = s.path().to_path_buf();
    let limits = || Limits {
        max_watches_per_user: 1,
        max_events_per_s_per_user: 1,
        admin_gids: vec![],
    };
    let live = Server::bind(&sock, "n1", limits(), Box::new(InMemoryRules::default()));
    assert!(live.err().unwrap().contains("another process serves it"));
    // A socket file nobody serves (a daemon that was killed).
    drop(std::os::unix::net::UnixListener::bind(dir.join("stale.sock")).unwrap());
    let again = Server::bind(
        &dir.join("stale.sock"),
        "n1",
        limits(),
        Box::new(InMemoryRules::default()),
    );
    assert!(again.is_ok());
    std::fs::write(dir.join("file"), "x").unwrap();
    let not_socket = Server::bind(
        &dir.join("file"),
        "n1",
        limits(),
        Box::new(InMemoryRules::default()),
    );
    assert!(not_socket.err().unwrap().contains("is not a socket"));
    s.stop("over");
    let _ = std::fs::remove_dir_all(&dir);
}
