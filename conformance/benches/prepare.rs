//! The fuzzer's own CPU work per message: generating and mutating inputs, joining
//! them into batches of 16, preparing each batch (fresh ids, request table) and
//! cutting it into write segments. No server is involved.
//!
//! `cargo bench -p mcpspec --bench prepare` prints nanoseconds per message for each
//! stage (the fastest of several rounds) and a digest of everything the stages
//! produced: a change that only makes them cheaper must leave the digest as it was.
//! `PREPARE_BENCH_INPUTS=N` sets the number of inputs per surface (default 4000).

use mcpspec::fuzz::input::{generate, mutate_owned};
use mcpspec::fuzz::program::{prepare, segments, IdAllocator, Program};
use mcpspec::fuzz::surface::{PromptInfo, Surface, ToolInfo};
use rand::{RngExt, SeedableRng};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::{Duration, Instant};

const BATCH: usize = 16;
const ROUNDS: usize = 5;

/// A surface like the fixture's: tools with string, numeric and enum arguments,
/// resources, a template, prompts and a cursor.
fn surface(http: bool) -> Surface {
    let tool = |name: &str, schema| ToolInfo {
        name: name.into(),
        schema,
        safe: true,
    };
    Surface {
        protocol_version: "2025-11-25".into(),
        capabilities: json!({"tools":{},"resources":{"subscribe":true},"prompts":{},
            "completions":{},"logging":{}}),
        tools: vec![
            tool(
                "echo",
                json!({"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}),
            ),
            tool(
                "add",
                json!({"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},
                    "required":["a","b"]}),
            ),
            tool(
                "slow",
                json!({"type":"object","properties":{"ms":{"type":"integer","minimum":0},
                    "label":{"type":"string"},"mode":{"enum":["a","b"]},
                    "tags":{"type":"array","items":{"type":"string"}},
                    "opts":{"type":"object","properties":{"deep":{"type":"boolean"}}}},
                    "required":["ms"]}),
            ),
        ],
        resources: vec!["fixture://text/1".into(), "fixture://text/2".into()],
        templates: vec!["fixture://items/{id}".into()],
        prompts: vec![
            PromptInfo {
                name: "greeting".into(),
                arguments: vec![("name".into(), true), ("tone".into(), false)],
            },
            PromptInfo {
                name: "plain".into(),
                arguments: vec![],
            },
        ],
        cursors: vec![("tools/list".into(), json!("page-2"))],
        http,
        ..Surface::default()
    }
}

/// Inputs as the engine draws them: 30 % fresh, 70 % mutants of earlier ones.
fn draw(n: usize, surface: &Surface) -> (Vec<Program>, Duration, Duration) {
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
    let mut alloc = IdAllocator::default();
    let mut out: Vec<Program> = Vec::with_capacity(n);
    let (mut gen_time, mut mut_time) = (Duration::ZERO, Duration::ZERO);
    while out.len() < n {
        if out.len() >= 32 && rng.random_bool(0.7) {
            let base = rng.random_range(0..out.len());
            let other = &out[rng.random_range(0..out.len())];
            // As the engine does: the corpus entry is copied, then mutated.
            let t = Instant::now();
            let p = mutate_owned(
                out[base].clone(),
                Some(other),
                &mut rng,
                surface,
                &mut alloc,
            );
            mut_time += t.elapsed();
            out.push(p);
        } else {
            let t = Instant::now();
            let p = generate(&mut rng, surface, &mut alloc);
            gen_time += t.elapsed();
            out.push(p);
        }
    }
    (out, gen_time, mut_time)
}

struct Times {
    draw: Duration,
    generate: Duration,
    mutate: Duration,
    concat: Duration,
    prepare: Duration,
    segments: Duration,
}

fn round(n: usize, surface: &Surface, digest: Option<&mut Sha256>) -> (Times, usize) {
    let t = Instant::now();
    let (inputs, generate, mutate) = draw(n, surface);
    let draw = t.elapsed();
    let mut times = Times {
        draw,
        generate,
        mutate,
        concat: Duration::ZERO,
        prepare: Duration::ZERO,
        segments: Duration::ZERO,
    };
    let mut messages = 0;
    let mut alloc = IdAllocator::default();
    let mut digest = digest;
    if let Some(d) = digest.as_deref_mut() {
        for p in &inputs {
            d.update(serde_json::to_vec(p).unwrap_or_default());
        }
    }
    for batch in inputs.chunks(BATCH) {
        let t = Instant::now();
        let (joined, starts) = Program::concat(black_box(batch));
        times.concat += t.elapsed();
        messages += joined.message_count();
        let t = Instant::now();
        let prepared = prepare(black_box(&joined), &mut alloc);
        times.prepare += t.elapsed();
        let t = Instant::now();
        let segs = segments(black_box(&prepared.steps));
        times.segments += t.elapsed();
        if let Some(d) = digest.as_deref_mut() {
            d.update(format!("{starts:?}{:?}", joined.steps));
            d.update(format!("{prepared:?}"));
            d.update(format!("{segs:?}"));
        }
        black_box((prepared, segs));
    }
    (times, messages)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter or other flags are not used.
    let n: usize = std::env::var("PREPARE_BENCH_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    for http in [false, true] {
        let s = surface(http);
        let mut digest = Sha256::new();
        let (_, messages) = round(n, &s, Some(&mut digest));
        let mut best: Option<Times> = None;
        for _ in 0..ROUNDS {
            let (t, _) = round(n, &s, None);
            best = Some(match best {
                None => t,
                Some(b) => Times {
                    draw: b.draw.min(t.draw),
                    generate: b.generate.min(t.generate),
                    mutate: b.mutate.min(t.mutate),
                    concat: b.concat.min(t.concat),
                    prepare: b.prepare.min(t.prepare),
                    segments: b.segments.min(t.segments),
                },
            });
        }
        let Some(best) = best else { return };
        let per = |d: Duration| d.as_nanos() as f64 / messages.max(1) as f64;
        println!(
            "{} surface: {n} inputs, {messages} messages in batches of {BATCH}",
            if http { "http" } else { "stdio" }
        );
        println!("  generate  {:>8.0} ns/message", per(best.generate));
        println!("  mutate    {:>8.0} ns/message", per(best.mutate));
        println!(
            "  draw      {:>8.0} ns/message (both, with bookkeeping)",
            per(best.draw)
        );
        println!("  concat    {:>8.0} ns/message", per(best.concat));
        println!("  prepare   {:>8.0} ns/message", per(best.prepare));
        println!("  segments  {:>8.0} ns/message", per(best.segments));
        let sum = digest.finalize();
        let hex: String = sum.iter().take(12).map(|b| format!("{b:02x}")).collect();
        println!("  outputs digest {hex}");
    }
}
