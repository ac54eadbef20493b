// Reading Server-Sent Events from a fetch() response: unlike EventSource, fetch
// can send the token in the Authorization header, never in the URL.

/**
 * Call `onEvent(name, id, data)` for each event of a `text/event-stream`
 * response body; resolve when the stream ends. Comments (`: ping`) are skipped.
 */
export async function readEventStream(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replaceAll("\r\n", "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = { event: "message", id: null, data: [] };
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (name === "data") fields.data.push(text);
        else fields[name] = text;
      }
      if (fields.data.length) onEvent(fields.event, fields.id, fields.data.join("\n"));
    }
  }
}
