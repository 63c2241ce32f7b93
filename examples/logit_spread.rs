//! The logit figures behind the wgpu test's bound (`tests/llama_wgpu.rs`): the shipped
//! adapter's logits on the test's prompt and on its next 8 positions (the CPU's greedy tokens,
//! as the test feeds both backends; each position batched from the start), written by one
//! backend, then compared position by position with another's.
//!
//! ```text
//! cargo run --release --example logit_spread -- dump cpu /tmp/avx512.bin
//! OPENSOC_NO_AVX512=1 cargo run --release --example logit_spread -- dump cpu /tmp/avx2.bin
//! cargo run --release --example logit_spread -- dump wgpu /tmp/wgpu.bin
//! cargo run --release --example logit_spread -- compare /tmp/avx512.bin /tmp/avx2.bin
//! ```

use opensoc::gguf::file::ModelFile;
use opensoc::model::language_model::{argmax, LanguageModel};
use opensoc::model::llama::Llama;
use opensoc::model::shipped::shipped_adapter;
use opensoc::model::tokenizer::Tokenizer;

const LOG: &str = "Nov 28 03:14:07 web1 sshd[2211]: Failed password for invalid user admin \
                   from 185.220.101.33 port 50122 ssh2";

/// `model`'s logits of the prompt and of its 8 extensions by `cpu`'s greedy tokens, one
/// vector a position.
fn positions<M: LanguageModel>(
    model: &M,
    cpu: &Llama,
    prompt: &[u32],
) -> anyhow::Result<Vec<Vec<f32>>> {
    let mut seq = prompt.to_vec();
    let mut out = Vec::new();
    for _ in 0..9 {
        out.push(model.forward(&seq, &mut model.new_cache())?);
        seq.push(argmax(&cpu.forward(&seq, &mut cpu.new_cache())?));
    }
    Ok(out)
}

fn read(path: &str) -> anyhow::Result<Vec<f32>> {
    Ok(std::fs::read(path)?
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["dump", backend, out] => {
            let file = ModelFile::open(opensoc::model::fetch::ensure_default_model(false)?)?;
            let tok = Tokenizer::from_gguf(&file.gguf)?;
            let mut cpu = Llama::load(&file)?;
            let adapter = shipped_adapter(cpu.config())?;
            cpu.set_adapter(Some(adapter))?;
            let prompt = tok.encode(LOG, false, false)?;
            let logits = match backend {
                "cpu" => positions(&cpu, &cpu, &prompt)?,
                "wgpu" => {
                    let gpu = opensoc::backend::wgpu::device::Gpu::open(None)?;
                    positions(
                        &opensoc::backend::wgpu::llama::WgpuLlama::new(&cpu, gpu)?,
                        &cpu,
                        &prompt,
                    )?
                }
                other => anyhow::bail!("backend {other:?}: cpu or wgpu"),
            };
            let bytes: Vec<u8> = logits
                .iter()
                .flatten()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            std::fs::write(out, bytes)?;
        }
        ["compare", a, b] => {
            let (a, b) = (read(a)?, read(b)?);
            anyhow::ensure!(
                a.len() == b.len() && a.len() % 9 == 0,
                "the files differ in size"
            );
            for (i, (x, y)) in a.chunks(a.len() / 9).zip(b.chunks(b.len() / 9)).enumerate() {
                let d = x
                    .iter()
                    .zip(y)
                    .map(|(p, q)| (p - q).abs())
                    .fold(0.0, f32::max);
                println!("position {i}: largest logit difference {d:.3}");
            }
        }
        _ => anyhow::bail!("usage: logit_spread dump cpu|wgpu OUT | compare A B"),
    }
    Ok(())
}
