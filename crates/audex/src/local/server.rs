//! The daemon's local socket: bound (mode 0666) before the daemon drops its
//! capabilities, served by an accept thread and one thread per connection
//! once it runs. A connection sends one request line within 10 s; `list`
//! is answered and closed; a `watch` becomes a subscription whose lines the
//! connection thread writes until the client leaves, its last watch is
//! revoked, or the daemon stops. The accept thread also walks the watched
//! paths that are due again (the registry's revocation). Who asks comes from the kernel
//! (`SO_PEERCRED`/`SO_PEERGROUPS`, CAP_AUDIT_READ from its status), never
//! from the request. At most [`MAX_CONNECTIONS`] connections, and
//! [`MAX_CONNECTIONS_PER_USER`] of one uid.
use super::mailbox::{Mailbox, Pop};
use super::protocol::{reply_line, Reply, Request, MAX_REQUEST_BYTES};
use super::registry::{resolve_all, Limits, Registry, RuleControl, SubId, Subscriber, Walk};
use audex_io::peer::{peer_of, process_has_cap, Peer};
use audex_proto::v1::AuditEvent;
use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Connections open at once, over all users.
pub const MAX_CONNECTIONS: usize = 256;
/// Connections of one uid open at once.
pub const MAX_CONNECTIONS_PER_USER: usize = 16;
/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CAP_AUDIT_READ: u32 = 37;

struct Shared {
    registry: Mutex<Registry>,
    stop: AtomicBool,
    /// Open connections per uid.
    conns: Mutex<HashMap<u32, usize>>,
}

impl Shared {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn conns(&self) -> MutexGuard<'_, HashMap<u32, usize>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct Server {
    path: PathBuf,
    listener: Option<UnixListener>,
    shared: Arc<Shared>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Binds the socket at `path` (its directory made if missing, a stale
    /// socket replaced, a live one refused) and makes it 0666.
    pub fn bind(
        path: &Path,
        node: &str,
        limits: Limits,
        control: Box<dyn RuleControl>,
    ) -> Result<Server, String> {
        let name = |e: std::io::Error| format!("local.socket {}: {e}", path.display());
        if let Some(dir) = path.parent() {
            searchable_by_all(dir).map_err(|e| format!("local.socket {}: {e}", path.display()))?;
        }
        if let Ok(m) = std::fs::symlink_metadata(path) {
            use std::os::unix::fs::FileTypeExt;
            if !m.file_type().is_socket() {
                return Err(format!(
                    "local.socket {}: exists and is not a socket",
                    path.display()
                ));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "local.socket {}: another process serves it (is another audex running?)",
                    path.display()
                ));
            }
            std::fs::remove_file(path).map_err(name)?;
        }
        let listener = UnixListener::bind(path).map_err(name)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).map_err(name)?;
        Ok(Server {
            path: path.to_path_buf(),
            listener: Some(listener),
            shared: Arc::new(Shared {
                registry: Mutex::new(Registry::new(node, limits, control)),
                stop: AtomicBool::new(false),
                conns: Mutex::new(HashMap::new()),
            }),
            accept: None,
        })
    }

    /// Starts accepting (threads inherit the capabilities the daemon kept).
    pub fn start(&mut self) -> std::io::Result<()> {
        let listener = self.listener.take().expect("started once");
        // Polled, so a stop never waits on an accept (the socket file may be
        // gone, and with it the way to wake a blocked one).
        listener.set_nonblocking(true)?;
        let shared = self.shared.clone();
        self.accept = Some(
            std::thread::Builder::new()
                .name("audex-local".into())
                .spawn(move || accept_loop(listener, shared))?,
        );
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An event the daemon delivers, to the subscribers that may see it
    /// (the clock is read only when someone watches).
    pub fn offer(&self, ev: &AuditEvent) {
        let mut r = self.shared.registry();
        if !r.idle() {
            r.offer(ev, wall_ns());
        }
    }

    /// Periodic work; the `watch-*` events made since the last tick.
    pub fn tick(&self) -> Vec<AuditEvent> {
        let mut r = self.shared.registry();
        r.tick(wall_ns());
        r.take_notes()
    }

    /// Subscriptions and kernel watches now.
    pub fn counts(&self) -> (usize, usize) {
        let r = self.shared.registry();
        (r.subscribers(), r.kernel_rules())
    }

    /// Tells every client the daemon stops, removes the kernel watches,
    /// waits up to 2 s for the clients' last lines to go out, removes the
    /// socket.
    pub fn stop(mut self, reason: &str) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.registry().close(reason);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && self.shared.conns().values().sum::<usize>() > 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The socket's directory made (0711) or, when it is audex's own and others
/// cannot search it (the runtime directory is made 0700), made searchable:
/// clients must reach the socket. Another owner's closed directory is an
/// error.
fn searchable_by_all(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(dir)
        .map_err(|e| e.to_string())?;
    let m = std::fs::metadata(dir).map_err(|e| e.to_string())?;
    let mode = m.mode() & 0o7777;
    if mode & 0o011 == 0o011 {
        return Ok(());
    }
    // SAFETY: no preconditions.
    if m.uid() != unsafe { libc::geteuid() } {
        return Err(format!(
            "{} is not searchable by other users and not audex's to change; clients could not reach the socket",
            dir.display()
        ));
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o011))
        .map_err(|e| e.to_string())
}

/// Now as nanoseconds since the epoch (the registry's clock).
fn wall_ns() -> i64 {
    audex_export::notes::since_epoch().as_nanos() as i64
}

