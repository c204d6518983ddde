//! The provider table: every service Pincer knows by name, in one place.
//!
//! To add a provider, add one [`Preset`] to [`PRESETS`]. Prices are
//! **defaults** (list prices per million tokens when written, without cache
//! discounts or tiers); the user edits them in [`ProviderConfig::price`], and
//! they only feed Pincer's cost estimate. Any other OpenAI-compatible service
//! works through [`ProviderConfig::custom`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::anthropic::AnthropicProvider;
use super::openai::OpenAiProvider;
use super::{ApiKey, ChatProvider, Usage};

/// Which wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI-compatible chat completions (`{base}/chat/completions`).
    OpenAi,
    /// Anthropic Messages (`{base}/v1/messages`).
    Anthropic,
}

/// A currency of a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    /// Renminbi (¥).
    #[serde(rename = "CNY")]
    Cny,
    /// US dollars ($).
    #[serde(rename = "USD")]
    Usd,
}

impl Currency {
    /// `¥` or `$`.
    pub fn symbol(self) -> &'static str {
        match self {
            Currency::Cny => "¥",
            Currency::Usd => "$",
        }
    }
}

/// A token price, per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// Per 1M input (prompt) tokens.
    pub input_per_million: f64,
    /// Per 1M output (completion) tokens.
    pub output_per_million: f64,
    /// Currency of both.
    pub currency: Currency,
}

impl Price {
    /// A price in CNY.
    pub const fn cny(input_per_million: f64, output_per_million: f64) -> Self {
        Self { input_per_million, output_per_million, currency: Currency::Cny }
    }

    /// A price in USD.
    pub const fn usd(input_per_million: f64, output_per_million: f64) -> Self {
        Self { input_per_million, output_per_million, currency: Currency::Usd }
    }

    /// Free (local models).
    pub const FREE: Price = Price::cny(0.0, 0.0);

    /// The cost of `usage`, in [`Price::currency`].
    pub fn cost(&self, usage: Usage) -> f64 {
        (usage.input_tokens as f64 * self.input_per_million
            + usage.output_tokens as f64 * self.output_per_million)
            / 1_000_000.0
    }
}

/// One known provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    /// Stable id, stored in settings (`deepseek`, `qwen`, …).
    pub id: &'static str,
    /// Name shown in zh-CN.
    pub name_zh: &'static str,
    /// Name shown in English.
    pub name_en: &'static str,
    /// Wire format.
    pub kind: ProviderKind,
    /// Base URL (OpenAI kind: up to and including the version, e.g. `…/v1`;
    /// Anthropic kind: without `/v1`).
    pub base_url: &'static str,
    /// Model selected by default.
    pub default_model: &'static str,
    /// Whether an API key is required (local servers need none).
    pub needs_key: bool,
    /// A few known model ids for the picker (the user may type any other).
    pub models: &'static [&'static str],
    /// Default price of [`Preset::default_model`], editable by the user.
    pub price: Price,
    /// Where to get a key (or the software), for the settings page.
    pub signup_url: &'static str,
}

impl Preset {
    /// The display name for a locale (`zh*` → Chinese, else English).
    pub fn name(&self, locale: &str) -> &'static str {
        if locale.starts_with("zh") {
            self.name_zh
        } else {
            self.name_en
        }
    }

    /// Whether this is a server on the user's own machine.
    pub fn is_local(&self) -> bool {
        !self.needs_key
    }
}

/// Id of "any other OpenAI-compatible endpoint" (not in [`PRESETS`]: it has no URL).
pub const CUSTOM_ID: &str = "custom";

