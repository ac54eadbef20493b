// The playground: every operation of /api/asyncapi.json as a form, sent over
// the socket with the same client the demo page uses; replies and events shown.

import { LiveClient } from "./client.js";

const $ = (id) => document.getElementById(id);
const client = new LiveClient({
  apiUrl: document.body.dataset.apiUrl,
  websocketUrl: document.body.dataset.websocketUrl,
  onTransport: (transport) => ($("transport").textContent = `Connected over ${transport}`),
});
let documentation = null;

/** Follow a local `$ref` (and a one-item `allOf`, as drf-spectacular writes enums). */
function resolve(schema) {
  if (schema?.allOf?.length === 1) return { ...resolve(schema.allOf[0]), ...schema, allOf: undefined };
  if (!schema?.$ref) return schema || {};
  const target = schema.$ref.slice(2).split("/").reduce((node, key) => node[key], documentation);
  return resolve(target);
}

function requestMessage(operation) {
  return resolve(operation.messages[0]);
}

function showOperations() {
  const sends = Object.entries(documentation.operations).filter(([, op]) => op.action === "send");
  $("operation").replaceChildren(...sends.map(([name]) => new Option(name, name)));
  showFields();
}

/** One input per path parameter and per `data` property, typed from the schema. */
function showFields() {
  const operation = documentation.operations[$("operation").value];
  const message = requestMessage(operation);
  $("operation-summary").textContent = message.summary;
  const inputs = [];
  for (const [, name] of message["x-path"].matchAll(/\{([^}]+)\}/g)) {
    inputs.push(field(`path.${name}`, name, { type: "string" }, true));
  }
  const data = resolve(resolve(message.payload).properties.data);
  for (const [name, property] of Object.entries(data.properties || {})) {
    const schema = resolve(property);
    if (!schema.readOnly) inputs.push(field(`data.${name}`, name, schema, false));
  }
  $("fields").replaceChildren(...inputs);
}

function field(key, label, schema, required) {
  const row = document.createElement("p");
  const name = document.createElement("label");
  name.textContent = label;
  name.htmlFor = `field-${key}`;
  let input;
  if (schema.enum) {
    input = document.createElement("select");
    input.append(new Option("", ""), ...schema.enum.filter((v) => v !== null).map((v) => new Option(v, v)));
    if (schema.default !== undefined) input.value = schema.default;
  } else if (schema.type === "boolean" || schema.type?.includes?.("boolean")) {
    input = document.createElement("input");
    input.type = "checkbox";
  } else {
    input = document.createElement(schema.maxLength || schema.type !== "string" ? "input" : "textarea");
    if (schema.type === "integer") input.type = "number";
  }
  input.id = `field-${key}`;
  input.dataset.key = key;
  input.dataset.type = Array.isArray(schema.type) ? schema.type[0] : schema.type || "string";
  input.required = required;
  row.append(name, input);
  return row;
}

function collect() {
  const operation = documentation.operations[$("operation").value];
  const message = requestMessage(operation);
  let url = message["x-path"];
  const data = {};
  for (const input of $("fields").querySelectorAll("[data-key]")) {
    const [where, name] = input.dataset.key.split(".");
    if (where === "path") url = url.replace(`{${name}}`, encodeURIComponent(input.value));
    else if (input.type === "checkbox") data[name] = input.checked;
    else if (input.value !== "") data[name] = input.dataset.type === "integer" ? Number(input.value) : input.value;
  }
  const method = resolve(message.payload).properties.method.default;
  return { method, url, data: Object.keys(data).length ? data : undefined };
}

async function send(event) {
  event.preventDefault();
  const { method, url, data } = collect();
  if (method === "SUBSCRIBE") {
    await client.subscribe(url, {
      onSnapshot: (reply) => showReply({ method, url, ...reply }),
      onEvent: showEvent,
    });
    return;
  }
  if (method === "UNSUBSCRIBE") {
    await client.unsubscribe(url);
    showReply({ method, url, status: 200, data: { detail: "Unsubscribed." } });
    return;
  }
  showReply({ method, url, ...(await client.request({ method, url, data })) });
}

function showReply(reply) {
  $("reply").textContent = JSON.stringify(reply, null, 2);
}

function showEvent(event) {
  const item = document.createElement("li");
  item.textContent = `${event.event} ${event.url} ${JSON.stringify(event.data)}`;
  $("events").prepend(item);
}

async function signIn(event) {
  event.preventDefault();
  const credentials = { username: $("username").value, password: $("password").value };
  const reply = await client.request({ method: "POST", url: "/api/auth/token/", data: credentials });
  if (reply.status === 200) client.setToken(reply.data.access);
  $("token-state").textContent = reply.status === 200 ? `signed in as ${credentials.username}` : `refused (${reply.status})`;
}

$("operation").addEventListener("change", showFields);
$("request-form").addEventListener("submit", send);
$("sign-in").addEventListener("submit", signIn);
documentation = await (await fetch(new URL("/api/asyncapi.json", client.apiUrl))).json();
showOperations();
