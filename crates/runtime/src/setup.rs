//! What the setup wizard and the settings do to the saved config and the
//! keyring: connect a QQ bot (checked live), create it, choose its model,
//! pick its skills, finish. The desktop app's commands and the CLI call
//! these; a running [`Supervisor`](crate::supervisor::Supervisor) applies the
//! saved result with `reload_from_disk`.
//!
//! The config file on disk is the one source of truth: every step loads it,
//! changes it and saves it atomically, so a wizard closed midway resumes from
//! what was saved.

use pincer_agent::context::PersonaTemplate;
use pincer_agent::provider::check;
use pincer_agent::provider::detect::{self, DetectTargets};
use pincer_agent::provider::presets::{self, ProviderConfig as AgentProvider};
use pincer_agent::provider::ApiKey;
use pincer_skills::gating;
use pincer_skills::i18n::Lang;
use pincer_skills::registry::{InstallOptions, RegistryClient, RegistryError, DEFAULT_REGISTRY};
use pincer_skills::safety::Verdict;
use pincer_skills::skill::SkillSource;
use serde::{Deserialize, Serialize};

use crate::config::{BotConfig, Config, ProviderConfig, ProviderKind, QqEnvironment};
use crate::error::UserError;
use crate::paths::PincerPaths;
use crate::qq_connection;
use crate::secrets::{Secret, SecretName, Secrets};
use crate::skills as rt;

/// The production host of QQ's one-click binding.
pub const DEFAULT_BIND_BASE: &str = "https://q.qq.com";

/// Skills a new bot starts with: bundled, useful to anyone, needing nothing.
pub const DEFAULT_SKILLS: &[&str] = &["reminders", "summarize-link", "translate"];

/// Where QQ is reached. The defaults are QQ's own hosts; the environment
/// variables `PINCER_QQ_API_BASE`, `PINCER_QQ_TOKEN_URL` and
/// `PINCER_QQ_BIND_BASE` replace them (the simulators in tests and demos).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QqHosts {
    /// Replaces the REST base.
    pub api_base: Option<String>,
    /// Replaces the token endpoint.
    pub token_url: Option<String>,
    /// Replaces [`DEFAULT_BIND_BASE`].
    pub bind_base: Option<String>,
}

impl QqHosts {
    /// The hosts from the environment.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            api_base: var("PINCER_QQ_API_BASE"),
            token_url: var("PINCER_QQ_TOKEN_URL"),
            bind_base: var("PINCER_QQ_BIND_BASE"),
        }
    }

    /// The binding host.
    pub fn bind_base(&self) -> &str {
        self.bind_base.as_deref().unwrap_or(DEFAULT_BIND_BASE)
    }
}

/// A bot made by the wizard's first step: saved, disabled until
/// [`finish`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DraftBot {
    /// Its name so far.
    pub name: String,
    /// QQ AppID.
    pub app_id: String,
    /// The bot's name on QQ.
    pub qq_name: String,
    /// Whether the bot has an owner (the QR path: whoever scanned).
    pub has_owner: bool,
    /// The persona prefilled for step 2.
    pub persona: String,
}

/// Loads the config (a missing file is an empty config).
pub fn load(paths: &PincerPaths) -> Result<Config, UserError> {
    Ok(Config::load(&paths.config_file())?.config)
}

fn save(paths: &PincerPaths, config: &Config) -> Result<(), UserError> {
    Ok(config.save(&paths.config_file())?)
}

fn no_bot(name: &str) -> UserError {
    UserError::new(format!("没有名为 {name} 的机器人。"), format!("there is no bot named {name}"))
}

fn bot_mut<'a>(config: &'a mut Config, name: &str) -> Result<&'a mut BotConfig, UserError> {
    config.bots.iter_mut().find(|b| b.name == name).ok_or_else(|| no_bot(name))
}

