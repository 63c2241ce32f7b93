//! GGUF v3 writer: metadata of every value kind, the tensor directory and the aligned tensor
//! data, written whole or not at all (a temporary file beside the destination, synced, then
//! renamed).
//!
//! The writer refuses what llama.cpp's reader would reject (nested or mixed arrays, tensor names
//! of 64 bytes or more, rows that are not whole blocks, an alignment that is not a power-of-two
//! `u32`), so every file it writes loads there and in [`crate::gguf::read::Gguf::parse`].

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::gguf::read::{GgmlType, Value, DEFAULT_ALIGNMENT, MAGIC, MAX_DIMS};
use crate::util::atomic_file::write_atomically;

/// Longest tensor name llama.cpp accepts, in bytes (its GGML_MAX_NAME is 64 with the NUL).
pub const MAX_TENSOR_NAME: usize = 63;

/// Why a GGUF file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum GgufWriteError {
    /// The file system refused (the path is the destination).
    #[error("cannot write GGUF file {path}: {source}")]
    Io {
        /// Destination file.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: io::Error,
    },
    /// A metadata value GGUF cannot hold.
    #[error("GGUF metadata key {key:?}: {problem}")]
    Metadata {
        /// The key.
        key: String,
        /// What is wrong with its value.
        problem: String,
    },
    /// A tensor GGUF cannot hold.
    #[error("GGUF tensor {name:?}: {problem}")]
    Tensor {
        /// The tensor's name.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A tensor whose data was produced at write time had the wrong length.
    #[error("GGUF file {path}: tensor {name:?} needs {expected} bytes of data, got {got}")]
    DataSize {
        /// Destination file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// Bytes its shape and type call for.
        expected: u64,
        /// Bytes supplied.
        got: u64,
    },
}

/// One entry of the tensor directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorDecl {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Dimensions in ggml order: `dims[0]` is the row length.
    pub dims: Vec<u64>,
    /// Element type.
    pub ty: GgmlType,
    /// Bytes of data its shape and type call for.
    pub size: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    decl: TensorDecl,
    data: Option<Vec<u8>>,
}

/// A GGUF file being assembled: metadata in insertion order, then tensors in insertion order.
#[derive(Debug, Clone, Default)]
pub struct GgufWriter {
    metadata: Vec<(String, Value)>,
    tensors: Vec<Entry>,
}

