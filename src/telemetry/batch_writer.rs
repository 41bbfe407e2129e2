//! A log writer that batches lines in memory and writes them from one
//! background thread, at most every [`LINGER`].
//!
//! Why not a channel per line (tracing-appender): under load, every line
//! woke the writer thread (a futex wake, and the writer's spin-then-yield
//! while waiting), which on a small machine cost more CPU than the request it
//! logged. Here a request thread only appends its line to a shared buffer
//! under an uncontended mutex; the writer is woken once per batch (when the
//! buffer goes from empty to non-empty, or fills up), lets the batch gather
//! for a few milliseconds and writes it with one `write(2)`.
//!
//! Bounded, never blocking: logging must not stall traffic, so when
//! [`MAX_PENDING`] bytes already wait unwritten (the log pipe is stuck, the
//! consumer reads too slowly) a new line is dropped and counted, and the
//! writer reports how many it lost in one line of its own as soon as it
//! writes again. Dropping the [`FlushGuard`] writes everything pending.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use tracing_subscriber::fmt::MakeWriter;

/// Longest a line waits in memory before it is written.
pub(crate) const LINGER: Duration = Duration::from_millis(20);
/// Pending bytes that wake the writer before [`LINGER`] is up.
pub(crate) const HIGH_WATER: usize = 256 * 1024;
/// Most bytes waiting to be written; a line that does not fit is dropped.
/// The batch being written is apart, so logs hold at most twice this.
pub(crate) const MAX_PENDING: usize = 4 * 1024 * 1024;
/// Capacity a batch buffer keeps between bursts.
const KEEP_CAPACITY: usize = 64 * 1024;
/// Longest the last lines may take to be written when the process exits: a
/// log consumer that stopped reading must not keep a stopped proxy alive.
pub const FINAL_FLUSH: Duration = Duration::from_secs(2);

/// Appends the line that reports `dropped` lost lines to a batch, in the
/// log's format (see `telemetry::init`).
pub(crate) type ReportDropped = fn(dropped: u64, batch: &mut Vec<u8>);

/// State shared by every [`BatchWriter`] handle and the writer thread.
struct Shared {
    state: Mutex<State>,
    /// Signalled when lines arrive in an empty buffer, the buffer passes
    /// [`HIGH_WATER`], or the guard is dropped.
    ready: Condvar,
    /// Signalled when the writer thread has written its last line.
    done: Condvar,
    /// Lines dropped since start (`hookguard_log_dropped_total`).
    dropped_total: Counter,
}

struct State {
    pending: Vec<u8>,
    /// Lines dropped since the writer last reported.
    dropped: u64,
    closed: bool,
    /// The writer thread has written everything and stopped.
    finished: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain bytes: a panic elsewhere cannot leave them inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `line` whole, or drops it whole when it does not fit.
    fn append(&self, line: &[u8]) {
        let mut state = self.lock();
        let before = state.pending.len();
        if before + line.len() > MAX_PENDING {
            state.dropped += 1;
            drop(state);
            self.dropped_total.inc();
            return;
        }
        state.pending.extend_from_slice(line);
        let after = state.pending.len();
        drop(state);
        if before == 0 || (before < HIGH_WATER && after >= HIGH_WATER) {
            self.ready.notify_one();
        }
    }
}

/// The `MakeWriter` handed to the tracing subscriber; cheap to clone.
#[derive(Clone)]
pub(crate) struct BatchWriter {
    shared: Arc<Shared>,
}

impl BatchWriter {
    /// Appends one whole, already formatted line (see `telemetry::json_sink`).
    pub(crate) fn append_line(&self, line: &[u8]) {
        self.shared.append(line);
    }
}

/// One event's writer: the formatted line is appended whole.
pub(crate) struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.shared.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(()) // the writer thread flushes every batch
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
        }
    }
}

/// Writes what is pending and stops the writer thread when dropped (within
/// [`FINAL_FLUSH`]); keep it alive for as long as the process logs.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl FlushGuard {
    /// Writes what is pending and stops the writer thread, waiting at most
    /// `deadline`. Returns how many pending lines could not be written in
    /// time (a stuck output): those are counted as dropped and the thread
    /// is left to the process's exit.
    pub fn finish(mut self, deadline: Duration) -> u64 {
        self.close(deadline)
    }

    fn close(&mut self, deadline: Duration) -> u64 {
        let Some(thread) = self.thread.take() else {
            return 0;
        };
        self.shared.lock().closed = true;
        self.shared.ready.notify_one();
        let end = Instant::now() + deadline;
        let mut state = self.shared.lock();
        while !state.finished {
            let Some(left) = end.checked_duration_since(Instant::now()) else {
                break;
            };
            state = self
                .shared
                .done
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if state.finished {
            drop(state);
            let _ = thread.join();
            return 0;
        }
        // Lines of the batch being written are not counted: some of it may
        // have gone out.
        let unwritten = state.pending.iter().filter(|b| **b == b'\n').count() as u64;
        state.pending.clear();
        drop(state);
        self.shared.dropped_total.inc_by(unwritten);
        unwritten
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.close(FINAL_FLUSH);
    }
}

