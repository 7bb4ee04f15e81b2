// The session report page: the token is read like the console's (#token= once, then
// sessionStorage); the report body is rendered by the server (escaped HTML with its SVG) and
// fetched with the Authorization header, so nothing about a participant is served without it.
"use strict";

(function () {
  const FB = window.FB;
  const el = FB.el;
  const $ = (id) => document.getElementById(id);
  const sessionId = document.body.dataset.session;
  let token = null;
  let report = null;

  function say(text, kind) {
    const node = $("message");
    node.textContent = text || "";
    node.className = "message noprint " + (kind || "");
  }

  function showLogin(text) {
    $("login").hidden = false;
    if (text) say(text, "error");
  }

  async function fetchText(path) {
    const response = await fetch(path, {
      headers: { Authorization: "Bearer " + token },
      cache: "no-store",
      credentials: "omit",
    });
    if (!response.ok) {
      let detail = "HTTP " + response.status;
      try {
        detail = (await response.json()).detail || detail;
      } catch (ignored) {
        // not JSON
      }
      throw new FB.ApiError(response.status, "report", detail);
    }
    return response;
  }

  // The server escaped every value; parsing it inertly and moving the nodes in keeps scripts
  // out (DOMParser never runs them) and the page under its strict Content-Security-Policy.
  function showFragment(html) {
    const parsed = new DOMParser().parseFromString(html, "text/html");
    const main = $("report");
    FB.replaceChildren(main, Array.from(parsed.body.childNodes).map((n) => document.importNode(n, true)));
    main.setAttribute("aria-busy", "false");
  }

  async function load() {
    const base = "/sessions/" + sessionId + "/report";
    try {
      const [page, json] = await Promise.all([
        fetchText(base + "?format=html&fragment=true"),
        FB.api("GET", base, { token: token }),
      ]);
      showFragment(await page.text());
      report = json;
      const link = $("cohort-link");
      link.href = "/cohort/" + encodeURIComponent(report.session.show);
      link.hidden = false;
      fillSegments();
      $("note-panel").hidden = false;
      say("");
    } catch (error) {
      if (error.status === 401) {
        FB.forgetToken();
        showLogin("The token was refused: " + error.message);
      } else say("Could not load the report: " + error.message, "error");
    }
  }

  function fillSegments() {
    const select = $("note-segment");
    const seen = new Set();
    FB.replaceChildren(select, [el("option", { value: "", text: "the whole session" })]);
    report.segments.forEach((segment) => {
      if (segment.inserted || seen.has(segment.id)) return;
      seen.add(segment.id);
      select.appendChild(el("option", { value: segment.id, text: segment.title || segment.id }));
    });
  }

  async function download(format, name, type) {
    try {
      const response = await fetchText("/sessions/" + sessionId + "/report?format=" + format);
      const blob = new Blob([await response.arrayBuffer()], { type: type });
      const link = el("a", { href: URL.createObjectURL(blob), download: name });
      document.body.appendChild(link);
      link.click();
      link.remove();
    } catch (error) {
      say("Could not download: " + error.message, "error");
    }
  }

  async function addNote(event) {
    event.preventDefault();
    const text = $("note-text").value.trim();
    if (!text) return;
    const body = { text: text };
    if ($("note-segment").value) body.segment_id = $("note-segment").value;
    try {
      await FB.api("POST", "/sessions/" + sessionId + "/notes", { token: token, json: body });
      $("note-text").value = "";
      say("Note saved.", "ok");
      await load();
    } catch (error) {
      say(
        error.status === 403
          ? "Only a producer or facilitator token can write notes."
          : "Could not save the note: " + error.message,
        "error"
      );
    }
  }

  function start() {
    token = FB.takeToken();
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      FB.setToken($("token-input").value.trim());
      window.location.reload();
    });
    $("print").addEventListener("click", () => window.print());
    $("download-csv").addEventListener("click", () =>
      download("csv", "report-" + sessionId + ".zip", "application/zip")
    );
    $("download-json").addEventListener("click", () =>
      download("json", "report-" + sessionId + ".json", "application/json")
    );
    $("note-form").addEventListener("submit", addNote);
    if (!token) {
      showLogin();
      return;
    }
    load();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