impl GgufWriter {
    /// An empty file: no metadata, no tensors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, in place if the key exists (its position is kept), else last.
    pub fn set(&mut self, key: impl Into<String>, value: Value) -> &mut Self {
        let key = key.into();
        match self.metadata.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) => *old = value,
            None => self.metadata.push((key, value)),
        }
        self
    }

    /// Removes `key`, returning its value if it was set.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.metadata.iter().position(|(k, _)| k == key)?;
        Some(self.metadata.remove(i).1)
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The metadata in file order.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.metadata
    }

    /// Adds a tensor with its data (`data` must be exactly the bytes its shape and type need).
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        ty: GgmlType,
        data: Vec<u8>,
    ) -> Result<&mut Self, GgufWriteError> {
        let decl = declaration(name.into(), dims, ty)?;
        if data.len() as u64 != decl.size {
            return Err(GgufWriteError::Tensor {
                problem: format!(
                    "{ty} {dims:?} needs {} bytes of data, got {}",
                    decl.size,
                    data.len()
                ),
                name: decl.name,
            });
        }
        self.push(decl, Some(data))
    }

    /// Adds a tensor whose data [`GgufWriter::write_streamed`] asks for when it gets there, so
    /// that a large model never has to sit in memory whole.
    pub fn declare_tensor(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        ty: GgmlType,
    ) -> Result<&mut Self, GgufWriteError> {
        let decl = declaration(name.into(), dims, ty)?;
        self.push(decl, None)
    }

    fn push(
        &mut self,
        decl: TensorDecl,
        data: Option<Vec<u8>>,
    ) -> Result<&mut Self, GgufWriteError> {
        if self.tensors.iter().any(|e| e.decl.name == decl.name) {
            return Err(GgufWriteError::Tensor {
                name: decl.name,
                problem: "is added twice".into(),
            });
        }
        self.tensors.push(Entry { decl, data });
        Ok(self)
    }

    /// The tensor directory in file order.
    pub fn tensors(&self) -> impl Iterator<Item = &TensorDecl> {
        self.tensors.iter().map(|e| &e.decl)
    }

    /// The file in memory (every tensor must have been added with its data).
    pub fn to_bytes(&self) -> Result<Vec<u8>, GgufWriteError> {
        let mut out = Vec::new();
        let label = Path::new("<memory>");
        self.serialize(&mut out, label, &mut |i, d| self.stored(i, d))?;
        Ok(out)
    }

    /// Writes the file to `path`, whole or not at all (every tensor must have its data).
    pub fn write(&self, path: &Path) -> Result<(), GgufWriteError> {
        self.write_streamed(path, |i, d| self.stored(i, d))
    }

    /// Writes the file to `path`, whole or not at all, calling `produce(index, tensor)` for the
    /// data of each tensor that was declared without it, in file order.
    pub fn write_streamed<E: From<GgufWriteError>>(
        &self,
        path: &Path,
        mut produce: impl FnMut(usize, &TensorDecl) -> Result<Vec<u8>, E>,
    ) -> Result<(), E> {
        // Checked before the temporary file exists, so a bad header costs nothing.
        self.header()?;
        let io_err = |source| E::from(io_error(path, source));
        write_atomically(path, io_err, |w| {
            self.serialize(w, path, &mut |i, d| match &self.tensors[i].data {
                Some(_) => self.stored(i, d).map_err(E::from),
                None => produce(i, d),
            })
        })
    }

    fn stored(&self, i: usize, d: &TensorDecl) -> Result<Vec<u8>, GgufWriteError> {
        self.tensors[i]
            .data
            .clone()
            .ok_or_else(|| GgufWriteError::Tensor {
                name: d.name.clone(),
                problem: "was declared without data and no producer was given".into(),
            })
    }

    /// The alignment of the data section: `general.alignment` if set, else 32.
    fn alignment(&self) -> Result<u64, GgufWriteError> {
        match self.get("general.alignment") {
            None => Ok(DEFAULT_ALIGNMENT),
            // llama.cpp reads the key as a u32 and aborts on any other type.
            Some(Value::U32(a)) if a.is_power_of_two() => Ok(u64::from(*a)),
            Some(v) => Err(GgufWriteError::Metadata {
                key: "general.alignment".into(),
                problem: format!("must be a power-of-two u32, is {v:?}"),
            }),
        }
    }

    /// Header bytes up to and including the padding before the data section, and the data
    /// offset of each tensor.
    fn header(&self) -> Result<(Vec<u8>, Vec<u64>), GgufWriteError> {
        let align = self.alignment()?;
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        b.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            put_str(&mut b, key);
            b.extend_from_slice(&type_id(key, value, false)?.to_le_bytes());
            put_value(&mut b, key, value)?;
        }
        let mut offsets = Vec::with_capacity(self.tensors.len());
        let mut next = 0u64;
        for e in &self.tensors {
            let d = &e.decl;
            put_str(&mut b, &d.name);
            b.extend_from_slice(&(d.dims.len() as u32).to_le_bytes());
            for dim in &d.dims {
                b.extend_from_slice(&dim.to_le_bytes());
            }
            b.extend_from_slice(&d.ty.id().to_le_bytes());
            b.extend_from_slice(&next.to_le_bytes());
            offsets.push(next);
            next += d.size.next_multiple_of(align);
        }
        pad(&mut b, align);
        Ok((b, offsets))
    }

    fn serialize<W: Write, E: From<GgufWriteError>>(
        &self,
        w: &mut W,
        path: &Path,
        data: &mut Producer<'_, E>,
    ) -> Result<(), E> {
        let io = |source| E::from(io_error(path, source));
        let align = self.alignment()?;
        let (header, _) = self.header()?;
        w.write_all(&header).map_err(io)?;
        for (i, e) in self.tensors.iter().enumerate() {
            let d = &e.decl;
            let bytes = data(i, d)?;
            if bytes.len() as u64 != d.size {
                return Err(E::from(GgufWriteError::DataSize {
                    path: path.to_path_buf(),
                    name: d.name.clone(),
                    expected: d.size,
                    got: bytes.len() as u64,
                }));
            }
            w.write_all(&bytes).map_err(io)?;
            // Every tensor, the last included, is padded to the alignment, as llama.cpp does.
            let padding = d.size.next_multiple_of(align) - d.size;
            w.write_all(&vec![0u8; padding as usize]).map_err(io)?;
        }
        Ok(())
    }
}

