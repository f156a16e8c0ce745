//! The WAL writer: one thread owns the current segment, writes queued appends together,
//! fsyncs once per group (group commit), applies them to the head, then acknowledges.
//!
//! Appends and rotations travel through one bounded channel, so a rotation sees exactly the
//! appends before it: the frozen head and the obsolete segments hold the same spans.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::head::{HeadData, HeadEntry, Heads};

/// What the writer applies durable records to and freezes on rotation: the span head, or
/// the metric head.
pub trait WalHead: Send + Sync + 'static {
    /// One record's data, ready for the head.
    type Entry: Send + 'static;
    /// The head as it was at a rotation.
    type Frozen: Send + Sync + 'static;
    /// Adds durable entries, in write order.
    fn apply(&self, entries: Vec<Self::Entry>);
    /// Freezes the current data (still queryable) and starts an empty head.
    fn freeze(&self) -> Arc<Self::Frozen>;
}

impl WalHead for Heads {
    type Entry = HeadEntry;
    type Frozen = HeadData;

    fn apply(&self, entries: Vec<HeadEntry>) {
        Heads::apply(self, entries);
    }

    fn freeze(&self) -> Arc<HeadData> {
        Heads::freeze(self)
    }
}

/// Capacity of the append queue; a full queue makes appenders wait (backpressure).
pub const APPEND_QUEUE_CAPACITY: usize = 4096;

/// An encoded record waiting for its group commit.
pub struct AppendRequest<E = HeadEntry> {
    /// The record's data for the head, applied once durable.
    pub entry: E,
    /// The record's encoded frame.
    pub frame: Vec<u8>,
    /// Resolved once the frame is fsynced and the record is in the head.
    pub reply: oneshot::Sender<Result<(), Error>>,
}

/// What the writer thread is asked to do.
pub enum WalCommand<H: WalHead = Heads> {
    /// Make a record durable.
    Append(AppendRequest<H::Entry>),
    /// Start a new segment and freeze the head.
    Rotate(oneshot::Sender<Result<Rotation<H::Frozen>, Error>>),
    /// Finish queued work, fsync and stop; later appends fail with [`Error::WalClosed`].
    Close(oneshot::Sender<()>),
}

/// The result of a rotation: the head as it was and the segments that hold exactly its spans.
pub struct Rotation<F = HeadData> {
    /// The frozen head, still queryable until released.
    pub frozen: Arc<F>,
    /// Segments to delete once the frozen head is written to parts.
    pub obsolete_segments: Vec<PathBuf>,
}

