// The AsyncAPI document on standard input, as the official parser reads it:
// prints {"errors": [...], "anonymous": [...]} (messages whose payload a code
// generator could only call AnonymousSchema_N).
import { Parser } from "@asyncapi/parser";
import { readFileSync } from "node:fs";

const { document, diagnostics } = await new Parser().parse(readFileSync(0, "utf8"));
const errors = diagnostics
  .filter((diagnostic) => diagnostic.severity === 0)
  .map(({ code, message, path }) => ({ code, message, path: path.join(".") }));
const anonymous = document
  ? document.allMessages().all()
      .filter((message) => message.payload().id().startsWith("<anonymous"))
      .map((message) => message.name())
  : [];
console.log(JSON.stringify({ errors, anonymous, parsed: document !== undefined }));
