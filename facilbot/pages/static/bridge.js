// The in-client bridge (DESIGN §2, channel 2). When the console runs as a Zoom App inside the
// host's or a co-host's Zoom client, it reads /sessions/{id}/bridge and runs each request with
// the Zoom Apps SDK, then acknowledges it, so the firing records that the bridge carried it.
// Outside the Zoom client nothing connects: the server routes those actions elsewhere.
//
// The SDK is the npm package @zoom/appssdk, vendored in /pages/static/vendor/ (never a CDN);
// a `window.zoomSdk` already on the page (the Zoom client's or a test's) is used as it is.
"use strict";

(function () {
  const FB = window.FB;
  const SDK_URL = "/pages/static/vendor/zoom-appssdk.es.js";
  // Every SDK call the bridge makes must be declared to zoomSdk.config first.
  const CAPABILITIES = [
    "sendMessageToChat",
    "showNotification",
    "createBreakoutRooms",
    "assignParticipantToBreakoutRoom",
    "openBreakoutRooms",
    "closeBreakoutRooms",
    "getMeetingParticipants",
    "getMeetingContext",
  ];

  let ready = null; // a promise of the configured SDK, or of null outside Zoom

  function insideZoom() {
    // The Zoom client's embedded browser says so in its User-Agent ("... ZoomApps/1.0").
    return /ZoomApps\//.test(navigator.userAgent);
  }

  function reason(error) {
    if (!error) return "unknown error";
    if (typeof error === "string") return error;
    const code = error.code ? " (" + error.code + ")" : "";
    return (error.message || error.reason || String(error)) + code;
  }

  function loadSdk(log) {
    if (ready) return ready;
    ready = (async () => {
      let sdk = window.zoomSdk || null;
      if (!sdk && insideZoom()) {
        const module = await import(SDK_URL);
        sdk = module.default;
      }
      if (!sdk) return null;
      try {
        const config = await sdk.config({ capabilities: CAPABILITIES });
        const where = config && config.runningContext ? " in " + config.runningContext : "";
        log("Zoom Apps SDK ready" + where);
        const missing = (config && config.unsupportedApis) || [];
        if (missing.length) log("this Zoom client lacks: " + missing.join(", "), "error");
      } catch (error) {
        log("the Zoom Apps SDK refused to start: " + reason(error), "error");
        return null;
      }
      return sdk;
    })();
    return ready;
  }

  function fold(name) {
    return String(name || "").trim().replace(/\s+/g, " ").toLowerCase();
  }

  // Our participant ids come from webhooks; the SDK wants its participantUUID. Use the id when
  // the client knows it, else the one person with that screen name, else the id as it is.
  async function directory(sdk) {
    const byUuid = new Set();
    const byName = new Map();
    try {
      const answer = await sdk.getMeetingParticipants();
      ((answer && answer.participants) || []).forEach((p) => {
        byUuid.add(p.participantUUID);
        const key = fold(p.screenName);
        byName.set(key, byName.has(key) ? null : p.participantUUID);
      });
    } catch (ignored) {
      // Only the host may list participants; co-hosts fall back to the ids as they are.
    }
    return (id, name) => {
      if (byUuid.has(id)) return id;
      const found = byName.get(fold(name));
      return found || id;
    };
  }

  async function openRooms(sdk, action) {
    const rooms = action.rooms || [];
    if (!rooms.length) throw new Error("no rooms to open");
    const created = await sdk.createBreakoutRooms({
      numberOfRooms: rooms.length,
      assign: "manually",
      names: rooms.map((room) => room.name),
    });
    const made = (created && created.rooms) || [];
    const idOf = new Map(made.map((room) => [room.name, room.breakoutRoomId]));
    const resolve = await directory(sdk);
    let assigned = 0;
    let total = 0;
    const missed = [];
    for (let i = 0; i < rooms.length; i++) {
      const room = rooms[i];
      const roomId = idOf.get(room.name) || (made[i] && made[i].breakoutRoomId);
      if (!roomId) throw new Error("Zoom did not create room " + room.name);
      const ids = room.participant_ids || [];
      for (let j = 0; j < ids.length; j++) {
        total += 1;
        const name = (room.names && room.names[j]) || ids[j];
        try {
          await sdk.assignParticipantToBreakoutRoom({
            uuid: roomId,
            participantUUID: resolve(ids[j], name),
          });
          assigned += 1;
        } catch (error) {
          missed.push(name + " (" + reason(error) + ")");
        }
      }
    }
    await sdk.openBreakoutRooms();
    let detail = "opened " + rooms.length + " rooms, assigned " + assigned + " of " + total;
    if (missed.length) detail += "; not assigned: " + missed.join(", ");
    return detail;
  }

  function pollText(action, link) {
    const lines = ["Poll: " + action.question];
    (action.options || []).forEach((option, i) => lines.push(i + 1 + ". " + option));
    lines.push(link ? "Answer on the companion page: " + link : "Answer in the chat with a number.");
    return lines.join("\n");
  }

  async function run(sdk, action, link) {
    const chat = (message) => sdk.sendMessageToChat({ message: message });
    const notify = async (type, title, message) => {
      try {
        await sdk.showNotification({ type: type, title: title, message: message });
      } catch (ignored) {
        // do-not-disturb and the like: the chat message already went out
      }
    };
    switch (action.kind) {
      case "say":
        await chat(action.text);
        return "posted in the meeting chat";
      case "open_poll":
        // The SDK cannot launch a Zoom poll: post it as text, answered on the companion page.
        await chat(pollText(action, link));
        return "poll posted in the chat with the companion link";
      case "close_poll":
        await chat("The poll is closed. Thank you!");
        return "poll closing posted in the chat";
      case "open_breakouts":
        return await openRooms(sdk, action);
      case "warn_breakouts":
        await chat(action.text);
        await notify("warning", "Breakout rooms close soon", "Broadcast to the rooms: " + action.text);
        return "warning posted in the chat; the host was notified to broadcast it";
      case "close_breakouts":
        await sdk.closeBreakoutRooms();
        return "breakout rooms closed";
      case "start_break":
      case "end_break":
        await chat(action.text);
        await notify("info", action.kind === "start_break" ? "Break" : "Break over", action.text);
        return "posted in the meeting chat";
      case "open_commitments":
        await chat(action.prompt + (link ? "\nNo chat? Use the form: " + link : ""));
        return "commitment prompt posted in the chat";
      case "close_commitments":
        await chat("Thank you for your commitments!");
        return "posted in the meeting chat";
      default:
        throw new Error("the bridge cannot carry " + action.kind);
    }
  }

  async function acknowledge(ctx, requestId, ok, detail) {
    const path = "/sessions/" + ctx.sessionId + "/bridge/" + requestId + "/ack";
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await FB.api("POST", path, {
          token: ctx.token,
          json: { ok: ok, detail: String(detail).slice(0, 200) },
        });
        return;
      } catch (error) {
        if (error.status && error.status < 500) {
          ctx.log("acknowledgement refused: " + error.message, "error");
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
      }
    }
    ctx.log("could not acknowledge " + requestId + "; the server will fall back", "error");
  }

  async function start(ctx) {
    const log = ctx.log;
    const sdk = await loadSdk(log);
    if (!sdk) {
      log("not inside the Zoom client: no bridge; actions go to the companion page or to you");
      return;
    }
    let link = "";
    FB.eventStream("/sessions/" + ctx.sessionId + "/bridge", {
      token: ctx.token,
      onStatus: (status) => {
        if (status === "live") log("bridge connected");
        else if (status === "retrying") log("bridge reconnecting…", "error");
        ctx.changed();
      },
      onError: (error) => log("bridge: " + error.message, "error"),
      onEvent: async (event) => {
        if (event.type === "hello") {
          link = event.companion_url || "";
          ctx.changed();
          return;
        }
        if (event.type !== "request") return;
        const action = event.action || {};
        let ok = true;
        let detail;
        try {
          detail = await run(sdk, action, link);
          log(action.kind + ": " + detail, "ok");
        } catch (error) {
          ok = false;
          detail = reason(error);
          log(action.kind + " failed: " + detail, "error");
        }
        await acknowledge(ctx, event.id, ok, detail);
        ctx.changed();
      },
    });
  }

  // On the session picker inside Zoom: open the session attached to this very meeting.
  async function pickSession(sessions) {
    const sdk = await loadSdk(() => undefined);
    if (!sdk) return;
    try {
      const context = await sdk.getMeetingContext();
      const meetingId = String((context && context.meetingID) || "").replace(/\s/g, "");
      const matches = sessions.filter(
        (s) => s.platform === "zoom" && s.meeting_ref.replace(/\s/g, "") === meetingId
      );
      if (meetingId && matches.length === 1) window.location.assign("/console/" + matches[0].id);
    } catch (ignored) {
      // not in a meeting: the producer picks from the list
    }
  }

  window.FBBridge = { start: start, pickSession: pickSession };
})();
