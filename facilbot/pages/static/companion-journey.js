// The companion page's journey part: who you are (a signed participant key, never a typed
// name), your commitment ("Your commitment: ... [edit]"), your address and consent for the
// follow-up mails, and the pre-work before the session. It fills #journey-panel and gives
// companion.js window.FBJourney for writing as this person.
"use strict";

(function () {
  const FB = window.FB;
  const el = FB.el;
  const $ = (id) => document.getElementById(id);
  const sessionId = document.body.dataset.session;
  const PERSON_STORE = "facilbot.person." + sessionId;
  const COMPANION_STORE = "facilbot.companion." + sessionId;

  // A personal link (from a follow-up mail) carries the person's own key as #p=...; read it
  // now, before companion.js tidies the address bar.
  (function takePersonalKey() {
    const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    const personal = params.get("p");
    if (personal) localStorage.setItem(PERSON_STORE, personal);
  })();

  let me = null;
  let editing = false;
  // What the person has typed or ticked in the contact form but not saved yet: a refresh
  // (the stream, the recap arriving) rebuilds the panel and must not take it away.
  let contactDraft = null;
  // The state the panels were last drawn from: a refresh that changes nothing redraws nothing,
  // so a half-filled form keeps its focus and its input.
  let drawnPanel = null;
  let drawnRecap = null;

  function key() {
    return localStorage.getItem(PERSON_STORE);
  }

  function headers() {
    const h = { "X-Companion-Key": sessionStorage.getItem(COMPANION_STORE) || "" };
    if (key()) h["X-Participant-Key"] = key();
    return h;
  }

  function call(method, path, body) {
    return FB.api(method, "/companion/" + sessionId + path, { headers: headers(), json: body });
  }

  function say(text, kind) {
    const node = $("message");
    if (!node) return;
    node.textContent = text || "";
    node.className = "message" + (kind ? " " + kind : "");
  }

  async function ensure(name) {
    if (key() && me && me.name) return key();
    const answer = await call("POST", "/me", { name: name });
    localStorage.setItem(PERSON_STORE, answer.participant_key);
    await refresh();
    return answer.participant_key;
  }

  async function refresh() {
    if (!key()) {
      me = null;
      render();
      return;
    }
    try {
      me = await call("GET", "/me");
    } catch (error) {
      if (error.status === 403) localStorage.removeItem(PERSON_STORE);
      me = null;
    }
    render();
    await refreshRecap(); // what the person answered depends on who they are
  }

  function whoRow() {
    if (me && me.name) {
      return el("p", { class: "who" }, "You: ", el("strong", { text: me.name }));
    }
    const input = el("input", {
      id: "who-name",
      type: "text",
      maxlength: "100",
      autocomplete: "name",
      required: true,
    });
    return el(
      "form",
      {
        id: "who-form",
        onsubmit: async (event) => {
          event.preventDefault();
          const name = input.value.trim();
          if (!name) return;
          try {
            await ensure(name);
          } catch (error) {
            say("Not sent: " + error.message, "error");
          }
        },
      },
      el("label", { for: "who-name", text: "Your name" }),
      input,
      el("button", { type: "submit", text: "That's me" })
    );
  }

  function commitmentRow() {
    if (!me || !me.commitment) return null;
    if (!editing) {
      return el(
        "div",
        { id: "my-commitment" },
        el("h3", { text: "Your commitment" }),
        el("p", { class: "prompt", id: "my-commitment-text", text: me.commitment.text }),
        me.commitment.asynchronous ? el("p", { class: "muted", text: "made after the session" }) : null,
        recapClosed()
          ? null
          : el("button", {
              type: "button",
              class: "small",
              id: "edit-commitment",
              text: "Edit",
              onclick: () => {
                editing = true;
                render();
              },
            })
      );
    }
    const area = el("textarea", { id: "edit-commitment-input", rows: "3", maxlength: "2000" });
    area.value = me.commitment.text;
    return el(
      "form",
      {
        id: "edit-commitment-form",
        onsubmit: async (event) => {
          event.preventDefault();
          const text = area.value.trim();
          if (!text) return;
          try {
            await call("POST", "/commitment", { text: text });
            editing = false;
            say("Your commitment is updated.", "ok");
            await refresh();
          } catch (error) {
            say("Not sent: " + error.message, "error");
          }
        },
      },
      el("label", { for: "edit-commitment-input", text: "Your commitment" }),
      area,
      el(
        "div",
        { class: "buttons" },
        el("button", { type: "submit", class: "primary", text: "Save" }),
        el("button", {
          type: "button",
          text: "Cancel",
          onclick: () => {
            editing = false;
            render();
          },
        })
      )
    );
  }

  // Once the recap has closed the page takes nothing more: no edits, no new consent.
  function recapClosed() {
    return Boolean(recap && recap.state === "closed");
  }

  function contactRow() {
    if (!me || !me.name || recapClosed()) return null;
    const contact = me.contact;
    const email = el("input", {
      id: "contact-email",
      type: "text",
      inputmode: "email",
      maxlength: "320",
      autocomplete: "email",
      placeholder: contact.email || "name@example.org",
    });
    const consent = el("input", { id: "contact-consent", type: "checkbox" });
    consent.checked = contactDraft ? contactDraft.consent : Boolean(contact.consent);
    if (contactDraft) email.value = contactDraft.email;
    const keepDraft = () => {
      contactDraft = { consent: consent.checked, email: email.value };
    };
    consent.addEventListener("change", keepDraft);
    email.addEventListener("input", keepDraft);
    return el(
      "form",
      {
        id: "contact-form",
        onsubmit: async (event) => {
          event.preventDefault();
          const body = { consent: consent.checked, email: email.value.trim() || null };
          try {
            body.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || null;
          } catch (_ignored) {
            body.timezone = null;
          }
          try {
            await call("POST", "/contact", body);
            contactDraft = null;
            say(consent.checked ? "Thank you: we will e-mail you." : "No e-mails will be sent.", "ok");
            await refresh();
          } catch (error) {
            say("Not saved: " + error.message, "error");
          }
        },
      },
      el("h3", { text: "After the session" }),
      el(
        "label",
        { class: "option", for: "contact-consent" },
        consent,
        " Email me my commitment in a week, and ask me at 30, 60 and 90 days how it went."
      ),
      el("label", {
        for: "contact-email",
        text: contact.email ? "Address (we have " + contact.email + ")" : "Your e-mail address",
      }),
      email,
      el("button", { type: "submit", text: "Save" })
    );
  }

  // Radio buttons (or checkboxes) for a question, with the person's earlier answer chosen;
  // ``send`` gets the chosen options.
  function choiceForm(id, question, options, multiple, mine, label, send) {
    const inputs = options.map((option, i) =>
      el("input", {
        type: multiple ? "checkbox" : "radio",
        name: id,
        value: option,
        id: id + "-" + i,
        checked: Boolean(mine && mine.indexOf(option) >= 0),
      })
    );
    return el(
      "form",
      {
        id: id,
        class: "choices",
        onsubmit: async (event) => {
          event.preventDefault();
          const choices = inputs.filter((input) => input.checked).map((input) => input.value);
          if (!choices.length) return;
          try {
            await send(choices);
          } catch (error) {
            say("Not saved: " + error.message, "error");
          }
        },
      },
      el(
        "fieldset",
        { class: "options" },
        el("legend", { class: "visually-hidden", text: question }),
        ...inputs.map((input, i) => el("label", { class: "option", for: input.id }, input, " " + options[i]))
      ),
      el("button", { type: "submit", text: label })
    );
  }

  function preworkItem(item) {
    const due = item.due
      ? el("span", { class: "muted", text: " — by " + new Date(item.due).toLocaleDateString() })
      : null;
    const title = item.url
      ? el("a", { href: item.url, target: "_blank", rel: "noopener noreferrer", text: item.title })
      : el("strong", { text: item.title });
    if (item.poll) {
      // A baseline question: answering it is what marks the item done.
      const poll = item.poll;
      return el(
        "li",
        { class: "baseline", id: "baseline-" + item.index },
        el("p", {}, title, due, item.done ? el("span", { class: "ok-mark", text: " ✓ answered" }) : null),
        el("p", { class: "question", text: poll.question }),
        choiceForm(
          "baseline-form-" + item.index,
          poll.question,
          poll.options,
          poll.multiple,
          poll.answer,
          poll.answer ? "Change my answer" : "Answer",
          async (choices) => {
            me = await call("POST", "/prework/answer", { item: item.index, choices: choices });
            say("Thank you: your answer is in.", "ok");
            render();
          }
        )
      );
    }
    const box = el("input", {
      type: "checkbox",
      id: "prework-" + item.index,
      "aria-label": "done: " + item.title,
      onchange: async (event) => {
        try {
          me = await call("POST", "/prework", { item: item.index, done: event.target.checked });
          render();
        } catch (error) {
          say("Not saved: " + error.message, "error");
        }
      },
    });
    box.checked = item.done;
    return el("li", { class: "option" }, box, " ", title, due);
  }

  function preworkRow() {
    if (!me || !me.prework.length || document.body.dataset.status === "ended") return null;
    return el(
      "div",
      { id: "prework" },
      el("h3", { text: "Before the session" }),
      el("ul", { class: "plain" }, ...me.prework.map(preworkItem))
    );
  }

  // --- the recap, after the session --------------------------------------------------------

  let recap = null;

  function answers(n) {
    return n === 1 ? "1 answer" : n + " answers";
  }

  function recapLink(link, label, none) {
    if (link.url) {
      return el("li", {}, el("a", { href: link.url, target: "_blank", rel: "noopener noreferrer", text: label }));
    }
    if (link.expected === true) return el("li", { class: "muted", text: label + ": it will appear here." });
    if (link.expected === false) return el("li", { class: "muted", text: none });
    return null;
  }

  function recapPoll(poll, index) {
    const late = poll.asynchronous;
    let answering;
    if (poll.mine_live) {
      answering = el("p", { class: "muted", text: "You answered live: " + poll.mine.join(", ") });
    } else if (me && me.name) {
      answering = choiceForm(
        "late-" + index,
        poll.question,
        poll.options,
        poll.multiple,
        poll.mine,
        poll.mine ? "Change my answer" : "Answer now",
        async (choices) => {
          recap = await call("POST", "/recap/poll", { poll_key: poll.key, choices: choices });
          say("Thank you: your answer is counted apart, as given after the session.", "ok");
          renderRecap();
        }
      );
    } else {
      answering = el("p", { class: "muted", text: "Say your name below to answer." });
    }
    return el(
      "div",
      { class: "poll recap-poll", "data-key": poll.key },
      el("p", { class: "question", text: poll.question }),
      poll.live ? el("ul", { class: "plain bars" }, ...FB.bars(poll.options, poll.live.counts, poll.live.answers)) : null,
      poll.live ? el("p", { class: "muted", text: answers(poll.live.answers) + " in the session" }) : null,
      late && late.answers
        ? el(
            "p",
            { class: "muted late-answers" },
            answers(late.answers) + " since: " + poll.options.map((o) => o + " " + (late.counts[o] || 0)).join(", ")
          )
        : null,
      answering
    );
  }

  function renderRecap() {
    const panel = $("recap-panel");
    if (!panel) return;
    const state = JSON.stringify([recap, me && me.name]);
    if (state === drawnRecap) return;
    drawnRecap = state;
    panel.hidden = !recap || recap.state === "before";
    if (panel.hidden) return;
    if (recap.state === "closed") {
      FB.replaceChildren(panel, [
        el("h2", { id: "recap-heading", text: "Recap" }),
        el("p", { id: "recap-closed", text: "The recap of this session has closed." }),
      ]);
      return;
    }
    const links = [
      recapLink(recap.recording, "Watch the recording", "This session was not recorded."),
      recapLink(recap.transcript, "Read the transcript", "There is no transcript of this session."),
    ].filter(Boolean);
    FB.replaceChildren(panel, [
      el("h2", { id: "recap-heading", text: "Recap" }),
      el("p", {
        class: "muted",
        id: "recap-until",
        text: "Open until " + new Date(recap.closes_at).toLocaleDateString(undefined, { dateStyle: "long" }),
      }),
      links.length ? el("ul", { class: "plain links", id: "recap-links" }, ...links) : null,
      recap.polls.length ? el("h3", { text: "What we asked" }) : null,
      ...recap.polls.map(recapPoll),
    ]);
  }

  async function refreshRecap() {
    if (document.body.dataset.status !== "ended") {
      recap = null;
    } else {
      try {
        recap = await call("GET", "/recap");
      } catch (error) {
        recap = null;
        say("The recap is unavailable: " + error.message, "error");
      }
    }
    renderRecap();
    render(); // a closed recap takes the edit and consent forms away
  }

  function render() {
    const panel = $("journey-panel");
    if (!panel) return;
    const state = JSON.stringify([me, editing, recapClosed(), document.body.dataset.status]);
    if (state !== drawnPanel) {
      drawnPanel = state;
      FB.replaceChildren(panel, [whoRow(), preworkRow(), commitmentRow(), contactRow()]);
    }
    const form = $("commit-panel");
    if (form && committed()) form.hidden = true;
    // Once the page knows who you are, the name fields of the forms show it and stay put.
    ["name-input", "poll-name"].forEach((id) => {
      const input = $(id);
      if (!input) return;
      input.readOnly = Boolean(me && me.name);
      if (me && me.name) input.value = me.name;
    });
  }

  // Once committed, the person edits their commitment here, not in the blank form.
  function committed() {
    return Boolean(me && me.commitment);
  }

  window.FBJourney = {
    key: key,
    ensure: ensure,
    refresh: refresh,
    refreshRecap: refreshRecap,
    headers: headers,
    committed: committed,
  };

  document.addEventListener("DOMContentLoaded", () => {
    // companion.js has taken the companion key by now (its listener runs first only if its
    // script came first; wait a tick either way).
    setTimeout(refresh, 0);
    // companion.js keeps the session's status on <body data-status>: the pre-work list
    // gives way to the recap when the session ends.
    let status = document.body.dataset.status;
    new MutationObserver(() => {
      if (document.body.dataset.status === status) return;
      status = document.body.dataset.status;
      render();
      refreshRecap();
    }).observe(document.body, { attributes: true, attributeFilter: ["data-status"] });
  });
})();
