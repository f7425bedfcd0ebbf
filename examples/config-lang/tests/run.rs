//! Runs the example on its sample configurations.

use std::process::Command;

fn run(config: &str) -> (i32, String, String) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config/");
    let out = Command::new(env!("CARGO_BIN_EXE_nixkit-example-config"))
        .arg(format!("{dir}{config}"))
        .env_remove("APP_STAGE")
        .output()
        .expect("running the example");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn evaluates_and_deserializes() {
    let (code, out, err) = run("app.nix");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("url: \"https://localhost:9000\""), "{out}");
    assert!(out.contains("motd: \"Welcome to the shop.\\n\""), "{out}");
}

#[test]
fn sandbox_refuses_reads_outside_the_config_directory() {
    let (code, _, err) = run("escape.nix");
    assert_eq!(code, 1);
    assert!(
        err.contains("access outside the configuration directory"),
        "{err}"
    );
}

#[test]
fn step_budget_stops_long_evaluations() {
    let (code, _, err) = run("loop.nix");
    assert_eq!(code, 1);
    assert!(err.contains("evaluation step limit exceeded"), "{err}");
}
