"""Several ``davfiles serve`` processes on one data dir and one database, behind haproxy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import requests

from bench.haproxy import SERVED_BY, Balancer, free_port
from davfiles.app import Services, create_services
from davfiles.config import Settings
from tests.harness import CliServer


class Cluster:
    """``count`` instances on their own ports, started one after the other, and a balancer."""

    __test__ = False

    def __init__(self, folder: Path, database_url: str, count: int, env: Mapping[str, str]) -> None:
        self.data_dir = folder / "data"
        self.database_url = database_url
        self.env = {"DAVFILES_DATABASE_URL": database_url, **env}
        self._folder = folder
        self.instances: list[CliServer] = []
        self.balancer: Balancer | None = None
        self.services: Services | None = None
        try:
            for number in range(count):
                self.instances.append(self.start_instance(number))
            self.balancer = Balancer(folder / "haproxy", [i.port for i in self.instances])
            self.services = create_services(
                Settings(data_dir=self.data_dir, database_url=database_url)
            )
        except BaseException:
            self.stop()
            raise

    def start_instance(self, number: int, port: int | None = None) -> CliServer:
        """Instance ``number`` on a new port, or on ``port`` again when it restarts."""
        port = port or free_port()
        log = self._folder / f"instance{number}-{port}.log"
        return CliServer(self.data_dir, log, self.env, ("--port", str(port)))

    def restart(self, number: int) -> None:
        port = self.instances[number].port
        self.instances[number].stop()
        self.instances[number] = self.start_instance(number, port)

    def url(self, path: str = "/dav/") -> str:
        assert self.balancer is not None
        return self.balancer.url(path)

    def direct(self, number: int, path: str = "/dav/") -> str:
        """``path`` on one instance, bypassing the balancer."""
        return self.instances[number].base + path

    def stop(self) -> None:
        if self.services is not None:
            self.services.close()
        if self.balancer is not None:
            self.balancer.stop()
        for instance in self.instances:
            instance.stop()


def served_by(response: requests.Response) -> str:
    """The instance haproxy passed the request to (``i0``, ``i1``)."""
    return response.headers[SERVED_BY]
