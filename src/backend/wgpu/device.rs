//! The wgpu device the wgpu backend runs on: which GPU adapter, checked limits, buffers, and
//! reading results back.
//!
//! wgpu reports validation and memory errors through error scopes rather than return values;
//! [`Gpu::checked`] turns them into [`ModelError::Backend`] so that a bad dispatch or an
//! allocation the device refuses is an error with a message, never a panic.

use std::sync::mpsc;

use wgpu::util::DeviceExt;

use crate::model::config::ModelError;

/// An opened GPU: its device, queue, what it is and the limits it granted.
pub struct Gpu {
    /// The logical device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// The adapter's name, kind, driver and API.
    pub info: wgpu::AdapterInfo,
    /// The limits the device was created with (the adapter's own).
    pub limits: wgpu::Limits,
}

/// One adapter as a line for users: `NAME (KIND, BACKEND, DRIVER)`.
pub fn describe(info: &wgpu::AdapterInfo) -> String {
    let driver = if info.driver.is_empty() {
        String::new()
    } else {
        format!(", {} {}", info.driver, info.driver_info)
    };
    format!(
        "{} ({:?}, {:?}{driver})",
        info.name, info.device_type, info.backend
    )
}

fn instance() -> wgpu::Instance {
    // Honours WGPU_BACKEND and the other WGPU_* variables, as other wgpu programs do.
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

/// Preference among adapter kinds: a real GPU first, a software one (Mesa's llvmpipe, as in
/// CI) last.
fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

impl Gpu {
    /// Opens the adapter whose name contains `name` (case-insensitive), or the best one when
    /// `name` is `None`; the error lists the adapters seen.
    pub fn open(name: Option<&str>) -> Result<Gpu, ModelError> {
        let inst = instance();
        let mut all = pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()));
        let seen = || {
            let names: Vec<String> = all.iter().map(|a| describe(&a.get_info())).collect();
            if names.is_empty() {
                "none (is a Vulkan driver installed? Debian: mesa-vulkan-drivers libvulkan1)"
                    .to_string()
            } else {
                names.join("; ")
            }
        };
        let pick = match name {
            Some(want) => {
                let want = want.to_lowercase();
                all.iter()
                    .position(|a| a.get_info().name.to_lowercase().contains(&want))
                    .ok_or_else(|| {
                        ModelError::Backend(format!(
                            "no wgpu adapter matches {want:?}; adapters seen: {}",
                            seen()
                        ))
                    })?
            }
            None => (0..all.len())
                .min_by_key(|&i| rank(all[i].get_info().device_type))
                .ok_or_else(|| {
                    ModelError::Backend(format!("no wgpu adapter found; adapters seen: {}", seen()))
                })?,
        };
        let adapter = all.swap_remove(pick);
        let info = adapter.get_info();
        let limits = adapter.limits();
        let desc = wgpu::DeviceDescriptor {
            label: Some("opensoc"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| ModelError::Backend(format!("opening {} failed: {e}", describe(&info))))?;
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
        })
    }

    /// Runs `f` and turns any validation or out-of-memory error it caused into an error that
    /// says what was being done.
    pub fn checked<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T, ModelError> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let invalid = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let invalid = pollster::block_on(invalid.pop());
        let oom = pollster::block_on(oom.pop());
        match invalid.or(oom) {
            None => Ok(out),
            Some(e) => Err(ModelError::Backend(format!(
                "{what} on {}: {e}",
                describe(&self.info)
            ))),
        }
    }

    /// Fails unless a storage buffer of `bytes` fits this device's limits.
    pub fn check_size(&self, what: &str, bytes: u64) -> Result<(), ModelError> {
        let max = self
            .limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size);
        if bytes > max {
            return Err(ModelError::Backend(format!(
                "{what} needs a buffer of {bytes} bytes; {} allows at most {max}",
                describe(&self.info)
            )));
        }
        Ok(())
    }

    /// A storage buffer holding `bytes` (padded to a whole word, as shaders read words).
    pub fn upload(&self, what: &str, bytes: &[u8]) -> Result<wgpu::Buffer, ModelError> {
        let mut padded;
        let contents = if bytes.len().is_multiple_of(4) && !bytes.is_empty() {
            bytes
        } else {
            padded = bytes.to_vec();
            padded.resize(bytes.len().next_multiple_of(4).max(4), 0);
            &padded
        };
        self.check_size(what, contents.len() as u64)?;
        self.checked(&format!("uploading {what}"), || {
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(what),
                    contents,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                })
        })
    }

    /// A storage buffer of `values`.
    pub fn upload_f32(&self, what: &str, values: &[f32]) -> Result<wgpu::Buffer, ModelError> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.upload(what, &bytes)
    }

    /// A zeroed working buffer of `bytes` that kernels write and that can be copied from and
    /// to.
    pub fn scratch(&self, what: &str, bytes: u64) -> Result<wgpu::Buffer, ModelError> {
        let bytes = bytes.next_multiple_of(4).max(4);
        self.check_size(what, bytes)?;
        self.checked(&format!("allocating {what}"), || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(what),
                size: bytes,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })
    }

    /// Waits for `staging` (a MAP_READ buffer the last submission copied into) and returns
    /// its first `len` f32 values.
    pub fn read_f32(&self, staging: &wgpu::Buffer, len: usize) -> Result<Vec<f32>, ModelError> {
        let bytes = (len * 4) as u64;
        let slice = staging.slice(..bytes);
        let (tx, rx) = mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            // The receiver waits below; a send can only fail once it is gone.
            let _ = tx.send(r);
        });
        let fail = |e: String| ModelError::Backend(format!("{}: {e}", describe(&self.info)));
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| fail(format!("waiting for the GPU failed: {e}")))?;
        rx.recv()
            .map_err(|e| fail(format!("reading results back failed: {e}")))?
            .map_err(|e| fail(format!("reading results back failed: {e}")))?;
        let out = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| fail(format!("reading results back failed: {e}")))?;
            view.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        staging.unmap();
        Ok(out)
    }
}
