// The cohort report page: every session of one show side by side, and the suggestions for the
// next cohort. Built from the JSON with FB.el (text only, never HTML); token as on the console.
"use strict";

(function () {
  const FB = window.FB;
  const el = FB.el;
  const $ = (id) => document.getElementById(id);
  const show = document.body.dataset.show;

  function minutes(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const m = seconds / 60;
    return (Math.abs(m - Math.round(m)) < 0.05 ? Math.round(m) : m.toFixed(1)) + "m";
  }

  function table(header, rows, cls) {
    return el(
      "div",
      // focusable: on a phone the box scrolls sideways, by keyboard too
      { class: "table-wrap", tabindex: "0" },
      el(
        "table",
        cls ? { class: cls } : null,
        el("thead", null, el("tr", null, ...header.map((h) => el("th", { text: h })))),
        el(
          "tbody",
          null,
          ...rows.map((row) => el("tr", null, ...row.map((v) => el("td", { text: v === null || v === undefined ? "–" : String(v) }))))
        )
      )
    );
  }

  // Evidence as a line people read: "overran in: 28daba9d · median overrun: 2m". Session ids
  // shortened as in the sessions table; the unit a key ends with goes on its values (seconds
  // as minutes, percent as " %"), down through lists and maps ("28daba9d 50 %").
  const UUID = /^[0-9a-f]{8}-[0-9a-f-]{27}$/;
  const UNIT = /_(seconds|percent)$/;
  function value(key, v) {
    if (v === null || v === undefined) return "–";
    if (Array.isArray(v)) return v.map((x) => value(key, x)).join(", ");
    if (typeof v === "object") {
      return Object.entries(v)
        .map(([k, x]) => value("", k) + " " + value(UNIT.test(key) ? key : k, x))
        .join(", ");
    }
    if (typeof v === "number" && /_seconds$/.test(key)) return minutes(v);
    if (typeof v === "number" && /_percent$/.test(key)) return v + " %";
    const text = String(v);
    return UUID.test(text) ? text.slice(0, 8) : text;
  }
  function evidence(found) {
    return Object.entries(found)
      .map(([k, v]) => k.replace(UNIT, "").replace(/_/g, " ") + ": " + value(k, v))
      .join(" · ");
  }

  function render(data) {
    const parts = [el("h1", { text: "Cohort report: " + data.show })];
    parts.push(el("h2", { text: "Before the next cohort" }));
    parts.push(
      el(
        "ul",
        { class: "suggestions", id: "suggestions" },
        ...(data.suggestions.length ? data.suggestions : [{ text: "Nothing stands out." }]).map((s) =>
          el(
            "li",
            null,
            s.text,
            s.evidence ? el("div", { class: "evidence", text: "evidence: " + evidence(s.evidence) }) : null
          )
        )
      )
    );
    parts.push(el("h2", { text: "Sessions" }));
    parts.push(
      table(
        ["session", "version", "platform", "started", "late start", "end vs plan", "longest gap", "breaks", "attendees", "active", "commitments", "by hand", "interventions"],
        data.sessions.map((s) => [
          s.id.slice(0, 8) + (s.partial ? " (partial)" : "") + (s.pruned ? " (pruned)" : ""),
          "v" + s.show_version,
          s.platform,
          s.actual_start ? s.actual_start.slice(0, 16).replace("T", " ") : "–",
          minutes(s.late_start_seconds),
          minutes(s.end_difference_seconds),
          minutes(s.interaction_gap_seconds),
          Object.entries(s.breaks_kept).map(([rule, kept]) => rule + (kept ? " ok" : " broken")).join(", "),
          s.attendees,
          s.active_percent === null ? "–" : s.active_percent + " %",
          s.commitment_percent === null ? "–" : s.commitment_percent + " %",
          // producer cues, then how many were marked done and by whom
          s.by_hand + (s.by_hand ? " (" + (s.by_hand_done || 0) + " done" +
            Object.entries(s.by_hand_done_by || {}).map(([who, n]) => ", " + n + " by " + who).join("") + ")" : ""),
          s.interventions,
        ]),
        "wide"
      )
    );
    parts.push(el("h2", { text: "Segments: planned against actual" }));
    parts.push(
      table(
        ["segment", "planned", "median", "spread", "overran in", "skipped in"],
        data.segments.map((s) => [
          s.title || s.id,
          s.planned_seconds.map(minutes).join(" / "),
          minutes(s.median_actual_seconds),
          s.min_actual_seconds === null ? "–" : minutes(s.min_actual_seconds) + "–" + minutes(s.max_actual_seconds),
          s.overran_in.length + " of " + s.ran_in,
          s.skipped_in,
        ])
      )
    );
    if (data.polls.length) {
      parts.push(el("h2", { text: "Polls across cohorts" }));
      data.polls.forEach((poll) => {
        parts.push(el("p", null, el("b", { text: poll.question }), poll.keep_same ? " (kept the same)" : ""));
        parts.push(
          table(
            ["session", "answers", "response rate", ...Object.keys(poll.totals)],
            poll.sessions.map((s) => [
              s.session_id.slice(0, 8),
              s.answers,
              s.response_rate === null ? "–" : s.response_rate + " %",
              ...Object.keys(poll.totals).map((k) => s.counts[k] || 0),
            ])
          )
        );
      });
    }
    const noteSegments = Object.keys(data.notes);
    if (noteSegments.length) {
      parts.push(el("h2", { text: "Debrief notes by segment" }));
      parts.push(
        el(
          "ul",
          null,
          ...noteSegments.flatMap((segment) =>
            data.notes[segment].map((n) => el("li", { text: "[" + segment + "] " + n.role + ": " + n.text }))
          )
        )
      );
    }
    if ((data.journey_lines || []).length) {
      // worded by the server, as on the session report
      parts.push(el("h2", { id: "journey-heading", text: "Before and after: the journey" }));
      parts.push(el("ul", { id: "journey" }, ...data.journey_lines.map((line) => el("li", { text: line }))));
    }
    if (data.version_changes.length) {
      parts.push(el("h2", { text: "What changed between versions" }));
      parts.push(
        el(
          "ul",
          null,
          ...data.version_changes.map((c) => el("li", { text: "v" + c.from + " → v" + c.to + ": " + c.changes.join("; ") }))
        )
      );
    }
    FB.replaceChildren($("cohort"), parts);
    $("cohort").setAttribute("aria-busy", "false");
  }

  async function start() {
    const token = FB.takeToken();
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      FB.setToken($("token-input").value.trim());
      window.location.reload();
    });
    $("print").addEventListener("click", () => window.print());
    if (!token) {
      $("login").hidden = false;
      return;
    }
    try {
      render(await FB.api("GET", "/shows/" + encodeURIComponent(show) + "/report", { token: token }));
    } catch (error) {
      if (error.status === 401) {
        FB.forgetToken();
        $("login").hidden = false;
      }
      $("message").textContent = "Could not load the cohort report: " + error.message;
      $("message").className = "message noprint error";
    }
  }

  document.addEventListener("DOMContentLoaded", start);
})();
