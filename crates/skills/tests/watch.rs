//! Hot reload: editing, adding and removing a SKILL.md publishes a new skill set.

use std::time::Duration;

use pincer_skills::watch::SkillWatcher;
use pincer_skills::{SkillRoot, SkillSource};

async fn wait_for(
    rx: &mut tokio::sync::watch::Receiver<std::sync::Arc<pincer_skills::SkillSet>>,
    pred: impl Fn(&pincer_skills::SkillSet) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if pred(&rx.borrow_and_update()) {
            return;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(!left.is_zero(), "timed out waiting for reload");
        let _ = tokio::time::timeout(left, rx.changed()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_skill_reloads_the_set() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("greet");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("SKILL.md"), "---\nname: greet\ndescription: Say hello.\n---\nHi\n")
        .unwrap();

    let watcher = SkillWatcher::start(
        vec![SkillRoot::new(tmp.path(), SkillSource::Workspace)],
        Duration::from_millis(100),
    )
    .unwrap();
    let mut rx = watcher.subscribe();
    assert_eq!(watcher.current().get("greet").unwrap().description, "Say hello.");

    std::fs::write(
        dir.join("SKILL.md"),
        "---\nname: greet\ndescription: Say hello in Chinese.\n---\n你好\n",
    )
    .unwrap();
    wait_for(&mut rx, |s| s.get("greet").is_some_and(|g| g.description == "Say hello in Chinese."))
        .await;

    let other = tmp.path().join("bye");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("SKILL.md"), "---\nname: bye\ndescription: Say goodbye.\n---\n")
        .unwrap();
    wait_for(&mut rx, |s| s.get("bye").is_some()).await;

    std::fs::remove_dir_all(&dir).unwrap();
    wait_for(&mut rx, |s| s.get("greet").is_none() && s.get("bye").is_some()).await;

    // A broken edit is a rejection in the new set, not a crash of the watcher.
    std::fs::write(other.join("SKILL.md"), "---\nname: bye\n---\n").unwrap();
    wait_for(&mut rx, |s| s.skills.is_empty() && s.rejected.len() == 1).await;
}
