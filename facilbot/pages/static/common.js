// Shared by the console, the bridge and the companion page: API calls, Server-Sent Events read
// with fetch (so requests can carry an Authorization header, which EventSource cannot), and
// small DOM helpers that never parse HTML.
"use strict";

(function () {
  const TOKEN_KEY = "facilbot.token";

  // The producer's token arrives once in the URL fragment (#token=...), which browsers never
  // send to the server; it is moved to sessionStorage and removed from the address bar.
  function takeToken() {
    const hash = window.location.hash.replace(/^#/, "");
    const params = new URLSearchParams(hash);
    const fromHash = params.get("token");
    if (fromHash) {
      sessionStorage.setItem(TOKEN_KEY, fromHash);
      params.delete("token");
      const rest = params.toString();
      const clean = window.location.pathname + window.location.search + (rest ? "#" + rest : "");
      window.history.replaceState(null, "", clean);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function setToken(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  }

  function forgetToken() {
    sessionStorage.removeItem(TOKEN_KEY);
  }

  class ApiError extends Error {
    constructor(status, code, detail) {
      super(detail || code || "HTTP " + status);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, options) {
    const opts = options || {};
    const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    if (opts.token) headers.Authorization = "Bearer " + opts.token;
    let body;
    if (opts.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.json);
    }
    const response = await fetch(path, {
      method: method,
      headers: headers,
      body: body,
      cache: "no-store",
      credentials: "omit",
    });
    let data = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.indexOf("json") >= 0) data = await response.json();
    if (!response.ok) {
      throw new ApiError(response.status, data && data.error, data && data.detail);
    }
    return data;
  }

  // Reads a text/event-stream with fetch and calls onEvent(object) for each "data:" line.
  // Reconnects with backoff until stop() is called; onStatus("live" | "retrying" | "stopped").
  function eventStream(path, options) {
    const opts = options || {};
    let controller = null;
    let stopped = false;
    let delay = 1000;

    async function once() {
      controller = new AbortController();
      const headers = Object.assign({ Accept: "text/event-stream" }, opts.headers || {});
      if (opts.token) headers.Authorization = "Bearer " + opts.token;
      const response = await fetch(path, {
        headers: headers,
        cache: "no-store",
        credentials: "omit",
        signal: controller.signal,
      });
      if (!response.ok || !response.body) {
        let detail = "HTTP " + response.status;
        try {
          const data = await response.json();
          detail = data.detail || detail;
        } catch (ignored) {
          // not JSON
        }
        throw new ApiError(response.status, "stream", detail);
      }
      if (opts.onStatus) opts.onStatus("live");
      delay = 1000;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split("\n")
            .filter((line) => line.indexOf("data:") === 0)
            .map((line) => line.slice(5).trim())
            .join("\n");
          if (!data) continue; // a keep-alive comment
          let event;
          try {
            event = JSON.parse(data);
          } catch (ignored) {
            continue;
          }
          try {
            await opts.onEvent(event);
          } catch (error) {
            console.error("facilbot: event handler failed", error);
          }
        }
      }
    }

    async function loop() {
      while (!stopped) {
        try {
          await once();
        } catch (error) {
          if (stopped) break;
          if (opts.onError) opts.onError(error);
          // Refused for good (bad token, no such session): retrying will not help.
          if (error instanceof ApiError && [401, 403, 404, 409, 422].indexOf(error.status) >= 0) {
            stopped = true;
            break;
          }
        }
        if (stopped) break;
        if (opts.onStatus) opts.onStatus("retrying");
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 15000);
      }
      if (opts.onStatus) opts.onStatus("stopped");
    }

    loop();
    return {
      stop: function () {
        stopped = true;
        if (controller) controller.abort();
      },
    };
  }

  // Builds an element: el("li", {class: "x", text: "..."}, child, ...). Text only, never HTML.
  function el(tag, attrs) {
    const node = document.createElement(tag);
    const given = attrs || {};
    Object.keys(given).forEach((name) => {
      const value = given[name];
      if (value === undefined || value === null || value === false) return;
      if (name === "text") node.textContent = String(value);
      else if (name === "class") node.className = value;
      else if (name.indexOf("on") === 0) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    });
    for (let i = 2; i < arguments.length; i++) {
      const child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function replaceChildren(node, children) {
    while (node.firstChild) node.removeChild(node.firstChild);
    (children || []).forEach((child) => {
      if (child) node.appendChild(child);
    });
  }

  // A poll's results as bars: one <li> per option (label, track, "count (share%)").
  function bars(options, counts, answers) {
    const total = Math.max(1, answers);
    return options.map((option) => {
      const count = counts[option] || 0;
      const share = Math.round((100 * count) / total);
      const bar = el("span", { class: "fill" });
      bar.style.width = share + "%";
      return el(
        "li",
        { "data-option": option },
        el("span", { class: "label", text: option }),
        el("span", { class: "track", "aria-hidden": "true" }, bar),
        el("span", { class: "n", text: count + " (" + share + "%)" })
      );
    });
  }

  function clock(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "–";
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    const mm = (h > 0 && m < 10 ? "0" : "") + m;
    return (h > 0 ? h + ":" : "") + mm + ":" + (sec < 10 ? "0" : "") + sec;
  }

  function timeOfDay(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  }

  // Server time minus local time, so countdowns tick locally between updates.
  function skewFrom(serverNowIso) {
    return new Date(serverNowIso).getTime() - Date.now();
  }

  window.FB = {
    takeToken: takeToken,
    setToken: setToken,
    forgetToken: forgetToken,
    api: api,
    ApiError: ApiError,
    eventStream: eventStream,
    el: el,
    replaceChildren: replaceChildren,
    bars: bars,
    clock: clock,
    timeOfDay: timeOfDay,
    skewFrom: skewFrom,
  };
})();