/// Every known provider, Chinese services first, local servers last.
pub const PRESETS: &[Preset] = &[
    Preset {
        id: "deepseek",
        name_zh: "DeepSeek 深度求索",
        name_en: "DeepSeek",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.deepseek.com/v1",
        default_model: "deepseek-chat",
        needs_key: true,
        models: &["deepseek-chat", "deepseek-reasoner"],
        price: Price::cny(2.0, 3.0),
        signup_url: "https://platform.deepseek.com/api_keys",
    },
    Preset {
        id: "qwen",
        name_zh: "通义千问（阿里云百炼）",
        name_en: "Qwen (Alibaba Cloud Model Studio)",
        kind: ProviderKind::OpenAi,
        base_url: "https://dashscope.aliyuncs.com/compatible-mode/v1",
        default_model: "qwen-plus",
        needs_key: true,
        models: &["qwen-plus", "qwen-turbo", "qwen-max", "qwen-flash"],
        price: Price::cny(0.8, 2.0),
        signup_url: "https://bailian.console.aliyun.com/",
    },
    Preset {
        id: "hunyuan",
        name_zh: "腾讯混元",
        name_en: "Tencent Hunyuan",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.hunyuan.cloud.tencent.com/v1",
        default_model: "hunyuan-turbos-latest",
        needs_key: true,
        models: &["hunyuan-turbos-latest", "hunyuan-lite", "hunyuan-standard"],
        price: Price::cny(0.8, 2.0),
        signup_url: "https://console.cloud.tencent.com/hunyuan/api-key",
    },
    Preset {
        id: "kimi",
        name_zh: "月之暗面 Kimi",
        name_en: "Moonshot Kimi",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.moonshot.cn/v1",
        default_model: "kimi-k2-0905-preview",
        needs_key: true,
        models: &[
            "kimi-k2-0905-preview",
            "kimi-k2-turbo-preview",
            "moonshot-v1-8k",
            "moonshot-v1-32k",
        ],
        price: Price::cny(4.0, 16.0),
        signup_url: "https://platform.moonshot.cn/console/api-keys",
    },
    Preset {
        id: "glm",
        name_zh: "智谱 GLM",
        name_en: "Zhipu GLM",
        kind: ProviderKind::OpenAi,
        base_url: "https://open.bigmodel.cn/api/paas/v4",
        default_model: "glm-4.5-air",
        needs_key: true,
        models: &["glm-4.5-air", "glm-4.6", "glm-4.5", "glm-4-flash"],
        price: Price::cny(0.8, 2.0),
        signup_url: "https://open.bigmodel.cn/usercenter/apikeys",
    },
    Preset {
        id: "doubao",
        name_zh: "火山方舟 豆包",
        name_en: "Volcengine Doubao (Ark)",
        kind: ProviderKind::OpenAi,
        base_url: "https://ark.cn-beijing.volces.com/api/v3",
        default_model: "doubao-seed-1-6-250615",
        needs_key: true,
        models: &[
            "doubao-seed-1-6-250615",
            "doubao-seed-1-6-flash-250615",
            "doubao-1-5-pro-32k-250115",
        ],
        price: Price::cny(0.8, 8.0),
        signup_url: "https://console.volcengine.com/ark",
    },
    Preset {
        id: "siliconflow",
        name_zh: "硅基流动 SiliconFlow",
        name_en: "SiliconFlow",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.siliconflow.cn/v1",
        default_model: "deepseek-ai/DeepSeek-V3",
        needs_key: true,
        models: &["deepseek-ai/DeepSeek-V3", "Qwen/Qwen2.5-7B-Instruct", "THUDM/glm-4-9b-chat"],
        price: Price::cny(2.0, 8.0),
        signup_url: "https://cloud.siliconflow.cn/account/ak",
    },
    Preset {
        id: "minimax",
        name_zh: "MiniMax（Anthropic 兼容接口）",
        name_en: "MiniMax (Anthropic-style endpoint)",
        kind: ProviderKind::Anthropic,
        base_url: "https://api.minimaxi.com/anthropic",
        default_model: "MiniMax-M2",
        needs_key: true,
        models: &["MiniMax-M2"],
        price: Price::cny(2.1, 8.4),
        signup_url: "https://platform.minimaxi.com/",
    },
    Preset {
        id: "openrouter",
        name_zh: "OpenRouter",
        name_en: "OpenRouter",
        kind: ProviderKind::OpenAi,
        base_url: "https://openrouter.ai/api/v1",
        default_model: "openai/gpt-4o-mini",
        needs_key: true,
        models: &["openai/gpt-4o-mini", "deepseek/deepseek-chat", "anthropic/claude-sonnet-4.5"],
        price: Price::usd(0.15, 0.6),
        signup_url: "https://openrouter.ai/keys",
    },
    Preset {
        id: "openai",
        name_zh: "OpenAI",
        name_en: "OpenAI",
        kind: ProviderKind::OpenAi,
        base_url: "https://api.openai.com/v1",
        default_model: "gpt-4o-mini",
        needs_key: true,
        models: &["gpt-4o-mini", "gpt-4.1-mini", "gpt-4o"],
        price: Price::usd(0.15, 0.6),
        signup_url: "https://platform.openai.com/api-keys",
    },
    Preset {
        id: "anthropic",
        name_zh: "Anthropic Claude",
        name_en: "Anthropic Claude",
        kind: ProviderKind::Anthropic,
        base_url: "https://api.anthropic.com",
        default_model: "claude-haiku-4-5",
        needs_key: true,
        models: &["claude-haiku-4-5", "claude-sonnet-4-5"],
        price: Price::usd(1.0, 5.0),
        signup_url: "https://console.anthropic.com/settings/keys",
    },
    Preset {
        id: "ollama",
        name_zh: "Ollama（本机）",
        name_en: "Ollama (this computer)",
        kind: ProviderKind::OpenAi,
        base_url: "http://127.0.0.1:11434/v1",
        default_model: "qwen2.5:7b",
        needs_key: false,
        models: &["qwen2.5:7b", "qwen3:8b", "deepseek-r1:7b"],
        price: Price::FREE,
        signup_url: "https://ollama.com/download",
    },
    Preset {
        id: "lmstudio",
        name_zh: "LM Studio（本机）",
        name_en: "LM Studio (this computer)",
        kind: ProviderKind::OpenAi,
        base_url: "http://127.0.0.1:1234/v1",
        default_model: "qwen2.5-7b-instruct",
        needs_key: false,
        models: &["qwen2.5-7b-instruct"],
        price: Price::FREE,
        signup_url: "https://lmstudio.ai/",
    },
];

