//! What the lesson checks share: a timeout that names what hung, the runtime's
//! live task count, a scripted reader that plays a connection and records
//! where it wrote, and allocation counts.
//!
//! Checks run on tokio's current-thread runtime with paused time
//! (`#[tokio::test(start_paused = true)]`): when every task is waiting, the
//! clock jumps to the next timer, so a timeout fires at once instead of
//! hanging, and "let everything run" is a short sleep. A check whose code
//! blocks that thread instead (`std::thread::sleep`, a blocking lock) is
//! failed within seconds by the [`guard`], with the likely cause.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};

pub mod guard;

/// How long a check waits for one step before calling it a hang. With paused
/// time this costs nothing when things work, and fails at once when they don't.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Awaits `future`, or panics with `what` if it has not finished within
/// [`PATIENCE`] of (paused) runtime time. No check may hang, nor block its
/// thread: the [`guard`] fails a check whose thread is blocked for seconds
/// or that runs for more than a few seconds of real time.
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    within_for(what, PATIENCE, future).await
}

/// [`within`] with a patience of the check's own, for a wait that is long
/// on purpose: a year of paused time, in which a timer a learner set
/// (an idle timeout, a cap on a period) fires. On a paused clock a year
/// costs no more than a second when nothing runs meanwhile.
pub async fn within_for<F: Future>(what: &str, patience: Duration, future: F) -> F::Output {
    match guard::guarded(what, tokio::time::timeout(patience, future)).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {patience:?} waiting for: {what}"),
    }
}

/// Lets every other task run until it waits on something. Under paused time
/// the sleep only ends once the runtime is idle.
pub async fn settle() {
    guard::guarded("the tasks to settle", async {
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Panics on purpose, as a check's plugin or worker does to see how the
/// code under test copes with a panic. The panic unwinds like any other
/// (`catch_unwind` and tokio's `JoinError` see it, with `message` as its
/// payload), but without the panic hook: no backtrace is printed, which with
/// `RUST_BACKTRACE` set would cost a tenth of a second of symbolising in
/// every check binary. `message` goes to the check's output instead, shown
/// if the check fails.
pub fn panic_on_purpose(message: String) -> ! {
    eprintln!("{message}");
    std::panic::resume_unwind(Box::new(message))
}

/// How many panics have started on this thread since the process began
/// counting (the first call of this function, on any thread): a `panic!`,
/// a failed `expect`, a `select!` whose branches are all disabled. A panic
/// in a task spawned on a current-thread runtime happens on the check's
/// thread, so a check sees the panics of the code under test that tokio
/// would otherwise only print. Panics raised with [`panic_on_purpose`] skip
/// the hook, and are not counted.
pub fn panics_on_this_thread() -> usize {
    static HOOK: std::sync::Once = std::sync::Once::new();
    thread_local!(static PANICS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) });
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|panics| panics.set(panics.get() + 1));
            previous(info);
        }));
    });
    PANICS.with(std::cell::Cell::get)
}

/// Tasks that have been spawned on the current runtime and not yet finished.
pub fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// What a [`ScriptedReader`] does once its chunks are used up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    /// Reports end of input, like a closed connection.
    Eof,
    /// Never answers again, like a silent peer.
    Hang,
    /// Fails with `io::ErrorKind::ConnectionReset`, at every read.
    Fail,
    /// Fails once with an error of this kind, then reports end of input, as
    /// a socket does after a reset: an error dropped on the floor turns
    /// into a clean end.
    FailOnce(io::ErrorKind),
}

/// An `AsyncRead` that plays a connection: it delivers the given chunks, one
/// per read call, then does what [`Then`] says. A probe, shared with the
/// check, counts the reads and tells whether the reader was dropped.
pub struct ScriptedReader {
    chunks: VecDeque<Vec<u8>>,
    then: Then,
    probe: Arc<ReaderProbe>,
    /// How many bytes of input were delivered so far.
    offset: usize,
    /// Input offsets, in order, where the reader is not ready once.
    pauses: VecDeque<usize>,
    /// `Then::FailOnce` has failed.
    failed: bool,
}

/// The check's side of a [`ScriptedReader`].
#[derive(Debug, Default)]
pub struct ReaderProbe {
    chunks_delivered: AtomicUsize,
    dropped: AtomicBool,
    /// Where each read put its bytes, in order.
    written: Mutex<Vec<Written>>,
}

/// One read of a [`ScriptedReader`]: where in memory it put its bytes, and
/// where those bytes are in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// The address of the first byte written into the reader's `ReadBuf`.
    pub address: usize,
    /// How many bytes this read wrote.
    pub len: usize,
    /// Where the first of them is in the input, counted from 0.
    pub offset: usize,
}

impl ReaderProbe {
    /// How many chunks the reader has handed out so far.
    pub fn chunks_delivered(&self) -> usize {
        self.chunks_delivered.load(Ordering::SeqCst)
    }

