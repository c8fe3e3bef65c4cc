// The rehearsal page: channel view, message box with a user switcher, cluster panel and scenarios.
// All text from the bot or the simulator goes into the DOM through textContent (see blockkit.js).
(function () {
  "use strict";
  const { renderBlocks, mrkdwn } = window.BlockKit;

  const state = {
    users: [], userNames: {}, me: null, channel: "", network: "",
    messages: new Map(), openThreads: new Set(), cluster: null, faults: {},
  };
  const $ = (id) => document.getElementById(id);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
    if (!response.ok || !answer.ok) toast(answer.error || `HTTP ${response.status}`);
    return answer;
  }

  function toast(text) {
    const node = el("div", "toast", text);
    $("toasts").appendChild(node);
    setTimeout(() => node.remove(), 6000);
  }

  // --- channel ------------------------------------------------------------------------------------

  function visible(item) {
    return !item.visible_to || item.visible_to === state.me;
  }

  function renderMessage(item) {
    const node = el("div", "msg" + (item.ephemeral ? " ephemeral" : ""));
    node.dataset.id = item.id;
    node.dataset.updates = String(item.updates || 0);
    node.appendChild(el("div", "avatar", "CB"));
    const body = el("div", "msg-body");
    const head = el("div", "msg-head");
    head.appendChild(el("span", "msg-author", "conductor-bot"));
    head.appendChild(el("span", "app-badge", "APP"));
    head.appendChild(el("span", "msg-time", new Date(item.received || Date.now()).toLocaleTimeString()));
    if (item.updates) head.appendChild(el("span", "msg-edited", "(edited)"));
    body.appendChild(head);
    const ctx = { users: state.userNames, onAction: (a) => onAction(item, a) };
    if (Array.isArray(item.blocks) && item.blocks.length) body.appendChild(renderBlocks(item.blocks, ctx));
    else {
      const text = el("div", "bk-text");
      text.appendChild(mrkdwn(item.text, ctx));
      body.appendChild(text);
    }
    if (item.ephemeral) {
      const foot = el("div", "ephemeral-note");
      foot.appendChild(el("span", null, "👁 Only visible to you · "));
      const dismiss = el("button", "linkish", "Dismiss");
      dismiss.type = "button";
      dismiss.addEventListener("click", () => { state.messages.delete(item.id); renderChannel(); });
      foot.appendChild(dismiss);
      body.appendChild(foot);
    }
    const replies = repliesOf(item);
    if (replies.length) {
      const open = state.openThreads.has(item.id);
      const toggle = el("button", "thread-toggle linkish",
        open ? "Hide thread" : `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`);
      toggle.type = "button";
      toggle.addEventListener("click", () => {
        if (open) state.openThreads.delete(item.id); else state.openThreads.add(item.id);
        renderChannel();
      });
      body.appendChild(toggle);
      if (open) {
        const thread = el("div", "thread");
        replies.forEach((r) => thread.appendChild(renderMessage(r)));
        body.appendChild(thread);
      }
    }
    node.appendChild(body);
    return node;
  }

  function repliesOf(item) {
    if (!item.ts) return [];
    return [...state.messages.values()]
      .filter((m) => m.thread_ts === item.ts && m.id !== item.id && visible(m))
      .sort((a, b) => a.seq - b.seq);
  }

  function renderChannel() {
    const list = $("messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const parents = [...state.messages.values()]
      .filter((m) => visible(m) && (!m.thread_ts || m.thread_ts === m.ts || !hasParent(m)))
      .sort((a, b) => a.seq - b.seq);
    list.replaceChildren(...parents.map(renderMessage));
    if (!parents.length) list.appendChild(el("div", "empty", "No messages yet. Try /conductor status."));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function hasParent(m) {
    return [...state.messages.values()].some((p) => p.ts === m.thread_ts && p.id !== m.id);
  }

  function upsert(item) {
    const old = state.messages.get(item.id);
    item.received = old ? old.received : Date.now();
    state.messages.set(item.id, item);
  }

  // --- buttons and confirm dialogs ----------------------------------------------------------------

  function onAction(item, { element, blockId }) {
    const send = () => post("/api/click", {
      user: state.me, message_id: item.id, action_id: element.action_id,
      value: element.value || "", block_id: blockId,
    });
    if (element.confirm) confirmDialog(element.confirm, send); else send();
  }

  function confirmDialog(confirm, onConfirm) {
    const dialog = $("confirm");
    const ctx = { users: state.userNames };
    $("confirm-title").textContent = (confirm.title && confirm.title.text) || "Are you sure?";
    const text = $("confirm-text");
    text.replaceChildren();
    if (confirm.text) {
      if (confirm.text.type === "mrkdwn") text.appendChild(mrkdwn(confirm.text.text, ctx));
      else text.textContent = confirm.text.text || "";
    }
    $("confirm-yes").textContent = (confirm.confirm && confirm.confirm.text) || "Yes";
    $("confirm-no").textContent = (confirm.deny && confirm.deny.text) || "Cancel";
    $("confirm-yes").className = "bk-btn " + (confirm.style === "danger" ? "bk-danger" : "bk-primary");
    dialog.returnValue = "";
    dialog.onclose = () => { if (dialog.returnValue === "yes") onConfirm(); };
    dialog.showModal();
  }

  // --- message box --------------------------------------------------------------------------------

  async function sendCommand(event) {
    event.preventDefault();
    const input = $("composer-input");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    await post("/api/command", { user: state.me, text });
  }

  function renderUsers() {
    const select = $("user");
    select.replaceChildren(...state.users.map((u) => {
      const option = el("option", null, `${u.name} — ${u.role}`);
      option.value = u.id;
      return option;
    }));
    select.value = state.me;
  }

  // --- cluster panel ------------------------------------------------------------------------------

  function faultButtons(node) {
    const f = node.faults || { conductor: {}, node: {} };
    const pick = [
      node.conductor_up ? "kill-conductor" : "revive-conductor",
      node.node_up ? "kill-node" : "revive-node",
      f.conductor.hung ? "unhang-conductor" : "hang-conductor",
      f.node.hung ? "unhang-node" : "hang-node",
      node.partitioned ? "heal" : "partition",
      node.stall_production ? "resume-production" : "stall-production",
      node.stall_sync ? "resume-sync" : "stall-sync",
      "split-brain",
    ];
    const box = el("div", "faults");
    pick.forEach((fault) => {
      const b = el("button", "fault", state.faults[fault] || fault);
      b.type = "button";
      b.dataset.fault = fault;
      b.addEventListener("click", () => post("/api/fault", { node: node.id, fault }));
      box.appendChild(b);
    });
    return box;
  }

  function chip(text, kind) { return el("span", "chip " + (kind || ""), text); }

  function renderCluster() {
    const panel = $("cluster");
    const c = state.cluster;
    if (!c) { panel.replaceChildren(el("div", "empty", "Waiting for the simulator…")); return; }
    const summary = el("div", "cluster-summary");
    summary.appendChild(el("div", null, `${c.name} · term ${c.term} · tip #${c.tip}`));
    summary.appendChild(el("div", null, `leader: ${c.leader || "none"} · active: ${(c.active_sequencers || []).join(", ") || "none"}`));
    const voters = (c.config || []).map((e) => `${e.id}${e.suffrage === 0 ? "" : " (nonvoter)"}`);
    summary.appendChild(el("div", null, `membership: ${voters.join(", ") || "empty"}`));
    const nodes = (c.nodes || []).map((n) => {
      const card = el("div", "node" + (n.id === c.leader ? " leader" : ""));
      card.dataset.node = n.id;
      const title = el("div", "node-title");
      title.appendChild(el("strong", null, n.id));
      if (n.id === c.leader) title.appendChild(chip("leader", "good"));
      if (n.sequencer_active) title.appendChild(chip("sequencing", "good"));
      if (!n.member) title.appendChild(chip("standby", "muted"));
      else if (!n.voter) title.appendChild(chip("nonvoter", "muted"));
      card.appendChild(title);
      const flags = el("div", "node-flags");
      flags.appendChild(chip(n.conductor_up ? "conductor up" : "conductor down", n.conductor_up ? "" : "bad"));
      flags.appendChild(chip(n.node_up ? "op-node up" : "op-node down", n.node_up ? "" : "bad"));
      if (n.paused) flags.appendChild(chip("paused", "warn"));
      if (n.override || n.node_override) flags.appendChild(chip("override", "warn"));
      if (n.partitioned) flags.appendChild(chip("partitioned", "bad"));
      if (n.stall_production) flags.appendChild(chip("production stalled", "bad"));
      if (n.stall_sync) flags.appendChild(chip("sync stalled", "bad"));
      if (n.faults && n.faults.conductor.hung) flags.appendChild(chip("conductor hung", "bad"));
      if (n.faults && n.faults.node.hung) flags.appendChild(chip("op-node hung", "bad"));
      if (!n.healthy && n.conductor_up) flags.appendChild(chip("unhealthy", "bad"));
      card.appendChild(flags);
      card.appendChild(el("div", "node-head", `head #${n.head.number} ${String(n.head.hash).slice(0, 10)}…`));
      card.appendChild(faultButtons(n));
      return card;
    });
    panel.replaceChildren(summary, ...nodes);
    panel.dataset.leader = c.leader || "";
  }

  // --- scenarios ----------------------------------------------------------------------------------

  function renderScenario(s) {
    const box = $("goal");
    box.hidden = !s;
    if (!s) return;
    $("goal-title").textContent = s.title;
    $("goal-text").replaceChildren(mrkdwn(s.goal, { users: state.userNames }));
  }

  // --- start --------------------------------------------------------------------------------------

  // The stream's first event is a snapshot of everything (and again after a reconnect), so no
  // message posted between loading the page and subscribing is lost.
  function onSnapshot(initial) {
    const first = !state.users.length;
    state.users = initial.users;
    state.userNames = Object.fromEntries(initial.users.map((u) => [u.id, u.name]));
    state.me = state.me || initial.users[0].id;
    state.channel = initial.channel;
    state.network = initial.network;
    state.faults = initial.faults;
    state.messages.clear();
    initial.messages.forEach(upsert);
    state.cluster = initial.cluster;
    if (first) {
      $("channel-name").textContent = `# ${initial.network}-ops`;
      $("composer-input").placeholder = `${initial.command} status ${initial.network}`;
      const menu = $("scenario");
      initial.scenarios.forEach((s) => {
        const option = el("option", null, s.title);
        option.value = s.id;
        menu.appendChild(option);
      });
      renderUsers();
    }
    renderChannel();
    renderCluster();
    renderScenario(initial.scenario);
    document.body.dataset.live = "yes";
  }

  function start() {
    const menu = $("scenario");
    menu.addEventListener("change", async () => {
      const id = menu.value;
      menu.value = "";
      if (id) await post("/api/scenario", { id });
    });
    $("user").addEventListener("change", (e) => { state.me = e.target.value; renderChannel(); });
    $("composer").addEventListener("submit", sendCommand);
    const events = new EventSource("/api/events");
    const on = (kind, handle) => events.addEventListener(kind, (e) => handle(JSON.parse(e.data)));
    on("snapshot", onSnapshot);
    on("message", (item) => { upsert(item); renderChannel(); });
    on("delete", (data) => { state.messages.delete(data.id); renderChannel(); });
    on("cluster", (cluster) => { state.cluster = cluster; renderCluster(); });
    on("scenario", renderScenario);
    events.addEventListener("error", () => { document.body.dataset.live = "no"; });
  }

  start();
})();