fn accept_loop(listener: UnixListener, shared: Arc<Shared>) {
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let mut p = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd, a 200 ms wait.
        let ready = unsafe { libc::poll(&mut p, 1, 200) } > 0;
        check_paths(&shared);
        if !ready {
            continue;
        }
        let Ok((mut conn, _)) = listener.accept() else {
            continue;
        };
        let Ok(peer) = peer_of(conn.as_raw_fd()) else {
            continue;
        };
        let uid = peer.cred.uid;
        {
            let mut conns = shared.conns();
            let total: usize = conns.values().sum();
            let mine = conns.get(&uid).copied().unwrap_or(0);
            if total >= MAX_CONNECTIONS || mine >= MAX_CONNECTIONS_PER_USER {
                let why = format!(
                    "too many connections (at most {MAX_CONNECTIONS}, {MAX_CONNECTIONS_PER_USER} per user)"
                );
                let _ = conn.write_all(&reply_line(&Reply::Refused { reason: why }));
                continue;
            }
            *conns.entry(uid).or_default() += 1;
        }
        let s = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("audex-local-conn".into())
            .spawn(move || {
                serve(conn, &peer, &s);
                let mut conns = s.conns();
                if let Some(n) = conns.get_mut(&uid) {
                    *n -= 1;
                    if *n == 0 {
                        conns.remove(&uid);
                    }
                }
            });
        if spawned.is_err() {
            let mut conns = shared.conns();
            if let Some(n) = conns.get_mut(&uid) {
                *n -= 1;
            }
        }
    }
}

/// The due walks of watched paths, run without the registry's lock: a slow
/// or hung filesystem holds this thread only, never the daemon's read loop.
fn check_paths(shared: &Shared) {
    let walks = shared.registry().due_walks(wall_ns());
    if walks.is_empty() {
        return;
    }
    let done = walks.into_iter().map(Walk::run).collect();
    shared.registry().walked(done);
}

/// One connection: its request, then (for a watch) its lines until it ends.
fn serve(mut conn: UnixStream, peer: &Peer, shared: &Shared) {
    let req = match read_request(&conn) {
        Ok(r) => r,
        Err(why) => {
            let _ = conn.write_all(&reply_line(&Reply::Refused { reason: why }));
            return;
        }
    };
    let (paths, perm) = match req {
        Request::List {} => {
            let watches = shared.registry().list(peer.cred.uid);
            let _ = conn.write_all(&reply_line(&Reply::Subscriptions { watches }));
            return;
        }
        Request::Watch { paths, perm } => (paths, perm),
    };
    if let Some(p) = paths.iter().find(|p| !p.is_absolute()) {
        let why = format!("not an absolute path: {}", p.display());
        let _ = conn.write_all(&reply_line(&Reply::Refused { reason: why }));
        return;
    }
    let mailbox = Arc::new(Mailbox::default());
    let admin = shared.registry().in_admin_group(peer) || process_has_cap(peer.pid, CAP_AUDIT_READ);
    let who = Subscriber {
        peer: peer.clone(),
        admin,
        mailbox: mailbox.clone(),
    };
    // The walk as the user, before the lock the read loop takes per event.
    let resolved = resolve_all(&paths, &who);
    let subscribed = {
        let mut reg = shared.registry();
        reg.subscribe(who, resolved, &perm).map(|(id, resolved)| {
            let paths = resolved
                .iter()
                .map(|p| p.to_string_lossy().into())
                .collect();
            (id, Reply::Watching { paths, admin })
        })
    };
    let id = match subscribed {
        Ok((id, reply)) => {
            if conn.write_all(&reply_line(&reply)).is_ok() {
                write_lines(&mut conn, &mailbox);
            }
            id
        }
        Err(why) => {
            let _ = conn.write_all(&reply_line(&Reply::Refused { reason: why }));
            return;
        }
    };
    unsubscribe(shared, id);
}

fn unsubscribe(shared: &Shared, id: SubId) {
    shared.registry().unsubscribe(id);
}

/// The request line, read within [`REQUEST_TIMEOUT`] and
/// [`MAX_REQUEST_BYTES`].
fn read_request(conn: &UnixStream) -> Result<Request, String> {
    conn.set_read_timeout(Some(REQUEST_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut r = BufReader::new(conn.take(MAX_REQUEST_BYTES as u64 + 1));
    let mut line = Vec::new();
    match audex_io::read_line(&mut r, &mut line, MAX_REQUEST_BYTES) {
        Ok(audex_io::Line::Complete { .. }) => {}
        Ok(audex_io::Line::TooLong { .. }) => {
            return Err(format!("a request is at most {MAX_REQUEST_BYTES} bytes"))
        }
        Ok(audex_io::Line::Eof) => return Err("no request".into()),
        Err(e) => return Err(format!("reading the request: {e}")),
    }
    serde_json::from_slice(&line).map_err(|e| format!("bad request: {e}"))
}

/// Writes the mailbox's lines until it is closed and drained, or the client
/// goes away.
fn write_lines(conn: &mut UnixStream, mailbox: &Mailbox) {
    loop {
        match mailbox.pop(Duration::from_millis(250)) {
            Pop::Line(l) => {
                if conn.write_all(&l).is_err() {
                    return;
                }
            }
            Pop::Empty => {
                if hung_up(conn) {
                    return;
                }
            }
            Pop::Closed => return,
        }
    }
}

/// Whether the client closed its end (it sends nothing after its request).
fn hung_up(conn: &UnixStream) -> bool {
    let mut p = libc::pollfd {
        fd: conn.as_raw_fd(),
        events: libc::POLLIN | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one pollfd, no wait.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR | libc::POLLIN) != 0
}
