//! The database thread: one SQLite connection, group commit and the pipelined fsync (see the
//! [`super`] module docs), and the [`QueueSignal`] it marks once deliveries are on disk.

use std::collections::HashSet;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::{Notify, oneshot};

use super::error::StoreError;
use super::sql::{self, Filled};

/// The queues that got new deliveries, shared by the store (which marks them after each commit)
/// and the delivery worker (which takes them when notified).
#[derive(Debug, Default)]
pub struct QueueSignal {
    dirty: Mutex<HashSet<i64>>,
    /// The earliest lease end set since the worker last looked (it sweeps expired leases).
    lease_end: Mutex<Option<i64>>,
    notify: Notify,
}

impl QueueSignal {
    /// Tells the worker that a lease ending at `end_ms` (Unix ms) was granted, so it sweeps
    /// then, and wakes it.
    pub fn lease_granted(&self, end_ms: i64) {
        let mut earliest = lock(&self.lease_end);
        *earliest = Some(earliest.map_or(end_ms, |e| e.min(end_ms)));
        drop(earliest);
        self.notify.notify_one();
    }

    /// Takes the earliest lease end granted since the last call, if any.
    pub fn take_lease_end(&self) -> Option<i64> {
        lock(&self.lease_end).take()
    }

    /// Marks queues as having new deliveries and wakes the waiter.
    pub fn mark(&self, queues: impl IntoIterator<Item = i64>) {
        lock(&self.dirty).extend(queues);
        self.notify.notify_one();
    }

    /// Takes the marked queues, leaving none marked.
    pub fn take(&self) -> HashSet<i64> {
        std::mem::take(&mut *lock(&self.dirty))
    }

    /// Resolves after the next [`QueueSignal::mark`] (or at once if one happened since the last
    /// wait: the wake-up is never lost).
    pub async fn notified(&self) {
        self.notify.notified().await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned set only means a holder panicked mid-update; the set itself stays usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

type Finisher = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Work = Box<dyn FnOnce(&Connection, &mut Filled) -> Finisher + Send>;

/// One unit of work for the database thread.
struct Job {
    /// Whether its writes must reach the disk before it is answered (see [`run_thread`]).
    durable: bool,
    work: Work,
}

/// The most jobs one transaction takes.
const MAX_BATCH: usize = 512;

/// A boxed future, so the [`super::nodes::Nodes`] trait can be used as `dyn Nodes`.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A handle on the database thread; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Db {
    jobs: mpsc::Sender<Job>,
    /// Set when a write failed for lack of disk space, cleared by the next durable job that
    /// succeeds.
    disk_full: Arc<AtomicBool>,
}

impl Db {
    /// Opens the database at `path` (see [`sql::open`]) and starts its threads. After each
    /// commit that queued deliveries, the queues concerned are marked in `signal`.
    pub(crate) fn open(path: &Path, signal: Option<Arc<QueueSignal>>) -> Result<Self, StoreError> {
        let conn = sql::open(path)?;
        let wal = open_wal(path)?;
        // A full disk does not stop the start: reads are served, writes refused until there
        // is space again.
        let disk_full = match sql::probe_write(&conn) {
            Ok(()) => false,
            Err(StoreError::DiskFull) => {
                tracing::error!(
                    "the disk holding the database is full: serving reads, refusing writes until there is space"
                );
                true
            }
            Err(e) => return Err(e),
        };
        let (jobs, rx) = mpsc::channel::<Job>();
        let (synced, to_sync) = mpsc::channel::<Committed>();
        let thread_error =
            |e: std::io::Error| StoreError::Database(format!("cannot start the store thread: {e}"));
        std::thread::Builder::new()
            .name("wikisync-sync".to_owned())
            .spawn(move || sync_thread(&wal, &to_sync, signal.as_deref()))
            .map_err(thread_error)?;
        std::thread::Builder::new()
            .name("wikisync-store".to_owned())
            .spawn(move || run_thread(&conn, &rx, &synced))
            .map_err(thread_error)?;
        Ok(Self {
            jobs,
            disk_full: Arc::new(AtomicBool::new(disk_full)),
        })
    }

    /// Whether the last write failed because the disk is full (and none has succeeded since).
    pub(crate) fn disk_full(&self) -> bool {
        self.disk_full.load(Ordering::Relaxed)
    }

