//! `funcmesh replay` as a user runs it: the real binary, the committed
//! capture of `words-py` (`swagger-examples/captures/words-py.jsonl`),
//! replayed against the example bundle, a changed copy of it, a running
//! gateway, a closed port and broken files; exit status and report checked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use funcmesh::dev::DevOptions;
use funcmesh_core::capture::{CaptureRecord, read_records};
use serde_json::Value;

fn capture() -> PathBuf {
    common::root().join("swagger-examples/captures/words-py.jsonl")
}

fn example() -> PathBuf {
    common::root().join("swagger-examples/words-py")
}

fn records(path: &Path) -> Vec<CaptureRecord> {
    read_records(path).unwrap().map(Result::unwrap).collect()
}

/// The outcome of one `funcmesh replay`.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

fn finished(output: Output) -> Run {
    Run {
        code: output.status.code().expect("exited"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn command(files: &[&Path], against: &str, extra: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_funcmesh"));
    command
        .arg("replay")
        .args(files)
        .args(["--against", against, "--log", "warn"])
        .args(extra)
        .env_remove("FUNCMESH_LOG");
    command
}

fn replay(files: &[&Path], against: &str, extra: &[&str]) -> Run {
    finished(command(files, against, extra).output().unwrap())
}

/// A copy of `words-py` in a temp dir, `words/api.py` edited by `edit`.
fn changed_copy(edit: impl Fn(String) -> String) -> Copy {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("words-py");
    funcmesh_core::bundle::copy_sources(&example(), &copy).unwrap();
    let api = copy.join("words/api.py");
    let source = std::fs::read_to_string(&api).unwrap();
    let edited = edit(source.clone());
    assert_ne!(edited, source, "the edit changes the module");
    std::fs::write(&api, edited).unwrap();
    Copy {
        _tmp: tmp,
        dir: copy,
    }
}

/// A changed bundle, removed on drop.
struct Copy {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Copy {
    fn path(&self) -> &Path {
        &self.dir
    }
}

/// Phrases read "2 x people" instead of "2 people".
fn new_phrase(source: String) -> String {
    source.replace(
        r#"f"{count} {singular if count == 1 else plural}""#,
        r#"f"{count} x {singular if count == 1 else plural}""#,
    )
}

/// Text plurals in upper case.
fn shouted_plural(source: String) -> String {
    source.replace(
        "return inflection.pluralize(_word(request))\n",
        "return inflection.pluralize(_word(request)).upper()\n",
    )
}

fn path_str(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

#[test]
fn the_committed_capture_replays_the_same_against_the_example() {
    let total = records(&capture()).len();
    assert!((10..=30).contains(&total), "{total} exchanges");
    let run = replay(&[&capture()], path_str(&example()), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "replayed {total} request(s) against {}: {total} same, 0 different, 0 error(s), 0 unverified",
            example().display()
        )),
        "{run:?}"
    );
    assert!(!run.stdout.contains("DIFFERENT"), "{run:?}");
}

#[test]
fn the_capture_directory_is_no_bundle_of_the_examples() {
    // The whole examples directory, as `funcmesh dev swagger-examples`
    // serves it: captures/ beside the bundles loads as nothing, and fails nothing.
    let run = replay(
        &[&capture()],
        path_str(&common::root().join("swagger-examples")),
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains(" 0 different, 0 error(s)"), "{run:?}");
    assert!(!run.stderr.contains("captures"), "{run:?}");
}

#[test]
fn a_changed_copy_of_the_example_fails_with_the_expected_diff() {
    let changed = changed_copy(|s| shouted_plural(new_phrase(s)));
    let run = replay(&[&capture()], path_str(changed.path()), &[]);
    assert_eq!(run.code, 1, "{run:?}");
    let file = capture().display().to_string();
    let phrase = format!(
        "DIFFERENT words-02 GET /words/person?count=2 ({file}:3)\n  $.phrase: \"2 people\" -> \"2 x people\"\n"
    );
    assert!(run.stdout.contains(&phrase), "{run:?}");
    let text = format!(
        "DIFFERENT words-06 GET /words/octopus/plural ({file}:7)\n  body:\n    - octopi\n    + OCTOPI\n"
    );
    assert!(run.stdout.contains(&text), "{run:?}");
    // Three phrases and four text plurals changed; nothing else.
    assert_eq!(run.stdout.matches("DIFFERENT ").count(), 7, "{run:?}");
    assert!(
        run.stdout.contains(": 17 same, 7 different, 0 error(s)"),
        "{run:?}"
    );
}

#[test]
fn an_ignore_path_makes_a_difference_disappear() {
    let changed = changed_copy(new_phrase);
    let run = replay(&[&capture()], path_str(changed.path()), &[]);
    assert_eq!(run.code, 1, "{run:?}");
    for ignore in ["$.phrase", "$..phrase", "$['phrase']"] {
        let run = replay(
            &[&capture()],
            path_str(changed.path()),
            &["--ignore-path", ignore],
        );
        assert_eq!(run.code, 0, "--ignore-path {ignore}: {run:?}");
    }
}

#[test]
fn the_json_report_parses_and_counts_what_the_text_says() {
    let changed = changed_copy(shouted_plural);
    let run = replay(
        &[&capture()],
        path_str(changed.path()),
        &["--report", "json"],
    );
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    let summary = &report["summary"];
    let total = records(&capture()).len() as u64;
    assert_eq!(summary["total"], total);
    assert_eq!(summary["different"], 4);
    assert_eq!(summary["same"], total - 4);
    assert_eq!(summary["errors"], 0);
    assert_eq!(summary["latency"]["replayed"]["count"], total);
    assert!(summary["latency"]["captured"]["p50_us"].as_u64().unwrap() > 0);
    assert!(summary["throughput_rps"].as_f64().unwrap() > 0.0);
    let differences = report["differences"].as_array().unwrap();
    let ids: Vec<&str> = differences
        .iter()
        .map(|d| d["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["words-06", "words-07", "words-08", "words-22"]);
    assert_eq!(differences[0]["path"], "/words/octopus/plural");
    assert_eq!(differences[0]["line"], 7);
    assert_eq!(differences[0]["body"]["kind"], "text");
    assert_eq!(
        differences[0]["body"]["lines"],
        serde_json::json!(["- octopi", "+ OCTOPI"])
    );
}

#[test]
fn a_refused_connection_is_an_error_not_a_difference() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let run = replay(
        &[&capture()],
        &format!("http://{port}"),
        &["--report", "json"],
    );
    assert_eq!(run.code, 2, "{run:?}");
    let report = run.json();
    let total = records(&capture()).len() as u64;
    assert_eq!(report["summary"]["errors"], total);
    assert_eq!(report["summary"]["different"], 0);
    let first = &report["errors"][0];
    assert_eq!(first["line"], 1);
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("Connection refused"),
        "{first}"
    );
}

#[test]
fn a_malformed_line_is_an_error_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("mixed.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(capture())
        .unwrap()
        .lines()
        .take(2)
        .map(str::to_owned)
        .collect();
    std::fs::write(
        &file,
        format!("{}\n\n{{\"version\": \"1.0\"\n{}\n", lines[0], lines[1]),
    )
    .unwrap();
    let run = replay(&[&file], path_str(&example()), &[]);
    assert_eq!(run.code, 2, "{run:?}");
    let at = format!("{}:3", file.display());
    assert!(
        run.stdout
            .contains(&format!("ERROR ({at})\n  {at}: not a capture record")),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("3 request(s)")
            && run.stdout.contains("2 same, 0 different, 1 error(s)"),
        "{run:?}"
    );
}

#[test]
fn a_bundle_that_fails_to_load_stops_the_replay() {
    let broken = changed_copy(|s| s.replace("def batch(request):", "def batch(request)"));
    let run = replay(&[&capture()], path_str(broken.path()), &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("1 bundle(s) failed to load"), "{run:?}");
    assert!(run.stderr.contains(path_str(broken.path())), "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
}

#[test]
fn replays_against_a_running_gateway_and_saves_a_baseline() {
    common::block_on(async {
        let mut options = DevOptions::new(example());
        common::with_python(&mut options);
        let mesh = common::start(options).await;
        let url = funcmesh::dev::describe(mesh.local_addr());
        let tmp = tempfile::tempdir().unwrap();
        let saved = tmp.path().join("baseline.jsonl");
        let run = finished(
            tokio::process::Command::from(command(
                &[&capture()],
                &url,
                &["--save", path_str(&saved)],
            ))
            .output()
            .await
            .unwrap(),
        );
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stdout.contains(&format!(" against {url}: ")), "{run:?}");
        let captured = records(&capture());
        let baseline = records(&saved);
        assert_eq!(baseline.len(), captured.len());
        for (new, old) in baseline.iter().zip(&captured) {
            assert_eq!(new.source, "replay");
            assert_eq!(new.request, old.request, "the request is kept as captured");
            let (new_answer, old_answer) = (
                new.response.as_ref().unwrap(),
                old.response.as_ref().unwrap(),
            );
            assert_eq!(new_answer.status, old_answer.status, "{}", old.request.id);
            assert_eq!(new_answer.body, old_answer.body, "{}", old.request.id);
            assert!(new.timings.total_us > 0);
        }
        mesh.shutdown().await.unwrap();
    });
}

#[test]
fn requests_without_an_answer_become_a_baseline_with_save() {
    let tmp = tempfile::tempdir().unwrap();
    let queued = tmp.path().join("queued.jsonl");
    let lines: String = records(&capture())
        .into_iter()
        .map(|mut record| {
            record.source = "queue".into();
            record.response = None;
            format!("{}\n", String::from_utf8(record.encode()).unwrap())
        })
        .collect();
    std::fs::write(&queued, lines).unwrap();
    let total = records(&queued).len();

    let saved = tmp.path().join("baseline.jsonl");
    let run = replay(
        &[&queued],
        path_str(&example()),
        &["--save", path_str(&saved)],
    );
    assert_eq!(run.code, 0, "unverified is not a difference: {run:?}");
    assert!(
        run.stdout.contains(&format!(
            "0 same, 0 different, 0 error(s), {total} unverified"
        )),
        "{run:?}"
    );
    let baseline = records(&saved);
    assert_eq!(baseline.len(), total);
    assert!(
        baseline
            .iter()
            .all(|r| r.response.is_some() && r.source == "replay")
    );
    assert!(
        baseline
            .iter()
            .all(|r| r.bundle.as_ref().is_some_and(|hash| hash.len() == 64)),
        "the full hash of the bundle that answered"
    );
    // The fire-and-forget request was sent for an answer.
    let goose = baseline
        .iter()
        .find(|r| r.request.id == "words-23")
        .unwrap();
    assert_eq!(goose.response.as_ref().unwrap().status, 200);

    let again = replay(&[&saved], path_str(&example()), &[]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again.stdout.contains(&format!("{total} same, 0 different")),
        "{again:?}"
    );
    let changed = changed_copy(shouted_plural);
    let against_changed = replay(&[&saved], path_str(changed.path()), &[]);
    assert_eq!(against_changed.code, 1, "{against_changed:?}");
}

#[test]
fn rate_and_concurrency_pace_a_replay_used_as_a_load_test() {
    let total = records(&capture()).len() as f64;
    let run = replay(
        &[&capture()],
        path_str(&example()),
        &["--rate", "20", "--concurrency", "2", "--report", "json"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let summary = &run.json()["summary"];
    // The last request starts (total - 1) / 20 seconds after the first.
    let least_ms = (total - 1.0) / 20.0 * 1000.0;
    assert!(
        summary["elapsed_ms"].as_f64().unwrap() >= least_ms,
        "{summary}"
    );
    assert!(
        summary["throughput_rps"].as_f64().unwrap() <= 21.0,
        "{summary}"
    );
    assert!(
        summary["latency"]["replayed"]["p99_us"].as_u64().unwrap() > 0,
        "{summary}"
    );
}

#[test]
fn a_target_that_never_answers_times_out_as_an_error() {
    // Accepts connections and reads, but never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let started = std::time::Instant::now();
    let run = replay(
        &[&capture()],
        &format!("http://{addr}"),
        &["--timeout-ms", "300", "--concurrency", "24"],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stdout.contains("  no answer within 300 ms\n"),
        "{run:?}"
    );
    let total = records(&capture()).len();
    let counts = format!(" 0 same, 0 different, {total} error(s)");
    assert!(run.stdout.contains(&counts), "{run:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{run:?}"
    );
}
