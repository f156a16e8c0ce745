//! The object store every part goes through: a local directory by default.

use std::path::Path;
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::ObjectStore;

use crate::error::Error;

/// Opens the embedded object store rooted at `{data_dir}/objects`.
///
/// # Errors
/// I/O errors creating the directory.
pub fn local_object_store(data_dir: &Path) -> Result<Arc<dyn ObjectStore>, Error> {
    let root = data_dir.join("objects");
    std::fs::create_dir_all(&root).map_err(|source| Error::Io {
        operation: "create object directory",
        path: root.clone(),
        source,
    })?;
    let store = LocalFileSystem::new_with_prefix(&root)
        .map_err(|source| Error::Object {
            operation: "open",
            path: root.display().to_string(),
            source,
        })?
        .with_automatic_cleanup(true);
    Ok(Arc::new(store))
}