/// Handle on the writer thread.
pub struct WalWriter<H: WalHead = Heads> {
    sender: mpsc::Sender<WalCommand<H>>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

struct WriterState<H: WalHead> {
    dir: PathBuf,
    sequence: u64,
    file: File,
    segment_len: u64,
    /// Segments (replayed or rotated out) not yet handed to a rotation.
    sealed_segments: Vec<PathBuf>,
    heads: Arc<H>,
    max_batch: usize,
}

/// Returns the path of segment `sequence` in `dir`.
pub fn segment_path(dir: &Path, sequence: u64) -> PathBuf {
    dir.join(format!("{sequence:020}.wal"))
}

impl<H: WalHead> WalWriter<H> {
    /// Starts the writer on a new segment `sequence` in `dir`. `sealed_segments` are older
    /// segments (already replayed into `heads`) that the next rotation hands over.
    ///
    /// # Errors
    /// I/O errors creating the segment.
    pub fn start(
        dir: &Path,
        sequence: u64,
        sealed_segments: Vec<PathBuf>,
        heads: Arc<H>,
        max_batch: usize,
    ) -> Result<Self, Error> {
        let file = create_segment(dir, sequence)?;
        let mut state = WriterState {
            dir: dir.to_path_buf(),
            sequence,
            file,
            segment_len: 0,
            sealed_segments,
            heads,
            max_batch: max_batch.max(1),
        };
        let (sender, receiver) = mpsc::channel(APPEND_QUEUE_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("wal-writer".to_string())
            .spawn(move || state.run(receiver))
            .map_err(|source| Error::Io {
                operation: "spawn wal writer",
                path: dir.to_path_buf(),
                source,
            })?;
        Ok(Self {
            sender,
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Appends an encoded frame (see [`super::encode_frame`]) and resolves once it is fsynced
    /// and `entry` is visible in the head.
    ///
    /// # Errors
    /// [`Error::WalClosed`] after shutdown; the write or fsync error otherwise.
    pub async fn append(&self, frame: Vec<u8>, entry: H::Entry) -> Result<(), Error> {
        let (reply, done) = oneshot::channel();
        self.sender
            .send(WalCommand::Append(AppendRequest {
                entry,
                frame,
                reply,
            }))
            .await
            .map_err(|_| Error::WalClosed("writer stopped".to_string()))?;
        done.await
            .map_err(|_| Error::WalClosed("writer stopped before fsync".to_string()))?
    }

    /// Starts a new segment and freezes the head, atomically with respect to appends.
    ///
    /// # Errors
    /// [`Error::WalClosed`] after shutdown; I/O errors creating the new segment.
    pub async fn rotate(&self) -> Result<Rotation<H::Frozen>, Error> {
        let (reply, done) = oneshot::channel();
        self.sender
            .send(WalCommand::Rotate(reply))
            .await
            .map_err(|_| Error::WalClosed("writer stopped".to_string()))?;
        done.await
            .map_err(|_| Error::WalClosed("writer stopped during rotation".to_string()))?
    }

    /// Lets the thread finish the work queued before this call, fsync, and stop.
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.sender.send(WalCommand::Close(reply)).await.is_ok() {
            let _ = done.await;
        }
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
        if let Some(thread) = thread {
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::error!("wal writer thread panicked");
            }
        }
    }
}

impl<H: WalHead> WriterState<H> {
    fn run(&mut self, mut receiver: mpsc::Receiver<WalCommand<H>>) {
        while let Some(command) = receiver.blocking_recv() {
            let mut appends = Vec::new();
            let mut control = None;
            match command {
                WalCommand::Append(request) => appends.push(request),
                other => control = Some(other),
            }
            while control.is_none() && appends.len() < self.max_batch {
                match receiver.try_recv() {
                    Ok(WalCommand::Append(request)) => appends.push(request),
                    Ok(other) => control = Some(other),
                    Err(_) => break,
                }
            }
            if !appends.is_empty() {
                self.commit_group(appends);
            }
            match control {
                Some(WalCommand::Rotate(reply)) => {
                    let _ = reply.send(self.rotate());
                }
                Some(WalCommand::Close(reply)) => {
                    self.final_sync();
                    let _ = reply.send(());
                    return;
                }
                Some(WalCommand::Append(_)) | None => {}
            }
        }
        self.final_sync();
    }

    fn final_sync(&mut self) {
        if let Err(error) = self.file.sync_all() {
            tracing::error!(%error, "final wal fsync failed");
        }
    }

    fn commit_group(&mut self, appends: Vec<AppendRequest<H::Entry>>) {
        let started = Instant::now();
        let bytes: usize = appends.iter().map(|request| request.frame.len()).sum();
        let mut buffer = Vec::with_capacity(bytes);
        for request in &appends {
            buffer.extend_from_slice(&request.frame);
        }
        let path = segment_path(&self.dir, self.sequence);
        let written = self
            .file
            .write_all(&buffer)
            .and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            // Cut the segment back to its last good length so a later append is not written
            // after a torn frame; if even that fails, replay stops at the torn frame.
            if let Err(error) = self.file.set_len(self.segment_len) {
                tracing::error!(%error, path = %path.display(), "could not cut wal segment back after a failed write");
            }
            tracing::warn!(error = %source, appends = appends.len(), "wal group commit failed");
            metrics::counter!("sightline_wal_commit_failures_total").increment(1);
            let message = source.to_string();
            let kind = source.kind();
            for request in appends {
                let error = Error::Io {
                    operation: "append to wal segment",
                    path: path.clone(),
                    source: std::io::Error::new(kind, message.clone()),
                };
                let _ = request.reply.send(Err(error));
            }
            return;
        }
        self.segment_len += bytes as u64;
        metrics::histogram!("sightline_wal_fsync_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::histogram!("sightline_wal_group_commit_appends").record(appends.len() as f64);
        metrics::counter!("sightline_wal_bytes_written_total").increment(bytes as u64);
        let (entries, replies): (Vec<_>, Vec<_>) = appends
            .into_iter()
            .map(|request| (request.entry, request.reply))
            .unzip();
        self.heads.apply(entries);
        for reply in replies {
            let _ = reply.send(Ok(()));
        }
    }

    fn rotate(&mut self) -> Result<Rotation<H::Frozen>, Error> {
        let next = self.sequence + 1;
        let file = create_segment(&self.dir, next)?;
        let old = std::mem::replace(&mut self.file, file);
        drop(old);
        self.sealed_segments
            .push(segment_path(&self.dir, self.sequence));
        self.sequence = next;
        self.segment_len = 0;
        let frozen = self.heads.freeze();
        Ok(Rotation {
            frozen,
            obsolete_segments: std::mem::take(&mut self.sealed_segments),
        })
    }
}

fn create_segment(dir: &Path, sequence: u64) -> Result<File, Error> {
    let path = segment_path(dir, sequence);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|source| Error::Io {
            operation: "create wal segment",
            path: path.clone(),
            source,
        })?;
    // The directory entry must be durable too, or a crash could lose the whole segment.
    File::open(dir)
        .and_then(|directory| directory.sync_all())
        .map_err(|source| Error::Io {
            operation: "fsync wal directory",
            path: dir.to_path_buf(),
            source,
        })?;
    Ok(file)
}
