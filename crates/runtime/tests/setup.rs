//! The wizard's steps against the QQ and provider simulators and the real
//! keyring: credentials checked live with clear errors, secrets kept out of
//! the config, a draft bot renamed with its secret, the model saved, skills
//! toggled, the export free of secrets.

use pincer_runtime::config::QqEnvironment;
use pincer_runtime::paths::PincerPaths;
use pincer_runtime::secrets::{Secret, SecretName, Secrets};
use pincer_runtime::setup::{self, ProviderChoice, QqHosts};
use pincer_sim::provider::ProviderSim;
use pincer_sim::qq::{QqSim, QqSimConfig, SimApp};

const APP: &str = "404040";
const SECRET: &str = "setup-secret-91af";
const KEY: &str = "sk-setup-key-77c1";

fn secrets() -> Secrets {
    Secrets::new(format!("app.pincer.test.setup.{}", std::process::id()))
}

struct World {
    _dir: tempfile::TempDir,
    paths: PincerPaths,
    hosts: QqHosts,
    qq: QqSim,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let paths = PincerPaths::under(dir.path());
    paths.create().unwrap();
    let qq = QqSim::start(QqSimConfig::default()).await.unwrap();
    qq.add_app(SimApp::new(APP, SECRET));
    let hosts = QqHosts {
        api_base: Some(qq.api_base()),
        token_url: Some(qq.token_url()),
        bind_base: Some(qq.bind_base()),
    };
    World { _dir: dir, paths, hosts, qq }
}

#[tokio::test]
async fn credentials_are_checked_live_with_clear_errors() {
    let w = world().await;
    let http = reqwest::Client::new();
    let name = setup::check_credentials(
        http.clone(),
        &w.hosts,
        QqEnvironment::Production,
        APP,
        Secret::new(SECRET),
    )
    .await
    .unwrap();
    assert!(!name.is_empty());

    let wrong = setup::check_credentials(
        http.clone(),
        &w.hosts,
        QqEnvironment::Production,
        APP,
        Secret::new("nope"),
    )
    .await
    .unwrap_err();
    assert!(wrong.zh.contains("AppSecret") && wrong.en.contains("AppSecret"), "{wrong:?}");
    assert!(!wrong.zh.contains("nope") && !wrong.en.contains("nope"));

    let not_a_number = setup::check_credentials(
        http,
        &w.hosts,
        QqEnvironment::Production,
        "abc",
        Secret::new(SECRET),
    )
    .await
    .unwrap_err();
    assert!(not_a_number.zh.contains("AppID"));
    drop(w.qq);
}

