//! The real Docker engine (make test-deps starts dockerd) and the test image: a static `pause` in an
//! otherwise empty root, imported under a tag that names its source's hash, so a changed
//! pause.c makes a new image.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Run the docker CLI.
pub fn docker(args: &[&str]) -> Output {
    super::need("docker", "apt-get install docker.io");
    Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI")
}

/// The test image's tag, built and imported if missing; panics if the engine does not answer.
pub fn docker_image() -> String {
    let info = docker(&["info", "--format", "{{.ServerVersion}}"]);
    assert!(
        info.status.success(),
        "the Docker engine does not answer (make test-deps starts dockerd): {}",
        String::from_utf8_lossy(&info.stderr)
    );
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/docker/pause.c");
    let text = std::fs::read(&source).unwrap();
    let hash: u32 = text.iter().fold(2166136261u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(16777619)
    });
    let image = format!("local/clawdbot-pause:{hash:08x}");
    if docker(&["image", "inspect", &image]).status.success() {
        return image;
    }
    let root =
        std::env::temp_dir().join(format!("clawdbot-image-{}-{hash:08x}", std::process::id()));
    std::fs::create_dir_all(root.join("bin")).unwrap();
    super::need("gcc", "apt-get install gcc libc6-dev");
    let built = Command::new("gcc")
        .args(["-static", "-Os", "-o"])
        .arg(root.join("pause"))
        .arg(&source)
        .status()
        .unwrap();
    assert!(built.success(), "gcc -static pause.c");
    std::fs::copy(root.join("pause"), root.join("bin/sh")).unwrap();
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let imported = Command::new("docker")
        .args(["import", "-c", "CMD [\"/pause\"]", "-", &image])
        .stdin(tar.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(tar.wait().unwrap().success(), "tar of the image root");
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let _ = std::fs::remove_dir_all(&root);
    image
}
