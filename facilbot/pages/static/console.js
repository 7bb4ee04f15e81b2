// The producer console: renders GET /sessions/{id}, follows /sessions/{id}/events, and steers
// the show with POST /sessions/{id}/controls and .../firings/{firing}/ack. Countdowns tick
// locally between updates (at wall-clock pace) and are corrected by every fresh state.
"use strict";

(function () {
  const FB = window.FB;
  const el = FB.el;
  const $ = (id) => document.getElementById(id);
  const sessionId = document.body.dataset.session;

  let token = null;
  let state = null;
  let receivedAt = 0; // Date.now() when `state` arrived
  let refreshTimer = null;
  let refreshing = false;
  let again = false;
  let confirmEndUntil = 0;
  // The segment that was current before this tab's last skip or jump: "undo" jumps back to it.
  let undoTo = null;

  function say(text, kind) {
    const node = $("message");
    node.textContent = text || "";
    node.className = "message" + (kind ? " " + kind : "");
  }

  function elapsed() {
    if (!state || state.paused || state.status !== "running") return 0;
    return (Date.now() - receivedAt) / 1000;
  }

  // --- rendering -------------------------------------------------------------------------

  function render() {
    if (!state) return;
    document.title = "facilbot — " + state.show_title;
    $("show-title").textContent = state.show_title;
    $("meeting").textContent = state.platform + " · " + state.meeting_ref;
    $("badges").hidden = false;
    const status = $("status");
    status.textContent = state.paused ? "paused" : state.status;
    status.className = "badge status-" + (state.paused ? "paused" : state.status);
    document.body.dataset.status = state.paused ? "paused" : state.status;
    const bridge = $("bridge-status");
    bridge.textContent = "bridge: " + (state.bridge_connected ? "connected" : "not connected");
    bridge.className = "badge " + (state.bridge_connected ? "ok" : "off");

    const current = state.current_segment;
    $("current-segment").textContent = current
      ? current.title || current.id
      : state.status === "ended"
        ? "Ended"
        : "Not started";
    $("current-kind").textContent = current
      ? current.kind + (current.inserted ? " (inserted)" : "")
      : state.status === "ended"
        ? "the show has ended"
        : "not started";
    renderNotes(current);
    renderCues();
    renderNotices();
    renderTimeline();
    renderUpcoming();
    renderPeople();
    renderPolls();
    renderFirings();
    renderButtons();
    tick();
  }

  function tick() {
    if (!state) return;
    const passed = elapsed();
    const left = state.segment_time_left_seconds;
    $("time-left").textContent = left === null ? "–" : FB.clock(left - passed);
    const next = state.next_item;
    $("next-what").textContent = next ? next.what : "nothing planned";
    $("next-countdown").textContent =
      next && next.countdown_seconds !== null ? FB.clock(next.countdown_seconds - passed) : "–";
  }

  function renderNotes(current) {
    const notes = (current && current.producer_notes) || {};
    const facilitator = current ? current.facilitator_notes : null;
    const rows = [
      ["note-watch", notes.watch_for],
      ["note-keep", notes.keep_same],
      ["note-flex", notes.flex],
      ["note-facilitator", facilitator],
    ];
    let any = false;
    rows.forEach(([id, text]) => {
      const row = $(id);
      row.hidden = !text;
      row.querySelector("dd").textContent = text || "";
      any = any || Boolean(text);
    });
    $("notes").hidden = !any;
  }

  function renderNotices() {
    const notices = state.notices || [];
    $("notices-panel").hidden = !notices.length;
    FB.replaceChildren(
      $("notices"),
      notices.slice(0, 8).map((n) =>
        el(
          "li",
          { class: "notice" + (n.refused ? " refused" : "") },
          el("span", { class: "when", text: FB.timeOfDay(n.at) }),
          el(
            "div",
            null,
            el("strong", { text: n.sender + ": " }),
            el("code", { text: n.command }),
            el("div", { class: "reply", text: n.reply }),
            el("div", {
              class: "muted via",
              text: n.replied_via
                ? "answered in the meeting chat (" + n.replied_via + ")"
                : "no channel could answer in the chat: tell them yourself",
            })
          )
        )
      )
    );
  }

  function renderCues() {
    const cues = state.producer_cues || [];
    $("cue-count").textContent = cues.length ? String(cues.length) : "";
    $("cues-empty").hidden = cues.length > 0;
    FB.replaceChildren(
      $("cues"),
      cues.map((cue) => {
        const paste = cue.paste
          ? el("textarea", {
              class: "cue-paste",
              readonly: true,
              rows: 3,
              "aria-label": "text to paste",
              text: cue.paste,
            })
          : null;
        return el(
          "li",
          { class: "cue", "data-firing": cue.firing_id },
          el("div", { class: "cue-text", text: cue.text }),
          paste,
          el(
            "div",
            { class: "cue-actions" },
            cue.paste
              ? el("button", {
                  type: "button",
                  class: "copy",
                  text: "Copy text",
                  onclick: () => copy(cue.paste),
                })
              : null,
            el("button", {
              type: "button",
              class: "done primary",
              text: "Done",
              onclick: (event) => acknowledge(cue.firing_id, event.target),
            }),
            el("span", { class: "muted", text: cue.since ? "since " + FB.timeOfDay(cue.since) : "" })
          )
        );
      })
    );
  }

  function renderTimeline() {
    const select = $("jump-select");
    const chosen = select.value;
    FB.replaceChildren(
      $("timeline"),
      state.segments.map((segment) =>
        el(
          "li",
          { class: "segment state-" + segment.state, "data-segment": segment.id },
          el("span", { class: "when", text: FB.timeOfDay(segment.start) }),
          el("span", { class: "name", text: segment.title || segment.id }),
          el("span", { class: "kind", text: segment.kind + (segment.inserted ? " · inserted" : "") }),
          el("span", { class: "state", text: segment.state })
        )
      )
    );
    FB.replaceChildren(
      select,
      state.segments
        .filter((segment) => !segment.inserted)
        .map((segment) => el("option", { value: segment.id, text: segment.title || segment.id }))
    );
    if (chosen) select.value = chosen;
  }

  function renderUpcoming() {
    FB.replaceChildren(
      $("upcoming"),
      (state.upcoming || []).map((item) =>
        el(
          "li",
          { class: "item", "data-key": item.key },
          el("span", { class: "when", text: FB.timeOfDay(item.due) }),
          el("span", { class: "name", text: item.what }),
          el("span", { class: "kind", text: item.action.replace(/_/g, " ") }),
          // cues of the show can be fired early; segment-level items ("rooms@open") cannot
          item.origin === "show" && item.key.indexOf(item.segment_id + "@") !== 0
            ? el("button", {
                type: "button",
                class: "small",
                text: "Fire now",
                onclick: () => control("fire", { key: item.key }),
              })
            : null
        )
      )
    );
  }

  function renderPeople() {
    const present = state.participants.filter((p) => p.present);
    $("people-count").textContent = present.length + " here";
    FB.replaceChildren(
      $("people"),
      state.participants.map((p) =>
        el(
          "li",
          {
            class: "chip" + (p.present ? "" : " gone") + (p.committed ? " committed" : ""),
            title: [p.role, p.department, p.room].filter(Boolean).join(" · "),
          },
          p.name + (p.room ? " · " + p.room : "")
        )
      )
    );
    $("not-committed-count").textContent = state.not_committed.length
      ? String(state.not_committed.length)
      : "";
    FB.replaceChildren(
      $("not-committed"),
      state.not_committed.map((name) => el("li", { class: "chip warn", text: name }))
    );
    FB.replaceChildren(
      $("commitments"),
      state.commitments.map((c) =>
        el("li", null, el("strong", { text: c.participant + ": " }), c.text)
      )
    );
  }

  function renderPolls() {
    $("polls-empty").hidden = (state.polls || []).length > 0;
    FB.replaceChildren(
      $("polls"),
      (state.polls || []).map((poll) => {
        const total = Math.max(1, poll.answers);
        return el(
          "div",
          { class: "poll", "data-poll": poll.key },
          el("div", { class: "question", text: poll.question + " (" + poll.answers + ")" }),
          el(
            "ul",
            { class: "plain bars" },
            ...poll.options.map((option) => {
              const count = poll.counts[option] || 0;
              const bar = el("span", { class: "fill" });
              bar.style.width = Math.round((100 * count) / total) + "%";
              return el(
                "li",
                null,
                el("span", { class: "label", text: option }),
                el("span", { class: "track" }, bar),
                el("span", { class: "n", text: String(count) })
              );
            })
          )
        );
      })
    );
  }

  function renderFirings() {
    const recent = (state.firings || []).slice(-30).reverse();
    FB.replaceChildren(
      $("firings"),
      recent.map((f) =>
        el(
          "li",
          { class: "firing status-" + f.status, "data-key": f.key },
          el("span", { class: "when", text: FB.timeOfDay(f.sent_at || f.planned_at) }),
          el("span", { class: "name", text: f.key }),
          el("span", {
            class: "kind",
            text: [f.status, f.channel, f.outcome].filter(Boolean).join(" · "),
          })
        )
      )
    );
  }

  function renderButtons() {
    const started = state.status === "running";
    const ended = state.status === "ended";
    const enable = {
      start: !started && !ended,
      pause: started && !state.paused,
      resume: started && state.paused,
      extend: started,
      skip: started,
      break: started,
      end: !ended,
    };
    document.querySelectorAll("[data-control]").forEach((button) => {
      button.disabled = !enable[button.dataset.control];
    });
    $("jump-button").disabled = !started;
    const undo = $("undo-button");
    undo.disabled = !started || !undoTo;
    $("undo-what").textContent = undoTo ? "(back to " + undoTo.title + ")" : "skip or jump";
  }

  // --- actions ---------------------------------------------------------------------------

  async function control(kind, extra) {
    const body = Object.assign({ kind: kind }, extra || {});
    const before = state && state.current_segment;
    try {
      await FB.api("POST", "/sessions/" + sessionId + "/controls", { token: token, json: body });
      if ((kind === "skip" || kind === "jump") && before && !before.inserted) {
        undoTo = { id: before.id, title: before.title || before.id };
      } else if (kind === "jump" || kind === "end") {
        undoTo = null;
      }
      say(kind + " done", "ok");
      await refresh();
    } catch (error) {
      say(kind + " refused: " + error.message, "error");
    }
  }

  async function acknowledge(firingId, button) {
    button.disabled = true;
    try {
      await FB.api("POST", "/sessions/" + sessionId + "/firings/" + firingId + "/ack", {
        token: token,
      });
      say("cue marked done", "ok");
      await refresh();
    } catch (error) {
      button.disabled = false;
      say("could not mark the cue done: " + error.message, "error");
    }
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
      say("copied", "ok");
    } catch (ignored) {
      say("select the text and copy it (the clipboard is not available here)", "error");
    }
  }

  function wireControls() {
    document.querySelectorAll("[data-control]").forEach((button) => {
      button.addEventListener("click", () => {
        const kind = button.dataset.control;
        if (kind === "end" && Date.now() > confirmEndUntil) {
          confirmEndUntil = Date.now() + 5000;
          button.textContent = "Click again to end";
          setTimeout(() => {
            button.textContent = "End show";
          }, 5000);
          return;
        }
        if (kind === "end") button.textContent = "End show";
        runControl(kind);
      });
    });
    $("undo-button").addEventListener("click", undo);
    document.addEventListener("keydown", shortcut);
    $("jump-button").addEventListener("click", () => {
      const target = $("jump-select").value;
      if (target) control("jump", { segment_id: target });
    });
    $("companion-copy").addEventListener("click", () => copy($("companion-link").value));
  }

  function minutes(id) {
    const value = Math.round(Number($(id).value));
    return Number.isFinite(value) && value > 0 ? value : null;
  }

  function runControl(kind) {
    if (kind === "extend" || kind === "break") {
      const chosen = minutes(kind === "extend" ? "extend-minutes" : "break-minutes");
      if (chosen === null) {
        say("type a number of minutes first", "error");
        return;
      }
      control(kind, { seconds: chosen * 60 });
      return;
    }
    control(kind);
  }

  function undo() {
    if (!undoTo) return;
    const target = undoTo;
    control("jump", { segment_id: target.id }).then(() => {
      undoTo = null;
      renderButtons();
    });
  }

  // Single keys, as in media players; never while typing, nor with Ctrl/Alt/Meta held.
  function shortcut(event) {
    if (event.ctrlKey || event.altKey || event.metaKey || !state) return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      return;
    }
    const key = event.key.toLowerCase();
    const press = (kind) => {
      const button = document.querySelector('[data-control="' + kind + '"]');
      if (button && !button.disabled) runControl(kind);
    };
    if (key === "s" && event.shiftKey) press("start");
    else if (event.shiftKey) return;
    else if (key === "p") press(state.paused ? "resume" : "pause");
    else if (key === "e") press("extend");
    else if (key === "b") press("break");
    else if (key === "n") press("skip");
    else if (key === "u") {
      if (!$("undo-button").disabled) undo();
    } else return;
    event.preventDefault();
  }

  // --- data ------------------------------------------------------------------------------

  async function refresh() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    try {
      do {
        again = false;
        state = await FB.api("GET", "/sessions/" + sessionId, { token: token });
        receivedAt = Date.now();
        render();
      } while (again);
    } catch (error) {
      if (error.status === 401) {
        FB.forgetToken();
        showLogin("The token was refused: " + error.message);
      } else {
        say("could not read the session: " + error.message, "error");
      }
    } finally {
      refreshing = false;
    }
  }

  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      refresh();
    }, 100);
  }

  async function loadCompanionLink() {
    try {
      const link = await FB.api("GET", "/sessions/" + sessionId + "/companion-link", {
        token: token,
      });
      $("companion-link").value = link.url;
      if (link.qr_svg) {
        const image = el("img", {
          src: "data:image/svg+xml;base64," + btoa(link.qr_svg),
          alt: "QR code of the companion link",
          width: 180,
          height: 180,
        });
        FB.replaceChildren($("companion-qr"), [image]);
      }
    } catch (error) {
      $("companion-link").value = "(" + error.message + ")";
    }
  }

  function follow() {
    FB.eventStream("/sessions/" + sessionId + "/events", {
      token: token,
      onEvent: () => scheduleRefresh(),
      onStatus: (status) => {
        const node = $("stream-status");
        node.textContent = status === "live" ? "live" : status;
        node.className = "badge " + (status === "live" ? "ok" : "off");
        if (status === "live") scheduleRefresh();
      },
      onError: (error) => say("live updates: " + error.message, "error"),
    });
  }

  function showLogin(reason) {
    $("login").hidden = false;
    $("console-main").hidden = true;
    if (reason) say(reason, "error");
  }

  function sessionRow(s) {
    const when = s.planned_start || s.started_at || s.created_at;
    const stamp = when ? new Date(when).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
    return el(
      "li",
      { class: "session-row", "data-session": s.id },
      el("a", { href: "/console/" + s.id, text: s.show_title || "(untitled show)" }),
      el("span", { class: "meta", text: s.platform + " · " + s.meeting_ref }),
      el("span", { class: "meta", text: (s.planned_start ? "planned " : "") + stamp }),
      el("span", { class: "badge status-" + s.status, text: s.status }),
      s.status === "ended"
        ? el("a", { class: "meta", href: "/report/" + s.id, text: "report" })
        : null
    );
  }

  async function showPicker() {
    $("picker").hidden = false;
    try {
      const [sessions, ended] = await Promise.all([
        FB.api("GET", "/sessions", { token: token }),
        FB.api("GET", "/sessions?ended=true&limit=50", { token: token }),
      ]);
      FB.replaceChildren($("session-list"), sessions.map(sessionRow));
      FB.replaceChildren($("ended-list"), ended.map(sessionRow));
      $("sessions-empty").hidden = sessions.length > 0;
      $("ended-empty").hidden = ended.length > 0;
      if (window.FBBridge) window.FBBridge.pickSession(sessions);
    } catch (error) {
      if (error.status === 401) {
        FB.forgetToken();
        showLogin("The token was refused: " + error.message);
      } else say("could not list sessions: " + error.message, "error");
    }
  }

  function start() {
    token = FB.takeToken();
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      FB.setToken($("token-input").value.trim());
      $("token-input").value = "";
      window.location.reload();
    });
    if (!token) {
      showLogin();
      return;
    }
    if (!sessionId) {
      showPicker();
      return;
    }
    $("console-main").hidden = false;
    wireControls();
    refresh();
    follow();
    loadCompanionLink();
    setInterval(tick, 1000);
    // A safety net behind the live stream (and the clock's pace on accelerated demos).
    setInterval(refresh, 30000);
    if (window.FBBridge) {
      window.FBBridge.start({
        sessionId: sessionId,
        token: token,
        log: bridgeLog,
        changed: scheduleRefresh,
      });
    }
  }

  function bridgeLog(text, kind) {
    const list = $("bridge-log");
    list.insertBefore(
      el("li", { class: kind || "" }, el("span", { class: "when", text: FB.timeOfDay(new Date()) }), text),
      list.firstChild
    );
    while (list.childNodes.length > 50) list.removeChild(list.lastChild);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
