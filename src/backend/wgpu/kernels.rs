//! The wgpu backend's compute kernels (WGSL in `src/backend/wgpu/wgsl/`) and a recorder that lists the
//! dispatches of one forward pass and submits them as one command buffer.
//!
//! Every kernel takes its sizes in a small uniform struct at binding 0. A forward pass packs
//! all of them into one uniform buffer, one 256-byte slot per dispatch (the largest offset
//! alignment WebGPU allows), so a pass costs one upload of parameters, one submission and one
//! read-back.

use wgpu::util::DeviceExt;

use crate::backend::wgpu::device::Gpu;
use crate::model::config::ModelError;

const COMMON: &str = include_str!("wgsl/common.wgsl");
const QUANT: &str = include_str!("wgsl/quant.wgsl");

/// The kernels, in the order of [`Kernels::pipelines`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Embedding rows from the quantized table.
    Embed,
    /// 8-bit quantization of activation rows.
    QuantizeQ8,
    /// Q4_0 / Q4_1 / Q8_0 weights × 8-bit activations.
    MatmulQ8,
    /// Other weight types, dequantized in f32.
    MatmulDeq,
    /// Dense f32 products (the LoRA delta).
    MatmulF32,
    /// RMSNorm.
    RmsNorm,
    /// Rotary position embedding.
    Rope,
    /// Appending keys and values to the cache.
    KvStore,
    /// Causal attention.
    Attention,
    /// SwiGLU.
    Swiglu,
    /// Residual add.
    Add,
}

impl Kernel {
    const ALL: [Kernel; 11] = [
        Kernel::Embed,
        Kernel::QuantizeQ8,
        Kernel::MatmulQ8,
        Kernel::MatmulDeq,
        Kernel::MatmulF32,
        Kernel::RmsNorm,
        Kernel::Rope,
        Kernel::KvStore,
        Kernel::Attention,
        Kernel::Swiglu,
        Kernel::Add,
    ];

    /// Source file, entry point, and whether it reads quantized weights.
    fn source(self) -> (&'static str, &'static str, bool) {
        match self {
            Kernel::Embed => (include_str!("wgsl/embed.wgsl"), "main", true),
            Kernel::QuantizeQ8 => (include_str!("wgsl/quantize_q8.wgsl"), "main", false),
            Kernel::MatmulQ8 => (include_str!("wgsl/matmul_q8.wgsl"), "main", true),
            Kernel::MatmulDeq => (include_str!("wgsl/matmul_deq.wgsl"), "main", true),
            Kernel::MatmulF32 => (include_str!("wgsl/matmul_f32.wgsl"), "main", false),
            Kernel::RmsNorm => (include_str!("wgsl/rms_norm.wgsl"), "main", false),
            Kernel::Rope => (include_str!("wgsl/rope.wgsl"), "main", false),
            Kernel::KvStore => (include_str!("wgsl/kv_store.wgsl"), "main", false),
            Kernel::Attention => (include_str!("wgsl/attention.wgsl"), "main", false),
            Kernel::Swiglu => (include_str!("wgsl/elementwise.wgsl"), "swiglu", false),
            Kernel::Add => (include_str!("wgsl/elementwise.wgsl"), "add", false),
        }
    }
}

/// The largest head size the attention kernel handles (`MAX_HEAD` in attention.wgsl).
pub const MAX_HEAD_DIM: usize = 256;

/// Bytes per dispatch in the parameter buffer.
const PARAM_SLOT: u64 = 256;

/// Threads per workgroup of the elementwise kernels and of the matrix kernels.
const ELEMENTWISE_WG: u32 = 256;
const MATMUL_WG: u32 = 64;
/// Tokens per thread of the quantized matrix kernels (`TILE` in their WGSL).
const MATMUL_TILE: u32 = 4;

/// A weight matrix on the GPU, in its GGUF encoding.
pub struct GpuMatrix {
    /// The raw blocks.
    pub buf: wgpu::Buffer,
    /// ggml's type id (`F32` 0, `Q4_1` 3, …).
    pub ty: u32,
    /// Output rows.
    pub n: usize,
    /// Input width.
    pub k: usize,
    /// Bytes per row.
    pub row_bytes: usize,
}

impl GpuMatrix {
    /// Whether products with it quantize the activations to 8 bits (as on the CPU).
    pub fn uses_q8(&self) -> bool {
        matches!(self.ty, 2 | 3 | 8)
    }
}

