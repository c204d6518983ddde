// The desktop shell's commands and events: the one contract between the UI
// and `src-tauri` (which wraps `crates/runtime`). Every name here matches a
// `#[tauri::command]` in src-tauri/src/commands/*.rs; arguments are camelCase
// (Tauri converts them to the Rust snake_case parameters).
//
// Errors: every command rejects with a `UserError` (both languages; the UI
// shows the one of the current language).

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

/** What went wrong and what to do, in both languages. */
export interface UserError {
  zh: string;
  en: string;
}

export type Locale = 'zh-CN' | 'en';

export interface AppInfo {
  version: string;
  /** The language to use: the saved setting, else the OS locale. */
  locale: Locale;
  /** The wizard in progress, or null when done (or never started and bots exist). */
  wizard: WizardProgress | null;
  /** Bots configured (0 on first run). */
  botCount: number;
  dataDir: string;
}

/** Where the wizard is; saved on every step so it resumes after a restart. */
export interface WizardProgress {
  /** 1 connect QQ, 2 your bot, 3 model, 4 skills. */
  step: 1 | 2 | 3 | 4;
  /** The draft bot's name once step 1 succeeded. */
  bot: string | null;
  /** True when the wizard adds another bot ("Add bot" on the dashboard). */
  adding: boolean;
}

/** A bot created by step 1 (disabled until the wizard finishes). */
export interface DraftBot {
  /** Its name so far (QQ's name for the bot, made unique). */
  name: string;
  appId: string;
  /** The bot's name on QQ, from the live check. */
  qqName: string;
  /** True on the QR path: the scanner is the owner. */
  hasOwner: boolean;
  persona: string;
}

export type BindProgress =
  | { kind: 'qr'; qrUrl: string }
  | { kind: 'scanned' }
  | { kind: 'refreshed'; qrUrl: string }
  | { kind: 'pollFailed'; error: UserError }
  | { kind: 'checking' }
  | { kind: 'done'; bot: DraftBot }
  | { kind: 'failed'; error: UserError }
  | { kind: 'cancelled' };

export interface PersonaTemplate {
  id: string;
  nameZh: string;
  nameEn: string;
  text: string;
}

export interface ProviderPreset {
  id: string;
  nameZh: string;
  nameEn: string;
  kind: 'openai' | 'anthropic';
  baseUrl: string;
  defaultModel: string;
  models: string[];
  needsKey: boolean;
  local: boolean;
  signupUrl: string;
  /** True when a key for it is already in the keyring. */
  hasKey: boolean;
}

export interface LocalServer {
  /** Preset id: `ollama` or `lmstudio`. */
  preset: string;
  baseUrl: string;
  models: string[];
}

/** The model choice of step 3 / settings. `apiKey` goes to the OS keyring and never comes back. */
export interface ProviderChoice {
  preset: string;
  baseUrl: string;
  model: string;
  apiKey: string | null;
}

export interface ProviderTestResult {
  model: string;
  reply: string;
  latencyMs: number;
}

export type SkillSource = 'bundled' | 'installed' | 'workspace';

export interface SkillView {
  name: string;
  description: string;
  emoji: string | null;
  source: SkillSource;
  enabled: boolean;
  /** False when gated: see `reason`. */
  available: boolean;
  reason: UserError | null;
  /** Environment variables (API keys) the skill needs and which are set. */
  keys: { name: string; set: boolean }[];
  safety: 'ok' | 'warn' | 'block' | null;
}

export interface CommunitySkill {
  slug: string;
  name: string;
  summary: string;
  downloads: number;
  version: string | null;
  installed: boolean;
}

export interface InstallProgress {
  slug: string;
  stage: 'downloading' | 'checking' | 'installed' | 'failed';
  verdict: 'ok' | 'warn' | 'block' | null;
  findings: string[];
  error: UserError | null;
}

/** One bot's live status (runtime `BotStatus`, snake_case as the runtime sends it). */
export interface BotStatus {
  name: string;
  app_id: string;
  state: 'connecting' | 'identifying' | 'resuming' | 'ready' | 'reconnecting' | 'paused' | 'stopped' | 'fatal';
  since: number;
  last_close_code: number | null;
  explanation: string | null;
  explanation_zh: string | null;
  heartbeat_rtt_ms: number | null;
  heartbeat_rtts_ms: number[];
  last_ack_at: number | null;
  resumes: number;
  identifies: number;
  events_in: number;
  replies_out: number;
  tokens_today: number;
  cost_today: number;
  pairing_code: string | null;
}

export interface BotSummary {
  name: string;
  appId: string;
  enabled: boolean;
  provider: string | null;
  model: string | null;
  persona: string;
  hasOwner: boolean;
  /** Daily token cap (0 = none) and currency of `cost_today`. */
  dailyTokenCap: number;
  /** Daily cost cap in `currency` (null = none). */
  dailyCostCap: number | null;
  currency: string;
}

/** What the dashboard's bot editor changes (null: no cap). */
export interface BotEdit {
  persona: string;
  dailyTokenCap: number | null;
  dailyCostCap: number | null;
}

