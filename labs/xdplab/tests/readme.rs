//! The CI and cluster snippets of docs/grading-at-scale.md (GitHub Actions, Kubernetes, GitHub Classroom) and
//! of README.md (the container image) are valid YAML of the right shape: parsed with a YAML
//! parser, not eyeballed.

use yaml_rust2::{Yaml, YamlLoader};

const README: &str = include_str!("../../../docs/grading-at-scale.md");

/// Every ```yaml block of the README, each parsed into its documents.
fn yaml_blocks() -> Vec<Vec<Yaml>> {
    yaml_blocks_of(README)
}

/// Every ```yaml block of `text`, each parsed into its documents.
fn yaml_blocks_of(text: &str) -> Vec<Vec<Yaml>> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```yaml\n") {
        let body = &rest[start + 8..];
        let end = body.find("\n```").expect("a closed yaml block");
        let docs = YamlLoader::load_from_str(&body[..end])
            .unwrap_or_else(|e| panic!("README yaml block does not parse: {e}\n{}", &body[..end]));
        blocks.push(docs);
        rest = &body[end..];
    }
    blocks
}

fn find(blocks: &[Vec<Yaml>], pred: impl Fn(&Yaml) -> bool) -> &Vec<Yaml> {
    blocks
        .iter()
        .find(|docs| docs.iter().any(&pred))
        .expect("the README has this snippet")
}

fn steps_run(job: &Yaml) -> String {
    job["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s["run"].as_str().unwrap_or(""),
                s["with"]["command"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn github_actions_grades_shards_then_merges() {
    let blocks = yaml_blocks();
    let wf = &find(&blocks, |d| d["name"].as_str() == Some("grade"))[0];
    let jobs = &wf["jobs"];
    let shards = jobs["grade"]["strategy"]["matrix"]["shard"]
        .as_vec()
        .unwrap();
    assert_eq!(shards.len(), 4);
    assert_eq!(
        jobs["grade"]["container"]["options"].as_str(),
        Some("--privileged")
    );
    assert!(steps_run(&jobs["grade"]).contains("--shard \"${{ matrix.shard }}/4\""));
    assert_eq!(jobs["merge"]["needs"].as_str(), Some("grade"));
    assert!(steps_run(&jobs["merge"]).contains("grade merge artifacts/results-*"));
    let uploads = |job: &Yaml| {
        job["steps"]
            .as_vec()
            .unwrap()
            .iter()
            .filter(|s| s["uses"].as_str() == Some("actions/upload-artifact@v4"))
            .count()
    };
    assert_eq!(uploads(&jobs["grade"]), 1);
    assert_eq!(uploads(&jobs["merge"]), 1);
}

#[test]
fn kubernetes_indexed_job_then_merge() {
    let blocks = yaml_blocks();
    let docs = find(&blocks, |d| d["kind"].as_str() == Some("Job"));
    assert_eq!(docs.len(), 2);
    let grade = &docs[0];
    assert_eq!(grade["spec"]["completionMode"].as_str(), Some("Indexed"));
    let n = grade["spec"]["completions"].as_i64().unwrap();
    let pod = &grade["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(pod["securityContext"]["privileged"].as_bool(), Some(true));
    let args = pod["args"][0].as_str().unwrap();
    assert!(
        args.contains(&format!("--shard $((JOB_COMPLETION_INDEX + 1))/{n}")),
        "{args}"
    );
    let merge = docs[1]["spec"]["template"]["spec"]["containers"][0]["command"][2]
        .as_str()
        .unwrap();
    assert!(merge.starts_with("xdplab grade merge"), "{merge}");
}

#[test]
fn classroom_reports_points_per_program() {
    let blocks = yaml_blocks();
    let wf = &find(&blocks, |d| d["name"].as_str() == Some("Autograding Tests"))[0];
    let steps = wf["jobs"]["run-autograding-tests"]["steps"]
        .as_vec()
        .unwrap();
    let graders: Vec<&Yaml> = steps
        .iter()
        .filter(|s| s["uses"].as_str() == Some("classroom-resources/autograding-command-grader@v1"))
        .collect();
    let programs = ["ip_filter", "port_filter", "firewall"];
    assert_eq!(graders.len(), programs.len());
    for (g, program) in graders.iter().zip(programs) {
        let cmd = g["with"]["command"].as_str().unwrap();
        assert!(cmd.contains(&format!(
            "xdplab run 7.1 --object filter.o --program {program}"
        )));
        assert_eq!(g["with"]["max-score"].as_i64(), Some(10));
    }
    let reporter = steps.last().unwrap();
    let runners = reporter["with"]["runners"].as_str().unwrap();
    for g in &graders {
        let id = g["id"].as_str().unwrap();
        assert!(runners.split(',').any(|r| r == id), "{runners}");
        let var = format!("{}_RESULTS", id.to_uppercase());
        assert!(!reporter["env"][var.as_str()].is_badvalue(), "{var}");
    }
}

/// README.md's snippets run the image the Dockerfile builds, privileged, and pass it xdplab's
/// arguments (the image's entry point is xdplab).
#[test]
fn container_image_snippets_run_xdplab_privileged() {
    let dockerfile = include_str!("../../../Dockerfile");
    assert!(dockerfile.contains("ENTRYPOINT [\"xdplab\"]"));
    let blocks = yaml_blocks_of(include_str!("../../../README.md"));
    let job = &find(&blocks, |d| !d["grade"]["container"].is_badvalue())[0]["grade"];
    assert_eq!(job["container"]["options"].as_str(), Some("--privileged"));
    assert!(steps_run(job).contains("xdplab grade 7.1 submissions --out results"));
    let k8s = &find(&blocks, |d| d["kind"].as_str() == Some("Job"))[0];
    let pod = &k8s["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(pod["securityContext"]["privileged"].as_bool(), Some(true));
    assert_eq!(pod["args"][0].as_str(), Some("grade"));
}