/// Compiled pipelines, one per [`Kernel`].
pub struct Kernels {
    pipelines: Vec<(wgpu::ComputePipeline, wgpu::BindGroupLayout)>,
}

impl Kernels {
    /// Compiles every kernel for `gpu`.
    pub fn new(gpu: &Gpu) -> Result<Self, ModelError> {
        // What the kernels declare: 256-thread workgroups, and at most the attention kernel's
        // workgroup arrays (MAX_HEAD_DIM + 2 × 64 f32).
        let (threads, shared) = (256, (MAX_HEAD_DIM as u32 + 128) * 4);
        let l = &gpu.limits;
        if l.max_compute_invocations_per_workgroup < threads
            || l.max_compute_workgroup_size_x < threads
            || l.max_compute_workgroup_storage_size < shared
        {
            return Err(ModelError::Backend(format!(
                "{} allows {} threads and {} bytes of shared memory per workgroup; the kernels \
                 need {threads} and {shared}",
                crate::backend::wgpu::device::describe(&gpu.info),
                l.max_compute_invocations_per_workgroup
                    .min(l.max_compute_workgroup_size_x),
                l.max_compute_workgroup_storage_size
            )));
        }
        let mut pipelines = Vec::new();
        for kernel in Kernel::ALL {
            let (body, entry, quant) = kernel.source();
            let source = format!("{COMMON}\n{}\n{body}", if quant { QUANT } else { "" });
            let pipeline = gpu.checked(&format!("compiling kernel {kernel:?}"), || {
                let module = gpu
                    .device
                    .create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(entry),
                        source: wgpu::ShaderSource::Wgsl(source.into()),
                    });
                gpu.device
                    .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(entry),
                        layout: None,
                        module: &module,
                        entry_point: Some(entry),
                        compilation_options: Default::default(),
                        cache: None,
                    })
            })?;
            let layout = pipeline.get_bind_group_layout(0);
            pipelines.push((pipeline, layout));
        }
        Ok(Self { pipelines })
    }

    fn get(&self, k: Kernel) -> &(wgpu::ComputePipeline, wgpu::BindGroupLayout) {
        &self.pipelines[k as usize]
    }
}

/// One dispatch: its kernel, its parameter slot, its buffers by binding and its grid.
struct Step<'a> {
    kernel: Kernel,
    params_at: u64,
    buffers: Vec<(u32, &'a wgpu::Buffer)>,
    groups: [u32; 3],
}

/// The dispatches of one pass, in order.
pub struct Recorder<'a> {
    kernels: &'a Kernels,
    params: Vec<u8>,
    steps: Vec<Step<'a>>,
}

/// A 2-D grid of 256-thread workgroups covering `n` threads (kernels use `flat_index`).
fn elementwise_grid(n: usize) -> [u32; 3] {
    let groups = n.div_ceil(ELEMENTWISE_WG as usize).max(1);
    let x = groups.min(65_535);
    [x as u32, groups.div_ceil(x) as u32, 1]
}

/// A parameter word: sizes are u32 in the kernels, floats are their bits.
enum Word {
    U(usize),
    F(f32),
}

impl<'a> Recorder<'a> {
    /// An empty pass.
    pub fn new(kernels: &'a Kernels) -> Self {
        Self {
            kernels,
            params: Vec::new(),
            steps: Vec::new(),
        }
    }