/// The preset with this id.
pub fn preset(id: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.id == id)
}

/// A provider as the user configured it: a preset (or [`CUSTOM_ID`]) with
/// its URL, model, key and price possibly edited.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    /// A [`Preset::id`] or [`CUSTOM_ID`].
    pub preset_id: String,
    /// Wire format.
    pub kind: ProviderKind,
    /// Base URL.
    pub base_url: String,
    /// Model id.
    pub model: String,
    /// Key, when the service needs one.
    pub api_key: Option<ApiKey>,
    /// Price used for the cost estimate.
    pub price: Price,
    /// Stream answers (default) or not.
    pub stream: bool,
}

impl ProviderConfig {
    /// The preset's defaults with `api_key`.
    pub fn from_preset(preset: &Preset, api_key: Option<ApiKey>) -> Self {
        Self {
            preset_id: preset.id.to_owned(),
            kind: preset.kind,
            base_url: preset.base_url.to_owned(),
            model: preset.default_model.to_owned(),
            api_key,
            price: preset.price,
            stream: true,
        }
    }

    /// Any other OpenAI-compatible endpoint by URL (price unknown: zero until the user sets one).
    pub fn custom(
        base_url: impl Into<String>,
        model: impl Into<String>,
        api_key: Option<ApiKey>,
    ) -> Self {
        Self {
            preset_id: CUSTOM_ID.to_owned(),
            kind: ProviderKind::OpenAi,
            base_url: base_url.into(),
            model: model.into(),
            api_key,
            price: Price::cny(0.0, 0.0),
            stream: true,
        }
    }

    /// A detected local server (see [`detect`](super::detect)), with its
    /// first model, or the preset's default model when it listed none.
    pub fn from_local(server: &super::detect::LocalServer) -> Self {
        let preset = preset(server.kind.preset_id()).expect("local presets exist");
        let mut cfg = Self::from_preset(preset, None);
        cfg.base_url = server.base_url.clone();
        if let Some(first) = server.models.first() {
            cfg.model = first.clone();
        }
        cfg
    }

