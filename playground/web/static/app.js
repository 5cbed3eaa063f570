/**
 * The web inbox's one script. The pages work without it; with it they stay
 * live: the playground's Server-Sent Events (`/api/events`) say when a
 * message or a session arrives, and the page fetches itself again and puts
 * the fresh part (`#live`) in place of the old one, so the HTML is written
 * in one place only, on the server.
 *
 * - The event stream reconnects by itself when the playground restarts.
 * - It is closed on `pagehide` and opened again on `pageshow`: a page kept
 *   in the back-forward cache must not hold a stream open, or a few of them
 *   use up the browser's six connections to this host and every page stalls.
 * - A form with `data-confirm` asks before it sends.
 *
 * @module
 */

const main = document.getElementById("main");
/** What this page keeps live: "messages", "sessions", "session:ID" or "". */
const live = main?.dataset.live ?? "";
const status = document.getElementById("live-status");

/** @type {EventSource | null} */
let source = null;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let retryTimer;
let missed = false; // the stream was down: events may have been missed
let retryDelay = 1000;

/** @param {string} text */
function say(text) {
  if (status) status.textContent = text;
}

/**
 * Notes the stream's state on the root element (`data-stream`: connecting,
 * open, closed), for a reader's style sheet and for the browser tests.
 * @param {string} state
 */
function mark(state) {
  document.documentElement.dataset.stream = state;
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = form.dataset.confirm;
  if (question && !confirm(question)) event.preventDefault();
});

let fetching = false;
let again = false;

/** Fetches this page again and swaps in its `#live` part; at most one fetch at a time. */
async function refresh() {
  if (fetching) {
    again = true;
    return;
  }
  fetching = true;
  try {
    do {
      again = false;
      const response = await fetch(location.href, { headers: { accept: "text/html" } });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html")
        .getElementById("live");
      const old = document.getElementById("live");
      if (fresh && old) swap(old, fresh);
    } while (again);
  } catch {
    // The playground went away mid-fetch; the stream's reconnect refreshes again.
  } finally {
    fetching = false;
  }
}

/**
 * Puts `fresh` in place of `old`, marking rows that were not there before
 * and keeping the keyboard focus on the same link when it is still there.
 * @param {HTMLElement} old
 * @param {HTMLElement} fresh
 */
function swap(old, fresh) {
  const seen = new Set(
    [...old.querySelectorAll("[data-id]")].map((e) => e.getAttribute("data-id")),
  );
  const focused = document.activeElement;
  const focusHref = focused && old.contains(focused) ? focused.getAttribute("href") : null;
  const adopted = document.adoptNode(fresh);
  for (const row of adopted.querySelectorAll("[data-id]")) {
    if (seen.size > 0 && !seen.has(row.getAttribute("data-id"))) row.classList.add("arrived");
  }
  old.replaceWith(adopted);
  if (focusHref) {
    for (const link of adopted.querySelectorAll("a[href]")) {
      if (link.getAttribute("href") === focusHref && link instanceof HTMLElement) {
        link.focus();
        break;
      }
    }
  }
}

/**
 * Whether the inbox as shown would list a message for `user`: the first page, the same mailbox.
 * @param {string} user
 */
function inboxShows(user) {
  const query = new URLSearchParams(location.search);
  const page = query.get("page");
  const mailbox = query.get("user");
  return (page === null || page === "1") && (mailbox === null || mailbox === user);
}

/** @param {MessageEvent} event */
function onEvent(event) {
  let data;
  try {
    data = JSON.parse(event.data);
  } catch {
    return;
  }
  const type = data.type ?? event.type;
  if (live === "messages" && type === "message" && data.message) {
    const m = data.message;
    if (inboxShows(m.user)) refresh();
    say(`New message for ${m.user}: ${m.subject || "(no subject)"}`);
  } else if (live === "sessions" && type === "session") {
    refresh();
  } else if (live.startsWith("session:") && type === "session" && data.session) {
    if (`session:${data.session.id}` === live) refresh();
  }
}

function connect() {
  if (!live || source) return;
  clearTimeout(retryTimer);
  const stream = new EventSource("/api/events");
  source = stream;
  mark("connecting");
  stream.addEventListener("open", () => {
    mark("open");
    retryDelay = 1000;
    if (missed) {
      missed = false;
      say("");
      refresh();
    }
  });
  stream.addEventListener("message", onEvent);
  stream.addEventListener("session", onEvent);
  stream.addEventListener("error", () => {
    mark(stream.readyState === EventSource.CLOSED ? "closed" : "connecting");
    missed = true;
    say("The playground is not answering; trying again…");
    // EventSource retries by itself after a network error; after an HTTP
    // error it gives up (CLOSED), so try again here, more slowly each time.
    if (stream.readyState === EventSource.CLOSED && source === stream) {
      source = null;
      retryTimer = setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    }
  });
}

function disconnect() {
  clearTimeout(retryTimer);
  source?.close();
  source = null;
  mark("closed");
}

addEventListener("pagehide", disconnect);
addEventListener("pageshow", (event) => {
  // Back from the back-forward cache: the page is as it was when left.
  if (event.persisted && live) {
    missed = true;
  }
  connect();
});
connect();