    fn push(
        &mut self,
        kernel: Kernel,
        words: &[Word],
        buffers: Vec<(u32, &'a wgpu::Buffer)>,
        groups: [u32; 3],
    ) {
        let params_at = self.params.len() as u64;
        for w in words {
            let bits = match *w {
                Word::U(v) => v as u32,
                Word::F(v) => v.to_bits(),
            };
            self.params.extend_from_slice(&bits.to_le_bytes());
        }
        self.params.resize((params_at + PARAM_SLOT) as usize, 0);
        self.steps.push(Step {
            kernel,
            params_at,
            buffers,
            groups,
        });
    }

    /// `x[t] = table row tokens[t]` for `rows` tokens.
    pub fn embed(
        &mut self,
        table: &'a GpuMatrix,
        tokens: &'a wgpu::Buffer,
        x: &'a wgpu::Buffer,
        rows: usize,
    ) {
        use Word::U;
        let words = [
            U(table.ty as usize),
            U(table.row_bytes),
            U(table.k),
            U(rows),
        ];
        let buffers = vec![(1, &table.buf), (2, tokens), (3, x)];
        self.push(
            Kernel::Embed,
            &words,
            buffers,
            elementwise_grid(rows * table.k),
        );
    }

    /// Quantizes `rows` rows of width `k` of `x`, from index `x_off`, into `q` (quants,
    /// scales, scaled sums).
    pub fn quantize(
        &mut self,
        x: &'a wgpu::Buffer,
        x_off: usize,
        rows: usize,
        k: usize,
        q: [&'a wgpu::Buffer; 3],
    ) {
        let blocks = rows * k / 32;
        let buffers = vec![(1, x), (2, q[0]), (3, q[1]), (4, q[2])];
        self.push(
            Kernel::QuantizeQ8,
            &[Word::U(blocks), Word::U(x_off)],
            buffers,
            elementwise_grid(blocks),
        );
    }

    /// `y = xq · wᵀ` for `m` quantized rows (Q4_0, Q4_1 or Q8_0 weights).
    pub fn matmul_q8(
        &mut self,
        w: &'a GpuMatrix,
        q: [&'a wgpu::Buffer; 3],
        y: &'a wgpu::Buffer,
        m: usize,
    ) {
        use Word::U;
        let words = [U(w.n), U(w.k), U(m), U(w.ty as usize), U(w.row_bytes)];
        let buffers = vec![(1, &w.buf), (2, q[0]), (3, q[1]), (4, q[2]), (5, y)];
        let groups = [
            (w.n as u32).div_ceil(MATMUL_WG),
            (m as u32).div_ceil(MATMUL_TILE),
            1,
        ];
        self.push(Kernel::MatmulQ8, &words, buffers, groups);
    }

    /// `y = x · wᵀ` in f32 for `m` rows of `x` from index `x_off` (other weight types).
    pub fn matmul_deq(
        &mut self,
        w: &'a GpuMatrix,
        x: &'a wgpu::Buffer,
        x_off: usize,
        y: &'a wgpu::Buffer,
        m: usize,
    ) {
        use Word::U;
        let words = [
            U(w.n),
            U(w.k),
            U(m),
            U(w.ty as usize),
            U(w.row_bytes),
            U(x_off),
        ];
        let buffers = vec![(1, &w.buf), (2, x), (3, y)];
        let groups = [
            (w.n as u32).div_ceil(MATMUL_WG),
            (m as u32).div_ceil(MATMUL_TILE),
            1,
        ];
        self.push(Kernel::MatmulDeq, &words, buffers, groups);
    }

    /// `y (=|+=) alpha · x · aᵀ`, `a` dense `n × k` f32, `x` `m × k`.
    #[allow(clippy::too_many_arguments)]
    pub fn matmul_f32(
        &mut self,
        a: &'a wgpu::Buffer,
        (n, k): (usize, usize),
        x: &'a wgpu::Buffer,
        y: &'a wgpu::Buffer,
        m: usize,
        alpha: f32,
        accumulate: bool,
    ) {
        use Word::{F, U};
        let words = [U(n), U(k), U(m), U(accumulate as usize), F(alpha)];
        let groups = [(n as u32).div_ceil(MATMUL_WG), m as u32, 1];
        self.push(
            Kernel::MatmulF32,
            &words,
            vec![(1, a), (2, x), (3, y)],
            groups,
        );
    }

    /// RMSNorm of rows `row0 .. row0 + rows` (width `d`) of `x` into the same rows of `out`.
    #[allow(clippy::too_many_arguments)]
    pub fn rms_norm(
        &mut self,
        x: &'a wgpu::Buffer,
        weight: &'a wgpu::Buffer,
        out: &'a wgpu::Buffer,
        d: usize,
        row0: usize,
        rows: usize,
        eps: f32,
    ) {
        use Word::{F, U};
        self.push(
            Kernel::RmsNorm,
            &[U(d), U(row0), F(eps)],
            vec![(1, x), (2, weight), (3, out)],
            [rows as u32, 1, 1],
        );
    }

    /// RoPE in place on `rows` rows of `heads × head_dim`, row 0 at position `pos`.
    pub fn rope(
        &mut self,
        tables: [&'a wgpu::Buffer; 2],
        x: &'a wgpu::Buffer,
        (rows, heads, head_dim): (usize, usize, usize),
        pos: usize,
    ) {
        use Word::U;
        self.push(
            Kernel::Rope,
            &[U(rows), U(heads), U(head_dim), U(pos)],
            vec![(1, tables[0]), (2, tables[1]), (3, x)],
            elementwise_grid(rows * heads * head_dim / 2),
        );
    }

    /// Appends `len` values of `k` and `v` to the caches at index `at`.
    pub fn kv_store(
        &mut self,
        kv: [&'a wgpu::Buffer; 2],
        cache: [&'a wgpu::Buffer; 2],
        len: usize,
        at: usize,
    ) {
        self.push(
            Kernel::KvStore,
            &[Word::U(len), Word::U(at)],
            vec![(1, kv[0]), (2, kv[1]), (3, cache[0]), (4, cache[1])],
            elementwise_grid(len),
        );
    }

    /// Attention of `t` queries (row 0 at position `pos`) over the caches into `out`.
    #[allow(clippy::too_many_arguments)]
    pub fn attention(
        &mut self,
        q: &'a wgpu::Buffer,
        cache: [&'a wgpu::Buffer; 2],
        out: &'a wgpu::Buffer,
        (n_head, n_head_kv, head_dim): (usize, usize, usize),
        pos: usize,
        t: usize,
    ) {
        use Word::{F, U};
        let scale = 1.0 / (head_dim as f32).sqrt();
        self.push(
            Kernel::Attention,
            &[U(n_head), U(n_head_kv), U(head_dim), U(pos), F(scale)],
            vec![(1, q), (2, cache[0]), (3, cache[1]), (4, out)],
            [n_head as u32, t as u32, 1],
        );
    }

    /// `gate ← silu(gate) · up` over `len` values.
    pub fn swiglu(&mut self, gate: &'a wgpu::Buffer, up: &'a wgpu::Buffer, len: usize) {
        self.push(
            Kernel::Swiglu,
            &[Word::U(len)],
            vec![(1, up), (2, gate)],
            elementwise_grid(len),
        );
    }

    /// `x ← x + y` over `len` values.
    pub fn add(&mut self, x: &'a wgpu::Buffer, y: &'a wgpu::Buffer, len: usize) {
        self.push(
            Kernel::Add,
            &[Word::U(len)],
            vec![(1, y), (2, x)],
            elementwise_grid(len),
        );
    }

    /// Dispatches everything recorded, in order, then copies `len` f32 values of `result`
    /// into `staging` and returns them.
    pub fn run(
        self,
        gpu: &Gpu,
        result: &wgpu::Buffer,
        staging: &wgpu::Buffer,
        len: usize,
    ) -> Result<Vec<f32>, ModelError> {
        gpu.checked("running the forward pass", || {
            let params = gpu
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("parameters"),
                    contents: &self.params,
                    usage: wgpu::BufferUsages::UNIFORM,
                });
            let groups: Vec<wgpu::BindGroup> = self
                .steps
                .iter()
                .map(|s| {
                    let mut entries = vec![wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: &params,
                            offset: s.params_at,
                            size: std::num::NonZeroU64::new(PARAM_SLOT),
                        }),
                    }];
                    entries.extend(s.buffers.iter().map(|&(binding, b)| wgpu::BindGroupEntry {
                        binding,
                        resource: b.as_entire_binding(),
                    }));
                    gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: None,
                        layout: &self.kernels.get(s.kernel).1,
                        entries: &entries,
                    })
                })
                .collect();
            let mut enc = gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("forward"),
                    timestamp_writes: None,
                });
                for (s, g) in self.steps.iter().zip(&groups) {
                    pass.set_pipeline(&self.kernels.get(s.kernel).0);
                    pass.set_bind_group(0, g, &[]);
                    pass.dispatch_workgroups(s.groups[0], s.groups[1], s.groups[2]);
                }
            }
            enc.copy_buffer_to_buffer(result, 0, staging, 0, (len * 4) as u64);
            gpu.queue.submit([enc.finish()]);
        })?;
        gpu.read_f32(staging, len)
    }
}

/// A buffer the CPU can read results from (`len` f32 values).
pub fn staging_buffer(gpu: &Gpu, len: usize) -> Result<wgpu::Buffer, ModelError> {
    gpu.checked("allocating a read-back buffer", || {
        gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size: (len * 4).max(4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    })
}
