// The demo page: a live list of snippets, create/edit/delete, sign up and in,
// a highlighted preview, and a log of every request and its transport.

import { LiveClient } from "../live/client.js";

const LOG_LIMIT = 50;
const FILTER_DELAY_MS = 300; // typing in the search box: subscribe once it pauses
const $ = (id) => document.getElementById(id);

// Before the client: it names its transport as it starts (a session that fell
// back to event streams starts with them).
const TRANSPORT_TEXT = {
  WebSocket: "Connected over WebSocket",
  "Server-Sent Events": "Live over Server-Sent Events (WebSocket unavailable)",
  HTTP: "Using HTTP (reconnecting the WebSocket)",
};

const client = new LiveClient({
  apiUrl: document.body.dataset.apiUrl,
  websocketUrl: document.body.dataset.websocketUrl,
  onTransport: showTransport,
  onLog: logRequest,
  onProblem: logProblem,
  onUnsubscribed: renewSubscriptions,
});
const state = {
  username: null,
  refresh: null,
  editing: null, // the snippet being edited, or null
  editingEtag: null, // the ETag of the version being edited
  snippets: new Map(), // url -> snippet, newest first
  listProblem: null, // why the list may be stale, or null
  listUrl: null, // the (filtered) list kept live
  unsubscribe: null, // ends the live list's subscription
};

function showTransport(transport) {
  $("transport").textContent = TRANSPORT_TEXT[transport];
  $("transport").dataset.transport = transport;
}

function logRequest({ method, url, status, ms, transport, recovered }) {
  const entry = document.createElement("li");
  const resumed = recovered ? ", resumed without a snapshot" : "";
  entry.textContent = `${method} ${url} → ${status} in ${ms.toFixed(0)} ms over ${transport}${resumed}`;
  entry.classList.toggle("failed", status >= 400);
  $("log").prepend(entry);
  while ($("log").children.length > LOG_LIMIT) $("log").lastElementChild.remove();
}

function logProblem(text) {
  const entry = document.createElement("li");
  entry.textContent = text;
  entry.classList.add("failed");
  $("log").prepend(entry);
}

function showAlert(text) {
  $("alert").textContent = text;
  $("alert").hidden = !text;
}

/** Send a request; a 401 with a stale token refreshes it once; a 429 says when to retry. */
async function api(request) {
  let reply;
  try {
    reply = await client.request(request);
  } catch (error) {
    showAlert(`Request failed: ${error.message}`);
    throw error;
  }
  if (reply.status === 401 && state.refresh && (await refreshToken())) {
    reply = await client.request(request);
  }
  if (reply.status === 429) {
    const wait = reply.headers["retry-after"] || "a few";
    showAlert(`Too many requests: please retry in ${wait} seconds.`);
  } else if (reply.status >= 500) {
    showAlert(reply.data?.detail || `The server answered ${reply.status}.`);
  } else {
    showAlert("");
  }
  return reply;
}

async function refreshToken() {
  const reply = await client.request({
    method: "POST",
    url: "/api/auth/token/refresh/",
    data: { refresh: state.refresh },
  });
  if (reply.status !== 200) {
    forgetSession();
    return false;
  }
  saveSession({ username: state.username, access: reply.data.access, refresh: state.refresh });
  return true;
}

// Account

function saveSession({ username, access, refresh }) {
  const sameUser = username === state.username;
  state.username = username;
  state.refresh = refresh;
  if (sameUser) client.renewToken(access);
  else client.setToken(access);
  localStorage.setItem("snippets.session", JSON.stringify({ username, access, refresh }));
  showAccount();
}

/** The server ended the live list (token expired, or signed out elsewhere). */
async function renewSubscriptions({ data }) {
  logProblem(`Live updates paused: ${data?.detail || "credentials ended"}`);
  if (!state.refresh || !(await refreshToken())) forgetSession();
}

/** Sign out: the refresh token is revoked, which ends live updates everywhere. */
async function signOut() {
  if (state.refresh) {
    await client
      .request({ method: "POST", url: "/api/auth/token/blacklist/", data: { refresh: state.refresh } })
      .catch((error) => logProblem(`Sign-out not confirmed: ${error.message}`));
  }
  forgetSession();
}

function forgetSession() {
  state.username = null;
  state.refresh = null;
  client.setToken(null);
  localStorage.removeItem("snippets.session");
  showAccount();
}

function showAccount() {
  $("account-form").hidden = Boolean(state.username);
  $("signed-in").hidden = !state.username;
  $("signed-in-name").textContent = state.username || "";
  // Anonymous snippets cannot be private.
  $("private").disabled = !state.username;
  if (!state.username) $("private").checked = false;
  renderList();
}