/// Starts the writer thread over `out` (stdout in the binary). Dropped lines
/// are counted in `dropped_total` and reported through `report`.
pub(crate) fn spawn<W: Write + Send + 'static>(
    out: W,
    dropped_total: Counter,
    report: ReportDropped,
) -> std::io::Result<(BatchWriter, FlushGuard)> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            pending: Vec::with_capacity(KEEP_CAPACITY),
            dropped: 0,
            closed: false,
            finished: false,
        }),
        ready: Condvar::new(),
        done: Condvar::new(),
        dropped_total,
    });
    let thread = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("hookguard-log".into())
            .spawn(move || {
                write_batches(&shared, out, report);
                shared.lock().finished = true;
                shared.done.notify_all();
            })?
    };
    Ok((
        BatchWriter {
            shared: Arc::clone(&shared),
        },
        FlushGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

/// The writer thread: wait for lines, let the batch gather, write it,
/// followed by the report of the lines dropped since the last batch.
fn write_batches<W: Write>(shared: &Shared, mut out: W, report: ReportDropped) {
    let mut batch: Vec<u8> = Vec::with_capacity(KEEP_CAPACITY);
    loop {
        let dropped = {
            let mut state = shared.lock();
            while state.pending.is_empty() && state.dropped == 0 && !state.closed {
                state = shared.ready.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            if state.pending.is_empty() && state.dropped == 0 {
                return; // closed and everything written
            }
            let deadline = Instant::now() + LINGER;
            while !state.closed && state.pending.len() < HIGH_WATER {
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    break;
                };
                state = shared
                    .ready
                    .wait_timeout(state, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            std::mem::swap(&mut state.pending, &mut batch);
            std::mem::take(&mut state.dropped)
        };
        // Lines are dropped only while the buffer is full, that is while the
        // previous batch was being written: the report comes right after the
        // lines that filled the buffer.
        if dropped > 0 {
            report(dropped, &mut batch);
        }
        // A failing log sink (closed pipe) must not stop the proxy; the
        // lines are dropped rather than retried forever.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        batch.shrink_to(KEEP_CAPACITY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` whose bytes the test can read back, counting write calls.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut s = self.0.lock().unwrap();
            s.0.extend_from_slice(buf);
            s.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Lines each thread writes: together (~3.4 MB) less than the bound, so
    /// none may be dropped however the threads are scheduled.
    const LINES: usize = 5_000;

    #[test]
    fn every_line_from_every_thread_is_written_whole_and_in_order() {
        let sink = Sink::default();
        let dropped = Counter::default();
        let (writer, guard) = spawn(sink.clone(), dropped.clone(), report_for_tests).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..LINES {
                        let line = format!("thread={t} line={i} {}\n", "x".repeat(i % 300));
                        writer.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let (bytes, writes) = sink.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        let mut next = [0usize; 4];
        for line in text.lines() {
            let mut words = line.split(' ');
            let t: usize = words.next().unwrap()["thread=".len()..].parse().unwrap();
            let i: usize = words.next().unwrap()["line=".len()..].parse().unwrap();
            assert_eq!(i, next[t], "thread {t}: lines lost or reordered");
            assert_eq!(words.next().unwrap_or("").len(), i % 300, "line cut");
            next[t] += 1;
        }
        assert_eq!(next, [LINES; 4]);
        assert_eq!(dropped.get(), 0);
        // The lines went out in batches, not one write per line.
        assert!(writes < 4 * LINES / 10, "{writes} writes");
    }

    /// A sink that blocks every write until the test opens it.
    #[derive(Clone, Default)]
    struct Gate(Arc<(Mutex<bool>, Condvar)>, Sink);

    impl Gate {
        fn open(&self) {
            *self.0 .0.lock().unwrap() = true;
            self.0 .1.notify_all();
        }
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (open, cv) = &*self.0;
            let mut open = open.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
            self.1.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn report_for_tests(dropped: u64, batch: &mut Vec<u8>) {
        batch.extend_from_slice(format!("dropped {dropped} lines\n").as_bytes());
    }

    #[test]
    fn a_stuck_sink_never_blocks_producers_lines_beyond_the_bound_are_dropped_and_reported() {
        let gate = Gate::default();
        let dropped = Counter::default();
        let (writer, guard) = spawn(gate.clone(), dropped.clone(), report_for_tests).unwrap();
        // The writer holds a first batch in the stuck sink before the flood,
        // so every drop below lands in one report; otherwise it could take
        // a batch mid-flood and report the drops in two lines.
        write_and_wait_taken(&writer);
        let line = [[b'y'; 1023].as_slice(), b"\n"].concat();
        let total = 3 * MAX_PENDING / line.len();
        let (done, finished) = std::sync::mpsc::channel();
        {
            let writer = writer.clone();
            let line = line.clone();
            std::thread::spawn(move || {
                for _ in 0..total {
                    writer.make_writer().write_all(&line).unwrap();
                }
                let _ = done.send(());
            });
        }
        // With the sink stuck, the producer still finishes: nothing waits.
        finished
            .recv_timeout(Duration::from_secs(60))
            .expect("a producer was held back by a stuck sink");
        let held = writer.shared.lock().pending.len();
        assert!(held <= MAX_PENDING, "{held} bytes pending");
        let lost = dropped.get();
        assert!(lost > 0, "nothing was dropped");
        gate.open();
        drop(guard);
        let (bytes, _) = gate.1 .0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        let reports: Vec<&str> = text.lines().filter(|l| l.starts_with("dropped")).collect();
        assert_eq!(reports, [format!("dropped {lost} lines")]);
        let kept = text.lines().filter(|l| l.len() == 1023).count();
        assert_eq!(kept + lost as usize, total, "lines cut or lost uncounted");
    }

    /// Appends a line and waits until the writer thread has taken it (it
    /// is then blocked in the sink if the sink is stuck).
    fn write_and_wait_taken(writer: &BatchWriter) {
        writer.make_writer().write_all(b"first\n").unwrap();
        let start = Instant::now();
        while !writer.shared.lock().pending.is_empty() {
            assert!(start.elapsed() < Duration::from_secs(30), "never taken");
            #[allow(
                clippy::disallowed_methods,
                reason = "a synchronous test polling the writer thread with a deadline"
            )]
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn closing_on_a_stuck_sink_gives_up_after_the_deadline_and_counts_the_rest() {
        let gate = Gate::default();
        let dropped = Counter::default();
        let (writer, guard) = spawn(gate.clone(), dropped.clone(), report_for_tests).unwrap();
        write_and_wait_taken(&writer);
        for _ in 0..10 {
            writer.make_writer().write_all(b"later\n").unwrap();
        }
        let (done, closed) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(guard.finish(Duration::from_millis(50)));
        });
        let unwritten = closed
            .recv_timeout(Duration::from_secs(30))
            .expect("closing waited on a stuck sink");
        assert_eq!(unwritten, 10);
        assert_eq!(dropped.get(), 10);

        // Dropping the guard is bounded the same way (by FINAL_FLUSH).
        let (writer, guard) = spawn(gate.clone(), Counter::default(), report_for_tests).unwrap();
        write_and_wait_taken(&writer);
        let (done, dropped_guard) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(guard);
            let _ = done.send(());
        });
        dropped_guard
            .recv_timeout(Duration::from_secs(30))
            .expect("dropping the guard waited on a stuck sink");
        gate.open();
    }

    #[test]
    fn closing_a_working_sink_writes_everything() {
        let sink = Sink::default();
        let (writer, guard) = spawn(sink.clone(), Counter::default(), report_for_tests).unwrap();
        writer.make_writer().write_all(b"last words\n").unwrap();
        assert_eq!(guard.finish(Duration::from_secs(30)), 0);
        assert_eq!(sink.0.lock().unwrap().0, b"last words\n");
    }

    #[test]
    fn a_lone_line_is_written_without_waiting_for_more() {
        let sink = Sink::default();
        let (writer, _guard) = spawn(sink.clone(), Counter::default(), report_for_tests).unwrap();
        writer.make_writer().write_all(b"hello\n").unwrap();
        let start = Instant::now();
        while sink.0.lock().unwrap().0.is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "line never written"
            );
            #[allow(
                clippy::disallowed_methods,
                reason = "a synchronous test polling the writer thread with a deadline"
            )]
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(sink.0.lock().unwrap().0, b"hello\n");
    }
}