    /// Whether the reader (the "connection") has been dropped.
    pub fn dropped(&self) -> bool {
        self.dropped.load(Ordering::SeqCst)
    }

    /// Every read so far: where the reader wrote, and what.
    pub fn written(&self) -> Vec<Written> {
        self.written.lock().unwrap().clone()
    }

    /// Fails unless the reads so far, over `input_len` bytes that were all
    /// there at once, took at least `at_least` bytes each on average: every
    /// read is a system call on a real socket. `after` names what the little
    /// room left in a buffer comes after ("the last line").
    pub fn assert_large_reads(&self, input_len: usize, at_least: usize, after: &str) {
        let reads = self.written.lock().unwrap().len();
        let most = input_len / at_least + 1;
        assert!(
            reads <= most,
            "{} KiB took {reads} reads: ask for at least {} KiB a read (room reserved \
             before reading), not the little room left after {after}",
            input_len / 1024,
            at_least / 1024
        );
    }

    /// Where the reader wrote the input's bytes `offset..offset + len`, if
    /// one read wrote all of them: the address the byte at `offset` was
    /// written to. `None` when they were split across reads.
    pub fn written_at(&self, offset: usize, len: usize) -> Option<usize> {
        let written = self.written.lock().unwrap();
        let read = written
            .iter()
            .find(|w| w.offset <= offset && offset + len <= w.offset + w.len)?;
        Some(read.address + (offset - read.offset))
    }
}

impl ScriptedReader {
    pub fn new<I, C>(chunks: I, then: Then) -> (Self, Arc<ReaderProbe>)
    where
        I: IntoIterator<Item = C>,
        C: AsRef<[u8]>,
    {
        let chunks: VecDeque<Vec<u8>> = chunks.into_iter().map(|c| c.as_ref().to_vec()).collect();
        let probe = Arc::new(ReaderProbe::default());
        // Room for the records up front, so that keeping them does not count
        // against the code under test in an allocation check (a reader with
        // little room splits chunks and may need more: that is counted).
        probe.written.lock().unwrap().reserve(chunks.len());
        let reader = ScriptedReader {
            chunks,
            then,
            probe: Arc::clone(&probe),
            offset: 0,
            pauses: VecDeque::new(),
            failed: false,
        };
        (reader, probe)
    }

    /// This reader, not ready once when the input reaches each of
    /// `offsets`: a read there returns `Pending` (and wakes its caller at
    /// once, as a socket would once more bytes came), and no read delivers
    /// bytes across an offset. An offset inside a length prefix or a line is
    /// input that pauses in the middle of an item.
    pub fn pausing_at(mut self, offsets: impl IntoIterator<Item = usize>) -> Self {
        let mut offsets: Vec<usize> = offsets.into_iter().collect();
        offsets.sort_unstable();
        offsets.dedup();
        self.pauses = offsets.into();
        self
    }
}