/// Checks a bot's credentials live: a token, the bot's own user, and the
/// gateway address. Returns the bot's name on QQ.
pub async fn check_credentials(
    http: reqwest::Client,
    hosts: &QqHosts,
    environment: QqEnvironment,
    app_id: &str,
    secret: Secret,
) -> Result<String, UserError> {
    let app_id = app_id.trim();
    if app_id.is_empty() || !app_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UserError::new(
            "AppID 应该是一串数字：请在 QQ 开放平台「开发设置」中复制。",
            "the AppID is a number: copy it from Development settings on the QQ Open Platform",
        ));
    }
    let endpoints = qq_connection::endpoints(
        environment,
        hosts.api_base.as_deref(),
        hosts.token_url.as_deref(),
    );
    let rest = qq_connection::rest_client(http, endpoints, app_id, secret);
    let me = rest.me().await?;
    rest.gateway().await?;
    Ok(me.username)
}

/// A name no bot has yet, from `wanted`.
fn unique_name(config: &Config, wanted: &str) -> String {
    let base = wanted.trim();
    let base = if base.is_empty() { "bot" } else { base };
    let mut name = base.to_owned();
    let mut n = 2;
    while config.bot(&name).is_some() {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// Saves a checked bot as a draft: the AppSecret into the keyring, the bot
/// (disabled, with the default persona and skills) into the config.
pub fn save_draft(
    paths: &PincerPaths,
    secrets: &Secrets,
    hosts: &QqHosts,
    environment: QqEnvironment,
    qq_name: &str,
    app_id: &str,
    secret: &Secret,
    owner: Option<String>,
) -> Result<DraftBot, UserError> {
    let mut config = load(paths)?;
    if let Some(existing) = config.bots.iter().find(|b| b.app_id == app_id) {
        return Err(UserError::new(
            format!("这个 QQ 机器人已经添加过了（名为 {}）。", existing.name),
            format!("this QQ bot is added already (as {})", existing.name),
        ));
    }
    let name = unique_name(&config, qq_name);
    secrets.set(&SecretName::BotAppSecret(name.clone()), secret)?;
    let persona = PersonaTemplate::Assistant.system_prompt().to_owned();
    config.bots.push(BotConfig {
        name: name.clone(),
        app_id: app_id.to_owned(),
        environment,
        api_base: hosts.api_base.clone(),
        token_url: hosts.token_url.clone(),
        intents: Default::default(),
        persona: persona.clone(),
        provider: None,
        model: None,
        skills: DEFAULT_SKILLS.iter().map(|s| s.to_string()).collect(),
        allowed_groups: Vec::new(),
        allowed_users: Vec::new(),
        owner: owner.clone(),
        daily_token_cap: None,
        daily_cost_cap: None,
        enabled: false,
    });
    save(paths, &config)?;
    Ok(DraftBot {
        name,
        app_id: app_id.to_owned(),
        qq_name: qq_name.to_owned(),
        has_owner: owner.is_some(),
        persona,
    })
}

/// The wizard's second step: the bot's name and persona. Renaming moves its
/// AppSecret in the keyring.
pub fn name_bot(
    paths: &PincerPaths,
    secrets: &Secrets,
    current: &str,
    name: &str,
    persona: &str,
) -> Result<BotConfig, UserError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 32 || name.chars().any(char::is_control) {
        return Err(UserError::new(
            "名字不能为空，最多 32 个字。",
            "the name must be 1 to 32 characters",
        ));
    }
    let mut config = load(paths)?;
    if name != current && config.bot(name).is_some() {
        return Err(UserError::new(
            format!("已经有名为 {name} 的机器人，换个名字吧。"),
            format!("a bot named {name} exists: pick another name"),
        ));
    }
    if name != current {
        let (old, new) =
            (SecretName::BotAppSecret(current.to_owned()), SecretName::BotAppSecret(name.into()));
        let Some((secret, _)) = secrets.get(&old)? else {
            return Err(UserError::new(
                format!("钥匙串里没有机器人 {current} 的 AppSecret：请重新连接 QQ。"),
                format!("the keyring has no AppSecret for {current}: connect QQ again"),
            ));
        };
        secrets.set(&new, &secret)?;
        secrets.delete(&old)?;
    }
    let bot = bot_mut(&mut config, current)?;
    bot.name = name.to_owned();
    bot.persona = persona.trim().to_owned();
    let bot = bot.clone();
    save(paths, &config)?;
    Ok(bot)
}

/// What the dashboard's bot editor changes: the persona and the daily caps
/// (`None`: no cap).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotEdit {
    /// The system prompt.
    pub persona: String,
    /// See [`BotConfig::daily_token_cap`].
    pub daily_token_cap: Option<u64>,
    /// See [`BotConfig::daily_cost_cap`].
    pub daily_cost_cap: Option<f64>,
}

