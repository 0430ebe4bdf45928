"""django-tasks-db's `db_worker`, plus a watchdog thread that keeps the periodic chains alive.

Same command, options and behaviour (this app comes before django_tasks_db in
INSTALLED_APPS, so `manage.py db_worker` is this one). While the worker runs, a
daemon thread calls core.periodic.periodic_check every check_seconds(): a chain
whose last run failed, or died before queueing the next, is queued again by
whichever worker looks first. Not in --batch mode, which runs what is due and
exits (tests, one-off runs).
"""

import logging
import os
import threading
from typing import Any

from django.db import close_old_connections, connections
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands import db_worker

from core import periodic

logger = logging.getLogger("core.periodic")


class Watchdog(threading.Thread):
    def __init__(self, *, period: float):
        super().__init__(name="periodic-watchdog", daemon=True)
        self.period, self.stopped = period, threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.is_set():
                close_old_connections()  # this thread's own connection, dropped when stale or broken
                try:
                    periodic.periodic_check()
                except Exception:  # the database away, say: look again next time
                    logger.exception("Checking the periodic tasks failed; trying again in %s s", self.period)
                self.stopped.wait(self.period)
        finally:
            connections.close_all()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)


class Command(db_worker.Command):
    help = db_worker.Command.help + ", re-arming periodic tasks whose chain died (core.periodic)"

    def handle(self, *args: Any, **options: Any) -> None:
        # With --reload the parent process only watches files; its child runs the worker (and the watchdog).
        reloader_parent = options["reload"] and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true"
        if options["batch"] or reloader_parent:
            return super().handle(*args, **options)
        watchdog = Watchdog(period=periodic.check_seconds())
        watchdog.start()
        try:
            super().handle(*args, **options)
        finally:
            watchdog.stop()
