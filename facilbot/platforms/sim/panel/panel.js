// Rehearsal: the participants' panel. Join simulated people and type as them; reads
// GET /sessions/{id}/sim every second (a rehearsal page, not a live broadcast).
"use strict";

(function () {
  const FB = window.FB;
  const el = FB.el;
  const $ = (id) => document.getElementById(id);
  const sessionId = document.body.dataset.session;
  const base = "/sessions/" + sessionId + "/sim";
  let token = null;
  let view = null;
  let shownPolls = "";

  function say(text, kind) {
    $("message").textContent = text || "";
    $("message").className = "message" + (kind ? " " + kind : "");
  }

  function render() {
    $("meeting").textContent = "sim · " + view.meeting_ref;
    const select = $("as-person");
    const chosen = select.value;
    FB.replaceChildren(
      select,
      view.people.map((p) =>
        el("option", { value: p.id, text: p.name + (p.role === "attendee" ? "" : " (" + p.role + ")") })
      )
    );
    if (chosen && view.people.some((p) => p.id === chosen)) select.value = chosen;
    $("commitments-open").hidden = !view.collecting_commitments;
    $("on-break").hidden = !view.on_break;
    const list = $("chat");
    FB.replaceChildren(
      list,
      view.chat
        .slice()
        .reverse()
        .map((line) =>
          el(
            "li",
            { class: line.who === "facilbot" ? "bot" : "" },
            el("span", { class: "when", text: FB.timeOfDay(line.at) }),
            el("span", null, el("strong", { text: line.who + ": " }), line.text)
          )
        )
    );
    renderPolls();
  }

  function renderPolls() {
    const keys = view.polls.map((p) => p.key).join(",");
    $("polls-panel").hidden = !view.polls.length;
    if (keys === shownPolls) return; // keep what is being chosen
    shownPolls = keys;
    FB.replaceChildren(
      $("polls"),
      view.polls.map((poll, n) =>
        el(
          "form",
          { class: "poll-form", "data-poll": poll.key },
          el(
            "fieldset",
            { class: "options" },
            el("legend", { text: poll.question }),
            ...poll.options.map((option, i) =>
              el(
                "label",
                { class: "option" },
                el("input", {
                  type: poll.multiple ? "checkbox" : "radio",
                  name: "choice-" + n,
                  value: option,
                  id: "poll-" + n + "-" + i,
                }),
                " " + option
              )
            )
          ),
          el("button", { type: "submit", text: "Answer as the chosen person" })
        )
      )
    );
    document.querySelectorAll(".poll-form").forEach((form) => {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const choices = Array.from(form.querySelectorAll("input:checked")).map((i) => i.value);
        if (!choices.length) return;
        send("/poll", { person: $("as-person").value, poll_key: form.dataset.poll, choices: choices }, "answered");
      });
    });
  }

  async function send(path, body, done) {
    try {
      const answer = await FB.api("POST", base + path, { token: token, json: body });
      say(done, "ok");
      return answer;
    } catch (error) {
      say(error.message, "error");
      return null;
    } finally {
      refresh();
    }
  }

  async function refresh() {
    try {
      view = await FB.api("GET", base, { token: token });
      render();
    } catch (error) {
      say(error.message, "error");
    }
  }

  function start() {
    token = FB.takeToken();
    if (!token) {
      say("Open this panel with the link facilbot rehearse printed (it carries a token).", "error");
      return;
    }
    $("join-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = $("join-name").value.trim();
      if (!name) return;
      const person = await send("/join", { name: name, role: $("join-role").value }, name + " joined");
      if (person) {
        $("join-name").value = "";
        await refresh();
        $("as-person").value = person.id;
      }
    });
    $("chat-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = $("chat-text").value.trim();
      if (!text || !$("as-person").value) return;
      const sent = await send("/chat", { person: $("as-person").value, text: text }, "sent");
      if (sent) $("chat-text").value = "";
    });
    refresh();
    setInterval(refresh, 1000);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