/// Changes a running bot's persona and daily caps (applied by a reload).
pub fn edit_bot(paths: &PincerPaths, name: &str, edit: &BotEdit) -> Result<BotConfig, UserError> {
    if edit.daily_token_cap == Some(0) {
        return Err(UserError::new(
            "每日 token 上限至少为 1；不设上限请留空。",
            "the daily token cap must be at least 1; leave it empty for no cap",
        ));
    }
    if edit.daily_cost_cap.is_some_and(|c| c.is_nan() || c <= 0.0 || c.is_infinite()) {
        return Err(UserError::new(
            "每日花费上限必须大于 0；不设上限请留空。",
            "the daily cost cap must be more than 0; leave it empty for no cap",
        ));
    }
    let mut config = load(paths)?;
    let bot = bot_mut(&mut config, name)?;
    bot.persona = edit.persona.trim().to_owned();
    bot.daily_token_cap = edit.daily_token_cap;
    bot.daily_cost_cap = edit.daily_cost_cap;
    let bot = bot.clone();
    save(paths, &config)?;
    Ok(bot)
}

/// A persona template for step 2.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonaView {
    /// Stable id.
    pub id: &'static str,
    /// 中文名.
    pub name_zh: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// The system prompt.
    pub text: &'static str,
}

/// The persona templates.
pub fn persona_templates() -> Vec<PersonaView> {
    PersonaTemplate::ALL
        .iter()
        .map(|t| PersonaView {
            id: match t {
                PersonaTemplate::Assistant => "assistant",
                PersonaTemplate::GroupHelper => "group-helper",
                PersonaTemplate::Translator => "translator",
                PersonaTemplate::StudyBuddy => "study-buddy",
            },
            name_zh: t.name_zh(),
            name_en: t.name_en(),
            text: t.system_prompt(),
        })
        .collect()
}

/// A provider preset as the model step lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresetView {
    /// Preset id (`custom` for any other OpenAI-compatible service).
    pub id: &'static str,
    /// 中文名.
    pub name_zh: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// `openai` or `anthropic`.
    pub kind: &'static str,
    /// Base URL.
    pub base_url: &'static str,
    /// Default model.
    pub default_model: &'static str,
    /// Known models.
    pub models: Vec<&'static str>,
    /// Whether it needs an API key.
    pub needs_key: bool,
    /// A server on this machine.
    pub local: bool,
    /// Where to get a key.
    pub signup_url: &'static str,
    /// A key for it is in the keyring.
    pub has_key: bool,
}

fn has_key(secrets: &Secrets, provider: &str) -> bool {
    matches!(secrets.get(&SecretName::ProviderApiKey(provider.to_owned())), Ok(Some(_)))
}

