// The console's journey panel (its own file so the console's owners and this one merge):
// "7 of 12 did the pre-work" with who, and the people who committed but will get no
// follow-up mail, and why; after the session, the form that shares the recording and the
// transcript on the recap. It adds one panel to #console-main and refreshes it on a timer.
"use strict";

(function () {
  const FB = window.FB;
  const el = FB.el;
  const sessionId = document.body.dataset.session;
  const REFRESH_MS = 15000;

  // The panel's heading is made with the section and never replaced: a section named by
  // aria-labelledby must have its label from the first moment, or it is an unnamed region
  // (axe: aria-prohibited-attr) until the first refresh answers.
  function panel() {
    let body = document.getElementById("journey-body");
    if (body) return body;
    // The console's place for panels of other capabilities; its main grid otherwise.
    const main = document.getElementById("console-extensions") || document.getElementById("console-main");
    if (!main) return null;
    body = el("div", { id: "journey-body" }, el("div", { id: "journey-figures" }));
    main.appendChild(
      el(
        "section",
        { id: "journey", class: "panel journey", "aria-labelledby": "journey-title" },
        el("h2", { id: "journey-title", text: "Before and after" }),
        body
      )
    );
    return body;
  }

  const REASONS = { no_address: "no address", no_consent: "no consent" };

  // --- the recap's links, after the session ------------------------------------------------

  const LINKS = [
    { key: "recording", label: "Recording link" },
    { key: "transcript", label: "Transcript link" },
  ];

  function linksStatus(text, kind) {
    const node = document.getElementById("recap-links-status");
    node.textContent = text;
    node.className = "message" + (kind ? " " + kind : "");
  }

  // Made once, when the recap opens, and never redrawn by the timer: what the producer is
  // typing stays. The show's access: false for a link leaves its field out (it is refused).
  function recapLinksForm(body, recap, token) {
    if (recap.state === "before" || document.getElementById("recap-links-form")) return;
    const fields = LINKS.filter((link) => recap[link.key + "_expected"] !== false);
    const absent = LINKS.filter((link) => recap[link.key + "_expected"] === false);
    const inputs = {};
    const rows = fields.map((link) => {
      const input = el("input", {
        id: "recap-" + link.key,
        type: "text",
        inputmode: "url",
        maxlength: "2000",
        autocomplete: "off",
        placeholder: "https://…",
      });
      input.value = recap[link.key] || "";
      inputs[link.key] = input;
      return el("div", { class: "field" }, el("label", { for: input.id, text: link.label }), input);
    });
    body.appendChild(
      el(
        "form",
        {
          id: "recap-links-form",
          class: "recap-links",
          onsubmit: async (event) => {
            event.preventDefault();
            const sent = {};
            fields.forEach((link) => {
              sent[link.key] = inputs[link.key].value.trim() || null; // empty removes it
            });
            try {
              await FB.api("PUT", "/sessions/" + sessionId + "/recap-links", { token: token, json: sent });
              linksStatus("Shared: the recap pages show it now.", "ok");
            } catch (error) {
              linksStatus("Not saved: " + error.message, "error");
            }
          },
        },
        el("h3", { text: "On the recap" }),
        ...rows,
        ...absent.map((link) =>
          el("p", { class: "muted", text: "No " + link.key + ": the show says there is none." })
        ),
        fields.length ? el("button", { type: "submit", text: "Share on the recap" }) : null,
        el("p", { id: "recap-links-status", class: "message", role: "status", "aria-live": "polite" })
      )
    );
  }

  async function refresh() {
    const token = sessionStorage.getItem("facilbot.token");
    const body = panel();
    if (!sessionId || !token || !body) return;
    const node = document.getElementById("journey-figures");
    try {
      const prework = await FB.api("GET", "/sessions/" + sessionId + "/journey/prework", { token: token });
      const reach = await FB.api("GET", "/sessions/" + sessionId + "/journey/reach", { token: token });
      const recap = await FB.api("GET", "/sessions/" + sessionId + "/journey/recap", { token: token });
      recapLinksForm(body, recap, token);
      FB.replaceChildren(node, [
        prework.items
          ? el(
              "p",
              { id: "prework-summary" },
              el("strong", { text: prework.summary }),
              prework.who.length ? ": " + prework.who.join(", ") : ""
            )
          : null,
        // The baseline questions: where people start from, answered ahead.
        ...prework.baseline.map((question) =>
          el(
            "p",
            { class: "baseline-figure" },
            question.question + " ",
            el("span", {
              class: "muted",
              text:
                question.options.map((o) => o + " " + (question.counts[o] || 0)).join(" · ") +
                " (" + question.answers + (question.answers === 1 ? " answer)" : " answers)"),
            })
          )
        ),
        el("p", { id: "reach-summary", text: reach.reachable + " will get the follow-up mails" }),
        reach.unreachable.length
          ? el(
              "ul",
              { id: "unreachable", class: "plain" },
              ...reach.unreachable.map((p) =>
                el("li", {}, p.name + " — ", el("span", { class: "muted", text: REASONS[p.reason] || p.reason }))
              )
            )
          : null,
      ]);
    } catch (error) {
      FB.replaceChildren(node, [
        el("p", { class: "muted", text: "unavailable: " + error.message }),
      ]);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    // console.js takes the token from the fragment on load; start after it.
    setTimeout(refresh, 500);
    setInterval(refresh, REFRESH_MS);
  });
})();