function showErrors(prefix, fields, data) {
  for (const field of fields) $(`${field}-error`).textContent = "";
  if (!data || typeof data !== "object") return;
  for (const [field, messages] of Object.entries(data)) {
    const target = fields.includes(field) ? `${field}-error` : `${prefix}-error`;
    $(target).textContent = [].concat(messages).join(" ");
  }
}

async function onAccountSubmit(event) {
  event.preventDefault();
  const action = event.submitter?.value || "sign-in";
  const credentials = { username: $("username").value, password: $("password").value };
  const fields = ["username", "password", "account"];
  showErrors("account", fields, null);
  if (action === "sign-up") {
    const signedUp = await api({ method: "POST", url: "/api/users/", data: credentials });
    if (signedUp.status !== 201) {
      showErrors("account", fields, signedUp.data);
      return;
    }
  }
  const reply = await api({ method: "POST", url: "/api/auth/token/", data: credentials });
  if (reply.status !== 200) {
    showErrors("account", fields, reply.data);
    return;
  }
  $("password").value = "";
  saveSession({ username: credentials.username, ...reply.data });
}

// Snippets

function renderList() {
  const list = $("snippets");
  list.replaceChildren(...[...state.snippets.values()].map(renderSnippet));
  $("empty").hidden = state.snippets.size > 0 || Boolean(state.listProblem);
}

/** One list row from the `#snippet-row` template; text only via textContent. */
function renderSnippet(snippet) {
  const item = $("snippet-row").content.firstElementChild.cloneNode(true);
  const mine = Boolean(state.username) && snippet.owner === state.username;
  item.dataset.url = snippet.url;
  item.classList.toggle("mine", mine);
  if (!snippet.private) item.querySelector('[data-field="private"]').remove();
  const title = item.querySelector('[data-field="title"]');
  title.textContent = snippet.title;
  title.addEventListener("click", () => preview(snippet));
  item.querySelector('[data-field="meta"]').textContent =
    `${snippet.language} · ${snippet.owner ?? "anonymous"}`;
  for (const ownerOnly of item.querySelectorAll("[data-owner-only]")) {
    if (!mine) ownerOnly.remove();
  }
  const edit = item.querySelector('[data-action="edit"]');
  edit?.setAttribute("aria-label", `Edit ${snippet.title}`);
  edit?.addEventListener("click", () => startEditing(snippet));
  const remove = item.querySelector('[data-action="delete"]');
  remove?.setAttribute("aria-label", `Delete ${snippet.title}`);
  remove?.addEventListener("click", () => deleteSnippet(snippet));
  return item;
}

function applySnapshot(reply) {
  if (reply.status !== 200) {
    // Keep what is shown, and say why it may be stale.
    state.listProblem = `The list could not be loaded (${reply.status}): ${
      reply.data?.detail || "try reloading the page"
    }`;
    showListProblem();
    renderList();
    return;
  }
  state.listProblem = null;
  showListProblem();
  state.snippets = new Map(reply.data.results.map((snippet) => [snippet.url, snippet]));
  renderList();
}

function showListProblem() {
  $("list-problem").textContent = state.listProblem || "";
  $("list-problem").hidden = !state.listProblem;
}

function applyEvent({ event, url, data, etag }) {
  if (etag && state.editing?.url === url && etag !== state.editingEtag) {
    showEditNotice("Someone else changed this snippet since you opened it: saving will not overwrite their change.");
  }
  if (event === "deleted") {
    state.snippets.delete(url);
  } else if (event === "created") {
    state.snippets = new Map([[url, data], ...state.snippets]);
  } else if (event === "updated" && state.snippets.has(url)) {
    state.snippets.set(url, data);
  }
  renderList();
}

async function preview(snippet) {
  const reply = await api({ method: "GET", url: snippet.highlight });
  $("preview-title").textContent = reply.status === 200 ? snippet.title : "Preview unavailable.";
  // A sandboxed iframe with no permissions: the page can neither script nor
  // reach this origin, whatever the snippet contains.
  $("preview").srcdoc = reply.status === 200 ? reply.data : "";
}

/** The list as the filter form asks: a live subscription to the filtered list. */
async function followFilter() {
  const query = new URLSearchParams();
  for (const [name, value] of new FormData($("filter-form"))) {
    if (value.trim()) query.set(name, value.trim());
  }
  const url = query.size ? `/api/snippets/?${query}` : "/api/snippets/";
  if (url === state.listUrl) return;
  state.unsubscribe?.();
  state.listUrl = url;
  $("list-heading").textContent = query.size ? "Matching snippets" : "Latest snippets";
  state.unsubscribe = await client.subscribe(url, { onSnapshot: applySnapshot, onEvent: applyEvent });
}