/// The presets, then "any other OpenAI-compatible service".
pub fn provider_presets(secrets: &Secrets) -> Vec<PresetView> {
    let mut out: Vec<PresetView> = presets::PRESETS
        .iter()
        .map(|p| PresetView {
            id: p.id,
            name_zh: p.name_zh,
            name_en: p.name_en,
            kind: match p.kind {
                presets::ProviderKind::OpenAi => "openai",
                presets::ProviderKind::Anthropic => "anthropic",
            },
            base_url: p.base_url,
            default_model: p.default_model,
            models: p.models.to_vec(),
            needs_key: p.needs_key,
            local: p.is_local(),
            signup_url: p.signup_url,
            has_key: p.needs_key && has_key(secrets, p.id),
        })
        .collect();
    out.push(PresetView {
        id: presets::CUSTOM_ID,
        name_zh: "其他兼容 OpenAI 的服务",
        name_en: "Other OpenAI-compatible service",
        kind: "openai",
        base_url: "",
        default_model: "",
        models: Vec::new(),
        needs_key: true,
        local: false,
        signup_url: "",
        has_key: has_key(secrets, presets::CUSTOM_ID),
    });
    out
}

/// A local model server that answered.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalView {
    /// Preset id (`ollama` or `lmstudio`).
    pub preset: &'static str,
    /// Base URL.
    pub base_url: String,
    /// Its models.
    pub models: Vec<String>,
}

/// Ollama and LM Studio on their standard ports.
pub async fn detect_local() -> Vec<LocalView> {
    detect::detect_local(&DetectTargets::default())
        .await
        .into_iter()
        .map(|s| LocalView { preset: s.kind.preset_id(), base_url: s.base_url, models: s.models })
        .collect()
}

/// The model step's choice.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderChoice {
    /// Preset id or `custom`.
    pub preset: String,
    /// Base URL.
    pub base_url: String,
    /// Model id.
    pub model: String,
    /// A new key (into the keyring), or none to keep the stored one.
    pub api_key: Option<Secret>,
}

impl ProviderChoice {
    fn validate(&self) -> Result<(), UserError> {
        if presets::preset(&self.preset).is_none() && self.preset != presets::CUSTOM_ID {
            return Err(UserError::new(
                format!("未知的模型服务 {}。", self.preset),
                format!("unknown provider {}", self.preset),
            ));
        }
        if reqwest::Url::parse(self.base_url.trim()).is_err() {
            return Err(UserError::new(
                "服务地址不是有效的网址，例如 https://api.deepseek.com/v1",
                "the base URL is not a valid URL, e.g. https://api.deepseek.com/v1",
            ));
        }
        if self.model.trim().is_empty() {
            return Err(UserError::new("请填写模型名称。", "enter a model name"));
        }
        Ok(())
    }

    fn kind(&self) -> presets::ProviderKind {
        presets::preset(&self.preset).map(|p| p.kind).unwrap_or(presets::ProviderKind::OpenAi)
    }

    fn agent_provider(&self, secrets: &Secrets) -> Result<AgentProvider, UserError> {
        let key = match &self.api_key {
            Some(k) => Some(k.clone()),
            None => secrets.get(&SecretName::ProviderApiKey(self.preset.clone()))?.map(|(k, _)| k),
        };
        let key = key.map(|k| ApiKey::new(k.expose()));
        let mut p = match presets::preset(&self.preset) {
            Some(preset) => AgentProvider::from_preset(preset, key),
            None => AgentProvider::custom(self.base_url.trim(), self.model.trim(), key),
        };
        p.base_url = self.base_url.trim().to_owned();
        p.model = self.model.trim().to_owned();
        Ok(p)
    }
}

/// A successful provider test.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderTestResult {
    /// The model that answered.
    pub model: String,
    /// Its reply.
    pub reply: String,
    /// Request to answer.
    pub latency_ms: u64,
}

/// Makes a real (tiny) completion with the choice.
pub async fn test_provider(
    secrets: &Secrets,
    choice: &ProviderChoice,
) -> Result<ProviderTestResult, UserError> {
    choice.validate()?;
    let provider = choice.agent_provider(secrets)?;
    match check::test_config(&provider).await {
        Ok(ok) => Ok(ProviderTestResult {
            model: ok.model,
            reply: ok.reply,
            latency_ms: ok.latency.as_millis() as u64,
        }),
        Err(e) => Err(UserError::new(e.message_zh(), e.message_en())),
    }
}

