"""The fan-out's baseline: a bare Tornado server that sends each change to every
subscribed socket, serialised once, with one `write_message` per socket. No
Django, no Redis, no per-subscriber work: what Tornado's own write path costs.

`python -m bench.broadcast PORT`. A socket's `SUBSCRIBE` frame is answered as
the project answers one; `POST /changes` (a change's event as JSON) sends it to
every subscriber before it answers, so a writer posting back to back goes as
fast as the sending.
"""

import asyncio
import json
import sys

import tornado.web
import tornado.websocket

SUBSCRIBERS: set[tornado.websocket.WebSocketHandler] = set()


class SubscriberHandler(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        frame = json.loads(message)
        SUBSCRIBERS.add(self)
        reply = {"id": frame.get("id"), "status": 200, "headers": {}, "data": []}
        self.write_message(json.dumps(reply))

    def on_close(self):
        SUBSCRIBERS.discard(self)


class ChangesHandler(tornado.web.RequestHandler):
    def post(self):
        message = json.dumps(json.loads(self.request.body))  # serialised once
        for subscriber in list(SUBSCRIBERS):
            try:
                subscriber.write_message(message)
            except tornado.websocket.WebSocketClosedError:
                SUBSCRIBERS.discard(subscriber)
        self.set_status(204)


class HelloHandler(tornado.web.RequestHandler):
    def get(self):
        self.write({"ok": True})


async def main(port):
    app = tornado.web.Application(
        [
            (r"/ws/api", SubscriberHandler),
            (r"/changes", ChangesHandler),
            (r"/.*", HelloHandler),
        ]
    )
    app.listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
