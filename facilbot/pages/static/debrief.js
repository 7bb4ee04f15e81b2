// Mounted by the console into <section id="debrief">: a link to the session's report and a
// small form for debrief notes per segment. Kept apart from console.js on purpose (the console
// is redesigned separately); it reads the token the console already took into sessionStorage.
"use strict";

(function () {
  const FB = window.FB;
  const el = FB.el;

  function mount() {
    const root = document.getElementById("debrief");
    const sessionId = document.body.dataset.session;
    const token = FB.takeToken();
    if (!root || !sessionId || !token) return;
    const status = el("p", { class: "muted", role: "status" });
    const segment = el("select", { id: "debrief-segment", "aria-label": "segment" });
    const text = el("textarea", {
      id: "debrief-text",
      rows: "2",
      maxlength: "4000",
      required: true,
      "aria-label": "debrief note",
      placeholder: "What slowed learners down? What needed clarifying? What did you fix?",
    });
    const form = el(
      "form",
      { id: "debrief-form", class: "debrief-form" },
      segment,
      text,
      el("button", { type: "submit", text: "Save note" })
    );
    FB.replaceChildren(root, [
      el("h2", { text: "Report and debrief" }),
      el("p", null, el("a", { id: "report-link", href: "/report/" + sessionId, text: "Open the session report" })),
      form,
      status,
    ]);
    FB.api("GET", "/sessions/" + sessionId, { token: token })
      .then((state) => {
        const options = [el("option", { value: "", text: "whole session" })];
        const seen = new Set();
        state.segments.forEach((s) => {
          if (s.inserted || seen.has(s.id)) return;
          seen.add(s.id);
          const current = state.current_segment && state.current_segment.id === s.id;
          options.push(el("option", { value: s.id, text: s.title || s.id, selected: current }));
        });
        FB.replaceChildren(segment, options);
      })
      .catch(() => {});
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { text: text.value.trim() };
      if (!body.text) return;
      if (segment.value) body.segment_id = segment.value;
      try {
        await FB.api("POST", "/sessions/" + sessionId + "/notes", { token: token, json: body });
        text.value = "";
        status.textContent = "Note saved for " + (segment.value || "the session") + ".";
      } catch (error) {
        status.textContent = "Could not save the note: " + error.message;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", mount);
})();