/// Saves the choice as the bot's model: the provider (its key into the
/// keyring) and the bot's provider and model.
pub fn save_provider(
    paths: &PincerPaths,
    secrets: &Secrets,
    bot: &str,
    choice: &ProviderChoice,
) -> Result<(), UserError> {
    choice.validate()?;
    let needs_key = presets::preset(&choice.preset).is_none_or(|p| p.needs_key);
    let id = choice.preset.clone();
    if let Some(key) = &choice.api_key {
        secrets.set(&SecretName::ProviderApiKey(id.clone()), key)?;
    } else if needs_key && !has_key(secrets, &id) && choice.preset != presets::CUSTOM_ID {
        return Err(UserError::new(
            "这个服务需要 API 密钥：请填写后再继续。",
            "this service needs an API key: enter it to continue",
        ));
    }
    let mut config = load(paths)?;
    let provider = ProviderConfig {
        id: id.clone(),
        kind: match choice.kind() {
            presets::ProviderKind::OpenAi => ProviderKind::OpenAi,
            presets::ProviderKind::Anthropic => ProviderKind::Anthropic,
        },
        preset: Some(id.clone()).filter(|p| p != presets::CUSTOM_ID),
        base_url: choice.base_url.trim().to_owned(),
        model: choice.model.trim().to_owned(),
    };
    match config.providers.iter_mut().find(|p| p.id == id) {
        Some(p) => *p = provider,
        None => config.providers.push(provider),
    }
    let b = bot_mut(&mut config, bot)?;
    b.provider = Some(id);
    b.model = Some(choice.model.trim().to_owned());
    save(paths, &config)
}

/// A skill as the skills step and page show it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillView {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Emoji, when the skill has one.
    pub emoji: Option<String>,
    /// `bundled`, `installed` or `workspace`.
    pub source: &'static str,
    /// Enabled for the bot.
    pub enabled: bool,
    /// Usable here (see `reason`).
    pub available: bool,
    /// Why not.
    pub reason: Option<UserError>,
    /// The environment variables it needs, and which are set.
    pub keys: Vec<SkillKey>,
    /// The safety verdict.
    pub safety: Option<&'static str>,
}

/// An environment variable a skill needs.
#[derive(Debug, Clone, Serialize)]
pub struct SkillKey {
    /// The variable.
    pub name: String,
    /// Whether it has a value (keyring or environment).
    pub set: bool,
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::Warn => "warn",
        Verdict::Block => "block",
    }
}

/// The skills a bot can use, with their state. Blocking (reads skill files
/// and the keyring).
pub fn skill_views(
    paths: &PincerPaths,
    secrets: &Secrets,
    bot: &str,
) -> Result<Vec<SkillView>, UserError> {
    let config = load(paths)?;
    let bot = config.bot(bot).ok_or_else(|| no_bot(bot))?;
    let set = rt::load(paths, Some(&bot.name));
    let ctx = rt::gate_context(secrets, &set.skills);
    let enabled = rt::enabled_names(bot);
    let mut out = Vec::new();
    for s in &set.skills {
        let verdict = rt::safety_verdict(paths, s);
        let (available, reason) = match &verdict {
            Ok(Verdict::Block) => (false, Some(rt::SkipReason::Blocked)),
            Err(detail) => (false, Some(rt::SkipReason::Unreadable { detail: detail.clone() })),
            Ok(_) => {
                let e = gating::check(s, &ctx);
                (e.eligible, (!e.eligible).then_some(rt::SkipReason::Ineligible { eligibility: e }))
            }
        };
        let keys = rt::env_vars(s)
            .into_iter()
            .map(|var| {
                let name = SecretName::SkillEnv { skill: s.name.clone(), var: var.clone() };
                let set =
                    matches!(secrets.get(&name), Ok(Some(_))) || std::env::var_os(&var).is_some();
                SkillKey { name: var, set }
            })
            .collect();
        out.push(SkillView {
            name: s.name.clone(),
            description: s.description.clone(),
            emoji: s.openclaw.as_ref().and_then(|m| m.emoji.clone()),
            source: match s.source {
                SkillSource::Bundled => "bundled",
                SkillSource::WorkspaceAgents | SkillSource::PersonalAgents => "workspace",
                _ => "installed",
            },
            enabled: enabled.contains(&s.name),
            available,
            reason: reason.map(|r| UserError::new(r.explain(Lang::ZhCn), r.explain(Lang::En))),
            keys,
            safety: verdict.ok().map(verdict_word),
        });
    }
    out.sort_by(|a, b| (a.source != "bundled", &a.name).cmp(&(b.source != "bundled", &b.name)));
    Ok(out)
}