#[tokio::test]
async fn a_draft_becomes_a_named_bot_with_its_model_and_the_secrets_stay_in_the_keyring() {
    let w = world().await;
    let secrets = secrets();
    let provider = ProviderSim::start().await.unwrap();
    let draft = setup::save_draft(
        &w.paths,
        &secrets,
        &w.hosts,
        QqEnvironment::Production,
        "QQ 名字",
        APP,
        &Secret::new(SECRET),
        Some("OWNER".into()),
    )
    .unwrap();
    assert!(draft.has_owner);
    // The same bot twice is refused, with the name it has.
    let again = setup::save_draft(
        &w.paths,
        &secrets,
        &w.hosts,
        QqEnvironment::Production,
        "x",
        APP,
        &Secret::new(SECRET),
        None,
    )
    .unwrap_err();
    assert!(again.zh.contains(&draft.name));
    let config = setup::load(&w.paths).unwrap();
    let bot = config.bot(&draft.name).unwrap();
    assert!(!bot.enabled, "a draft does not run before the wizard ends");
    assert_eq!(bot.skills, setup::DEFAULT_SKILLS);

    // Renaming moves the AppSecret in the keyring.
    let named = setup::name_bot(&w.paths, &secrets, &draft.name, "小钳", "你是小钳。").unwrap();
    assert_eq!(named.persona, "你是小钳。");
    let moved = secrets.get(&SecretName::BotAppSecret("小钳".into())).unwrap().unwrap().0;
    assert_eq!(moved.expose(), SECRET);
    assert!(secrets.get(&SecretName::BotAppSecret(draft.name.clone())).unwrap().is_none());

    // Finishing without a model is refused; the model is tested and saved.
    assert!(setup::finish(&w.paths, "小钳").unwrap_err().en.contains("model"));
    let choice = ProviderChoice {
        preset: "custom".into(),
        base_url: format!("{}/v1", provider.base_url()),
        model: "sim-model".into(),
        api_key: Some(Secret::new(KEY)),
    };
    let tested = setup::test_provider(&secrets, &choice).await.unwrap();
    assert_eq!(tested.model, "sim-model");
    assert!(!tested.reply.is_empty());
    let bad = ProviderChoice { base_url: "not a url".into(), ..choice.clone() };
    assert!(setup::test_provider(&secrets, &bad).await.unwrap_err().en.contains("URL"));
    setup::save_provider(&w.paths, &secrets, "小钳", &choice).unwrap();
    setup::finish(&w.paths, "小钳").unwrap();
    let config = setup::load(&w.paths).unwrap();
    let bot = config.bot("小钳").unwrap();
    assert!(bot.enabled);
    assert_eq!(bot.provider.as_deref(), Some("custom"));
    let key = secrets.get(&SecretName::ProviderApiKey("custom".into())).unwrap().unwrap().0;
    assert_eq!(key.expose(), KEY);

    // Skills: toggled and shown with their state.
    assert!(setup::set_skill_enabled(&w.paths, "小钳", "translate", false).unwrap());
    assert!(!setup::set_skill_enabled(&w.paths, "小钳", "translate", false).unwrap());
    let views = setup::skill_views(&w.paths, &secrets, "小钳").unwrap();
    let translate = views.iter().find(|v| v.name == "translate").unwrap();
    assert!(!translate.enabled && translate.available && translate.source == "bundled");
    assert!(views.iter().find(|v| v.name == "reminders").unwrap().enabled);

    // The dashboard's editor: persona and daily caps; a cap of 0 or below is
    // refused with what to do, and nothing is changed by it.
    let edit = setup::BotEdit {
        persona: "  你是小钳，说话简短。 ".into(),
        daily_token_cap: Some(200_000),
        daily_cost_cap: Some(2.5),
    };
    let edited = setup::edit_bot(&w.paths, "小钳", &edit).unwrap();
    assert_eq!(edited.persona, "你是小钳，说话简短。");
    for bad in [
        setup::BotEdit { daily_token_cap: Some(0), ..edit.clone() },
        setup::BotEdit { daily_cost_cap: Some(0.0), ..edit.clone() },
        setup::BotEdit { daily_cost_cap: Some(f64::NAN), ..edit.clone() },
    ] {
        let err = setup::edit_bot(&w.paths, "小钳", &bad).unwrap_err();
        assert!(
            err.en.contains("leave it empty for no cap") && err.zh.contains("请留空"),
            "{err:?}"
        );
    }
    assert!(setup::edit_bot(&w.paths, "nobody", &edit).unwrap_err().en.contains("nobody"));
    let reloaded = setup::load(&w.paths).unwrap();
    let bot = reloaded.bot("小钳").unwrap();
    assert_eq!((bot.daily_token_cap, bot.daily_cost_cap), (Some(200_000), Some(2.5)));
    assert_eq!(bot.persona, "你是小钳，说话简短。");
    let no_caps = setup::BotEdit { daily_token_cap: None, daily_cost_cap: None, ..edit };
    setup::edit_bot(&w.paths, "小钳", &no_caps).unwrap();
    let text = std::fs::read_to_string(w.paths.config_file()).unwrap();
    assert!(!text.contains("daily_"), "no caps, no keys: {text}");

    // Nothing secret in the config or the export; the owner is left out of the export.
    let text = std::fs::read_to_string(w.paths.config_file()).unwrap();
    assert!(!text.contains(SECRET) && !text.contains(KEY));
    let export = setup::export_config(&w.paths).unwrap();
    assert!(!export.contains(SECRET) && !export.contains(KEY) && !export.contains("OWNER"));
    assert!(export.contains("小钳"));

    setup::remove_bot(&w.paths, &secrets, "小钳").unwrap();
    assert!(secrets.get(&SecretName::BotAppSecret("小钳".into())).unwrap().is_none());
    secrets.delete(&SecretName::ProviderApiKey("custom".into())).unwrap();
}
