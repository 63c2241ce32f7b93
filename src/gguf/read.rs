//! GGUF reader: header, metadata and tensor directory, bounds-checked against the file's bytes.
//!
//! The reader never trusts a count or a size from the file: every length is checked against the
//! bytes that remain before anything is allocated, so a corrupt or hostile file yields a
//! [`GgufError`] rather than a panic, a huge allocation or a read out of bounds.

use std::collections::BTreeMap;
use std::fmt;

/// The four bytes every GGUF file starts with ("GGUF", little-endian u32 0x46554747).
pub const MAGIC: [u8; 4] = *b"GGUF";
/// Alignment of the tensor data section when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Most dimensions a tensor may have (ggml's GGML_MAX_DIMS).
pub const MAX_DIMS: usize = 4;

/// What can be wrong with a GGUF file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GgufError {
    #[error("not a GGUF file: the magic is {0:02x?}, expected \"GGUF\"")]
    BadMagic([u8; 4]),
    #[error("unsupported GGUF version {0} (versions 2 and 3 are supported)")]
    UnsupportedVersion(u32),
    #[error("file is truncated: {what} needs {needed} bytes at offset {offset}, but the file ends at {len}")]
    Truncated {
        what: String,
        offset: u64,
        needed: u64,
        len: u64,
    },
    #[error("metadata value of key {key:?} has unknown type {ty}")]
    UnknownValueType { key: String, ty: u32 },
    #[error("metadata string at offset {offset} is not valid UTF-8")]
    BadUtf8 { offset: u64 },
    #[error("nested metadata arrays are not supported (key {0:?})")]
    NestedArray(String),
    #[error("tensor {name:?} has {n_dims} dimensions; at most {MAX_DIMS} are allowed")]
    TooManyDims { name: String, n_dims: u32 },
    #[error("tensor {name:?} has an absurd shape {dims:?}")]
    BadShape { name: String, dims: Vec<u64> },
    #[error("tensor {name:?} has unknown ggml type {ty}")]
    UnknownTensorType { name: String, ty: u32 },
    #[error(
        "tensor {name:?} has {elements} elements, not a multiple of its type's block size {block}"
    )]
    NotBlockAligned {
        name: String,
        elements: u64,
        block: u64,
    },
    #[error(
        "tensor {name:?} data [{start}, {end}) lies outside the data section of {data_len} bytes"
    )]
    DataOutOfBounds {
        name: String,
        start: u64,
        end: u64,
        data_len: u64,
    },
    #[error("tensor {name:?} data offset {offset} is not aligned to {alignment}")]
    Misaligned {
        name: String,
        offset: u64,
        alignment: u64,
    },
    #[error("tensor {0:?} is listed twice")]
    DuplicateTensor(String),
    #[error("general.alignment {0} is not a power of two")]
    BadAlignment(u64),
    #[error("metadata key {key:?}: {problem}")]
    Metadata { key: String, problem: String },
}

/// The ggml tensor types opensoc knows, with their block geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
    BF16,
}

impl GgmlType {
    /// Maps ggml's numeric type id to a type, `None` for types opensoc does not know.
    pub fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::F16,
            2 => Self::Q4_0,
            3 => Self::Q4_1,
            6 => Self::Q5_0,
            7 => Self::Q5_1,
            8 => Self::Q8_0,
            9 => Self::Q8_1,
            10 => Self::Q2_K,
            11 => Self::Q3_K,
            12 => Self::Q4_K,
            13 => Self::Q5_K,
            14 => Self::Q6_K,
            15 => Self::Q8_K,
            30 => Self::BF16,
            _ => return None,
        })
    }

    /// ggml's numeric id of this type.
    pub fn id(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q4_0 => 2,
            Self::Q4_1 => 3,
            Self::Q5_0 => 6,
            Self::Q5_1 => 7,
            Self::Q8_0 => 8,
            Self::Q8_1 => 9,
            Self::Q2_K => 10,
            Self::Q3_K => 11,
            Self::Q4_K => 12,
            Self::Q5_K => 13,
            Self::Q6_K => 14,
            Self::Q8_K => 15,
            Self::BF16 => 30,
        }
    }

    /// Elements per block.
    pub fn block_elements(self) -> u64 {
        match self {
            Self::F32 | Self::F16 | Self::BF16 => 1,
            Self::Q4_0 | Self::Q4_1 | Self::Q5_0 | Self::Q5_1 | Self::Q8_0 | Self::Q8_1 => 32,
            Self::Q2_K | Self::Q3_K | Self::Q4_K | Self::Q5_K | Self::Q6_K | Self::Q8_K => 256,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> u64 {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::BF16 => 2,
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q5_0 => 22,
            Self::Q5_1 => 24,
            Self::Q8_0 => 34,
            Self::Q8_1 => 36,
            Self::Q2_K => 84,
            Self::Q3_K => 110,
            Self::Q4_K => 144,
            Self::Q5_K => 176,
            Self::Q6_K => 210,
            Self::Q8_K => 292,
        }
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// One metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(Vec<Value>),
}

impl Value {
    /// The value as an unsigned integer, if it is a non-negative integer of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            Self::I8(v) => u64::try_from(v).ok(),
            Self::I16(v) => u64::try_from(v).ok(),
            Self::I32(v) => u64::try_from(v).ok(),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a float, if it is any number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::F32(v) => Some(v.into()),
            Self::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64).or(match *self {
                Self::I8(v) => Some(v.into()),
                Self::I16(v) => Some(v.into()),
                Self::I32(v) => Some(v.into()),
                Self::I64(v) => Some(v as f64),
                _ => None,
            }),
        }
    }

    /// The value as a string slice, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an array, if it is one.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Self::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The value as a boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Self::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// A short human rendering (arrays are summarised by length).
    pub fn summary(&self) -> String {
        match self {
            Self::String(s) if s.len() > 80 => {
                format!("{:?}… ({} bytes)", &s[..s.floor_char_boundary(80)], s.len())
            }
            Self::String(s) => format!("{s:?}"),
            Self::Array(a) => format!("[{} values]", a.len()),
            Self::F32(v) => v.to_string(),
            Self::F64(v) => v.to_string(),
            Self::Bool(v) => v.to_string(),
            other => other
                .as_u64()
                .map(|v| v.to_string())
                .unwrap_or_else(|| format!("{other:?}")),
        }
    }
}