/// Turns a skill on or off for a bot (saved). Returns whether it changed.
pub fn set_skill_enabled(
    paths: &PincerPaths,
    bot: &str,
    skill: &str,
    on: bool,
) -> Result<bool, UserError> {
    let mut config = load(paths)?;
    let changed = rt::set_enabled(bot_mut(&mut config, bot)?, skill, on);
    if changed {
        save(paths, &config)?;
    }
    Ok(changed)
}

/// Refuses an environment variable name a skill could not be given
/// (`A-Z`, `0-9` and `_`, not starting with a digit).
pub fn check_env_var_name(var: &str) -> Result<(), UserError> {
    let valid = !var.is_empty()
        && var.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !var.as_bytes()[0].is_ascii_digit();
    if valid {
        return Ok(());
    }
    Err(UserError::new(
        format!("变量名 {var} 无效：只能用大写字母、数字和下划线，例如 GITHUB_TOKEN"),
        format!("invalid variable name {var}: use A-Z, 0-9 and _, e.g. GITHUB_TOKEN"),
    ))
}

/// Stores a skill's environment variable in the keyring.
pub fn set_skill_key(
    secrets: &Secrets,
    skill: &str,
    var: &str,
    value: &Secret,
) -> Result<(), UserError> {
    check_env_var_name(var)?;
    if value.expose().trim().is_empty() {
        return Err(UserError::new("密钥不能为空。", "the key is empty"));
    }
    let name = SecretName::SkillEnv { skill: skill.to_owned(), var: var.to_owned() };
    Ok(secrets.set(&name, value)?)
}

fn registry_error(e: RegistryError) -> UserError {
    let hint = match &e {
        RegistryError::Network(_) => ("（请检查网络）", " (check the network)"),
        _ => ("", ""),
    };
    UserError::new(
        format!("{}{}", e.explain(Lang::ZhCn), hint.0),
        format!("{}{}", e.explain(Lang::En), hint.1),
    )
}

fn registry(paths: &PincerPaths) -> Result<RegistryClient, UserError> {
    let config = load(paths)?;
    let base = config.settings.registry_base.unwrap_or_else(|| DEFAULT_REGISTRY.to_owned());
    RegistryClient::new(&base).map_err(registry_error)
}

/// A community skill found in the registry.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommunitySkill {
    /// Its slug (`@owner/slug` when it has an owner).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Summary.
    pub summary: String,
    /// Downloads.
    pub downloads: u64,
    /// Latest version.
    pub version: Option<String>,
    /// Installed here already.
    pub installed: bool,
}

