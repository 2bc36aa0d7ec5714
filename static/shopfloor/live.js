// Live updates: one websocket per page to the current site's stream.
// Elements with data-live="event.type other.type" get an htmx "refresh"
// trigger when such an event arrives (or after a reconnect, when they may
// have missed one), so each page re-renders only its own partials.
// data-live-station="CODE": only events of that workstation (or of none).
// data-live-hold-focus: while the user is in the element (picking a stop
// reason), its refresh waits until they leave it, so their pick is not lost.
(function () {
  "use strict";
  const site = document.body.dataset.site;
  const status = document.getElementById("live-status");
  document.querySelectorAll("select[data-autosubmit]").forEach((el) =>
    el.addEventListener("change", () => el.form.submit())
  );
  if (!site || !window.WebSocket) return;

  const pending = new Set();
  let timer = null;
  function refresh(el) {
    pending.add(el);
    if (timer) return;
    // Coalesce bursts (an upload may move many tags at once) into one refresh.
    timer = setTimeout(() => {
      timer = null;
      pending.forEach((node) => {
        if ("liveHoldFocus" in node.dataset && node.contains(document.activeElement)) afterFocus(node);
        else if (window.htmx) window.htmx.trigger(node, "refresh");
      });
      pending.clear();
    }, 150);
  }
  const waiting = new WeakSet();
  function afterFocus(node) {
    if (waiting.has(node)) return;
    waiting.add(node);
    const check = () => setTimeout(() => {
      if (node.contains(document.activeElement)) {
        node.addEventListener("focusout", check, { once: true });
        return;
      }
      waiting.delete(node);
      refresh(node);
    }, 0);
    node.addEventListener("focusout", check, { once: true });
  }
  function matching(event) {
    return Array.from(document.querySelectorAll("[data-live]")).filter((el) => {
      const wanted = el.dataset.live.split(/\s+/);
      if (!wanted.includes(event.type) && !wanted.includes("*")) return false;
      const station = el.dataset.liveStation;
      return !station || !event.workstation || event.workstation === station;
    });
  }

  let delay = 500;
  let missed = false;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    // data-ws-port: websockets served apart from HTTP on this host (config/web.py's split shape).
    const port = document.body.dataset.wsPort;
    const host = port ? `${location.hostname}:${port}` : location.host;
    const socket = new WebSocket(`${scheme}://${host}/ws/sites/${site}/`);
    socket.onopen = () => {
      delay = 500;
      if (status) { status.textContent = "● live"; status.className = "live-status on"; }
      if (missed) document.querySelectorAll("[data-live]").forEach(refresh);
    };
    socket.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      document.dispatchEvent(new CustomEvent("shopfloor:event", { detail: event }));
      matching(event).forEach(refresh);
    };
    socket.onclose = (ev) => {
      if (status) { status.textContent = "○ offline"; status.className = "live-status off"; }
      if (ev.code === 4403) return; // not allowed: do not hammer the server
      missed = true;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
})();

// Menus: one open at a time; a click elsewhere or Escape closes them.
(function () {
  "use strict";
  const menus = () => document.querySelectorAll("details[data-menu]");
  menus().forEach((menu) =>
    menu.addEventListener("toggle", () => {
      if (menu.open) menus().forEach((other) => { if (other !== menu) other.open = false; });
    })
  );
  document.addEventListener("click", (ev) => {
    if (!ev.target.closest("details[data-menu]")) menus().forEach((m) => { m.open = false; });
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") menus().forEach((m) => { m.open = false; });
  });
})();