/// Where one tensor lives in the file and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Dimensions in ggml order: `dims[0]` is the contiguous (row) length.
    pub dims: Vec<u64>,
    /// Element type.
    pub ty: GgmlType,
    /// Byte offset of the data, relative to the data section.
    pub offset: u64,
    /// Byte length of the data.
    pub size: u64,
}

impl TensorInfo {
    /// Number of elements.
    pub fn elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// Shape in row-major order (outermost first), as candle and PyTorch write it.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }
}

/// A parsed GGUF header: version, metadata, tensor directory and where the data section starts.
#[derive(Debug, Clone)]
pub struct Gguf {
    /// Format version (2 or 3).
    pub version: u32,
    /// Metadata key-value pairs.
    pub metadata: BTreeMap<String, Value>,
    /// Tensors in file order.
    pub tensors: Vec<TensorInfo>,
    /// Absolute byte offset of the data section.
    pub data_offset: u64,
    /// Alignment of tensor data.
    pub alignment: u64,
}

/// A cursor over the file's bytes that checks every read.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], GgufError> {
        let remaining = (self.bytes.len() - self.pos) as u64;
        if n > remaining {
            return Err(GgufError::Truncated {
                what: what.to_string(),
                offset: self.pos as u64,
                needed: n,
                len: self.bytes.len() as u64,
            });
        }
        let n = n as usize;
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let b = self.take(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let len = self.u64(what)?;
        let start = self.pos as u64;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| GgufError::BadUtf8 { offset: start })
    }

    fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    /// Fails unless `count` items of at least `min_size` bytes each can still fit in the file.
    fn check_count(&self, count: u64, min_size: u64, what: &str) -> Result<(), GgufError> {
        let needed = count.saturating_mul(min_size);
        if needed > self.remaining() {
            return Err(GgufError::Truncated {
                what: what.to_string(),
                offset: self.pos as u64,
                needed,
                len: self.bytes.len() as u64,
            });
        }
        Ok(())
    }

    fn value(&mut self, key: &str, ty: u32, in_array: bool) -> Result<Value, GgufError> {
        Ok(match ty {
            0 => Value::U8(self.array::<1>(key)?[0]),
            1 => Value::I8(self.array::<1>(key)?[0] as i8),
            2 => Value::U16(u16::from_le_bytes(self.array(key)?)),
            3 => Value::I16(i16::from_le_bytes(self.array(key)?)),
            4 => Value::U32(self.u32(key)?),
            5 => Value::I32(i32::from_le_bytes(self.array(key)?)),
            6 => Value::F32(f32::from_le_bytes(self.array(key)?)),
            7 => Value::Bool(self.array::<1>(key)?[0] != 0),
            8 => Value::String(self.string(key)?),
            9 => {
                if in_array {
                    return Err(GgufError::NestedArray(key.to_string()));
                }
                let elem_ty = self.u32(key)?;
                let count = self.u64(key)?;
                let min = match elem_ty {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    9 => return Err(GgufError::NestedArray(key.to_string())),
                    ty => {
                        return Err(GgufError::UnknownValueType {
                            key: key.to_string(),
                            ty,
                        })
                    }
                };
                self.check_count(count, min, key)?;
                let mut items = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    items.push(self.value(key, elem_ty, true)?);
                }
                Value::Array(items)
            }
            10 => Value::U64(self.u64(key)?),
            11 => Value::I64(i64::from_le_bytes(self.array(key)?)),
            12 => Value::F64(f64::from_le_bytes(self.array(key)?)),
            ty => {
                return Err(GgufError::UnknownValueType {
                    key: key.to_string(),
                    ty,
                })
            }
        })
    }
}

