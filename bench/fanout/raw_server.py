"""The practical limit: a bare `websockets` server fed by Redis PUBLISH.

One Redis subscriber per process; each message is written to every connection with
`websockets.broadcast` (no per-socket queue, no framework). Usage:
``python bench/fanout/raw_server.py PORT REDIS_URL CHANNEL``.
"""

import asyncio
import sys

import redis.asyncio as aioredis
from websockets.asyncio.server import broadcast, serve


async def main(port: int, redis_url: str, channel: str) -> None:
    async def handler(ws):  # type: ignore[no-untyped-def]
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", port, compression=None, max_size=65536) as server:
        client = aioredis.Redis.from_url(redis_url)
        pubsub = client.pubsub()
        await pubsub.subscribe(channel)
        async for message in pubsub.listen():
            if message["type"] == "message":
                broadcast(server.connections, message["data"].decode())


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
