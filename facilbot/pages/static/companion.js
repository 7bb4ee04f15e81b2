// The participants' companion page: follows /companion/{id}/events and shows the live prompt,
// poll, rooms, break countdown and the commitment form. The link's key comes in the URL
// fragment (#k=...), is kept in sessionStorage and sent in the X-Companion-Key header.
"use strict";

(function () {
  const FB = window.FB;
  const el = FB.el;
  const $ = (id) => document.getElementById(id);
  const sessionId = document.body.dataset.session;
  const KEY_STORE = "facilbot.companion." + sessionId;
  const NAME_STORE = "facilbot.name";

  let key = null;
  let view = null;
  let receivedAt = 0;
  let shownPoll = null;

  function takeKey() {
    const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    const fromHash = params.get("k");
    if (fromHash) {
      sessionStorage.setItem(KEY_STORE, fromHash);
      window.history.replaceState(null, "", window.location.pathname);
    }
    return sessionStorage.getItem(KEY_STORE);
  }

  function say(text, kind) {
    const node = $("message");
    node.textContent = text || "";
    node.className = "message" + (kind ? " " + kind : "");
  }

  function passed() {
    if (!view || view.paused || view.status !== "running") return 0;
    return (Date.now() - receivedAt) / 1000;
  }

  function render() {
    $("show-title").textContent = view.show_title;
    const segment = view.segment;
    $("segment").textContent = view.paused
      ? "paused"
      : segment
        ? segment.title || segment.id
        : view.status === "ended"
          ? "the session has ended"
          : "starting soon";
    document.body.dataset.status = view.paused ? "paused" : view.status;

    $("prompt-panel").hidden = !view.prompt;
    $("prompt").textContent = view.prompt || "";

    $("break-panel").hidden = !view.on_break;
    $("break-text").textContent = view.on_break ? view.on_break.text : "";

    renderPoll();
    renderResults();

    $("rooms-panel").hidden = !view.rooms.length;
    const mine = fold(localStorage.getItem(NAME_STORE) || "");
    FB.replaceChildren(
      $("rooms"),
      view.rooms.map((room) =>
        el(
          "li",
          { class: room.people.some((p) => fold(p) === mine) ? "room mine" : "room" },
          el("strong", { text: room.name + ": " }),
          room.people.join(", ")
        )
      )
    );

    const form = view.commitments;
    $("commit-panel").hidden = !form || window.FBJourney.committed();
    if (form) {
      $("commit-prompt").textContent = form.prompt;
      Array.from($("commit-form").elements).forEach((field) => {
        field.disabled = !form.accepting;
      });
    }
    // After the end the recap (companion-journey.js) takes the idle line's place.
    $("idle-panel").hidden = Boolean(
      view.prompt ||
        view.on_break ||
        view.poll ||
        view.results ||
        form ||
        view.rooms.length ||
        view.status === "ended"
    );
    tick();
  }

  function renderPoll() {
    const poll = view.poll;
    $("poll-panel").hidden = !poll;
    if (!poll) {
      shownPoll = null;
      return;
    }
    if (shownPoll === poll.key) return; // keep what the person is choosing
    shownPoll = poll.key;
    $("poll-question").textContent = poll.question;
    FB.replaceChildren($("poll-options"), [
      el("legend", { class: "visually-hidden", text: poll.question }),
      ...poll.options.map((option, i) =>
        el(
          "label",
          { class: "option" },
          el("input", {
            type: poll.multiple ? "checkbox" : "radio",
            name: "choice",
            value: option,
            id: "choice-" + i,
          }),
          " " + option
        )
      ),
    ]);
  }

  function renderResults() {
    const results = view.results;
    $("results-panel").hidden = !results;
    if (!results) return;
    $("results-question").textContent = results.question;
    FB.replaceChildren($("results"), FB.bars(results.options, results.counts, results.answers));
    $("results-total").textContent =
      results.answers === 1 ? "1 answer" : results.answers + " answers";
  }

  function tick() {
    if (!view) return;
    const left = view.time_left_seconds;
    const running = view.status === "running" && left !== null;
    $("countdown").hidden = !running;
    if (view.on_break && view.on_break.ends_at) {
      const remaining = (new Date(view.on_break.ends_at) - new Date(view.now)) / 1000 - passed();
      $("break-countdown").textContent = FB.clock(remaining);
      $("countdown-label").textContent = "Back in";
      $("time-left").textContent = FB.clock(remaining);
    } else if (running) {
      $("countdown-label").textContent = view.paused ? "Paused; this part ends in" : "This part ends in";
      $("time-left").textContent = FB.clock(left - passed());
    }
  }

  function fold(name) {
    return String(name || "").trim().replace(/\s+/g, " ").toLowerCase();
  }

  // Writing needs the person's participant key (companion-journey.js): the name typed here
  // only names a new identity, it never selects someone else's.
  async function post(path, body, name) {
    await window.FBJourney.ensure(name);
    return FB.api("POST", "/companion/" + sessionId + path, {
      headers: window.FBJourney.headers(),
      json: body,
    });
  }

  function remember(name) {
    localStorage.setItem(NAME_STORE, name);
    ["name-input", "poll-name"].forEach((id) => {
      if (!$(id).value.trim()) $(id).value = name;
    });
  }

  function wireForms() {
    const remembered = localStorage.getItem(NAME_STORE) || "";
    $("name-input").value = remembered;
    $("poll-name").value = remembered;

    $("commit-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = $("name-input").value.trim();
      const text = $("commit-input").value.trim();
      if (!name || !text) return;
      remember(name);
      try {
        const answer = await post("/commitment", { text: text }, name);
        $("commit-input").value = "";
        say("Thank you, " + answer.name + ": your commitment is recorded.", "ok");
        window.FBJourney.refresh();
      } catch (error) {
        say("Not sent: " + error.message, "error");
      }
    });

    $("poll-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = $("poll-name").value.trim();
      const choices = Array.from(document.querySelectorAll("#poll-options input:checked")).map(
        (input) => input.value
      );
      if (!name || !choices.length || !view || !view.poll) return;
      remember(name);
      try {
        await post("/poll", { poll_key: view.poll.key, choices: choices }, name);
        say("Thank you: your answer is in.", "ok");
      } catch (error) {
        say("Not sent: " + error.message, "error");
      }
    });
  }

  function start() {
    key = takeKey();
    if (!key) {
      say("Open this page with the link from your facilitator (it carries a key).", "error");
      return;
    }
    wireForms();
    FB.eventStream("/companion/" + sessionId + "/events", {
      headers: { "X-Companion-Key": key },
      onEvent: (event) => {
        if (event.type === "recap") {
          window.FBJourney.refreshRecap(); // the producer set the recording or transcript link
          return;
        }
        if (event.type !== "state") return;
        view = event.state;
        receivedAt = Date.now();
        render();
      },
      onStatus: (status) => {
        const node = $("stream-status");
        node.textContent = status === "live" ? "live" : status;
        node.className = "badge " + (status === "live" ? "ok" : "off");
      },
      onError: (error) => say(error.message, "error"),
    });
    setInterval(tick, 1000);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
