//! Lab 7.2 against the reference solution (or the object named by `XDPLAB_OBJECT`), in each
//! mode. The tables are insta snapshots under expected/lab-7-2/, shared by all modes, with the
//! values measured during a run (inside ⟨ ⟩) redacted. The SYN-ACK's full headers are a
//! snapshot of their own, with the cookie redacted; the cookie is checked by the handshake
//! checks instead.

use harness::testing;
use kernel::{Mode, Verdict, XdpObject, target};
use traffic::{FrameBuilder, decode};

fn object() -> XdpObject {
    testing::object_under_test(&lab_7_2::lab(0))
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../../expected/lab-7-2"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

fn passes_everything(mode: Mode) {
    let lab = lab_7_2::lab(0);
    let report = testing::run(&lab, &object(), mode, None);
    assert!(report.all_passed(), "{}", report.to_text());
    assert_eq!(report.checks.len(), lab.check_ids().len());
    for part in &lab.parts {
        let table = report.verdict_table(part.program);
        // Checks skipped in test-run mode leave an empty table; keep the snapshot shared.
        let table = table.replace("## 7.2/syn_cookie/real-client\n\n", "");
        let table = if mode == Mode::TestRun {
            table
        } else {
            strip_real_client(&table)
        };
        snapshot(
            &format!("{}-verdicts", part.program),
            &testing::redact(&table),
        );
    }
    if mode != Mode::TestRun {
        let real = report
            .checks
            .iter()
            .find(|c| c.id == "7.2/syn_cookie/real-client")
            .unwrap();
        snapshot("syn_cookie-real-client", &testing::redact(&real.actual));
    }
}

/// The real-client check runs only on veth; it has a snapshot of its own.
fn strip_real_client(table: &str) -> String {
    match table.find("## 7.2/syn_cookie/real-client\n") {
        Some(at) => table[..at].to_owned(),
        None => table.to_owned(),
    }
}

/// The SYN-ACK the program builds for a SYN with Linux's usual options, fully decoded, with the
/// cookie (its sequence number) redacted.
fn syn_ack_headers(mode: Mode) {
    let lab = lab_7_2::lab(0);
    let part = lab
        .parts
        .iter()
        .find(|p| p.program == "syn_cookie")
        .unwrap();
    let mut t = target::open(&object(), "syn_cookie", mode, &part.topology).expect("target");
    let syn = FrameBuilder::ethernet(kernel::topology::CLIENT_MAC, kernel::topology::DUT_MAC)
        .ipv4(
            "198.51.100.99".parse().unwrap(),
            "203.0.113.1".parse().unwrap(),
        )
        .tcp(40099, 80)
        .seq(7)
        .tcp_options(&[
            2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ])
        .build();
    let out = t.exchange(&syn).expect("exchange");
    assert_eq!(out.verdict, Verdict::Tx);
    let d = decode(out.bytes.as_ref().unwrap());
    let cookie = d.tcp.as_ref().unwrap().seq;
    let text = d
        .to_string()
        .replace(&format!("seq {cookie} "), "seq <cookie> ");
    assert!(text.contains("seq <cookie>"), "{text}");
    snapshot("syn_cookie-syn-ack", &text);
}

#[test]
fn native() {
    passes_everything(Mode::Native);
}

#[test]
fn generic() {
    passes_everything(Mode::Generic);
}

#[test]
fn test_run() {
    passes_everything(Mode::TestRun);
}

#[test]
fn syn_ack_native() {
    syn_ack_headers(Mode::Native);
}

#[test]
fn syn_ack_generic() {
    syn_ack_headers(Mode::Generic);
}

#[test]
fn syn_ack_test_run() {
    syn_ack_headers(Mode::TestRun);
}

/// Other seeds draw the free fields at random: the reference passes them too, and they
/// change the frames.
#[test]
fn seeded_frames_pass() {
    testing::assert_seeds_vary_and_pass(lab_7_2::lab);
}
