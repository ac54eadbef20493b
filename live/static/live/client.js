// The Snippets browser client: one `request()` over WebSocket or HTTP, and live
// subscriptions over WebSocket or, where no socket opens, Server-Sent Events.
// Each subscription keeps its last position and resumes from it after a
// reconnect: its `onEvent` never sees a change twice or misses one, and
// `onSnapshot` runs only when the server cannot bridge the gap, or when
// `setToken()` changes who is asking (`renewToken()` keeps the same user).
// Protocol v1: see README.md. No dependencies, no build step.

import { readEventStream } from "./eventstream.js";

const DEFAULT_TIMEOUT_MS = 10000;
// Methods whose `data` becomes the query string rather than a JSON body.
// wsserver/protocol.py keeps the same list (QUERY_METHODS): change both together.
export const QUERY_METHODS = ["GET", "HEAD", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE"];
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 15000;
const EVENT_STREAM_PATH = "/ws/events";
// Set for this browser session when no socket ever opened: straight to streams.
const SESSION_TRANSPORT_KEY = "live.transport";
const STREAMS = "Server-Sent Events";

/** The WebSocket URL for `configured` (empty: the API's origin + /ws/api). */
export function websocketUrl(configured, apiUrl = window.location.origin) {
  if (configured) return configured;
  const api = new URL(apiUrl);
  const scheme = api.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${api.host}/ws/api`;
}

/** A body `data` carries parsed (wsserver/bridge.py: is_json, the same rule). */
export function isJson(contentType) {
  const mediaType = (contentType || "").split(";")[0].trim().toLowerCase();
  return mediaType === "application/json" || mediaType.endsWith("+json");
}

/** Header names in lower case, as fetch() gives them: one shape for both transports. */
function lowerCaseHeaders(headers) {
  return Object.fromEntries(
    Object.entries(headers || {}).map(([name, value]) => [name.toLowerCase(), value])
  );
}

/**
 * The path a subscription listens under, as the server has it
 * (wsserver/subscriptions.py): percent-decoded (Django routes
 * `/api/notes/%31/` as note 1) and always ending in `/`.
 */
function subscriptionPath(url) {
  const path = decodePercents(url.split("?")[0]);
  return path.endsWith("/") ? path : `${path}/`;
}

/** Each run of `%xx` as the UTF-8 it spells (a bad byte as U+FFFD), as Python's `unquote`. */
function decodePercents(path) {
  return path.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = run.slice(1).split("%").map((hex) => parseInt(hex, 16));
    return new TextDecoder().decode(new Uint8Array(bytes));
  });
}

/** Is a subscription to `url` filtered (a query): its events name it? */
function isFiltered(url) {
  return [...new URLSearchParams(url.split("?")[1] ?? "")].length > 0;
}

/** Does a subscription to `subscribed` hear an event on `eventUrl`? At or below it. */
export function hears(subscribed, eventUrl) {
  return subscriptionPath(eventUrl).startsWith(subscriptionPath(subscribed));
}

/** Parse a fetch() Response into the reply shape `{status, headers, data}`. */
async function replyFromFetch(response) {
  const headers = Object.fromEntries(response.headers.entries());
  const text = await response.text();
  let data;
  if (text) data = isJson(headers["content-type"]) ? JSON.parse(text) : text;
  return { status: response.status, headers, data };
}

/** Add `data` to `url` as a query string, as the server does for GET over a socket. */
function withQuery(url, data) {
  if (!data) return url;
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(data)) {
    for (const item of Array.isArray(value) ? value : [value]) query.append(key, item ?? "");
  }
  const text = query.toString();
  if (!text) return url;
  return url + (url.includes("?") ? "&" : "?") + text;
}

export class LiveClient {
  /**
   * @param {object} options
   * @param {string} [options.apiUrl] the API's origin (empty: this page's): every
   *   transport goes there, so the page may be served from anywhere listed in
   *   the API's ALLOWED_ORIGINS
   * @param {string} [options.websocketUrl] where to connect (empty: from apiUrl)
   * @param {number} [options.timeoutMs] per-request timeout
   * @param {(transport: "WebSocket"|"Server-Sent Events"|"HTTP") => void} [options.onTransport]
   * @param {(entry: object) => void} [options.onLog] each request and reply, timed
   * @param {(problem: string) => void} [options.onProblem] what went wrong, for the log
   * @param {(ended: {url, status, data}) => void} [options.onUnsubscribed] the
   *   server ended a subscription (its token expired or was revoked): call
   *   `renewToken()` with a fresh one to resume it
   */
  constructor({
    apiUrl = "",
    websocketUrl: url = "",
    timeoutMs = DEFAULT_TIMEOUT_MS,
    onTransport,
    onLog,
    onProblem,
    onUnsubscribed,
  } = {}) {
    this.apiUrl = apiUrl || window.location.origin;
    this.url = websocketUrl(url, this.apiUrl);
    this.timeoutMs = timeoutMs;
    this.onTransport = onTransport || (() => {});
    this.onLog = onLog || (() => {});
    this.onProblem = onProblem || ((problem) => console.warn(problem));
    this.onUnsubscribed = onUnsubscribed || (() => {});
    this.token = null;
    this.socket = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer, request}
    this.subscriptions = new Map(); // url -> {onSnapshot, onEvent, position, stream}
    this.attempt = 0;
    this.everOpened = false;
    this.transport = null; // unknown until the first connection attempt ends
    this.streaming = sessionStorage.getItem(SESSION_TRANSPORT_KEY) === STREAMS;
    if (this.streaming) this.setTransport(STREAMS);
    else this.connect();
  }

  /**
   * The access token sent as `token` on the socket, `Authorization: JWT` over
   * HTTP, for another user (or none: signed out). Every subscription starts
   * again with a snapshot of what this user may see.
   */
  setToken(token) {
    if ((token || null) === this.token) return;
    for (const subscription of this.subscriptions.values()) subscription.position = null;
    this.renewToken(token);
  }

  /**
   * A fresh token for the same user (the last one expired or was about to):
   * every subscription goes on from its position, without a snapshot.
   */
  renewToken(token) {
    this.token = token || null;
    for (const [url, subscription] of this.subscriptions) {
      subscription.ended = false;
      this.resubscribe(url);
    }
  }

  get open() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  connect() {
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.onProblem(`WebSocket unavailable: ${error.message}`);
      this.switchToStreams();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.everOpened = true;
      this.setTransport("WebSocket");
      // Resume every subscription from its last position.
      for (const url of this.subscriptions.keys()) this.resubscribe(url);
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      // Requests waiting on this socket are retried over HTTP, never lost.
      for (const [id, waiting] of this.pending) {
        clearTimeout(waiting.timer);
        this.pending.delete(id);
        waiting.request.retriedOverHttp = true;
        this.overHttp(waiting.request).then(waiting.resolve, waiting.reject);
      }
      if (!this.everOpened) {
        this.switchToStreams();
        return;
      }
      this.setTransport("HTTP");
      this.scheduleReconnect();
    });
  }

  /** No socket ever opened (a proxy that blocks them): listen over event streams. */
  switchToStreams() {
    this.streaming = true;
    sessionStorage.setItem(SESSION_TRANSPORT_KEY, STREAMS);
    this.setTransport(STREAMS);
    for (const url of this.subscriptions.keys()) this.openStream(url);
  }

  backoff() {
    // Capped exponential backoff with full jitter, so clients do not stampede.
    const cap = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    return Math.random() * cap;
  }

  scheduleReconnect() {
    setTimeout(() => this.connect(), this.backoff());
  }

  setTransport(transport) {
    if (this.transport === transport) return;
    this.transport = transport;
    this.onTransport(transport);
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (error) {
      this.onProblem(`Ignored a frame that is not JSON: ${error.message}`);
      return;
    }
    if (frame.event !== undefined) {
      this.deliverEvent(frame);
      return;
    }
    const waiting = this.pending.get(frame.id);
    if (!waiting) return;
    clearTimeout(waiting.timer);
    this.pending.delete(frame.id);
    const { status, data, position, recovered } = frame;
    waiting.resolve({ status, headers: lowerCaseHeaders(frame.headers), data, position, recovered });
  }

  deliverEvent(frame) {
    for (const [url, subscription] of this.subscriptions) {
      // A filtered subscription hears the events that name it (`subscription`);
      // the others, each event that names none and is at or below them.
      const named = frame.subscription ?? null;
      if (named !== (isFiltered(url) ? url : null)) continue;
      if (!hears(url, frame.url ?? url)) continue;
      if (frame.event === "unsubscribed") {
        if (subscriptionPath(url) !== frame.url) continue;
        // Its credentials ended; it stays ended until `setToken()` renews it.
        subscription.ended = true;
        subscription.stream?.abort();
        this.onUnsubscribed({ url, status: frame.status, data: frame.data });
        continue;
      }
      if (frame.event === "resync") {
        // The server could not keep this subscription whole: start afresh.
        subscription.position = null;
        this.resubscribe(url);
        continue;
      }
      // Positions are opaque: the last one heard is where to resume from.
      if (frame.position) subscription.position = frame.position;
      subscription.onEvent(frame);
    }
  }

  /**
   * Send one request; resolves to `{status, headers, data}` whichever transport
   * carried it. Over the socket when open, otherwise over fetch(). Conditional
   * requests: `ifMatch` (an edit of the version whose `etag` you read: 412 if it
   * changed since) and `ifNoneMatch` (304, no data, if your copy is current);
   * `headers` for any other.
   */
  async request({ method = "GET", url, data, since, ifMatch, ifNoneMatch, headers = {} } = {}) {
    const conditions = {
      ...(ifMatch ? { "If-Match": ifMatch } : {}),
      ...(ifNoneMatch ? { "If-None-Match": ifNoneMatch } : {}),
    };
    const request = { method: method.toUpperCase(), url, data, since, headers: { ...headers, ...conditions } };
    const started = performance.now();
    const transport = this.open ? "WebSocket" : "HTTP";
    const reply = await (this.open ? this.overSocket(request) : this.overHttp(request));
    const ms = performance.now() - started;
    const { recovered } = reply;
    const carrier = request.retriedOverHttp ? "HTTP" : transport;
    this.onLog({ method: request.method, url, transport: carrier, status: reply.status, ms, recovered });
    return reply;
  }

  overSocket(request) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const message = { id, method: request.method, url: request.url };
      if (request.data !== undefined) message.data = request.data;
      if (request.since) message.since = request.since;
      if (this.token) message.token = this.token;
      if (Object.keys(request.headers ?? {}).length) message.headers = request.headers;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${request.method} ${request.url} timed out`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer, request });
      this.socket.send(JSON.stringify(message));
    });
  }

  authorization() {
    return this.token ? { Authorization: `JWT ${this.token}` } : {};
  }

  async overHttp({ method, url, data, headers: extra = {} }) {
    const headers = { ...extra, ...this.authorization() };
    const query = QUERY_METHODS.includes(method);
    const options = { method: method === "SUBSCRIBE" ? "GET" : method, headers };
    if (!query && data !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(data);
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const target = new URL(query ? withQuery(url, data) : url, this.apiUrl);
      const response = await fetch(target, {
        ...options,
        signal: controller.signal,
      });
      return await replyFromFetch(response);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Listen to `url` (a list or one resource): `onSnapshot(reply)` gets what GET
   * returns, now and whenever the server cannot bridge a gap; `onEvent({event,
   * url, data, position})` gets each change once, in order. With neither a
   * socket nor a stream, the snapshot alone is delivered. Returns a function
   * that unsubscribes.
   */
  async subscribe(url, { onSnapshot, onEvent }) {
    this.subscriptions.set(url, { onSnapshot, onEvent, position: null, stream: null, ended: false });
    await this.resubscribe(url);
    return () => this.unsubscribe(url);
  }

  async resubscribe(url) {
    const subscription = this.subscriptions.get(url);
    // An ended subscription waits for `setToken()`: its credentials no longer hold.
    if (!subscription || subscription.ended) return;
    if (this.streaming) {
      this.openStream(url);
      return;
    }
    let reply;
    try {
      const since = subscription.position || undefined;
      reply = await this.request({ method: this.open ? "SUBSCRIBE" : "GET", url, since });
    } catch (error) {
      // A snapshot that never came is a failed one: the page says so.
      reply = { status: 0, headers: {}, data: { detail: error.message } };
    }
    if (reply.position) subscription.position = reply.position;
    if (!reply.recovered) subscription.onSnapshot(reply);
  }

  /** Listen to `url` over an event stream, resuming after it ends (a deploy). */
  async openStream(url) {
    const subscription = this.subscriptions.get(url);
    if (!subscription) return;
    subscription.stream?.abort();
    const controller = new AbortController();
    subscription.stream = controller;
    const headers = { Accept: "text/event-stream", ...this.authorization() };
    if (subscription.position) headers["Last-Event-ID"] = subscription.position;
    const started = performance.now();
    try {
      const streamUrl = new URL(`${EVENT_STREAM_PATH}?url=${encodeURIComponent(url)}`, this.apiUrl);
      const response = await fetch(streamUrl, { headers, signal: controller.signal });
      const recovered = response.ok && Boolean(subscription.position);
      const ms = performance.now() - started;
      this.onLog({ method: "STREAM", url, transport: STREAMS, status: response.status, ms, recovered });
      if (!response.ok) {
        subscription.onSnapshot(await replyFromFetch(response));
        if (response.status < 500) return; // refused: retrying will not help
      } else {
        await readEventStream(response, (name, id, data) => {
          if (name !== "snapshot") return this.deliverEvent(JSON.parse(data));
          subscription.position = id;
          subscription.onSnapshot({ status: 200, headers: {}, data: JSON.parse(data) });
        });
        this.attempt = 0;
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      this.onProblem(`Event stream failed: ${error.message}`);
    }
    if (this.subscriptions.get(url) === subscription && !controller.signal.aborted) {
      setTimeout(() => this.openStream(url), this.backoff());
    }
  }

  async unsubscribe(url) {
    this.subscriptions.get(url)?.stream?.abort();
    this.subscriptions.delete(url);
    if (this.open) await this.request({ method: "UNSUBSCRIBE", url });
  }
}