    /// Runs `f` on the database thread inside a savepoint of the current batch; resolves after
    /// the batch committed and its WAL frames were synced to disk.
    pub(crate) fn call<T, F>(&self, f: F) -> BoxFuture<'static, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Filled) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(true, f)
    }

    /// Like [`Self::call`] for work whose writes may be lost in a power failure without breaking
    /// a guarantee (delivery acknowledgements: a lost one only means a repeated delivery, which
    /// at-least-once allows) and for reads. It still commits in order before resolving.
    pub(crate) fn call_lazy<T, F>(&self, f: F) -> BoxFuture<'static, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(false, move |conn, _| f(conn))
    }

    fn submit<T, F>(&self, durable: bool, f: F) -> BoxFuture<'static, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Filled) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let disk_full = self.disk_full.clone();
        let job = Job {
            durable,
            work: Box::new(move |conn, filled| {
                let result = sql::in_savepoint(conn, filled, f);
                Box::new(move |committed| {
                    let outcome = committed.and(result);
                    match &outcome {
                        Err(StoreError::DiskFull) => disk_full.store(true, Ordering::Relaxed),
                        Ok(_) if durable => disk_full.store(false, Ordering::Relaxed),
                        _ => {}
                    }
                    let _ = reply.send(outcome);
                })
            }),
        };
        let sent = self.jobs.send(job).map_err(|_| StoreError::Unavailable);
        Box::pin(async move {
            sent?;
            answer.await.map_err(|_| StoreError::Unavailable)?
        })
    }
}

/// A committed (or failed) batch on its way to the sync thread.
struct Committed {
    /// Whether a job of the batch must be on disk before it is answered.
    durable: bool,
    /// The outcome of the batch's `COMMIT`.
    result: Result<(), StoreError>,
    /// Answers the batch's callers.
    finishers: Vec<Finisher>,
    /// Queues that got deliveries in the batch.
    filled: Filled,
}

/// Opens the database's write-ahead log (`<path>-wal`) for the sync thread, and syncs the
/// directory once so the log's directory entry is durable too.
fn open_wal(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    let wal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&name)
        .map_err(|e| StoreError::io("cannot open the write-ahead log", &e))?;
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io("cannot sync the data directory", &e))?;
    }
    Ok(wal)
}

/// The database thread: one transaction per batch of waiting jobs (group commit), handed to the
/// sync thread once committed, without waiting for the disk.
fn run_thread(conn: &Connection, rx: &mpsc::Receiver<Job>, synced: &mpsc::Sender<Committed>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let durable = batch.iter().any(|job| job.durable);
        let mut filled = Filled::default();
        let begun = conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(StoreError::from);
        let mut finishers = Vec::with_capacity(batch.len());
        if begun.is_ok() {
            for job in batch {
                finishers.push((job.work)(conn, &mut filled));
            }
        }
        let result = begun.and_then(|()| {
            conn.execute_batch("COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                StoreError::from(e)
            })
        });
        if let Err(e) = &result {
            tracing::error!(error = %e, "store transaction failed");
        }
        let committed = Committed {
            durable,
            result,
            finishers,
            filled,
        };
        if synced.send(committed).is_err() {
            tracing::error!("the sync thread has stopped; the store stops");
            return;
        }
    }
}

/// The sync thread: takes every committed batch waiting, syncs the WAL once if one of them needs
/// it, then answers them in commit order and marks the queues they filled.
fn sync_thread(wal: &std::fs::File, rx: &mpsc::Receiver<Committed>, signal: Option<&QueueSignal>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while let Ok(next) = rx.try_recv() {
            group.push(next);
        }
        let synced = if group.iter().any(|c| c.durable && c.result.is_ok()) {
            wal.sync_data().map_err(|e| {
                tracing::error!(error = %e, "cannot sync the write-ahead log");
                StoreError::io("cannot sync the write-ahead log", &e)
            })
        } else {
            Ok(())
        };
        for batch in group {
            let outcome = batch.result.and_then(|()| {
                if batch.durable {
                    synced.clone()
                } else {
                    Ok(())
                }
            });
            let ok = outcome.is_ok();
            for finish in batch.finishers {
                finish(outcome.clone());
            }
            if ok
                && !batch.filled.is_empty()
                && let Some(signal) = signal
            {
                signal.mark(batch.filled.into_queues());
            }
        }
    }
}
