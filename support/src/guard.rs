//! The guard against a check that blocks its thread.
//!
//! A check runs on tokio's current-thread runtime with paused time, so its
//! waits cost no real time, and [`crate::within`] turns a hang into a failure
//! as soon as every task waits. A *blocking* call in the code under test
//! (`std::thread::sleep`, a blocking lock, blocking I/O, a loop that never
//! reaches an `.await`) defeats both: it holds the one thread every task runs
//! on, the paused clock stops with it, and the check runs for real seconds,
//! minutes, or for ever, with no word of why.
//!
//! So every check that awaits [`crate::within`] or [`crate::settle`] is
//! watched, in real time, by one watchdog thread per test binary:
//!
//! - each poll of those futures notes the time on the check's thread; every
//!   [`TICK`] the watchdog wakes the check's own future (the one the test
//!   body is, outside any task), so that a thread that is free polls it at
//!   once;
//! - a thread that did not come back to that poll for [`STALL`] is
//!   *blocked*: when it comes back, the check fails right there, naming the
//!   likely cause;
//! - a check that has run for more than [`BUDGET`] of real time fails at its
//!   next poll, and from then on the checks of the same test binary have
//!   [`BUDGET_AFTER_OVERRUN`] each (the code under test spins: each check
//!   would take the whole budget);
//! - a check that cannot be failed that way, because its thread never comes
//!   back (a deadlock, an endless loop, a blocking call that is still
//!   running [`GRACE`] later), is reported by the watchdog, in the test
//!   harness's own format, and the test binary exits with a failure: the
//!   other checks still running are not reported.
//!
//! Nothing here allocates on the check's thread after its first use, which
//! [`crate::count_allocations`] and [`crate::paused_runtime`] make happen
//! before anything is counted.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::future::Future;
use std::io::Write as _;
use std::pin::pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

/// How long a check may hold its thread in one go before it is *blocked*.
/// A poll of a check's code takes microseconds; the slowest checks of the
/// course take a quarter of a second in all.
pub const STALL: Duration = Duration::from_secs(2);

/// How much real time a check may take in all, unless
/// `LESSON_CHECK_REAL_SECONDS` says otherwise (0 turns the guard off). The
/// slowest check of lessons 01 to 10 takes about 0.3 s of a debug build.
pub const BUDGET: Duration = Duration::from_secs(4);

/// The budget of the checks of a test binary in which one check has already
/// run out of its own: the code under test spins (a loop that never waits
/// for paused time to pass), and each check it runs would take the whole
/// budget; with two test threads, fifteen checks at [`BUDGET`] each make
/// `cargo test` run for half a minute.
pub const BUDGET_AFTER_OVERRUN: Duration = Duration::from_secs(1);

/// Whether a check of this test binary has run out of its budget.
static OVERRUN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// How long a blocked or overdue check has to fail on its own thread before
/// the watchdog stops the test binary.
pub const GRACE: Duration = Duration::from_secs(3);

/// How often the watchdog looks.
pub const TICK: Duration = Duration::from_millis(100);

/// The likely causes, for every message the guard gives.
const CAUSES: &str = "Something blocks the thread that every task of the check runs on, \
instead of `.await`ing: `std::thread::sleep` (use `tokio::time::sleep(..).await`), a \
blocking lock (a `std::sync::Mutex` held across an `.await`, `blocking_lock`, \
`blocking_recv`), blocking I/O (`std::fs`, `std::net`, `std::io::Read`), or a loop that \
never reaches an `.await`. While the thread is blocked no other task runs, and the \
check's paused clock stands still, so its own timeouts cannot fire.";

/// One check: a test's thread, from its first guarded poll.
struct Check {
    /// The test's name: the test harness names each test's thread after it.
    name: String,
    started: Instant,
    budget: Duration,
    state: Mutex<State>,
}

struct State {
    /// The last poll of a guarded future on the check's thread.
    last_poll: Instant,
    /// How many guarded futures the check's own future (not a task) is
    /// waiting in. While there is one, `waker` polls it.
    waiting: usize,
    waker: Option<Waker>,
    /// What the check's own future waits for, as `within` named it (cut to
    /// fit: copied without allocating).
    what: [u8; 120],
    what_len: usize,
    /// Set by the watchdog: the thread was blocked this long in one go.
    blocked: Option<Duration>,
    /// The thread has ended: the check is over.
    finished: bool,
}

impl Check {
    /// The check's budget, shortened once another check has run out of its.
    fn budget(&self) -> Duration {
        if OVERRUN.load(std::sync::atomic::Ordering::Relaxed) {
            self.budget.min(BUDGET_AFTER_OVERRUN)
        } else {
            self.budget
        }
    }

    fn what(state: &State) -> &str {
        std::str::from_utf8(&state.what[..state.what_len]).unwrap_or("?")
    }
}

/// The failures the guard gave on the checks' own threads, by check: their
/// text is repeated in the watchdog's report, since the test harness never
/// prints it once the test binary is stopped.
fn failed() -> &'static Mutex<Vec<(String, String)>> {
    static FAILED: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    &FAILED
}

