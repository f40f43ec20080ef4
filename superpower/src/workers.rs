//! Serving on one single-threaded runtime per core ("thread per core"): each worker thread runs
//! its own current-thread tokio runtime with its own accept loop on the same listening socket, so
//! a request, its handler, its hedges and its pooled connection to powersource (the client pool
//! is per thread, see [`crate::client`]) all live on one thread: no cross-thread wake-ups, no
//! work stealing. What the requests share (the ring, health, caches, metrics, promises) stays in
//! the one [`crate::State`]. The background tasks (health checks, DNS, the promise ticker) stay
//! on the runtime that built the application.
//!
//! Each worker has its own listening socket on the same address (`SO_REUSEPORT`, see [`bind`]),
//! so the kernel spreads new connections evenly over the workers. [`bind`] first checks that the
//! address is free, so a second superpower on a taken port still fails to start instead of
//! sharing it. A listener bound without `SO_REUSEPORT` (tests bind their own) is shared instead:
//! every worker accepts from a duplicate of it (then whichever worker asks first gets a
//! connection, which can be uneven).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Binds the listening socket of `addr` with `SO_REUSEPORT`, so each worker can bind its own
/// beside it; the address must be free (a plain bind is tried first), so a second process on
/// a taken address fails here as it would without workers.
///
/// # Errors
/// When the address is taken or cannot be bound.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let free = std::net::TcpListener::bind(addr)?;
    let addr = free.local_addr()?;
    drop(free);
    TcpListener::from_std(reuse_port(addr)?)
}

/// A listening socket on `addr` with `SO_REUSEPORT` (and the backlog tokio's `bind` uses).
fn reuse_port(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Another worker's socket beside `first`: its own `SO_REUSEPORT` socket on the same address
/// when `first` has the option, else a duplicate of `first`.
fn beside(first: &std::net::TcpListener) -> std::io::Result<std::net::TcpListener> {
    let addr = first.local_addr()?;
    let shared = socket2::SockRef::from(first).reuse_port().unwrap_or(false);
    if shared {
        if let Ok(socket) = reuse_port(addr) {
            return Ok(socket);
        }
    }
    first.try_clone()
}

/// How often [`keep_a_timer_due`] ticks: sooner than any timer a request sets (the hedge delay
/// is at least 20 ms by default, the attempt timeout 300 ms).
pub const TIMER_TICK: Duration = Duration::from_millis(10);

/// Keeps a timer due within [`TIMER_TICK`] on this thread's runtime, for as long as it runs.
///
/// tokio wakes its own driver (an `eventfd` write, then an extra `epoll_wait`) whenever a timer
/// is set earlier than every timer it holds. Between requests the only timers a worker held
/// were its idle connections' 10 s header-read timeouts, so nearly every request's hedge and
/// attempt timers were "earliest": 0.44 `eventfd` writes per request under load (perf). With
/// this tick always sooner, setting them costs no system call. It is about 100 wake-ups a
/// second per worker when idle.
async fn keep_a_timer_due() {
    let mut tick = tokio::time::interval(TIMER_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
    }
}

/// The default number of workers: one per core this process may use.
pub fn default_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Serves `serve_one` on `count` worker threads, each with a duplicate of `listener`, until
/// `shutdown` resolves; then every worker drains (the `serve_one` future finishes) before this
/// returns.
///
/// `serve_one(listener, stop)` is one worker's accept loop; it must return once `stop` is
/// cancelled and its connections are drained. A limit on connections is the caller's, shared
/// by the workers (one for the process: the kernel spreads new connections over the workers'
/// sockets whatever each one holds).
///
/// # Errors
/// When the socket cannot be duplicated or a thread or runtime cannot be made (then no worker
/// is left running).
pub async fn serve<S, Fut>(
    listener: TcpListener,
    count: usize,
    serve_one: S,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    S: Fn(TcpListener, CancellationToken) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let count = count.max(1);
    let std_listener = listener.into_std()?;
    let mut sockets = Vec::with_capacity(count);
    for _ in 1..count {
        sockets.push(beside(&std_listener)?);
    }
    sockets.push(std_listener);
    let stop = CancellationToken::new();
    let serve_one = Arc::new(serve_one);
    let mut done = Vec::with_capacity(count);
    let mut threads = Vec::with_capacity(count);
    for (i, socket) in sockets.into_iter().enumerate() {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(err) => {
                stop.cancel();
                return Err(err);
            }
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (serve_one, worker_stop) = (serve_one.clone(), stop.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("superpower-worker-{i}"))
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::spawn(keep_a_timer_due());
                    match TcpListener::from_std(socket) {
                        Ok(listener) => serve_one(listener, worker_stop).await,
                        Err(err) => tracing::error!(worker = i, %err, "worker cannot listen"),
                    }
                });
                let _ = tx.send(());
            });
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(err) => {
                stop.cancel();
                return Err(err);
            }
        }
        done.push(rx);
    }
    tracing::info!(workers = count, "serving on one runtime per worker thread");
    tokio::select! {
        () = shutdown => {}
        () = stop.cancelled() => {}
    }
    stop.cancel();
    for rx in done {
        // a worker that panicked drops its sender: it is done too
        let _ = rx.await;
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Each worker answers with its thread's name; connections reach more than one worker, and
    /// shutdown waits for every worker to finish.
    #[tokio::test]
    async fn workers_share_the_socket_and_all_stop() {
        for reuse in [true, false] {
            let listener = if reuse {
                bind("127.0.0.1:0".parse().unwrap()).unwrap()
            } else {
                TcpListener::bind("127.0.0.1:0").await.unwrap()
            };
            two_workers_answer_and_stop(listener).await;
        }
    }

    #[tokio::test]
    async fn a_taken_address_is_refused() {
        let taken = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let err = bind(taken.local_addr().unwrap()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    }

    async fn two_workers_answer_and_stop(listener: TcpListener) {
        let addr = listener.local_addr().unwrap();
        let stopped = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let stopped2 = stopped.clone();
        let server = tokio::spawn(serve(
            listener,
            2,
            move |listener, stop| {
                let stopped = stopped2.clone();
                async move {
                    let name = std::thread::current().name().unwrap_or("").to_owned();
                    loop {
                        tokio::select! {
                            () = stop.cancelled() => break,
                            accepted = listener.accept() => {
                                let (mut s, _) = accepted.unwrap();
                                s.write_all(name.as_bytes()).await.unwrap();
                            }
                        }
                    }
                    stopped.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            },
            async move {
                let _ = stop_rx.await;
            },
        ));
        let mut seen = HashSet::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while seen.len() < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "only {seen:?} answered"
            );
            // hold a few connections at once, so both workers get some
            let mut held = Vec::new();
            for _ in 0..8 {
                held.push(tokio::net::TcpStream::connect(addr).await.unwrap());
            }
            for mut s in held {
                let mut name = String::new();
                s.read_to_string(&mut name).await.unwrap();
                seen.insert(name);
            }
        }
        assert!(seen.iter().all(|n| n.starts_with("superpower-worker-")));
        let _ = stop_tx.send(());
        server.await.unwrap().unwrap();
        assert_eq!(stopped.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
