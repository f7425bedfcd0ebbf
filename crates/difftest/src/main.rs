//! `nixkit-difftest`: runs the differential fuzzer for a while with random
//! (or given) seeds and writes the divergences it finds.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nixkit_difftest::{parse_pending_list, Campaign, PendingFix, PENDING_FIX_LIST};

const HELP: &str = "usage: nixkit-difftest [--seconds N] [--seed S] [--items N] [--out DIR]
                       [--pending FILE | --all] [--oracle PROGRAM]
  --seconds N   run for N seconds (default 60)
  --seed S      first seed (default: from the clock); seeds S, S+1, ... are run
  --items N     items per seed (default 60)
  --out DIR     where divergences are written (default crates/difftest/found)
  --pending F   pending-fix list (default: the crate's pending-fix.txt)
  --all         check every class, pending fixes included
  --oracle P    CppNix's nix-instantiate (default nix-instantiate)";

struct Args {
    seconds: u64,
    seed: Option<u64>,
    items: usize,
    out: PathBuf,
    pending: BTreeSet<PendingFix>,
    oracle: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seconds: 60,
        seed: None,
        items: 60,
        out: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/found")),
        pending: parse_pending_list(PENDING_FIX_LIST)
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect(),
        oracle: "nix-instantiate".to_string(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--seconds" => {
                args.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?
            }
            "--seed" => args.seed = Some(value()?.parse().map_err(|e| format!("--seed: {e}"))?),
            "--items" => args.items = value()?.parse().map_err(|e| format!("--items: {e}"))?,
            "--out" => args.out = PathBuf::from(value()?),
            "--pending" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
                args.pending = parse_pending_list(&text)
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .collect();
            }
            "--all" => args.pending.clear(),
            "--oracle" => args.oracle = value()?,
            "--help" | "-h" => return Err(HELP.to_string()),
            other => return Err(format!("unknown argument '{other}'\n{HELP}")),
        }
    }
    Ok(args)
}

/// `nixkit-difftest --eval ...`: nixkit as `nix-instantiate --eval`, the
/// expression read from standard input (the oracle's calling convention),
/// for [`Campaign::fresh_nixkit`].
fn instantiate(args: &[String]) -> ExitCode {
    use std::io::{Read, Write};
    let mut text = String::new();
    if std::io::stdin().read_to_string(&mut text).is_err() {
        return ExitCode::from(1);
    }
    let opts = match nixkit_eval::cli::parse_args(args) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let mut env = nixkit_eval::cli::CliEnv::new("/tmp");
    env.stdin = Some(text);
    let (mut out, mut err) = (String::new(), String::new());
    let code = nixkit_eval::cli::run(&opts, &env, &mut out, &mut err);
    // CppNix 2.8's shape: what came before the error (`trace:` lines),
    // then the innermost message alone on an `error:` line (nixkit writes
    // the trace of frames first, as modern CppNix does).
    let mut shaped = String::new();
    let mut lines = err.lines();
    for line in lines.by_ref() {
        if line.trim_start().starts_with("error:") {
            break;
        }
        shaped.push_str(line);
        shaped.push('\n');
    }
    if let Some(message) = err
        .lines()
        .rev()
        .find_map(|l| l.trim_start().strip_prefix("error:"))
    {
        shaped.push_str("error: ");
        shaped.push_str(message.trim());
        shaped.push('\n');
    }
    let _ = std::io::stdout().write_all(&nixkit_syntax::encode_bytes(&out));
    let _ = std::io::stderr().write_all(&nixkit_syntax::encode_bytes(&shaped));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw
        .first()
        .is_some_and(|a| a == "--eval" || a == "--version")
    {
        if raw[0] == "--version" {
            println!("nixkit-difftest (nixkit as nix-instantiate)");
            return ExitCode::SUCCESS;
        }
        return instantiate(&raw);
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let mut campaign = Campaign::default();
    campaign.cppnix.program = args.oracle;
    if !campaign.cppnix.available() {
        eprintln!("nixkit-difftest: {} does not run", campaign.cppnix.program);
        return ExitCode::from(2);
    }
    campaign.gen.pending = args.pending;
    campaign.fresh_nixkit = std::env::current_exe()
        .ok()
        .map(|exe| nixkit_difftest::CppNix {
            program: exe.to_string_lossy().into_owned(),
            ..nixkit_difftest::CppNix::default()
        });
    campaign.gen.builtins = match campaign.cppnix.builtin_names() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("nixkit-difftest: {e}");
            return ExitCode::from(2);
        }
    };
    campaign.items_per_seed = args.items;
    campaign.found_dir = Some(args.out.clone());
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let pending: Vec<String> = campaign.gen.pending.iter().map(|p| p.to_string()).collect();
    eprintln!(
        "nixkit-difftest: seeds from {seed}, {} s, pending fixes left out: [{}]",
        args.seconds,
        pending.join(", ")
    );
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let report = match campaign.run(seed.., deadline) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nixkit-difftest: {e}");
            return ExitCode::from(2);
        }
    };
    for f in &report.findings {
        println!("{}\n  {}", f.signature, f.shrunk.replace('\n', "\n  "));
        println!(
            "  nixkit: {}\n  CppNix: {}",
            f.nixkit.describe(),
            f.cppnix.describe()
        );
    }
    println!(
        "{} seeds, {} items: {} agree, {} excluded {:?}, pending {:?}, {} inconclusive, {} divergences (+{} more of the same signatures; {} CppNix runs); written to {}",
        report.seeds,
        report.items,
        report.agreed,
        report.excluded.values().sum::<usize>(),
        report.excluded,
        report.pending,
        report.inconclusive,
        report.findings.len(),
        report.repeats,
        report.cppnix_runs,
        args.out.display()
    );
    if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