/// Fails the check on its own thread, and keeps the text for the watchdog.
fn fail(check: &Check, text: String) -> ! {
    if let Ok(mut failed) = failed().lock()
        && !failed.iter().any(|(name, _)| *name == check.name)
    {
        failed.push((check.name.clone(), text.clone()));
    }
    panic!("{text}")
}

/// The checks of this test binary, for the watchdog.
fn registry() -> &'static Mutex<Vec<Arc<Check>>> {
    static REGISTRY: OnceLock<Mutex<Vec<Arc<Check>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        std::thread::Builder::new()
            .name("lesson-support watchdog".to_owned())
            .spawn(watchdog)
            .expect("the watchdog thread starts");
        Mutex::new(Vec::with_capacity(64))
    })
}

/// Ends the check when its thread ends.
struct Registered(Arc<Check>);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut state) = self.0.state.lock() {
            state.finished = true;
            state.waker = None;
        }
    }
}

thread_local! {
    static CHECK: RefCell<Option<Registered>> = const { RefCell::new(None) };
}

/// The budget of a check: [`BUDGET`], or `LESSON_CHECK_REAL_SECONDS`;
/// `None` when that is 0.
fn budget() -> Option<Duration> {
    static BUDGET_SET: OnceLock<Option<Duration>> = OnceLock::new();
    *BUDGET_SET.get_or_init(|| {
        let seconds = std::env::var("LESSON_CHECK_REAL_SECONDS")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok());
        match seconds {
            Some(s) if s <= 0.0 => None,
            Some(s) => Some(Duration::from_secs_f64(s)),
            None => Some(BUDGET),
        }
    })
}

/// The check running on this thread, registered with the watchdog on first
/// use. `None` when the guard is off.
fn this_check() -> Option<Arc<Check>> {
    let budget = budget()?;
    CHECK.with(|check| {
        let mut check = check.borrow_mut();
        if let Some(Registered(check)) = &*check {
            return Some(Arc::clone(check));
        }
        let now = Instant::now();
        let name = std::thread::current()
            .name()
            .unwrap_or("this check")
            .to_owned();
        let registered = Arc::new(Check {
            name,
            started: now,
            budget,
            state: Mutex::new(State {
                last_poll: now,
                waiting: 0,
                waker: None,
                what: [0; 120],
                what_len: 0,
                blocked: None,
                finished: false,
            }),
        });
        let mut checks = registry().lock().unwrap_or_else(|e| e.into_inner());
        checks.retain(|check| !check.state.lock().is_ok_and(|s| s.finished));
        checks.push(Arc::clone(&registered));
        *check = Some(Registered(Arc::clone(&registered)));
        Some(registered)
    })
}

/// Registers this thread's check now, so that nothing the guard allocates
/// for it is counted later.
pub(crate) fn start() {
    let _ = this_check();
}

/// Awaits `future` under the guard: see the module's documentation.
pub(crate) async fn guarded<F: Future>(what: &str, future: F) -> F::Output {
    let Some(check) = this_check() else {
        return future.await;
    };
    let mut future = pin!(future);
    // Whether this future is the check's own (not a task's), and counted in
    // `waiting` while it is pending.
    let mut counted = Counted {
        check: &check,
        waiting: false,
    };
    std::future::poll_fn(|cx| {
        counted.poll_start(what, cx);
        let poll = future.as_mut().poll(cx);
        if poll.is_ready() {
            counted.stop_waiting();
        }
        poll
    })
    .await
}

struct Counted<'a> {
    check: &'a Check,
    waiting: bool,
}

impl Counted<'_> {
    /// Before each poll: notes the time, fails the check if its thread was
    /// blocked or its budget is spent, and, for the check's own future,
    /// leaves its waker for the watchdog.
    fn poll_start(&mut self, what: &str, cx: &mut Context<'_>) {
        let now = Instant::now();
        let own = tokio::task::try_id().is_none();
        let blocked = {
            let mut state = self.check.state.lock().unwrap_or_else(|e| e.into_inner());
            state.last_poll = now;
            if own {
                if !self.waiting {
                    self.waiting = true;
                    state.waiting += 1;
                }
                match &mut state.waker {
                    Some(waker) => waker.clone_from(cx.waker()),
                    None => state.waker = Some(cx.waker().clone()),
                }
                let len = floor_char_boundary(what, state.what.len());
                state.what[..len].copy_from_slice(&what.as_bytes()[..len]);
                state.what_len = len;
            }
            state.blocked.take()
        };
        if let Some(blocked) = blocked {
            self.stop_waiting();
            let text = format!(
                "{}: the check's thread was blocked for {:.1} s of real time in one go, \
                 while the check waited for: {what}. {CAUSES}",
                self.check.name,
                blocked.as_secs_f64()
            );
            fail(self.check, text);
        }
        let spent = now - self.check.started;
        let budget = self.check.budget();
        if spent > budget {
            self.stop_waiting();
            let shortened = if budget < self.check.budget {
                ", as another check of this test binary had already run out of its \
                 own: the code under test spins"
            } else {
                ""
            };
            OVERRUN.store(true, std::sync::atomic::Ordering::Relaxed);
            let text = format!(
                "{}: the check has run for {:.1} s of real time (at most {:.0} s are \
                 allowed{shortened}: its waits are in paused time and take none), while \
                 it waited for: {what}. {CAUSES}",
                self.check.name,
                spent.as_secs_f64(),
                budget.as_secs_f64()
            );
            fail(self.check, text);
        }
    }

    fn stop_waiting(&mut self) {
        if !self.waiting {
            return;
        }
        self.waiting = false;
        let mut state = self.check.state.lock().unwrap_or_else(|e| e.into_inner());
        state.waiting -= 1;
        if state.waiting == 0 {
            // Dropped here, on the check's thread: a waker may hold the last
            // reference to memory the check counts.
            state.waker = None;
        }
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.stop_waiting();
    }
}