impl AsyncRead for ScriptedReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pauses.front() == Some(&self.offset) {
            self.pauses.pop_front();
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let until_pause = self.pauses.front().map(|at| at - self.offset);
        let Some(chunk) = self.chunks.front_mut() else {
            return match self.then {
                Then::Eof => Poll::Ready(Ok(())),
                // Never woken: the peer has nothing more to say.
                Then::Hang => Poll::Pending,
                Then::Fail => Poll::Ready(Err(io::ErrorKind::ConnectionReset.into())),
                Then::FailOnce(_) if self.failed => Poll::Ready(Ok(())),
                Then::FailOnce(kind) => {
                    self.failed = true;
                    Poll::Ready(Err(kind.into()))
                }
            };
        };
        let n = chunk
            .len()
            .min(out.remaining())
            .min(until_pause.unwrap_or(usize::MAX));
        let start = out.filled().len();
        out.put_slice(&chunk[..n]);
        chunk.drain(..n);
        if chunk.is_empty() {
            self.chunks.pop_front();
            self.probe.chunks_delivered.fetch_add(1, Ordering::SeqCst);
        }
        // The very memory the bytes went to: the caller's buffer, as a real
        // socket read would fill it.
        let written = Written {
            address: out.filled()[start..].as_ptr() as usize,
            len: n,
            offset: self.offset,
        };
        self.offset += n;
        if n > 0 {
            self.probe.written.lock().unwrap().push(written);
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for ScriptedReader {
    fn drop(&mut self) {
        self.probe.dropped.store(true, Ordering::SeqCst);
    }
}

/// A [`ScriptedReader`] that is not `Unpin`, like many real readers (a TLS
/// stream, a decompressor, anything built from `async` code). Code generic
/// over `R: AsyncRead` that quietly assumes `R: Unpin` does not compile
/// with it.
#[pin_project::pin_project]
pub struct Unmovable {
    inner: ScriptedReader,
    #[pin]
    _pinned: std::marker::PhantomPinned,
}

impl ScriptedReader {
    /// This reader, made `!Unpin`.
    pub fn unmovable(self) -> Unmovable {
        Unmovable {
            inner: self,
            _pinned: std::marker::PhantomPinned,
        }
    }
}

impl AsyncRead for Unmovable {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(self.project().inner).poll_read(cx, out)
    }
}

/// Polls `stream` until it ends, for input that needs no timer (a
/// [`ScriptedReader`] that ends, fails, or pauses with
/// [`ScriptedReader::pausing_at`]): no runtime needed, so a property test
/// can run thousands of cases. After a `Pending` it polls again only if the
/// stream's waker was woken (by the reader it polled, or by itself, as a
/// stream that yields does). Panics if the stream says `Pending` and
/// nothing will wake it (under a runtime the task would wait for ever), if
/// it busy-loops, or if it yields more than `limit` items.
pub fn drain_ready<S: futures::Stream>(stream: S, limit: usize) -> Vec<S::Item> {
    /// A waker that records that it was woken.
    struct Flag(AtomicBool);
    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = std::task::Waker::from(Arc::clone(&flag));
    let mut cx = Context::from_waker(&waker);
    let mut stream = std::pin::pin!(stream);
    let mut items = Vec::new();
    let mut pending_in_a_row = 0;
    loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(item)) => {
                items.push(item);
                pending_in_a_row = 0;
            }
            Poll::Ready(None) => return items,
            Poll::Pending => {
                assert!(
                    flag.0.swap(false, Ordering::SeqCst),
                    "the stream returned Pending after {} items and nothing will wake it: \
                     return Pending only when an inner poll (the reader's) did, which \
                     registered the waker",
                    items.len()
                );
                pending_in_a_row += 1;
                assert!(
                    pending_in_a_row < 100_000,
                    "the stream returned Pending 100,000 times in a row after {} items, \
                     waking itself each time: a busy loop",
                    items.len()
                );
            }
        }
        assert!(
            items.len() <= limit,
            "the stream yielded more than {limit} items"
        );
    }
}

/// What a piece of code allocated on this thread, from the counting global
/// allocator that this crate installs in every test binary that links it.
pub use allocation_counter::AllocationInfo as Allocations;

/// Runs `code` and counts the heap allocations it makes on this thread:
/// how many, how many bytes, the peak, and what is still live at the end.
/// Counts are exact and deterministic, so checks can compare them with
/// numbers, not timings. Other threads (parallel tests) are not counted.
pub fn count_allocations<R>(code: impl FnOnce() -> R) -> (R, Allocations) {
    // What the guard keeps for this check is allocated now, not counted.
    guard::start();
    let mut result = None;
    let counted = allocation_counter::measure(|| result = Some(code()));
    (result.expect("the measured code ran"), counted)
}

/// A current-thread tokio runtime with paused time, like the one
/// `#[tokio::test(start_paused = true)]` builds, for checks that count the
/// allocations of async code: build it outside the count, then
/// `count_allocations(|| runtime.block_on(..))`. Everything the code under
/// test spawns runs on this thread, so it is counted.
pub fn paused_runtime() -> tokio::runtime::Runtime {
    guard::start();
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime can be built")
}

/// Ways to fake `'static` or hide a leak that no fix here may use: they make
/// the compiler stop complaining without making the code right.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("unsafe", "`unsafe` code"),
    ("Box::leak", "`Box::leak`: memory that is never freed"),
    (".leak()", "`.leak()`: memory that is never freed"),
    ("transmute", "`transmute`: a lifetime lie"),
    (
        "mem::forget",
        "`mem::forget`: a value that is never dropped",
    ),
];

/// Fails if the crate at `manifest_dir` (pass `env!("CARGO_MANIFEST_DIR")`)
/// gave up `#![forbid(unsafe_code)]` or uses one of the [`SHORTCUTS`] in
/// `src/`. Comments are not searched.
pub fn assert_no_shortcuts(manifest_dir: &str) {
    let src = std::path::Path::new(manifest_dir).join("src");
    let mut files = vec![src.clone()];
    let mut found = Vec::new();
    let mut forbids_unsafe = false;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            let entries = std::fs::read_dir(&path).expect("src/ is readable");
            files.extend(entries.map(|entry| entry.expect("src/ is readable").path()));
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source is UTF-8");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.trim() == "#![forbid(unsafe_code)]" {
                forbids_unsafe = true;
                continue;
            }
            for (pattern, why) in SHORTCUTS {
                if code.contains(pattern) {
                    found.push(format!("{}:{}: {why}", path.display(), number + 1));
                }
            }
        }
    }
    assert!(
        forbids_unsafe,
        "src/lib.rs must keep `#![forbid(unsafe_code)]`"
    );
    assert!(
        found.is_empty(),
        "these make the error go away without fixing the design:\n{}",
        found.join("\n")
    );
}