/// Searches the skills registry.
pub async fn search_skills(
    paths: &PincerPaths,
    query: &str,
) -> Result<Vec<CommunitySkill>, UserError> {
    let client = registry(paths)?;
    let results = client.search(query.trim(), 20).await.map_err(registry_error)?;
    let installed = rt::load(paths, None);
    Ok(results
        .into_iter()
        .map(|r| {
            let slug = match &r.owner_handle {
                Some(o) => format!("@{o}/{}", r.slug),
                None => r.slug.clone(),
            };
            CommunitySkill {
                installed: installed.get(&r.slug).is_some(),
                name: r.display_name.unwrap_or_else(|| r.slug.clone()),
                summary: r.summary.unwrap_or_default(),
                downloads: r.downloads.unwrap_or(0),
                version: r.version,
                slug,
            }
        })
        .collect())
}

/// The outcome of installing a community skill.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallOutcome {
    /// What was asked for.
    pub slug: String,
    /// `installed` or `failed`.
    pub stage: &'static str,
    /// The safety verdict, when the files were checked.
    pub verdict: Option<&'static str>,
    /// The safety findings, one line each.
    pub findings: Vec<String>,
    /// Why it failed.
    pub error: Option<UserError>,
}

/// Installs a community skill after its safety check: `block` installs
/// nothing, `warn` installs and says why, a skill the registry flags as
/// suspicious is refused (the CLI's `--yes` is the way to force it).
pub async fn install_skill(paths: &PincerPaths, slug: &str) -> InstallOutcome {
    let failed = |error: UserError, verdict, findings| InstallOutcome {
        slug: slug.to_owned(),
        stage: "failed",
        verdict,
        findings,
        error: Some(error),
    };
    let client = match registry(paths) {
        Ok(c) => c,
        Err(e) => return failed(e, None, Vec::new()),
    };
    let opts = InstallOptions { dir: rt::INSTALL_SUBDIR.to_owned(), ..InstallOptions::default() };
    match client.install(&rt::skills_dir(paths), slug, &opts, None).await {
        Ok(installed) => InstallOutcome {
            slug: slug.to_owned(),
            stage: "installed",
            verdict: Some(verdict_word(installed.safety.verdict)),
            findings: finding_lines(&installed.safety.findings),
            error: None,
        },
        Err(RegistryError::Unsafe { report }) => failed(
            UserError::new(
                format!("安全检查拦截了 {slug}，没有安装。"),
                format!("the safety check blocked {slug}; nothing was installed"),
            ),
            Some("block"),
            finding_lines(&report.findings),
        ),
        Err(e) => failed(registry_error(e), None, Vec::new()),
    }
}

fn finding_lines(findings: &[pincer_skills::Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| format!("{}:{} {} / {}", f.file, f.line, f.explain_zh, f.explain_en))
        .collect()
}

/// The wizard's last step: the bot is enabled (the supervisor starts it on
/// reload).
pub fn finish(paths: &PincerPaths, bot: &str) -> Result<(), UserError> {
    let mut config = load(paths)?;
    let b = bot_mut(&mut config, bot)?;
    if b.provider.is_none() {
        return Err(UserError::new(
            "还没有为机器人选择模型：请回到「模型」一步。",
            "the bot has no model yet: go back to the Model step",
        ));
    }
    b.enabled = true;
    save(paths, &config)
}

/// Removes a bot and its AppSecret (its conversations stay on disk).
pub fn remove_bot(paths: &PincerPaths, secrets: &Secrets, name: &str) -> Result<(), UserError> {
    let mut config = load(paths)?;
    if config.bot(name).is_none() {
        return Err(no_bot(name));
    }
    config.bots.retain(|b| b.name != name);
    save(paths, &config)?;
    Ok(secrets.delete(&SecretName::BotAppSecret(name.to_owned()))?)
}

/// The config as TOML, to share: it never holds secrets (they live in the
/// keyring), and the owner's QQ id is left out too.
pub fn export_config(paths: &PincerPaths) -> Result<String, UserError> {
    let mut config = load(paths)?;
    for b in &mut config.bots {
        b.owner = None;
    }
    toml::to_string_pretty(&config)
        .map_err(|e| UserError::new(format!("无法导出配置：{e}"), format!("cannot export: {e}")))
}