impl Gguf {
    /// Parses the header of a GGUF file held in `bytes` (the whole file, typically a mmap).
    ///
    /// Every tensor's data range is checked to lie inside `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, GgufError> {
        let mut c = Cursor { bytes, pos: 0 };
        let magic = c.array::<4>("magic")?;
        if magic != MAGIC {
            return Err(GgufError::BadMagic(magic));
        }
        let version = c.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion(version));
        }
        let tensor_count = c.u64("tensor count")?;
        let kv_count = c.u64("metadata count")?;
        // A key-value pair takes at least 12 bytes (key length, one byte of key, type).
        c.check_count(kv_count, 12, "metadata")?;
        let mut metadata = BTreeMap::new();
        for _ in 0..kv_count {
            let key = c.string("metadata key")?;
            let ty = c.u32(&key)?;
            let value = c.value(&key, ty, false)?;
            metadata.insert(key, value);
        }

        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => {
                let a = v.as_u64().ok_or_else(|| GgufError::Metadata {
                    key: "general.alignment".into(),
                    problem: "not an unsigned integer".into(),
                })?;
                if a == 0 || !a.is_power_of_two() || a > 1 << 20 {
                    return Err(GgufError::BadAlignment(a));
                }
                a
            }
        };

        // A tensor entry takes at least 8 (name length) + 4 (dims) + 4 (type) + 8 (offset) bytes.
        c.check_count(tensor_count, 24, "tensor directory")?;
        let mut tensors = Vec::with_capacity(tensor_count as usize);
        let mut names = std::collections::HashSet::new();
        for _ in 0..tensor_count {
            let name = c.string("tensor name")?;
            let n_dims = c.u32(&name)?;
            if n_dims as usize > MAX_DIMS {
                return Err(GgufError::TooManyDims { name, n_dims });
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(c.u64(&name)?);
            }
            let ty_id = c.u32(&name)?;
            let offset = c.u64(&name)?;
            let ty = GgmlType::from_id(ty_id).ok_or_else(|| GgufError::UnknownTensorType {
                name: name.clone(),
                ty: ty_id,
            })?;
            let elements = dims
                .iter()
                .try_fold(
                    1u64,
                    |acc, &d| if d == 0 { None } else { acc.checked_mul(d) },
                )
                .filter(|&e| e <= 1 << 40)
                .ok_or_else(|| GgufError::BadShape {
                    name: name.clone(),
                    dims: dims.clone(),
                })?;
            let block = ty.block_elements();
            if dims.first().copied().unwrap_or(1) % block != 0 {
                return Err(GgufError::NotBlockAligned {
                    name,
                    elements,
                    block,
                });
            }
            let size = elements / block * ty.block_bytes();
            if offset % alignment != 0 {
                return Err(GgufError::Misaligned {
                    name,
                    offset,
                    alignment,
                });
            }
            if !names.insert(name.clone()) {
                return Err(GgufError::DuplicateTensor(name));
            }
            tensors.push(TensorInfo {
                name,
                dims,
                ty,
                offset,
                size,
            });
        }

        let data_offset = (c.pos as u64).div_ceil(alignment) * alignment;
        let data_len = (bytes.len() as u64).saturating_sub(data_offset);
        for t in &tensors {
            let end = t.offset.checked_add(t.size);
            if end.is_none_or(|end| end > data_len) {
                return Err(GgufError::DataOutOfBounds {
                    name: t.name.clone(),
                    start: t.offset,
                    end: end.unwrap_or(u64::MAX),
                    data_len,
                });
            }
        }
        Ok(Self {
            version,
            metadata,
            tensors,
            data_offset,
            alignment,
        })
    }

    /// The bytes of tensor `t` inside the file bytes that were parsed.
    pub fn tensor_data<'a>(&self, bytes: &'a [u8], t: &TensorInfo) -> &'a [u8] {
        let start = (self.data_offset + t.offset) as usize;
        &bytes[start..start + t.size as usize]
    }

    /// Looks a tensor up by name.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Metadata value by key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key)
    }

    /// A required string value.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        self.get(key)
            .ok_or_else(|| missing(key))?
            .as_str()
            .ok_or_else(|| wrong_type(key, "a string"))
    }

    /// A required unsigned integer value.
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        self.get(key)
            .ok_or_else(|| missing(key))?
            .as_u64()
            .ok_or_else(|| wrong_type(key, "an unsigned integer"))
    }

    /// A required float value.
    pub fn get_f64(&self, key: &str) -> Result<f64, GgufError> {
        self.get(key)
            .ok_or_else(|| missing(key))?
            .as_f64()
            .ok_or_else(|| wrong_type(key, "a number"))
    }

    /// A required array of strings.
    pub fn get_strings(&self, key: &str) -> Result<Vec<&str>, GgufError> {
        let arr = self
            .get(key)
            .ok_or_else(|| missing(key))?
            .as_array()
            .ok_or_else(|| wrong_type(key, "an array"))?;
        arr.iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| wrong_type(key, "an array of strings"))
            })
            .collect()
    }

    /// The model architecture (`general.architecture`).
    pub fn architecture(&self) -> Result<&str, GgufError> {
        self.get_str("general.architecture")
    }
}

