// The re-plan panel of the producer console: when the session is heading past its planned end,
// it shows the proposal (runofshow.replan) with each option's new end, and lets the producer
// accept one, dismiss it, or accept every re-plan for this session. An accepted option is a
// control in the log ({"kind": "replan", "option": N}), like every other. Self-contained: it
// reads GET /sessions/{id} itself and follows the live stream, so console.js is untouched.
"use strict";

(function () {
  const FB = window.FB;
  const el = FB.el;
  const mount = document.getElementById("replan-panel");
  const sessionId = document.body.dataset.session;
  let token = null;
  let busy = false;
  let timer = null;

  function minutes(seconds) {
    const m = Math.round(Math.abs(seconds) / 60);
    return m + " min";
  }

  function render(state) {
    const replan = state && state.replan;
    const timing = state && state.timing;
    if (!replan) {
      mount.hidden = !(timing && timing.late_by_seconds >= 60);
      if (!mount.hidden) {
        FB.replaceChildren(mount, [
          el("h2", { text: "Timing" }),
          el("p", { text: "Ends " + FB.timeOfDay(timing.end) + ": " + timing.summary }),
        ]);
      }
      return;
    }
    mount.hidden = false;
    const head = el("p", {
      class: "replan-late",
      text:
        "Running " + minutes(replan.late_by_seconds) + " late: ends " +
        FB.timeOfDay(replan.end) + " instead of " + FB.timeOfDay(replan.planned_end) + ".",
    });
    const why = el("p", { class: "muted", text: replan.reasons.join("; ") });
    const options = el(
      "ol",
      { class: "plain replan-options" },
      ...replan.options.map((option) => {
        const item = el(
          "li",
          null,
          el("span", { text: option.label }),
          " ",
          el("span", { class: "muted", text: "(ends " + FB.timeOfDay(option.end) + ")" })
        );
        if (Object.keys(option.changes).length) {
          const take = el("button", { type: "button", text: "Accept" });
          take.dataset.option = String(option.option);
          take.addEventListener("click", () => send({ kind: "replan", option: option.option }));
          item.appendChild(document.createTextNode(" "));
          item.appendChild(take);
        }
        return item;
      })
    );
    const dismiss = el("button", { type: "button", text: "Dismiss" });
    dismiss.addEventListener("click", () => send({ kind: "replan_policy", auto: false }));
    const always = el("button", { type: "button", text: "Always accept for this session" });
    always.addEventListener("click", () => send({ kind: "replan_policy", auto: true }));
    FB.replaceChildren(mount, [
      el("h2", { text: "Re-plan to land on time" }),
      head,
      why,
      options,
      el("div", { class: "buttons" }, dismiss, always),
    ]);
  }

  async function send(body) {
    if (busy) return;
    busy = true;
    try {
      await FB.api("POST", "/sessions/" + sessionId + "/controls", { token: token, json: body });
    } catch (error) {
      const note = el("p", { class: "message error", role: "alert", text: error.message });
      mount.appendChild(note);
    } finally {
      busy = false;
      refresh();
    }
  }

  async function refresh() {
    try {
      render(await FB.api("GET", "/sessions/" + sessionId, { token: token }));
    } catch (error) {
      mount.hidden = true; // the console itself says why the session cannot be read
    }
  }

  function soon() {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      refresh();
    }, 150);
  }

  function start() {
    token = FB.takeToken();
    if (!mount || !sessionId || !token) return;
    refresh();
    FB.eventStream("/sessions/" + sessionId + "/events", { token: token, onEvent: soon });
    setInterval(refresh, 30000);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