function showEditNotice(text) {
  $("edit-notice").textContent = text;
  $("edit-notice").hidden = !text;
}

/** Edit the snippet as it is now: its current version and the ETag that names it. */
async function startEditing(listed) {
  const reply = await api({ method: "GET", url: listed.url });
  if (reply.status !== 200) {
    showAlert(`This snippet can no longer be edited (${reply.status}).`);
    return;
  }
  const snippet = reply.data;
  state.editing = snippet;
  state.editingEtag = reply.headers.etag;
  showEditNotice("");
  $("title").value = snippet.title;
  $("code").value = snippet.code;
  $("language").value = snippet.language;
  $("style").value = snippet.style;
  $("linenos").checked = snippet.linenos;
  $("private").checked = snippet.private;
  $("submit-snippet").textContent = "Save changes";
  $("cancel-edit").hidden = false;
  $("create-heading").textContent = `Edit “${snippet.title}”`;
  $("title").focus();
}

function stopEditing() {
  state.editing = null;
  state.editingEtag = null;
  showEditNotice("");
  $("snippet-form").reset();
  $("submit-snippet").textContent = "Create";
  $("cancel-edit").hidden = true;
  $("create-heading").textContent = "New snippet";
}

async function onSnippetSubmit(event) {
  event.preventDefault();
  const fields = ["title", "code", "language", "style", "private", "snippet"];
  showErrors("snippet", fields, null);
  const data = {
    title: $("title").value,
    code: $("code").value,
    language: $("language").value,
    style: $("style").value,
    linenos: $("linenos").checked,
    private: $("private").checked,
  };
  const editing = state.editing;
  const reply = editing
    ? await api({ method: "PUT", url: editing.url, data, ifMatch: state.editingEtag })
    : await api({ method: "POST", url: "/api/snippets/", data });
  if (reply.status === 412) {
    // Someone saved another version since this one was opened: never overwrite it.
    showEditNotice(
      "Not saved: someone else changed this snippet since you opened it. Cancel and edit it again to see their version."
    );
    return;
  }
  if (reply.status >= 400) {
    showErrors("snippet", fields, reply.data);
    return;
  }
  // Shown at once; the live event for it only confirms it.
  applyEvent({ event: editing ? "updated" : "created", url: reply.data.url, data: reply.data });
  stopEditing();
}

async function deleteSnippet(snippet) {
  const reply = await api({ method: "DELETE", url: snippet.url });
  if (reply.status === 204 || reply.status === 404) {
    applyEvent({ event: "deleted", url: snippet.url });
  }
}

async function loadChoices() {
  const reply = await api({ method: "OPTIONS", url: "/api/snippets/" });
  const post = reply.data?.actions?.POST;
  if (!post) {
    showAlert(`Languages and styles could not be loaded (${reply.status}); defaults apply.`);
    return;
  }
  for (const field of ["language", "style"]) {
    const select = $(field);
    // The server's default stays the default, also after the form is reset.
    const fallback = post[field].default ?? select.value;
    select.replaceChildren(
      ...post[field].choices.map(
        ({ value, display_name: name }) => new Option(name, value, value === fallback)
      )
    );
    select.value = fallback;
  }
  $("filter-language").append(
    ...post.language.choices.map(({ value, display_name: name }) => new Option(name, value))
  );
}

function showEraseNotice() {
  const seconds = Number(document.body.dataset.snippetTtlSeconds);
  const minutes = Math.round(seconds / 60);
  const lifetime =
    seconds % 60 === 0 ? `${minutes} minute${minutes === 1 ? "" : "s"}` : `${seconds} seconds`;
  $("erase-notice").textContent = `This is a public demo: snippets are erased after ${lifetime}.`;
}

function restoreSession() {
  try {
    const saved = JSON.parse(localStorage.getItem("snippets.session"));
    if (saved?.username) saveSession(saved);
  } catch (error) {
    localStorage.removeItem("snippets.session");
  }
}

$("account-form").addEventListener("submit", onAccountSubmit);
$("sign-out").addEventListener("click", signOut);
$("snippet-form").addEventListener("submit", onSnippetSubmit);
$("cancel-edit").addEventListener("click", stopEditing);
let filterTimer = null;
$("filter-form").addEventListener("input", () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(followFilter, FILTER_DELAY_MS);
});
$("filter-form").addEventListener("submit", (event) => {
  event.preventDefault();
  followFilter();
});
showEraseNotice();
restoreSession();
followFilter();
loadChoices().catch((error) => showAlert(`Loading choices failed: ${error.message}`));
