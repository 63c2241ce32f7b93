//! `opensoc-train export` on the default model: with and without a PEFT adapter, and its
//! errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use opensoc::gguf::file::ModelFile;
use opensoc::gguf::read::GgmlType;
use opensoc::model::config::LlamaConfig;
use opensoc::model::lora::{LoraAdapter, LoraConfig, SplitMix64};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("opensoc-export-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn export(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opensoc-train"))
        .arg("export")
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn merges_a_peft_adapter_and_requantizes_without_one() {
    let dir = scratch("ok");
    let model = opensoc::model::fetch::ensure_default_model(false).expect("default model");
    let cfg = LlamaConfig::from_gguf(&ModelFile::open(&model).unwrap().gguf).unwrap();
    let mut adapter = LoraAdapter::init(&cfg, LoraConfig::default(), 1);
    let mut rng = SplitMix64::new(2);
    for p in adapter.blocks.iter_mut().flatten().flatten() {
        p.b.iter_mut()
            .for_each(|v| *v = (rng.next_f32() - 0.5) * 0.02);
    }
    let adapter_dir = dir.join("adapter");
    opensoc::train::peft_save::save_peft(
        &adapter,
        &cfg,
        &adapter_dir,
        "HuggingFaceTB/SmolLM2-135M-Instruct",
    )
    .unwrap();

    let out = dir.join("merged.gguf");
    let o = export(
        &[
            "--adapter",
            adapter_dir.to_str().unwrap(),
            "--quant",
            "q8_0",
        ],
        &out,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("merged LoRA r16 alpha32"), "{stdout}");
    assert!(stdout.contains("210 merged"), "{stdout}");
    let f = ModelFile::open(&out).unwrap();
    assert_eq!(
        f.gguf.tensor("blk.0.attn_q.weight").unwrap().ty,
        GgmlType::Q8_0
    );

    // No adapter, q4_k: SmolLM2's rows of 576 are not whole Q4_K blocks; the report says so.
    let out = dir.join("base-q4_k.gguf");
    let o = export(&["--no-adapter", "--quant", "q4_k"], &out);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("adapter             none"), "{stdout}");
    assert!(
        stdout.contains("180 tensors written as Q8_0 instead of Q4_K: rows of 576"),
        "{stdout}"
    );
    let f = ModelFile::open(&out).unwrap();
    assert_eq!(
        f.gguf.tensor("blk.0.ffn_down.weight").unwrap().ty,
        GgmlType::Q4_K
    );
    // Without --adapter: the shipped adapter, merged.
    let out = dir.join("shipped-q8_0.gguf");
    let o = export(&["--quant", "q8_0"], &out);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("210 merged"),
        "{}",
        text(&o.stdout)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_arguments_are_clear_errors() {
    let dir = scratch("bad");
    let out = dir.join("x.gguf");
    let o = export(&["--quant", "q5_0"], &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("f16, q8_0, q4_0, q4_1, q4_k"),
        "{}",
        text(&o.stderr)
    );

    let missing = dir.join("no-adapter");
    let o = export(&["--adapter", missing.to_str().unwrap()], &out);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("adapter_config.json is missing"), "{err}");

    let o = export(&["--quant", "f16"], &dir.join("no/such/dir/x.gguf"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("no/such/dir/x.gguf"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).ok();
}