    /// A client for this configuration (wrap it in
    /// [`Resilient`](super::resilient::Resilient) for timeouts and retries).
    pub fn build(&self) -> Arc<dyn ChatProvider> {
        match self.kind {
            ProviderKind::OpenAi => Arc::new(
                OpenAiProvider::new(&self.base_url, self.api_key.clone())
                    .with_streaming(self.stream),
            ),
            ProviderKind::Anthropic => Arc::new(
                AnthropicProvider::new(&self.base_url, self.api_key.clone())
                    .with_streaming(self.stream),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_preset_is_well_formed() {
        let mut ids = HashSet::new();
        for p in PRESETS {
            assert!(ids.insert(p.id), "duplicate id {}", p.id);
            assert_ne!(p.id, CUSTOM_ID);
            let url = url::Url::parse(p.base_url).unwrap_or_else(|e| panic!("{}: {e}", p.id));
            assert!(matches!(url.scheme(), "http" | "https"), "{}", p.id);
            assert!(!p.base_url.ends_with('/'), "{}: no trailing slash", p.id);
            if p.needs_key {
                assert_eq!(url.scheme(), "https", "{}: remote services use https", p.id);
            } else {
                assert_eq!(
                    url.host_str(),
                    Some("127.0.0.1"),
                    "{}: keyless presets are local",
                    p.id
                );
                assert_eq!(p.price, Price::FREE);
            }
            if p.kind == ProviderKind::Anthropic {
                assert!(!p.base_url.ends_with("/v1"), "{}: /v1 is appended by the client", p.id);
            }
            assert!(p.models.contains(&p.default_model), "{}: default model listed", p.id);
            assert!(!p.name_zh.is_empty() && !p.name_en.is_empty());
            assert!(p.price.input_per_million >= 0.0 && p.price.output_per_million >= 0.0);
            url::Url::parse(p.signup_url).unwrap();
        }
        for id in [
            "deepseek",
            "qwen",
            "hunyuan",
            "kimi",
            "glm",
            "doubao",
            "siliconflow",
            "openrouter",
            "openai",
            "minimax",
            "ollama",
            "lmstudio",
        ] {
            assert!(preset(id).is_some(), "{id} missing");
        }
        assert_eq!(preset("ollama").unwrap().base_url, "http://127.0.0.1:11434/v1");
        assert_eq!(preset("lmstudio").unwrap().base_url, "http://127.0.0.1:1234/v1");
        assert_eq!(preset("minimax").unwrap().kind, ProviderKind::Anthropic);
    }

    #[test]
    fn price_cost_and_config() {
        let p = Price::cny(2.0, 8.0);
        let c = p.cost(Usage { input_tokens: 1_000_000, output_tokens: 500_000 });
        assert!((c - 6.0).abs() < 1e-9);
        let mut cfg = ProviderConfig::from_preset(
            preset("deepseek").unwrap(),
            Some(ApiKey::new("sk-zzz-secret")),
        );
        cfg.price.input_per_million = 1.0;
        assert_eq!(cfg.model, "deepseek-chat");
        assert!(!format!("{cfg:?}").contains("sk-zzz-secret"));
        assert_eq!(ProviderConfig::custom("http://h/v1", "m", None).kind, ProviderKind::OpenAi);
        let local = super::super::detect::LocalServer {
            kind: super::super::detect::LocalKind::LmStudio,
            base_url: "http://127.0.0.1:5555/v1".into(),
            models: vec!["qwen3-8b".into()],
        };
        let cfg = ProviderConfig::from_local(&local);
        assert_eq!((cfg.preset_id.as_str(), cfg.model.as_str()), ("lmstudio", "qwen3-8b"));
        assert_eq!(cfg.base_url, "http://127.0.0.1:5555/v1");
        assert!(cfg.api_key.is_none());
        assert_eq!(preset("qwen").unwrap().name("zh-CN"), "通义千问（阿里云百炼）");
        assert_eq!(preset("qwen").unwrap().name("en"), "Qwen (Alibaba Cloud Model Studio)");
    }
}
