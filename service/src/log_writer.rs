//! The log writer: lines are appended to a shared buffer under a mutex, and one background
//! thread writes the buffer out in large `write`s. A request never waits on a `write` system
//! call for its access-log line, no line is ever dropped, and nothing spins.
//!
//! This replaced `tracing_appender::non_blocking`, whose worker thread takes one line at a time
//! from a channel and, when the channel is empty, spins on `sched_yield` before it parks: under
//! load that thread alone took about 8 % of superpower's CPU (perf, `bench/run.sh`), and it drops
//! lines when it falls behind. Here the writer sleeps on a condition variable until a line
//! arrives, then waits [`BATCH`] for more before it writes, so a busy service pays for one
//! wake-up and one `write` per batch, not per line. Having written everything, it looks again
//! on its own for [`LINGER`] before it sleeps until woken: under steady traffic no request
//! wakes it at all (at 1,000 requests a second: 1 futex call in 5 s instead of one a batch).
//!
//! When the output cannot keep up and the buffer reaches [`MAX_BUFFERED`], the thread that
//! logs writes the buffer out itself (back-pressure instead of loss).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer waits, once woken, for more lines before it writes.
pub const BATCH: Duration = Duration::from_millis(2);
/// How long the writer, having written everything, keeps looking for more lines on its own
/// before it sleeps until a line wakes it: under steady traffic (a line every few
/// milliseconds) no request ever wakes it (a futex call and a context switch on the request's
/// core), which showed in superpower's tail at a moderate rate.
pub const LINGER: Duration = Duration::from_millis(10);
/// Bytes buffered at most before a logging thread writes them out itself.
pub const MAX_BUFFERED: usize = 4 * 1024 * 1024;

struct State {
    buf: Vec<u8>,
    /// The writer is asleep on the condition variable (so a line must wake it).
    waiting: bool,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `bytes` out (a failed write of a log has nowhere to be reported: dropped).
    fn write_out(&self, bytes: &[u8]) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }
}

/// The handle the subscriber writes through (cheap to clone: one per event).
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Keeps the writer thread; dropping it writes what is buffered and stops the thread.
pub struct WriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A writer to `out` and its guard (keep the guard alive as long as logs are written).
///
/// # Panics
/// When the writer thread cannot be started.
pub fn batch_writer(out: impl Write + Send + 'static) -> (BatchWriter, WriterGuard) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            buf: Vec::with_capacity(64 * 1024),
            waiting: false,
            shutdown: false,
        }),
        wake: Condvar::new(),
        out: Mutex::new(Box::new(out)),
    });
    let s = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || run(&s))
        .expect("the log writer thread starts");
    (
        BatchWriter {
            shared: shared.clone(),
        },
        WriterGuard {
            shared,
            thread: Some(thread),
        },
    )
}

fn run(shared: &Shared) {
    let mut spare = Vec::with_capacity(64 * 1024);
    loop {
        let mut st = shared.lock();
        if st.buf.is_empty() && !st.shutdown {
            drop(st);
            std::thread::sleep(LINGER);
            st = shared.lock();
        }
        while st.buf.is_empty() && !st.shutdown {
            st.waiting = true;
            st = shared.wake.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.waiting = false;
        let done = st.shutdown;
        if !done {
            // let a batch gather: the lines logged meanwhile do not wake this thread
            drop(st);
            std::thread::sleep(BATCH);
            st = shared.lock();
        }
        std::mem::swap(&mut st.buf, &mut spare);
        let done = done || st.shutdown;
        drop(st);
        if !spare.is_empty() {
            shared.write_out(&spare);
            spare.clear();
        }
        if done && shared.lock().buf.is_empty() {
            return;
        }
    }
}

impl Write for BatchWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut st = self.shared.lock();
        if st.buf.len() + line.len() > MAX_BUFFERED {
            // the output is behind: write the backlog here rather than lose lines
            let backlog = std::mem::take(&mut st.buf);
            drop(st);
            self.shared.write_out(&backlog);
            self.shared.write_out(line);
            return Ok(line.len());
        }
        st.buf.extend_from_slice(line);
        let wake = std::mem::take(&mut st.waiting);
        // woken after the lock is released, the writer does not block on it straight away
        // (one futex wait and wake fewer per batch)
        drop(st);
        if wake {
            self.shared.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchWriter {
    type Writer = BatchWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that keeps what it is given.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_from_every_thread_is_written_whole_and_in_order_per_thread() {
        let sink = Sink::default();
        let (w, guard) = batch_writer(sink.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut w = w.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        w.write_all(format!("t{t} line {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        for t in 0..4 {
            let mine: Vec<usize> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("t{t} line ")))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(mine, (0..5000).collect::<Vec<_>>(), "thread {t}");
        }
        assert_eq!(text.lines().count(), 20_000);
    }

    #[test]
    fn a_line_is_written_soon_without_more_lines_or_a_flush() {
        let sink = Sink::default();
        let (mut w, _guard) = batch_writer(sink.clone());
        w.write_all(b"alone\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.0.lock().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(&*sink.0.lock().unwrap(), b"alone\n");
    }

    #[test]
    fn a_backlog_over_the_limit_is_written_by_the_logging_thread_not_lost() {
        let sink = Sink::default();
        let (mut w, guard) = batch_writer(sink.clone());
        let big = vec![b'x'; MAX_BUFFERED / 2 + 1];
        for _ in 0..5 {
            w.write_all(&big).unwrap();
        }
        drop(guard);
        assert_eq!(sink.0.lock().unwrap().len(), big.len() * 5);
    }
}
