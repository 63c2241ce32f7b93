//! A GGUF file on disk: memory-mapped once, its header parsed, errors naming the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::gguf::read::{Gguf, GgufError};

/// Why a model file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("cannot open model file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("model file {path} is not a usable GGUF: {source}")]
    Gguf {
        path: PathBuf,
        #[source]
        source: GgufError,
    },
}

/// A memory-mapped GGUF file with its parsed header.
pub struct ModelFile {
    path: PathBuf,
    map: Arc<memmap2::Mmap>,
    /// The parsed header: metadata and tensor directory.
    pub gguf: Gguf,
}

impl ModelFile {
    /// Maps and parses the GGUF file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ModelFileError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| ModelFileError::Io {
            path: path.clone(),
            source,
        };
        let file = std::fs::File::open(&path).map_err(io)?;
        // SAFETY: the map is read-only; opensoc never writes model files in place (fetch and
        // export write a temporary file and rename it), so the bytes do not change under us.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Self::from_map(path, map)
    }

    /// A model file held in memory; `path` only labels errors (for tests and fuzzing).
    pub fn from_bytes(path: impl AsRef<Path>, bytes: &[u8]) -> Result<Self, ModelFileError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| ModelFileError::Io {
            path: path.clone(),
            source,
        };
        // An anonymous map keeps one storage type for weights, whether they came from disk or not.
        let mut map = memmap2::MmapMut::map_anon(bytes.len()).map_err(io)?;
        map.copy_from_slice(bytes);
        let map = map.make_read_only().map_err(io)?;
        Self::from_map(path, map)
    }

    fn from_map(path: PathBuf, map: memmap2::Mmap) -> Result<Self, ModelFileError> {
        let gguf = Gguf::parse(&map).map_err(|source| ModelFileError::Gguf {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            path,
            map: Arc::new(map),
            gguf,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mapping itself, for weights that borrow from it for the model's lifetime.
    pub fn shared_map(&self) -> Arc<memmap2::Mmap> {
        self.map.clone()
    }

    /// The whole file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Wraps a header error so that it names this file.
    pub fn error(&self, source: GgufError) -> ModelFileError {
        ModelFileError::Gguf {
            path: self.path.clone(),
            source,
        }
    }
}
