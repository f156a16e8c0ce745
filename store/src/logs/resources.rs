//! A day index's resource table: every distinct resource its records came from, numbered in
//! order of first appearance and kept once in `resources.wal` in the index directory (frames
//! as the WAL writes them, one [`Resource`] each). A record's document holds its resource's
//! number (`resource_id`) instead of the resource's attributes, so a record is indexed and
//! stored without the ten or so attributes it shares with every record of its service
//! instance; a search on a resource attribute evaluates it on the table and asks the index for
//! the matching numbers.
//!
//! Durability: a resource is appended when a record first refers to it, and the file is
//! fsynced before the index commit holding such a record ([`ResourceTable::sync`]), so every
//! committed record's resource is in the table. A torn tail (a crash between append and
//! fsync) is cut off when the table is opened: only uncommitted records referred to it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sightline_model::{Resource, TenantId};

use crate::error::Error;
use crate::wal::{self, WalRecord};

/// The table's file name in the index directory.
pub const RESOURCES_FILE: &str = "resources.wal";

/// The resources of one day index.
pub struct ResourceTable {
    path: PathBuf,
    tenant: TenantId,
    state: Mutex<TableState>,
}

#[derive(Default)]
struct TableState {
    /// Resources by number.
    resources: Vec<Arc<Resource>>,
    /// Numbers by encoded resource.
    numbers: HashMap<Vec<u8>, u64>,
    /// The file, once opened for appending.
    file: Option<File>,
    /// Bytes of whole frames in the file.
    len: u64,
    /// An append failed and the file may end in part of its frame: it is cut back to `len`
    /// before anything else is appended.
    torn: bool,
    /// Appends not fsynced yet.
    unsynced: bool,
    /// The file was created and its directory entry is not fsynced yet.
    created: bool,
}

impl ResourceTable {
    /// Opens the table of the index in `dir` (empty if it has none), cutting off a torn tail.
    ///
    /// # Errors
    /// I/O failures reading or truncating the file.
    pub fn open(dir: &Path, tenant: &TenantId) -> Result<Self, Error> {
        let path = dir.join(RESOURCES_FILE);
        let mut state = TableState::default();
        if path.is_file() {
            let segment = wal::read_segment::<Resource>(&path)?;
            if let Some(damage) = &segment.damage {
                tracing::warn!(table = %path.display(), damage, valid_bytes = segment.valid_bytes, "log resource table ends in a damaged record; cutting it off (only uncommitted records referred to it)");
                let file = OpenOptions::new().write(true).open(&path).and_then(|file| {
                    file.set_len(segment.valid_bytes)?;
                    file.sync_all()
                });
                file.map_err(|source| Error::Io {
                    operation: "truncate log resource table",
                    path: path.clone(),
                    source,
                })?;
            }
            state.len = segment.valid_bytes;
            for (record, _) in segment.records {
                let key = postcard::to_allocvec(&record.batch).map_err(|error| Error::Io {
                    operation: "read log resource table",
                    path: path.clone(),
                    source: std::io::Error::other(error.to_string()),
                })?;
                state.insert(key, record.batch);
            }
        }
        Ok(Self {
            path,
            tenant: tenant.clone(),
            state: Mutex::new(state),
        })
    }

    /// The number of a resource, appended to the table (not yet fsynced) if it is new.
    ///
    /// # Errors
    /// I/O failures appending to the file.
    pub fn number_of(&self, resource: &Resource) -> Result<u64, Error> {
        let key = postcard::to_allocvec(resource).map_err(|error| self.error("encode", error))?;
        let mut guard = self.lock();
        let state = &mut *guard;
        if let Some(&number) = state.numbers.get(&key) {
            return Ok(number);
        }
        let frame = wal::encode_frame(&WalRecord {
            tenant: self.tenant.clone(),
            batch: resource,
        })
        .map_err(|error| self.error("encode", error))?;
        let file = match &mut state.file {
            Some(file) => file,
            None => {
                let created = !self.path.exists();
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .map_err(|error| self.error("open", error))?;
                state.created |= created;
                state.file.insert(file)
            }
        };
        // A frame after a partial one would be cut off on open, and with it the numbers
        // committed records name: cut the partial frame first.
        if state.torn {
            file.set_len(state.len)
                .map_err(|error| self.error("cut a partial frame from", error))?;
            state.torn = false;
        }
        if let Err(error) = file.write_all(&frame) {
            state.torn = true;
            return Err(self.error("append to", error));
        }
        state.len += frame.len() as u64;
        state.unsynced = true;
        Ok(state.insert(key, Resource::clone(resource)))
    }

    /// Makes every appended resource durable (before a commit that refers to them).
    ///
    /// # Errors
    /// I/O failures syncing the file or its directory.
    pub fn sync(&self) -> Result<(), Error> {
        let mut state = self.lock();
        if !state.unsynced {
            return Ok(());
        }
        if let Some(file) = &state.file {
            file.sync_data()
                .map_err(|error| self.error("sync", error))?;
        }
        if state.created {
            if let Some(dir) = self.path.parent() {
                File::open(dir)
                    .and_then(|dir| dir.sync_all())
                    .map_err(|error| self.error("sync the directory of", error))?;
            }
            state.created = false;
        }
        state.unsynced = false;
        Ok(())
    }

    /// The resource numbered `number`.
    pub fn get(&self, number: u64) -> Option<Arc<Resource>> {
        let index = usize::try_from(number).ok()?;
        self.lock().resources.get(index).cloned()
    }

    /// The numbers of the resources `predicate` accepts, ascending.
    pub fn matching(&self, predicate: &mut dyn FnMut(&Resource) -> bool) -> Vec<u64> {
        self.lock()
            .resources
            .iter()
            .enumerate()
            .filter(|(_, resource)| predicate(resource))
            .map(|(number, _)| number as u64)
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TableState> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn error(&self, what: &str, error: impl std::fmt::Display) -> Error {
        Error::Io {
            operation: "write log resource table",
            path: self.path.clone(),
            source: std::io::Error::other(format!("{what}: {error}")),
        }
    }
}

impl TableState {
    fn insert(&mut self, key: Vec<u8>, resource: Resource) -> u64 {
        let number = self.resources.len() as u64;
        self.resources.push(Arc::new(resource));
        // A duplicate in the file (never written so, but harmless) keeps its first number.
        self.numbers.entry(key).or_insert(number);
        number
    }
}