fn missing(key: &str) -> GgufError {
    GgufError::Metadata {
        key: key.to_string(),
        problem: "missing".to_string(),
    }
}

fn wrong_type(key: &str, expected: &str) -> GgufError {
    GgufError::Metadata {
        key: key.to_string(),
        problem: format!("expected {expected}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a small, valid GGUF in memory: one string key and one F32 tensor of 4 elements.
    pub(crate) fn tiny() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"GGUF");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes()); // tensors
        b.extend_from_slice(&1u64.to_le_bytes()); // kv
        let key = b"general.architecture";
        b.extend_from_slice(&(key.len() as u64).to_le_bytes());
        b.extend_from_slice(key);
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&5u64.to_le_bytes());
        b.extend_from_slice(b"llama");
        let name = b"w";
        b.extend_from_slice(&(name.len() as u64).to_le_bytes());
        b.extend_from_slice(name);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&4u64.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        while b.len() % 32 != 0 {
            b.push(0);
        }
        for v in [1.0f32, 2.0, 3.0, 4.0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }

    #[test]
    fn parses_a_valid_file() {
        let bytes = tiny();
        let g = Gguf::parse(&bytes).unwrap();
        assert_eq!(g.architecture().unwrap(), "llama");
        let t = g.tensor("w").unwrap();
        assert_eq!(t.ty, GgmlType::F32);
        let data = g.tensor_data(&bytes, t);
        assert_eq!(&data[4..8], &2.0f32.to_le_bytes());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = tiny();
        for len in 0..bytes.len() {
            assert!(
                Gguf::parse(&bytes[..len]).is_err(),
                "prefix of {len} bytes parsed"
            );
        }
    }

    #[test]
    fn bad_magic_and_version() {
        let mut bytes = tiny();
        bytes[0] = b'X';
        assert!(matches!(Gguf::parse(&bytes), Err(GgufError::BadMagic(_))));
        let mut bytes = tiny();
        bytes[4] = 9;
        assert_eq!(
            Gguf::parse(&bytes).unwrap_err(),
            GgufError::UnsupportedVersion(9)
        );
    }

    #[test]
    fn absurd_counts_do_not_allocate() {
        let mut bytes = tiny();
        // kv count = 2^62: must fail on the size check, not try to reserve memory.
        bytes[16..24].copy_from_slice(&(1u64 << 62).to_le_bytes());
        assert!(matches!(
            Gguf::parse(&bytes),
            Err(GgufError::Truncated { .. })
        ));
        let mut bytes = tiny();
        bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            Gguf::parse(&bytes),
            Err(GgufError::Truncated { .. })
        ));
    }

    #[test]
    fn tensor_out_of_bounds_and_bad_type() {
        // dims[0] sits right after name; locate it by searching the encoded tensor entry.
        let bytes = tiny();
        let pos = bytes
            .windows(9)
            .position(|w| w == b"\x01\0\0\0\0\0\0\0w")
            .unwrap()
            + 9;
        let mut b = bytes.clone();
        b[pos + 4..pos + 12].copy_from_slice(&(1u64 << 50).to_le_bytes());
        assert!(matches!(Gguf::parse(&b), Err(GgufError::BadShape { .. })));
        let mut b = bytes.clone();
        b[pos + 4..pos + 12].copy_from_slice(&1024u64.to_le_bytes());
        assert!(matches!(
            Gguf::parse(&b),
            Err(GgufError::DataOutOfBounds { .. })
        ));
        let mut b = bytes.clone();
        b[pos + 12..pos + 16].copy_from_slice(&99u32.to_le_bytes());
        assert!(matches!(
            Gguf::parse(&b),
            Err(GgufError::UnknownTensorType { ty: 99, .. })
        ));
        let mut b = bytes;
        b[pos..pos + 4].copy_from_slice(&7u32.to_le_bytes());
        assert!(matches!(
            Gguf::parse(&b),
            Err(GgufError::TooManyDims { .. })
        ));
    }
}
