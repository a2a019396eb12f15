"""gunicorn settings for the REST and pages tier (`livecommerce.wsgi:application`).

Read from the environment like every setting (README, "Configuration"):
WEB_BIND (default 127.0.0.1:8001), WEB_CONCURRENCY processes (default 2), WEB_THREADS
threads each (default 4). Each thread holds at most one database connection from its
process's pool (DB_POOL_MAX_SIZE), and so does the live-event relay thread: size the pool
WEB_THREADS + 1 (the default 5 fits the default 4 threads).
"""

import os

bind = [os.environ.get("WEB_BIND", "127.0.0.1:8001")]
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
# Idle keep-alive connections wait in the worker's poller, not in a thread.
keepalive = int(os.environ.get("WEB_KEEPALIVE_SECONDS", "5"))
timeout = int(os.environ.get("WEB_TIMEOUT_SECONDS", "30"))
graceful_timeout = 10
# uvicorn's FORWARDED_ALLOW_IPS equivalent: trust X-Forwarded-* only from these peers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