export interface Overview {
  bots: BotSummary[];
  status: BotStatus[];
}

export interface Conversation {
  /** Opaque id for `transcript`. */
  id: string;
  scene: 'c2c' | 'group' | 'channel' | 'dm' | 'test';
  /** Who: the user or group id (a short form for display). */
  peer: string;
  lastText: string;
  lastAt: number;
  turns: number;
}

export interface Turn {
  role: 'user' | 'assistant';
  sender: string | null;
  content: string;
  at: number;
}

export interface Settings {
  language: 'auto' | Locale;
  autostart: boolean;
  closeToTray: boolean;
  dataDir: string;
}

/** Runtime events (tag `event`), forwarded as the Tauri event `runtime-event`. */
export type RuntimeEvent =
  | { event: 'bot_status'; bot: string; state: BotStatus['state']; since: number; last_close_code: number | null; explanation: string | null; explanation_zh: string | null }
  | { event: 'message_in'; bot: string; scene: string; target: string; sender: string; text: string }
  | { event: 'reply_out'; bot: string; scene: string; target: string; text: string }
  | { event: 'reloaded'; started: string[]; stopped: string[]; updated: string[]; restarted: string[] }
  | { event: 'warning'; kind: string; detail: string; detail_zh: string };

export const api = {
  appInfo: () => invoke<AppInfo>('app_info'),
  saveWizard: (progress: WizardProgress | null) => invoke<void>('save_wizard', { progress }),

  // Step 1: connect QQ.
  bindStart: () => invoke<void>('bind_start'),
  bindCancel: () => invoke<void>('bind_cancel'),
  connectManual: (appId: string, appSecret: string, sandbox: boolean) =>
    invoke<DraftBot>('connect_manual', { appId, appSecret, sandbox }),
  // Step 2: your bot.
  personaTemplates: () => invoke<PersonaTemplate[]>('persona_templates'),
  createBot: (draft: string, name: string, persona: string) =>
    invoke<BotSummary>('create_bot', { draft, name, persona }),
  // Step 3: model.
  providerPresets: () => invoke<ProviderPreset[]>('provider_presets'),
  detectLocal: () => invoke<LocalServer[]>('detect_local'),
  testProvider: (choice: ProviderChoice) => invoke<ProviderTestResult>('test_provider', { choice }),
  saveProvider: (bot: string, choice: ProviderChoice) => invoke<void>('save_provider', { bot, choice }),
  // Step 4: skills (also the Skills page).
  listSkills: (bot: string) => invoke<SkillView[]>('list_skills', { bot }),
  setSkillEnabled: (bot: string, skill: string, enabled: boolean) =>
    invoke<SkillView[]>('set_skill_enabled', { bot, skill, enabled }),
  searchSkills: (query: string) => invoke<CommunitySkill[]>('search_skills', { query }),
  installSkill: (slug: string) => invoke<InstallProgress>('install_skill', { slug }),
  /** Stores a skill's environment variable (API key) `name` in the OS keyring. */
  setSkillKey: (skill: string, name: string, value: string) =>
    invoke<void>('set_skill_key', { skill, name, value }),
  finishWizard: (bot: string) => invoke<void>('finish_wizard', { bot }),

  // Dashboard.
  overview: () => invoke<Overview>('overview'),
  pauseBot: (name: string) => invoke<void>('pause_bot', { name }),
  resumeBot: (name: string) => invoke<void>('resume_bot', { name }),
  editBot: (name: string, edit: BotEdit) => invoke<BotSummary>('edit_bot', { name, edit }),
  removeBot: (name: string) => invoke<void>('remove_bot', { name }),
  conversations: (bot: string) => invoke<Conversation[]>('conversations', { bot }),
  transcript: (bot: string, conversation: string) =>
    invoke<Turn[]>('transcript', { bot, conversation }),
  testChat: (bot: string, text: string) => invoke<string>('test_chat', { bot, text }),

  // Settings.
  getSettings: () => invoke<Settings>('get_settings'),
  setSettings: (settings: Settings) => invoke<Settings>('set_settings', { settings }),
  exportConfig: () => invoke<string>('export_config'),
  openUrl: (url: string) => invoke<void>('open_url', { url }),
};

export const events = {
  bindProgress: (f: (p: BindProgress) => void): Promise<UnlistenFn> =>
    listen<BindProgress>('bind-progress', (e) => f(e.payload)),
  runtime: (f: (e: RuntimeEvent) => void): Promise<UnlistenFn> =>
    listen<RuntimeEvent>('runtime-event', (e) => f(e.payload)),
  installProgress: (f: (p: InstallProgress) => void): Promise<UnlistenFn> =>
    listen<InstallProgress>('install-progress', (e) => f(e.payload)),
  /** A skill was toggled elsewhere (the tray): reload that bot's skills. */
  skillsChanged: (f: (bot: string) => void): Promise<UnlistenFn> =>
    listen<{ bot: string }>('skills-changed', (e) => f(e.payload.bot)),
  /** Settings changed elsewhere (the tray's language or pause all). */
  overviewChanged: (f: () => void): Promise<UnlistenFn> =>
    listen('overview-changed', () => f()),
};