/// Supplies the data of tensor `index` at write time.
type Producer<'a, E> = dyn FnMut(usize, &TensorDecl) -> Result<Vec<u8>, E> + 'a;

fn io_error(path: &Path, source: io::Error) -> GgufWriteError {
    GgufWriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks a tensor's name, shape and type, and sizes its data.
fn declaration(name: String, dims: &[u64], ty: GgmlType) -> Result<TensorDecl, GgufWriteError> {
    let bad = |problem: String| GgufWriteError::Tensor {
        name: name.clone(),
        problem,
    };
    if name.is_empty() || name.len() > MAX_TENSOR_NAME {
        return Err(bad(format!(
            "a name must have 1 to {MAX_TENSOR_NAME} bytes, this one has {}",
            name.len()
        )));
    }
    if dims.is_empty() || dims.len() > MAX_DIMS || dims.contains(&0) {
        return Err(bad(format!(
            "shape {dims:?} needs 1 to {MAX_DIMS} non-zero dimensions"
        )));
    }
    let elements = dims
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .filter(|&e| e <= 1 << 40)
        .ok_or_else(|| bad(format!("shape {dims:?} is absurdly large")))?;
    let block = ty.block_elements();
    if !dims[0].is_multiple_of(block) {
        return Err(bad(format!(
            "rows of {} elements are not whole {ty} blocks of {block}",
            dims[0]
        )));
    }
    Ok(TensorDecl {
        size: elements / block * ty.block_bytes(),
        dims: dims.to_vec(),
        ty,
        name,
    })
}

fn pad(b: &mut Vec<u8>, align: u64) {
    let len = (b.len() as u64).next_multiple_of(align);
    b.resize(len as usize, 0);
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(&(s.len() as u64).to_le_bytes());
    b.extend_from_slice(s.as_bytes());
}

/// GGUF's type id of `value`; arrays must be flat and of one element type.
fn type_id(key: &str, value: &Value, in_array: bool) -> Result<u32, GgufWriteError> {
    Ok(match value {
        Value::U8(_) => 0,
        Value::I8(_) => 1,
        Value::U16(_) => 2,
        Value::I16(_) => 3,
        Value::U32(_) => 4,
        Value::I32(_) => 5,
        Value::F32(_) => 6,
        Value::Bool(_) => 7,
        Value::String(_) => 8,
        Value::Array(_) if in_array => {
            return Err(GgufWriteError::Metadata {
                key: key.into(),
                problem: "nested arrays are not supported".into(),
            })
        }
        Value::Array(_) => 9,
        Value::U64(_) => 10,
        Value::I64(_) => 11,
        Value::F64(_) => 12,
    })
}

fn put_value(b: &mut Vec<u8>, key: &str, value: &Value) -> Result<(), GgufWriteError> {
    match value {
        Value::U8(v) => b.push(*v),
        Value::I8(v) => b.extend_from_slice(&v.to_le_bytes()),
        Value::U16(v) => b.extend_from_slice(&v.to_le_bytes()),
        Value::I16(v) => b.extend_from_slice(&v.to_le_bytes()),
        Value::U32(v) => b.extend_from_slice(&v.to_le_bytes()),
        Value::I32(v) => b.extend_from_slice(&v.to_le_bytes()),
        Value::F32(v) => b.extend_from_slice(&v.to_le_bytes()),
        Value::Bool(v) => b.push(u8::from(*v)),
        Value::String(s) => put_str(b, s),
        Value::U64(v) => b.extend_from_slice(&v.to_le_bytes()),
        Value::I64(v) => b.extend_from_slice(&v.to_le_bytes()),
        Value::F64(v) => b.extend_from_slice(&v.to_le_bytes()),
        Value::Array(items) => {
            // An empty array has no element to take a type from; strings are what the
            // tokenizer's arrays (the usual place for one) hold.
            let elem = match items.first() {
                Some(first) => type_id(key, first, true)?,
                None => 8,
            };
            b.extend_from_slice(&elem.to_le_bytes());
            b.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                if type_id(key, item, true)? != elem {
                    return Err(GgufWriteError::Metadata {
                        key: key.into(),
                        problem: "array elements must all have one type".into(),
                    });
                }
                put_value(b, key, item)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::read::Gguf;

    fn strings(v: &[&str]) -> Value {
        Value::Array(v.iter().map(|s| Value::String(s.to_string())).collect())
    }

    /// Every value kind, arrays of strings and numbers, and tensors of several types.
    fn sample() -> GgufWriter {
        let mut w = GgufWriter::new();
        w.set("general.architecture", Value::String("llama".into()))
            .set("k.u8", Value::U8(200))
            .set("k.i8", Value::I8(-100))
            .set("k.u16", Value::U16(60_000))
            .set("k.i16", Value::I16(-30_000))
            .set("k.u32", Value::U32(4_000_000_000))
            .set("k.i32", Value::I32(-2_000_000_000))
            .set("k.u64", Value::U64(1 << 40))
            .set("k.i64", Value::I64(-(1 << 40)))
            .set("k.f32", Value::F32(0.25))
            .set("k.f64", Value::F64(-1.5e300))
            .set("k.bool", Value::Bool(true))
            .set("k.empty_string", Value::String(String::new()))
            .set(
                "tokenizer.ggml.tokens",
                strings(&["<s>", "a", "ü", "\u{120}b"]),
            )
            .set(
                "k.i32s",
                Value::Array(vec![Value::I32(1), Value::I32(-2), Value::I32(3)]),
            )
            .set(
                "k.f32s",
                Value::Array(vec![Value::F32(0.5), Value::F32(-1.0)]),
            );
        let f32s: Vec<u8> = (0..12).flat_map(|i| (i as f32).to_le_bytes()).collect();
        w.add_tensor("a", &[4, 3], GgmlType::F32, f32s).unwrap();
        w.add_tensor("b", &[32, 2], GgmlType::Q8_0, vec![7; 68])
            .unwrap();
        w.add_tensor("c", &[5], GgmlType::F16, vec![1; 10]).unwrap();
        w
    }

    #[test]
    fn round_trips_through_our_reader() {
        let w = sample();
        let bytes = w.to_bytes().unwrap();
        let g = Gguf::parse(&bytes).unwrap();
        assert_eq!(g.version, 3);
        assert_eq!(g.alignment, 32);
        assert_eq!(g.metadata.len(), w.metadata().len());
        for (k, v) in w.metadata() {
            assert_eq!(g.get(k), Some(v), "{k}");
        }
        let names: Vec<_> = g.tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let a = g.tensor("a").unwrap();
        assert_eq!((a.dims.as_slice(), a.ty), (&[4u64, 3][..], GgmlType::F32));
        assert_eq!(&g.tensor_data(&bytes, a)[8..12], &2f32.to_le_bytes());
        assert_eq!(g.tensor_data(&bytes, g.tensor("b").unwrap()), &[7; 68]);
        assert_eq!(g.tensor_data(&bytes, g.tensor("c").unwrap()), &[1; 10]);
        assert!(g.tensors.iter().all(|t| t.offset % 32 == 0));
        assert_eq!(bytes.len() % 32, 0, "the last tensor is padded too");
    }

    #[test]
    fn round_trips_through_gguf_rs_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sample.gguf");
        let mut w = sample();
        w.set("general.alignment", Value::U32(64));
        w.write(&path).unwrap();
        let ours = Gguf::parse(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(ours.alignment, 64);
        let theirs = gguf_rs::get_gguf_container_array_size(path.to_str().unwrap(), u64::MAX)
            .and_then(|mut c| c.decode())
            .expect("gguf-rs reads our file");
        assert_eq!(theirs.alignment(), 64);
        assert_eq!(theirs.data_offset(), ours.data_offset);
        assert_eq!(theirs.tensors().len(), 3);
        for (a, b) in ours.tensors.iter().zip(theirs.tensors()) {
            assert_eq!(
                (&a.name, &a.dims, a.ty.id(), a.offset, a.size),
                (&b.name, &b.shape, b.kind, b.offset, b.size)
            );
        }
        let kv = theirs.metadata();
        assert_eq!(kv.len(), w.metadata().len());
        assert_eq!(kv["general.architecture"], "llama");
        assert_eq!(kv["k.u8"], 200);
        assert_eq!(kv["k.i8"], -100);
        assert_eq!(kv["k.u16"], 60_000);
        assert_eq!(kv["k.i16"], -30_000);
        assert_eq!(kv["k.u32"], 4_000_000_000u64);
        assert_eq!(kv["k.i32"], -2_000_000_000);
        assert_eq!(kv["k.u64"], 1u64 << 40);
        assert_eq!(kv["k.i64"], -(1i64 << 40));
        assert_eq!(kv["k.f32"], 0.25);
        assert_eq!(kv["k.f64"], -1.5e300);
        assert_eq!(kv["k.bool"], true);
        assert_eq!(kv["k.empty_string"], "");
        assert_eq!(
            kv["tokenizer.ggml.tokens"],
            serde_json::json!(["<s>", "a", "ü", "\u{120}b"])
        );
        assert_eq!(kv["k.i32s"], serde_json::json!([1, -2, 3]));
        assert_eq!(kv["k.f32s"], serde_json::json!([0.5, -1.0]));
    }

    #[test]
    fn streamed_data_lands_where_declared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.gguf");
        let mut w = GgufWriter::new();
        w.declare_tensor("x", &[32], GgmlType::Q4_0).unwrap();
        w.add_tensor("y", &[2], GgmlType::F32, vec![0; 8]).unwrap();
        w.declare_tensor("z", &[3], GgmlType::F16).unwrap();
        let mut asked = Vec::new();
        w.write_streamed(&path, |i, d| {
            asked.push(i);
            Ok::<_, GgufWriteError>(vec![i as u8 + 1; d.size as usize])
        })
        .unwrap();
        assert_eq!(asked, [0, 2]);
        let bytes = std::fs::read(&path).unwrap();
        let g = Gguf::parse(&bytes).unwrap();
        assert_eq!(g.tensor_data(&bytes, g.tensor("x").unwrap()), &[1; 18]);
        assert_eq!(g.tensor_data(&bytes, g.tensor("z").unwrap()), &[3; 6]);
        // Without a producer, declared tensors are an error and nothing is written.
        let err = w.write(&dir.path().join("t.gguf")).unwrap_err();
        assert!(err.to_string().contains("\"x\""), "{err}");
        assert!(!dir.path().join("t.gguf").exists());
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        std::fs::write(&path, b"previous").unwrap();
        let mut w = GgufWriter::new();
        w.declare_tensor("x", &[4], GgmlType::F32).unwrap();
        let err = w
            .write_streamed(&path, |_, _| Ok::<_, GgufWriteError>(vec![0; 3]))
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("m.gguf") && msg.contains("needs 16 bytes"),
            "{msg}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"previous");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let err = w.write(&dir.path().join("missing/dir/m.gguf")).unwrap_err();
        assert!(err.to_string().contains("missing/dir/m.gguf"), "{err}");
    }

    #[test]
    fn refuses_what_llama_cpp_would_reject() {
        let mut w = GgufWriter::new();
        let long = "x".repeat(64);
        for (name, dims, ty) in [
            (long.as_str(), &[4u64][..], GgmlType::F32),
            ("", &[4][..], GgmlType::F32),
            ("q", &[48, 2][..], GgmlType::Q8_0),
            ("zero", &[4, 0][..], GgmlType::F32),
            ("five", &[1, 1, 1, 1, 1][..], GgmlType::F32),
        ] {
            assert!(w.declare_tensor(name, dims, ty).is_err(), "{name}");
        }
        assert!(w
            .add_tensor("short", &[4], GgmlType::F32, vec![0; 15])
            .is_err());
        w.declare_tensor("t", &[4], GgmlType::F32).unwrap();
        let err = w.declare_tensor("t", &[4], GgmlType::F32).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");

        let mut w = GgufWriter::new();
        w.set("general.alignment", Value::U32(24));
        assert!(w
            .to_bytes()
            .unwrap_err()
            .to_string()
            .contains("power-of-two"));
        w.set("general.alignment", Value::U64(32));
        assert!(w.to_bytes().is_err());
        let mut w = GgufWriter::new();
        w.set("nested", Value::Array(vec![Value::Array(vec![])]));
        assert!(w.to_bytes().unwrap_err().to_string().contains("nested"));
        let mut w = GgufWriter::new();
        w.set("mixed", Value::Array(vec![Value::U32(1), Value::I32(1)]));
        assert!(w.to_bytes().unwrap_err().to_string().contains("one type"));
    }

    #[test]
    fn set_replaces_in_place_and_remove_removes() {
        let mut w = GgufWriter::new();
        w.set("a", Value::U32(1))
            .set("b", Value::U32(2))
            .set("a", Value::U32(3));
        let keys: Vec<_> = w.metadata().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(w.get("a"), Some(&Value::U32(3)));
        assert_eq!(w.remove("a"), Some(Value::U32(3)));
        assert_eq!(w.remove("a"), None);
        let g = Gguf::parse(&w.to_bytes().unwrap()).unwrap();
        assert_eq!(g.metadata.len(), 1);
    }
}
