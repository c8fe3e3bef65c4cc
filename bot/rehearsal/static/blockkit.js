// A small Block Kit + mrkdwn renderer for the rehearsal page.
// Every piece of message text becomes a DOM text node (textContent / createTextNode), never HTML,
// so nothing a message carries can inject markup or script. Links keep only http(s) and mailto URLs.
(function (global) {
  "use strict";

  const EMOJI = {
    white_check_mark: "✅", warning: "⚠️", rotating_light: "🚨", x: "❌", no_bell: "🔕", bell: "🔔",
    red_circle: "🔴", large_green_circle: "🟢", large_yellow_circle: "🟡", alarm_clock: "⏰",
    no_entry_sign: "🚫", no_entry: "⛔", heavy_multiplication_x: "✖️", gear: "⚙️",
    information_source: "ℹ️", hourglass_flowing_sand: "⏳", ballot_box_with_check: "☑️",
    ballot_box_with_ballot: "🗳️", memo: "📝", mag: "🔍", lock: "🔒", leftwards_arrow_with_hook: "↩️",
    grey_question: "❔", eyes: "👀", crown: "👑", checkered_flag: "🏁", arrow_right: "➡️",
    tada: "🎉", fire: "🔥", stopwatch: "⏱️", zzz: "💤", heavy_check_mark: "✔️", skull: "💀",
    arrows_counterclockwise: "🔄", link: "🔗",
  };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // Slack escapes &, < and > in message text; show them as the characters they stand for.
  function unescapeEntities(text) {
    return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function safeUrl(url) {
    return /^(https?:\/\/|mailto:)/i.test(url) ? url : null;
  }

  function emojiText(text) {
    return text.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all);
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  // <!date^EPOCH^FORMAT[^LINK]|FALLBACK> in the viewer's local time, as Slack shows it.
  function formatDate(epoch, format, fallback) {
    const date = new Date(epoch * 1000);
    if (!Number.isFinite(epoch) || Number.isNaN(date.getTime())) return fallback;
    const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const dateShort = `${months[date.getMonth()]} ${date.getDate()}, ${date.getFullYear()}`;
    const today = new Date();
    const pretty = date.toDateString() === today.toDateString() ? "Today" : dateShort;
    const tokens = {
      date_num: `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`,
      date: dateShort, date_short: dateShort, date_long: date.toDateString(),
      date_pretty: pretty, date_short_pretty: pretty, date_long_pretty: pretty,
      time: `${pad(date.getHours())}:${pad(date.getMinutes())}`,
      time_secs: `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`,
      ago: agoText(date),
    };
    let unknown = false;
    const out = format.replace(/\{([a-z_]+)\}/g, (all, name) => {
      if (name in tokens) return tokens[name];
      unknown = true;
      return all;
    });
    return unknown ? fallback : out;
  }

  function agoText(date) {
    const seconds = Math.round((Date.now() - date.getTime()) / 1000);
    const abs = Math.abs(seconds);
    const [n, unit] = abs < 60 ? [abs, "second"] : abs < 3600 ? [Math.round(abs / 60), "minute"]
      : abs < 86400 ? [Math.round(abs / 3600), "hour"] : [Math.round(abs / 86400), "day"];
    const words = `${n} ${unit}${n === 1 ? "" : "s"}`;
    return seconds >= 0 ? `${words} ago` : `in ${words}`;
  }

  // One <...> token: a link, a user/channel/group mention, a date or a special mention.
  function angle(body, ctx) {
    const bar = body.indexOf("|");
    const target = bar < 0 ? body : body.slice(0, bar);
    const label = bar < 0 ? null : unescapeEntities(body.slice(bar + 1));
    if (target.startsWith("@")) {
      const id = target.slice(1);
      return el("span", "bk-mention", "@" + (label || (ctx.users && ctx.users[id]) || id));
    }
    if (target.startsWith("#")) return el("span", "bk-mention", "#" + (label || target.slice(1)));
    if (target.startsWith("!date^")) {
      const [, epoch, format] = target.split("^");
      const span = el("span", "bk-date", formatDate(Number(epoch), format || "", label || ""));
      if (label) span.title = label;
      return span;
    }
    if (target.startsWith("!subteam^")) return el("span", "bk-mention", label || "@group");
    if (target.startsWith("!")) return el("span", "bk-mention", "@" + (label || target.slice(1)));
    const url = safeUrl(unescapeEntities(target));
    if (!url) return document.createTextNode(unescapeEntities(label || target));
    const a = el("a", "bk-link", label || url);
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  // Inline mrkdwn: <…> tokens, `code`, *bold*, _italic_, ~strike~ and :emoji:, nested as Slack nests them.
  const INLINE = new RegExp(
    [
      "<([^<>\\n]+)>",
      "`([^`\\n]+)`",
      "(^|[^\\w*])\\*(?=\\S)([^*\\n]*?\\S)\\*(?![\\w*])",
      "(^|[^\\w_])_(?=\\S)([^_\\n]*?\\S)_(?![\\w_])",
      "(^|[^\\w~])~(?=\\S)([^~\\n]*?\\S)~(?![\\w~])",
    ].join("|"),
    "g",
  );

  function inline(text, parent, ctx) {
    let last = 0;
    INLINE.lastIndex = 0;
    const pending = [];
    let m;
    while ((m = INLINE.exec(text)) !== null) {
      pending.push([m.index, m]);
      if (m[0].length === 0) INLINE.lastIndex++;
    }
    for (const [index, match] of pending) {
      if (index < last) continue;
      let start = index;
      let node;
      if (match[1] !== undefined) node = angle(match[1], ctx);
      else if (match[2] !== undefined) node = el("code", "bk-code", unescapeEntities(match[2]));
      else {
        const [prefix, body, tag] = match[4] !== undefined ? [match[3], match[4], "b"]
          : match[6] !== undefined ? [match[5], match[6], "i"] : [match[7], match[8], "s"];
        start += prefix.length;
        node = el(tag);
        inline(body, node, ctx);
        plain(text.slice(last, start), parent);
        parent.appendChild(node);
        last = index + match[0].length;
        continue;
      }
      plain(text.slice(last, start), parent);
      parent.appendChild(node);
      last = index + match[0].length;
    }
    plain(text.slice(last), parent);
  }

  function plain(text, parent) {
    if (text) parent.appendChild(document.createTextNode(emojiText(unescapeEntities(text))));
  }

  // mrkdwn text -> a DocumentFragment: ```code blocks```, > quotes and lines, each line inline.
  function mrkdwn(text, ctx) {
    const fragment = document.createDocumentFragment();
    const parts = String(text || "").split("```");
    parts.forEach((part, i) => {
      if (i % 2 === 1) {
        fragment.appendChild(el("pre", "bk-pre", unescapeEntities(part.replace(/^\n/, ""))));
        return;
      }
      const lines = part.split("\n");
      lines.forEach((line, j) => {
        if (line.startsWith("&gt; ") || line.startsWith("> ")) {
          const quote = el("span", "bk-quote");
          inline(line.replace(/^(&gt;|>) /, ""), quote, ctx);
          fragment.appendChild(quote);
        } else {
          inline(line, fragment, ctx);
        }
        if (j < lines.length - 1) fragment.appendChild(el("br"));
      });
    });
    return fragment;
  }

  function textObject(obj, ctx, className) {
    const node = el("div", className);
    if (!obj || typeof obj !== "object") return node;
    if (obj.type === "mrkdwn") node.appendChild(mrkdwn(obj.text, ctx));
    else node.textContent = emojiText(String(obj.text || ""));
    return node;
  }

  function button(element, block, ctx) {
    const b = el("button", "bk-btn" + (element.style ? " bk-" + element.style : ""));
    b.type = "button";
    b.textContent = emojiText(String((element.text && element.text.text) || "button"));
    b.dataset.actionId = String(element.action_id || "");
    b.addEventListener("click", () => {
      if (ctx.onAction) ctx.onAction({ element, blockId: block.block_id || "", button: b });
    });
    return b;
  }

  function element(elementObj, block, ctx) {
    if (elementObj.type === "button") return button(elementObj, block, ctx);
    if (elementObj.type === "image") return el("span", "bk-image", elementObj.alt_text || "image");
    if (elementObj.type === "mrkdwn" || elementObj.type === "plain_text") return textObject(elementObj, ctx, "bk-ctx-text");
    return el("span", "bk-unsupported", `[${elementObj.type || "element"}]`);
  }

  const RENDERERS = {
    header(block, ctx) { return textObject(block.text, ctx, "bk-header"); },
    divider() { return el("hr", "bk-divider"); },
    section(block, ctx) {
      const node = el("div", "bk-section");
      const main = el("div", "bk-section-main");
      if (block.text) main.appendChild(textObject(block.text, ctx, "bk-text"));
      if (Array.isArray(block.fields) && block.fields.length) {
        const fields = el("div", "bk-fields");
        block.fields.forEach((f) => fields.appendChild(textObject(f, ctx, "bk-field")));
        main.appendChild(fields);
      }
      node.appendChild(main);
      if (block.accessory) node.appendChild(element(block.accessory, block, ctx));
      return node;
    },
    context(block, ctx) {
      const node = el("div", "bk-context");
      (block.elements || []).forEach((e) => node.appendChild(element(e, block, ctx)));
      return node;
    },
    actions(block, ctx) {
      const node = el("div", "bk-actions");
      (block.elements || []).forEach((e) => node.appendChild(element(e, block, ctx)));
      return node;
    },
    image(block) { return el("div", "bk-image", block.alt_text || "image"); },
  };

  // blocks -> an element; ctx: {users: {id: name}, onAction({element, blockId, button})}.
  function renderBlocks(blocks, ctx) {
    const node = el("div", "bk-blocks");
    (Array.isArray(blocks) ? blocks : []).forEach((block) => {
      const render = block && RENDERERS[block.type];
      const child = render ? render(block, ctx) : el("div", "bk-unsupported", `[unsupported block: ${block && block.type}]`);
      if (block && block.block_id) child.dataset.blockId = String(block.block_id);
      node.appendChild(child);
    });
    return node;
  }

  global.BlockKit = { renderBlocks, mrkdwn, emojiText, formatDate, safeUrl };
})(window);
