"""A bare Tornado server answering like the bridge without Django: the ceiling
of the load clients and the memory floor of an idle WebSocket."""

import asyncio
import json
import sys

import tornado.web
import tornado.websocket

REPLY = json.dumps({"id": None, "status": 200, "headers": {}, "data": {"ok": True}})


class EchoSocketHandler(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        self.write_message(REPLY)


class HelloHandler(tornado.web.RequestHandler):
    def get(self):
        self.write({"ok": True})


async def main(port):
    app = tornado.web.Application(
        [(r"/ws/api", EchoSocketHandler), (r"/.*", HelloHandler)]
    )
    app.listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
