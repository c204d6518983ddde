//! The secret store against a real OS keyring: gnome-keyring's Secret
//! Service on a D-Bus session bus, which `scripts/test.sh` starts (and
//! unlocks) for the test run.

use pincer_runtime::secrets::{Secret, SecretError, SecretName, SecretSource, Secrets};

fn store() -> Secrets {
    // A service name of its own per test run keeps runs apart.
    Secrets::new(format!("app.pincer.test.{}", std::process::id()))
}

#[test]
fn stores_reads_and_deletes_a_secret_in_the_keyring() {
    let secrets = store();
    let name = SecretName::BotAppSecret("keyring-test-bot".into());
    secrets.delete(&name).unwrap();
    assert!(secrets.get(&name).unwrap().is_none());

    secrets.set(&name, &Secret::new("s3cr3t-值")).unwrap();
    let (value, source) = secrets.get(&name).unwrap().expect("stored");
    assert_eq!((value.expose(), source), ("s3cr3t-值", SecretSource::Keyring));

    // A second store object (a restarted process) sees it too.
    let again = Secrets::new(format!("app.pincer.test.{}", std::process::id()));
    assert_eq!(again.get(&name).unwrap().unwrap().0.expose(), "s3cr3t-值");

    secrets.set(&name, &Secret::new("rotated")).unwrap();
    assert_eq!(secrets.get(&name).unwrap().unwrap().0.expose(), "rotated");
    secrets.delete(&name).unwrap();
    assert!(secrets.get(&name).unwrap().is_none());
    secrets.probe().unwrap();
}

#[test]
fn the_environment_overrides_the_keyring_and_is_never_written() {
    let secrets = store();
    let name = SecretName::ProviderApiKey("env-override-test".into());
    secrets.set(&name, &Secret::new("from-keyring")).unwrap();
    std::env::set_var(name.env_var(), "from-env");
    let (value, source) = secrets.get(&name).unwrap().unwrap();
    assert_eq!((value.expose(), source), ("from-env", SecretSource::Environment));
    std::env::remove_var(name.env_var());
    assert_eq!(secrets.get(&name).unwrap().unwrap().0.expose(), "from-keyring");
    secrets.delete(&name).unwrap();
}

#[test]
fn without_a_keyring_the_error_names_both_ways_out() {
    // A child process with no session bus at all.
    if std::env::var_os("PINCER_TEST_NO_BUS_CHILD").is_some() {
        let name = SecretName::BotAppSecret("nobus".into());
        let err = store().set(&name, &Secret::new("x")).unwrap_err();
        match &err {
            SecretError::NoKeyring { env_var, .. } => {
                assert_eq!(env_var, "PINCER_SECRET_BOT_NOBUS_APP_SECRET")
            }
            other => panic!("expected NoKeyring, got {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("PINCER_SECRET_BOT_NOBUS_APP_SECRET") && text.contains("gnome-keyring")
        );
        assert!(err.explain_zh().contains("钥匙串"));
        println!("CHILD-OK");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "without_a_keyring_the_error_names_both_ways_out", "--nocapture"])
        .env("PINCER_TEST_NO_BUS_CHILD", "1")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/pincer-no-bus")
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CHILD-OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
