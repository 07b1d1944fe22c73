//! `cargo run -p pipeline-demo -- [--frames N] [--size BYTES] [--connections N]
//! [--plugins N] [--flaky N]`: lesson 11's pipeline, run on this machine.
//!
//! It starts the pipeline on 127.0.0.1, plugs in a few plugins (one of them
//! flaky, so that retries happen), subscribes to the feed with a real tonic
//! client, and feeds the pipeline generated frames from a few TCP client
//! connections. While it runs it shows how far it is (on a terminal only);
//! at the end it shuts the pipeline down and prints a summary. It checks
//! what it receives, too: every frame, once, each connection's in order.
//! Exit status 0 when all of that holds, 1 when not, 2 for bad flags.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::future::BoxFuture;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[cfg(feature = "reference")]
use solution_11_pipeline as pipeline;

#[cfg(not(feature = "reference"))]
use lesson_11_pipeline as pipeline;

use pipeline::{Config, FeedClient, HandlerError, Message, Pipeline, Plugin, Subscription};

/// Which pipeline this binary runs.
const WHOSE: &str = if cfg!(feature = "reference") {
    "the reference solution (solutions/11-pipeline)"
} else {
    "your pipeline (lessons/11-pipeline)"
};

/// No frame received for this long: the pipeline has stalled.
const STALL: Duration = Duration::from_secs(5);

