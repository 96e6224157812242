"""Background loops that stop cleanly: named asyncio tasks that run blocking work in a
thread and stop on an event, finishing the step in progress (never losing work)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("spendwarden.workers")


@dataclass
class Periodic:
    name: str
    interval: float
    step: Callable[[], object]
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    def start(self, stop: asyncio.Event) -> None:
        self._task = asyncio.create_task(self._run(stop), name=self.name)

    async def _run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.step)
            except Exception:
                log.exception("worker %s failed a step; retrying next interval", self.name)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            except TimeoutError:
                pass

    async def join(self) -> None:
        if self._task is not None:
            await self._task


@dataclass
class Workers:
    """The set of loops one server runs; started with the app, stopped with it."""

    loops: list[Periodic] = field(default_factory=list)
    stop_event: asyncio.Event | None = None

    def add(self, name: str, interval: float, step: Callable[[], object]) -> None:
        self.loops.append(Periodic(name, interval, step))

    def start(self) -> None:
        self.stop_event = asyncio.Event()
        for loop in self.loops:
            loop.start(self.stop_event)

    async def stop(self) -> None:
        if self.stop_event is None:
            return
        self.stop_event.set()
        await asyncio.gather(*(loop.join() for loop in self.loops), return_exceptions=True)
