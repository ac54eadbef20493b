// The Snippets browser client: one `request()` over WebSocket or HTTP, and live
// subscriptions. Protocol v1: see README.md. No dependencies, no build step.

const DEFAULT_TIMEOUT_MS = 10000;
// Methods whose `data` becomes the query string rather than a JSON body.
// wsserver/protocol.py keeps the same list (QUERY_METHODS): change both together.
export const QUERY_METHODS = ["GET", "HEAD", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE"];
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 15000;

/** The WebSocket URL for `configured` (empty: this page's origin + /ws/api). */
export function websocketUrl(configured, location = window.location) {
  if (configured) return configured;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/api`;
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

/** The path a subscription listens under, always ending in `/` (wsserver/events.py). */
function subscriptionPath(url) {
  const path = url.split("?")[0];
  return path.endsWith("/") ? path : `${path}/`;
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

export class SnippetsClient {
  /**
   * @param {object} options
   * @param {string} [options.websocketUrl] where to connect (empty: same origin)
   * @param {number} [options.timeoutMs] per-request timeout
   * @param {(transport: "WebSocket"|"HTTP") => void} [options.onTransport]
   * @param {(entry: object) => void} [options.onLog] each request and reply, timed
   * @param {(problem: string) => void} [options.onProblem] what went wrong, for the log
   */
  constructor({
    websocketUrl: url = "",
    timeoutMs = DEFAULT_TIMEOUT_MS,
    onTransport,
    onLog,
    onProblem,
  } = {}) {
    this.url = websocketUrl(url);
    this.timeoutMs = timeoutMs;
    this.onTransport = onTransport || (() => {});
    this.onLog = onLog || (() => {});
    this.onProblem = onProblem || ((problem) => console.warn(problem));
    this.token = null;
    this.socket = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.subscriptions = new Map(); // url -> {onEvent, onSnapshot}
    this.attempt = 0;
    this.transport = null; // unknown until the first connection attempt ends
    this.connect();
  }

  /** The access token sent as `token` on the socket, `Authorization: JWT` over HTTP. */
  setToken(token) {
    this.token = token || null;
  }

  get open() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  connect() {
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.setTransport("HTTP");
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.setTransport("WebSocket");
      // A fresh snapshot for every subscription: events may have been missed.
      for (const url of this.subscriptions.keys()) this.resubscribe(url);
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.setTransport("HTTP");
      // Requests waiting on this socket are retried over HTTP, never lost.
      for (const [id, waiting] of this.pending) {
        clearTimeout(waiting.timer);
        this.pending.delete(id);
        this.overHttp(waiting.request).then(waiting.resolve, waiting.reject);
      }
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    // Capped exponential backoff with full jitter, so clients do not stampede.
    const cap = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    setTimeout(() => this.connect(), Math.random() * cap);
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
    const headers = lowerCaseHeaders(frame.headers);
    waiting.resolve({ status: frame.status, headers, data: frame.data });
  }

  deliverEvent(frame) {
    if (frame.event === "resync") {
      for (const url of this.subscriptions.keys()) this.resubscribe(url);
      return;
    }
    for (const [url, subscription] of this.subscriptions) {
      if (hears(url, frame.url)) subscription.onEvent(frame);
    }
  }

  /**
   * Send one request; resolves to `{status, headers, data}` whichever transport
   * carried it. Over the socket when open, otherwise over fetch().
   */
  async request({ method = "GET", url, data } = {}) {
    const request = { method: method.toUpperCase(), url, data };
    const started = performance.now();
    const transport = this.open ? "WebSocket" : "HTTP";
    const reply = await (this.open ? this.overSocket(request) : this.overHttp(request));
    this.onLog({ ...request, transport, status: reply.status, ms: performance.now() - started });
    return reply;
  }

  overSocket(request) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const message = { id, method: request.method, url: request.url };
      if (request.data !== undefined) message.data = request.data;
      if (this.token) message.token = this.token;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${request.method} ${request.url} timed out`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer, request });
      this.socket.send(JSON.stringify(message));
    });
  }

  async overHttp({ method, url, data }) {
    const headers = {};
    if (this.token) headers.Authorization = `JWT ${this.token}`;
    const query = QUERY_METHODS.includes(method);
    const options = { method: method === "SUBSCRIBE" ? "GET" : method, headers };
    if (!query && data !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(data);
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const response = await fetch(query ? withQuery(url, data) : url, {
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
   * returns, now and after every reconnect; `onEvent({event, url, data})` gets
   * each change. Over HTTP there are no events: the snapshot alone is delivered.
   * Returns a function that unsubscribes.
   */
  async subscribe(url, { onSnapshot, onEvent }) {
    this.subscriptions.set(url, { onSnapshot, onEvent });
    await this.resubscribe(url);
    return () => this.unsubscribe(url);
  }

  async resubscribe(url) {
    const subscription = this.subscriptions.get(url);
    if (!subscription) return;
    let reply;
    try {
      reply = await this.request({ method: this.open ? "SUBSCRIBE" : "GET", url });
    } catch (error) {
      // A snapshot that never came is a failed one: the page says so.
      reply = { status: 0, headers: {}, data: { detail: error.message } };
    }
    subscription.onSnapshot(reply);
  }

  async unsubscribe(url) {
    this.subscriptions.delete(url);
    if (this.open) await this.request({ method: "UNSUBSCRIBE", url });
  }
}
