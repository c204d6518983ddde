(() => {
  const scenario = (location.hash || '#dashboard').slice(1);
  const cbs = new Map(); let nextId = 1; const listeners = {};
  const now = () => Math.floor(Date.now() / 1000);
  const emit = (event, payload) => (listeners[event] || []).forEach((h) => { const f = cbs.get(h); if (f) f({ event, id: h, payload }); });
  window.__emit = emit;
  const step = { wizard1: 1, wizard1manual: 1, wizard1scanned: 1, wizard2: 2, wizard3: 3, wizard4: 4 }[scenario];
  const skills = [
    { name: 'weather', description: '查询全国城市的实时天气和未来三天预报。', emoji: '🌤️', source: 'bundled', enabled: true, available: true, reason: null, keys: [], safety: 'ok' },
    { name: 'web-search', description: '用搜索引擎查找最新的网页信息，并附上来源链接。', emoji: '🔎', source: 'bundled', enabled: false, available: false, reason: { zh: '需要 TAVILY_API_KEY', en: 'Needs TAVILY_API_KEY' }, keys: [{ name: 'TAVILY_API_KEY', set: false }], safety: 'ok' },
    { name: 'reminder', description: '在指定时间提醒你（私聊发送）。', emoji: '⏰', source: 'installed', enabled: true, available: true, reason: null, keys: [], safety: 'warn' },
    { name: 'translate', description: '中英日韩互译。', emoji: '🌐', source: 'workspace', enabled: false, available: true, reason: null, keys: [], safety: null },
  ];
  const status = {
    name: '小钳', app_id: '102345678', state: 'ready', since: now() - 3600, last_close_code: 4009,
    explanation: 'Connected to QQ and receiving messages.', explanation_zh: '已连接 QQ，正在接收消息。',
    heartbeat_rtt_ms: 48, heartbeat_rtts_ms: Array.from({ length: 60 }, (_, i) => 40 + Math.round(15 * Math.sin(i / 4) + (i % 7))),
    last_ack_at: now() - 7, resumes: 2, identifies: 1, events_in: 132, replies_out: 128, tokens_today: 45210, cost_today: 0.37, pairing_code: '482913',
  };
  const status2 = { ...status, name: '助手二号', app_id: '102999111', state: 'reconnecting', pairing_code: null, explanation: 'Network dropped; reconnecting in 4 s.', explanation_zh: '网络断开，4 秒后重连。', tokens_today: 900, cost_today: 0.01 };
  const bots = [
    { name: '小钳', appId: '102345678', enabled: true, provider: 'deepseek', model: 'deepseek-chat', persona: '', hasOwner: false, dailyTokenCap: 100000, currency: 'CNY' },
    { name: '助手二号', appId: '102999111', enabled: true, provider: 'ollama', model: 'qwen2.5:7b', persona: '', hasOwner: true, dailyTokenCap: 0, currency: 'CNY' },
  ];
  const handlers = {
    app_info: () => ({ version: '0.1.0', locale: (new URLSearchParams(location.search)).get('lang') || 'zh-CN', wizard: step ? { step, bot: step > 1 ? '小钳' : null, adding: false } : null, botCount: step ? 0 : 2, dataDir: '/home/user/.local/share/pincer' }),
    save_wizard: () => null,
    bind_start: () => { setTimeout(() => emit('bind-progress', { kind: 'qr', qrUrl: 'https://q.qq.com/qrbind?code=abc123' }), 100); if (scenario === 'wizard1scanned') setTimeout(() => emit('bind-progress', { kind: 'scanned' }), 400); return null; },
    bind_cancel: () => null,
    connect_manual: () => { throw { zh: 'AppID 或 AppSecret 不正确：QQ 开放平台拒绝了这组凭据。请在「开发设置」重新复制。', en: 'Wrong AppID or AppSecret.' }; },
    persona_templates: () => [
      { id: 'friendly', nameZh: '热心助手', nameEn: 'Friendly helper', text: '你是一个热心、耐心的助手，回答简洁明了。' },
      { id: 'funny', nameZh: '幽默段子手', nameEn: 'Comedian', text: '你说话风趣幽默。' },
      { id: 'teacher', nameZh: '耐心老师', nameEn: 'Teacher', text: '你是一位耐心的老师。' },
      { id: 'pro', nameZh: '专业顾问', nameEn: 'Consultant', text: '你是专业顾问。' },
    ],
    create_bot: (a) => bots[0],
    provider_presets: () => [
      { id: 'deepseek', nameZh: 'DeepSeek 深度求索', nameEn: 'DeepSeek', kind: 'openai', baseUrl: 'https://api.deepseek.com/v1', defaultModel: 'deepseek-chat', models: ['deepseek-chat', 'deepseek-reasoner'], needsKey: true, local: false, signupUrl: 'https://platform.deepseek.com', hasKey: true },
      { id: 'qwen', nameZh: '通义千问', nameEn: 'Qwen (Alibaba)', kind: 'openai', baseUrl: 'https://dashscope.aliyuncs.com/compatible-mode/v1', defaultModel: 'qwen-plus', models: ['qwen-plus', 'qwen-max'], needsKey: true, local: false, signupUrl: 'https://dashscope.console.aliyun.com', hasKey: false },
      { id: 'kimi', nameZh: 'Kimi 月之暗面', nameEn: 'Kimi (Moonshot)', kind: 'openai', baseUrl: 'https://api.moonshot.cn/v1', defaultModel: 'moonshot-v1-8k', models: [], needsKey: true, local: false, signupUrl: '', hasKey: false },
      { id: 'zhipu', nameZh: '智谱 GLM', nameEn: 'Zhipu GLM', kind: 'openai', baseUrl: 'https://open.bigmodel.cn/api/paas/v4', defaultModel: 'glm-4-flash', models: [], needsKey: true, local: false, signupUrl: '', hasKey: false },
      { id: 'anthropic', nameZh: 'Claude', nameEn: 'Claude', kind: 'anthropic', baseUrl: 'https://api.anthropic.com', defaultModel: 'claude-sonnet-4', models: [], needsKey: true, local: false, signupUrl: '', hasKey: false },
      { id: 'ollama', nameZh: 'Ollama', nameEn: 'Ollama', kind: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', defaultModel: 'qwen2.5:7b', models: [], needsKey: false, local: true, signupUrl: '', hasKey: false },
      { id: 'lmstudio', nameZh: 'LM Studio', nameEn: 'LM Studio', kind: 'openai', baseUrl: 'http://127.0.0.1:1234/v1', defaultModel: '', models: [], needsKey: false, local: true, signupUrl: '', hasKey: false },
    ],
    detect_local: () => [{ preset: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1', models: ['qwen2.5:7b', 'llama3.2:3b', 'gemma2:2b'] }],
    test_provider: () => ({ model: 'deepseek-chat', reply: '你好！我已经准备好了，随时为你服务。', latencyMs: 812 }),
    save_provider: () => null,
    list_skills: () => skills,
    set_skill_enabled: (a) => skills.map((s) => (s.name === a.skill ? { ...s, enabled: a.enabled } : s)),
    search_skills: () => [
      { slug: 'stock', name: 'stock-quotes', summary: 'A 股、港股、美股实时行情', downloads: 12034, version: '1.2.0', installed: false },
      { slug: 'news', name: 'daily-news', summary: '每天早上推送新闻摘要', downloads: 532, version: null, installed: true },
    ],
    install_skill: (a) => ({ slug: a.slug, stage: 'installed', verdict: 'warn', findings: ['会访问网络：api.example.com'], error: null }),
    set_skill_key: () => null,
    finish_wizard: () => null,
    overview: () => ({ bots, status: [status, status2] }),
    pause_bot: () => null, resume_bot: () => null, remove_bot: () => null,
    conversations: () => [
      { id: 'c1', scene: 'c2c', peer: 'E2F3…9A', lastText: '明天北京天气怎么样？', lastAt: now() - 60, turns: 6 },
      { id: 'c2', scene: 'group', peer: '家庭群', lastText: '提醒我周五交房租', lastAt: now() - 3600, turns: 3 },
    ],
    transcript: () => [
      { role: 'user', sender: 'E2F3…9A', content: '明天北京天气怎么样？', at: now() - 120 },
      { role: 'assistant', sender: null, content: '明天北京晴，最高 12°C，最低 1°C，北风 3 级。早晚温差大，记得加件外套哦。', at: now() - 118 },
      { role: 'user', sender: 'E2F3…9A', content: '谢谢！', at: now() - 60 },
      { role: 'assistant', sender: null, content: '不客气～', at: now() - 59 },
    ],
    test_chat: () => '你好！我是小钳，有什么可以帮你？',
    get_settings: () => ({ language: 'auto', autostart: true, closeToTray: true, dataDir: '/home/user/.local/share/pincer' }),
    set_settings: (a) => a.settings,
    export_config: () => '[[bots]]\nname = "小钳"\napp_id = "102345678"\n',
    open_url: () => null,
  };
  window.__TAURI_EVENT_PLUGIN_INTERNALS__ = { unregisterListener: () => {} };
  window.__TAURI_INTERNALS__ = {
    transformCallback: (cb) => { const id = nextId++; cbs.set(id, cb); return id; },
    unregisterCallback: (id) => cbs.delete(id),
    invoke: async (cmd, args) => {
      if (cmd === 'plugin:event|listen') { (listeners[args.event] ||= []).push(args.handler); return args.handler; }
      if (cmd === 'plugin:event|unlisten') return null;
      const h = handlers[cmd];
      if (!h) throw { zh: '未知命令 ' + cmd, en: 'unknown ' + cmd };
      return h(args || {});
    },
  };
})();