#[derive(Parser, Debug)]
#[command(
    about = "Runs lesson 11's pipeline: TCP clients feed it frames, a gRPC client subscribes.",
    after_help = "Runs your pipeline (lessons/11-pipeline); with `--features reference` \
                  (before `--`), the reference solution."
)]
struct Args {
    /// Frames to send, over all connections.
    #[arg(long, default_value_t = 100_000)]
    frames: u64,
    /// Bytes per frame (at least 16: each starts with its connection and number).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(16..=65_536))]
    size: u32,
    /// Client connections, sending side by side.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    connections: u32,
    /// Plugins plugged in (the first one is flaky when `--flaky` is not 0).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=64))]
    plugins: u32,
    /// The flaky plugin fails the first try of every Nth message (0: never).
    #[arg(long, default_value_t = 1_000)]
    flaky: u64,
    /// The wait before a first retry, in milliseconds (it doubles for each
    /// retry after). A plugin retries in place: while it waits, every frame
    /// behind waits too.
    #[arg(long, default_value_t = 1)]
    retry_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("pipeline-demo: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A plugin that reads every byte (a checksum), and fails the first try of
/// every `flaky`-th message when `flaky` is not 0.
struct Checksum {
    name: String,
    flaky: u64,
    sum: AtomicU64,
    failed_once: std::sync::Mutex<std::collections::HashSet<u64>>,
}

impl Plugin for Checksum {
    fn name(&self) -> &str {
        &self.name
    }

    fn handle(&self, message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        Box::pin(async move {
            if self.flaky != 0
                && message.id.is_multiple_of(self.flaky)
                && self.failed_once.lock().unwrap().insert(message.id)
            {
                return Err(HandlerError(format!("busy (message {})", message.id)));
            }
            let sum = message.payload.iter().map(|&b| u64::from(b)).sum::<u64>();
            self.sum.fetch_add(sum, Ordering::Relaxed);
            Ok(())
        })
    }
}

/// Frame `n` of connection `connection`: its numbers, then filler.
fn frame(connection: u32, n: u64, size: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&(size as u32).to_be_bytes());
    out.extend_from_slice(&connection.to_be_bytes());
    out.extend_from_slice(&n.to_be_bytes());
    out.extend((12..size).map(|i| (i as u64 ^ n) as u8));
}

async fn send(
    addr: std::net::SocketAddr,
    connection: u32,
    count: u64,
    size: usize,
) -> std::io::Result<()> {
    let mut socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let mut batch = Vec::with_capacity(64 * 1024);
    for n in 0..count {
        frame(connection, n, size, &mut batch);
        if batch.len() >= 60 * 1024 {
            socket.write_all(&batch).await?;
            batch.clear();
        }
    }
    socket.write_all(&batch).await?;
    socket.shutdown().await
}

async fn run(args: Args) -> Result<bool, Box<dyn std::error::Error>> {
    let size = args.size as usize;
    let mut config = Config::default();
    config.retry.base = Duration::from_millis(args.retry_ms);
    config.retry.cap = config.retry.cap.max(config.retry.base);
    let pipeline = Pipeline::start(config).await?;
    for n in 0..args.plugins {
        let flaky = if n == 0 { args.flaky } else { 0 };
        let name = if n == 0 && flaky != 0 {
            "flaky-checksum".to_owned()
        } else {
            format!("checksum-{n}")
        };
        pipeline
            .plug(Checksum {
                name,
                flaky,
                sum: AtomicU64::new(0),
                failed_once: Default::default(),
            })
            .await;
    }

    let mut client = FeedClient::connect(format!("http://{}", pipeline.feed_addr())).await?;
    let request = Subscription {
        device: pipeline::TOPIC.to_owned(),
    };
    let mut stream = client.subscribe(request).await?.into_inner();

    println!(
        "pipeline-demo: {WHOSE}: {} frames of {size} bytes from {} connections, {} plugins",
        args.frames, args.connections, args.plugins
    );
    let started = Instant::now();
    let addr = pipeline.ingest_addr();
    let mut senders = Vec::new();
    for connection in 0..args.connections {
        // The frames shared out as evenly as they go.
        let count = args.frames / u64::from(args.connections)
            + u64::from(u64::from(connection) < args.frames % u64::from(args.connections));
        senders.push(tokio::spawn(send(addr, connection, count, size)));
    }

    let received = Arc::new(AtomicU64::new(0));
    let progress = show_progress(Arc::clone(&received), args.frames);
    let mut next: HashMap<u32, u64> = HashMap::new();
    let mut out_of_order = 0u64;
    let mut stalled = false;
    while received.load(Ordering::Relaxed) < args.frames {
        match tokio::time::timeout(STALL, stream.message()).await {
            Ok(Ok(Some(snapshot))) => {
                let payload = &snapshot.payload;
                let connection = u32::from_be_bytes(payload[0..4].try_into()?);
                let n = u64::from_be_bytes(payload[4..12].try_into()?);
                let expected = next.entry(connection).or_default();
                if n != *expected {
                    out_of_order += 1;
                }
                *expected = n + 1;
                received.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Ok(None)) => {
                eprintln!("\nthe feed ended early");
                break;
            }
            Ok(Err(status)) => {
                eprintln!("\nthe feed failed: {status}");
                break;
            }
            Err(_) => {
                stalled = true;
                break;
            }
        }
    }
    let elapsed = started.elapsed();
    progress.abort();
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
    for sender in senders {
        if let Ok(Err(error)) = sender.await {
            eprintln!("a client failed to send: {error}");
        }
    }
    let received = received.load(Ordering::Relaxed);
    if stalled {
        eprintln!(
            "nothing arrived for {} s: {received} of {} frames received",
            STALL.as_secs(),
            args.frames
        );
        // A pipeline that is stuck may not answer, and may not drain: ask
        // briefly, and do not shut it down.
        match tokio::time::timeout(Duration::from_secs(1), pipeline.summary()).await {
            Ok(summary) => {
                eprintln!(
                    "the pipeline took {} frames and published {}",
                    summary.frames_in, summary.published
                );
                if summary.published > received {
                    eprintln!(
                        "{} frames were published and never reached the subscriber: lost",
                        summary.published - received
                    );
                } else if summary.frames_in > summary.published {
                    eprintln!(
                        "{} frames were taken and are stuck inside the pipeline",
                        summary.frames_in - summary.published
                    );
                }
            }
            Err(_) => eprintln!("the pipeline does not answer: its loop is stuck"),
        }
        return Ok(false);
    }
    let summary = match tokio::time::timeout(STALL, pipeline.shutdown()).await {
        Ok(summary) => summary,
        Err(_) => {
            eprintln!("the shutdown did not finish within {} s", STALL.as_secs());
            return Ok(false);
        }
    };

    let secs = elapsed.as_secs_f64();
    let lost = args.frames.saturating_sub(received);
    println!("frames sent       {:>12}", args.frames);
    println!("frames taken      {:>12}", summary.frames_in);
    println!("bytes taken       {:>12}", summary.bytes_in);
    println!("frames published  {:>12}", summary.published);
    println!(
        "frames received   {:>12}   lost {lost}, out of order {out_of_order}",
        received
    );
    println!(
        "rate              {:>12.0} frames/s   {:.1} MB/s   in {:.2} s",
        received as f64 / secs,
        (received as f64 * size as f64) / secs / 1e6,
        secs
    );
    println!("retries           {:>12}", summary.retries);
    println!("dead letters      {:>12}", summary.dead_letters.len());
    println!("connection errors {:>12}", summary.connection_errors.len());
    for error in &summary.connection_errors {
        println!(
            "  connection {} ({}): {}",
            error.connection, error.peer, error.error
        );
    }
    Ok(lost == 0 && out_of_order == 0)
}

/// Rewrites one line on stderr every 100 ms while frames arrive, if stderr
/// is a terminal; says nothing otherwise (a log or a pipe gets the summary).
fn show_progress(received: Arc<AtomicU64>, total: u64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let done = received.load(Ordering::Relaxed);
            let width = 30;
            let filled = (done * width / total.max(1)) as usize;
            let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r[{}{}] {done}/{total} frames  {rate:.0}/s",
                "#".repeat(filled),
                "-".repeat(width as usize - filled)
            );
            let _ = err.flush();
        }
    })
}