/// The longest prefix of `text` that fits in `max` bytes and ends on a
/// character boundary.
fn floor_char_boundary(text: &str, max: usize) -> usize {
    let mut len = text.len().min(max);
    while !text.is_char_boundary(len) {
        len -= 1;
    }
    len
}

/// How long the watchdog waits, once every check still running is stuck,
/// for the test harness to start another check before it stops the test
/// binary: the stuck checks hold their threads for good, but the harness
/// runs the remaining checks on its other threads.
const QUIET: Duration = Duration::from_secs(1);

/// Watches every check: wakes their own futures, marks the blocked ones,
/// and stops the test binary once the only checks left running are stuck.
fn watchdog() {
    // The stuck checks, with their reports, and when the last check that
    // was not stuck was seen running.
    let mut stuck: Vec<(Arc<Check>, String)> = Vec::new();
    let mut last_busy = Instant::now();
    loop {
        std::thread::sleep(TICK);
        let now = Instant::now();
        let checks: Vec<Arc<Check>> = match registry().lock() {
            Ok(checks) => checks.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        for check in &checks {
            let Ok(mut state) = check.state.lock() else {
                continue;
            };
            if state.finished || stuck.iter().any(|(c, _)| Arc::ptr_eq(c, check)) {
                continue;
            }
            let away = now - state.last_poll;
            let spent = now - check.started;
            if state.waiting > 0 {
                if let Some(waker) = &state.waker {
                    waker.wake_by_ref();
                }
                if away >= STALL {
                    state.blocked = Some(away);
                }
            }
            let blocked_too_long = state.waiting > 0 && away >= STALL + GRACE;
            let overdue = spent >= check.budget() + GRACE;
            if blocked_too_long || overdue {
                let report = stuck_report(check, &state, away, spent);
                stuck.push((Arc::clone(check), report));
            } else {
                last_busy = now;
            }
        }
        if !stuck.is_empty() && now - last_busy >= QUIET {
            stop(&stuck);
        }
    }
}

/// What the watchdog says about a check it has to stop.
fn stuck_report(check: &Check, state: &State, away: Duration, spent: Duration) -> String {
    let mut text = String::new();
    let _ = write!(
        text,
        "{}: stopped by the checks' watchdog after {:.1} s of real time",
        check.name,
        spent.as_secs_f64()
    );
    if state.waiting > 0 {
        let _ = write!(
            text,
            ", its thread blocked for the last {:.1} s, while the check waited for: {}",
            away.as_secs_f64(),
            Check::what(state)
        );
    }
    let _ = write!(
        text,
        ". {CAUSES} Its thread never came back, so the test binary was stopped once \
         no other check was running."
    );
    text
}

/// Reports the stuck checks as the test harness reports failures (so that
/// `cargo test` and the coach show them by name), with the text of the
/// failures the guard gave before, which the harness would have printed at
/// its end, and ends the test binary.
fn stop(stuck: &[(Arc<Check>, String)]) -> ! {
    let mut out = String::new();
    for (check, _) in stuck {
        let _ = writeln!(out, "test {} ... FAILED", check.name);
    }
    let _ = writeln!(out, "\nfailures:\n");
    let earlier = failed().lock().map(|f| f.clone()).unwrap_or_default();
    for (name, text) in &earlier {
        let _ = writeln!(out, "---- {name} stdout ----\n{text}\n");
    }
    for (check, text) in stuck {
        let _ = writeln!(out, "---- {} stdout ----\n{text}\n", check.name);
    }
    let _ = writeln!(out, "failures:");
    for (check, _) in stuck {
        let _ = writeln!(out, "    {}", check.name);
    }
    let _ = writeln!(
        out,
        "\ntest result: FAILED. {} stopped by the checks' watchdog; the messages of \
         other failing checks are not shown (run one alone: `cargo test -- NAME`)\n",
        stuck.len()
    );
    // Straight to the process's streams: `print!` in a test is captured.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    std::process::exit(101)
}
