//! # Lesson 06: plugins that come and go, and crash
//!
//! The pipeline's plugins, hosted for real. A plugin keeps state of its own
//! (`&mut self`) and is written with `async fn`, the way the seed text
//! writes it. Plugins are plugged in and unplugged while messages flow. One
//! slow plugin must not stall the others, and nothing may pile up without
//! bound while it is slow. A plugin that panics must not take the host or
//! its siblings down: it is restarted, fresh, and after too many panics in
//! a short time it stays down and says so.
//!
//! This code does not compile. Run `cargo test` in this folder and read the
//! errors; the chapter is `book/src/06-plugin-actors.md`, and `cargo run --
//! hint 06` at the root gives one hint at a time. When it compiles, the
//! checks in `tests/` say what a good host must promise: every plugin gets
//! every message dispatched while it is plugged in, once, in order (10,000
//! of them, with plugins unplugged and plugged in on the way); a slow
//! plugin makes the dispatcher wait once its mailbox is full; a panicking
//! plugin is restarted, up to a limit; `unplug` drains; `ask` answers once
//! the message is handled.
//!
//! Keep the public API (`Message`, `Plugin`, `PluginId`, `RestartLimit`,
//! `HostConfig`, `PluginReport`, `AskError`, and `PluginHost::new`, `plug`,
//! `dispatch`, `ask`, `unplug`, `report`): the checks use it. The checks
//! write their plugins as `impl Plugin for X { async fn handle(&mut self,
//! msg: Message) { .. } }`: whatever you change in the trait, that must
//! still compile.
#![forbid(unsafe_code)]

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

/// One message, as the pipeline hands it on. Cloning it bumps the payload's
/// reference count; no byte is copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Its place in the stream of messages.
    pub seq: u64,
    pub payload: Bytes,
}

/// A plugin. It owns its state (`&mut self`), and handles one message at a
/// time, in the order they were dispatched.
pub trait Plugin: Send + 'static {
    async fn handle(&mut self, msg: Message);
}

/// Names a plugin in a [`PluginHost`]. Never reused by the same host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PluginId(u64);

/// When a supervisor stops restarting: at the `panics`-th panic within any
/// span shorter than `within` (on tokio's clock), that is, at a panic less
/// than `within` after the `panics - 1`-th panic before it. With 3 in 1 s,
/// panics at 0, 0.9, 1.1 and 1.2 s put the plugin down at 1.2 s: the last
/// three come less than a second after the first of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartLimit {
    pub panics: u32,
    pub within: Duration,
}

impl Default for RestartLimit {
    /// Three panics within five seconds.
    fn default() -> Self {
        RestartLimit {
            panics: 3,
            within: Duration::from_secs(5),
        }
    }
}

/// How a [`PluginHost`] treats its plugins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostConfig {
    /// How many messages may wait for a plugin (at least 1). A full mailbox
    /// makes `dispatch` wait.
    pub mailbox_capacity: usize,
    pub restart_limit: RestartLimit,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            mailbox_capacity: 64,
            restart_limit: RestartLimit::default(),
        }
    }
}

/// What became of a plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginReport {
    /// The name it was plugged in under.
    pub name: String,
    /// How many times its handler panicked. Each panic but the last of a
    /// plugin that gave up was followed by a restart.
    pub panics: u32,
    /// It panicked too often ([`RestartLimit`]) and stays down: it gets no
    /// more messages, and the ones waiting in its mailbox were dropped.
    pub gave_up: bool,
}

/// Why [`PluginHost::ask`] got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AskError {
    /// No plugin of this host has that id (any more).
    NoSuchPlugin,
    /// The plugin gave up after too many panics.
    Down,
    /// The handler panicked on this message (the plugin was restarted, or
    /// gave up).
    Panicked,
}

impl fmt::Display for AskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AskError::NoSuchPlugin => "no such plugin",
            AskError::Down => "the plugin panicked too often and is down",
            AskError::Panicked => "the plugin panicked on this message",
        })
    }
}

impl std::error::Error for AskError {}

/// The plugged-in plugins, and the messages they are handed.
pub struct PluginHost {
    config: HostConfig,
    next_id: u64,
    /// In the order they were plugged in.
    plugins: Vec<Plugged>,
}

struct Plugged {
    id: PluginId,
    plugin: Box<dyn Plugin>,
    report: PluginReport,
}

impl PluginHost {
    pub fn new(config: HostConfig) -> Self {
        PluginHost {
            config,
            next_id: 0,
            plugins: Vec::new(),
        }
    }

    /// Plugs in the plugin that `make` makes, under `name`. `make` is there
    /// to make a fresh plugin after a panic. The plugin gets every message
    /// dispatched from now on, until it is unplugged.
    pub fn plug<P, F>(&mut self, name: &str, mut make: F) -> PluginId
    where
        P: Plugin,
        F: FnMut() -> P + Send + 'static,
    {
        let id = PluginId(self.next_id);
        self.next_id += 1;
        self.plugins.push(Plugged {
            id,
            plugin: Box::new(make()),
            report: PluginReport {
                name: name.to_owned(),
                panics: 0,
                gave_up: false,
            },
        });
        id
    }

    /// Hands `msg` to every plugged plugin, in the order they were plugged
    /// in.
    pub async fn dispatch(&mut self, msg: Message) {
        for plugged in &mut self.plugins {
            plugged.plugin.handle(msg.clone()).await;
        }
    }

    /// Hands `msg` to one plugin, after what it was sent before, and waits
    /// until the plugin has handled it.
    pub async fn ask(&mut self, id: PluginId, msg: Message) -> Result<(), AskError> {
        let plugged = self
            .plugins
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or(AskError::NoSuchPlugin)?;
        plugged.plugin.handle(msg).await;
        Ok(())
    }

    /// Unplugs a plugin: it gets no message dispatched from now on, handles
    /// every message already sent to it, and is dropped; then its report is
    /// returned. `None` if no plugin has this id.
    pub async fn unplug(&mut self, id: PluginId) -> Option<PluginReport> {
        let index = self.plugins.iter().position(|p| p.id == id)?;
        Some(self.plugins.remove(index).report)
    }

    /// How a plugin is doing: its panics so far, and whether it gave up.
    /// `None` if no plugin has this id.
    pub fn report(&self, id: PluginId) -> Option<PluginReport> {
        let plugged = self.plugins.iter().find(|p| p.id == id)?;
        Some(plugged.report.clone())
    }
}
