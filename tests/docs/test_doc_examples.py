"""Every Python example in the guides runs as written, against a real server.

The blocks read ``SPENDWARDEN_URL``/``SPENDWARDEN_API_KEY`` like a reader's shell would; the
OpenAI and Anthropic clients find a local stand-in of their APIs through ``OPENAI_BASE_URL``
and ``ANTHROPIC_BASE_URL``. Each block gets a fresh agent and a fresh working directory.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from spendwarden.alerts.formats import sign
from spendwarden.config import Settings
from spendwarden.runtime import Runtime, build_runtime
from spendwarden.sdk import create_embedded_agent
from spendwarden.sdk.server import LocalServer
from tests.sdk.fake_llm import FakeLLM

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES = ("quickstart.md", "sdk.md", "integrations.md")
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_agents = itertools.count(1)


def python_blocks() -> list[tuple[str, int, str]]:
    found = []
    for name in GUIDES:
        path = DOCS / name
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        for match in FENCE.finditer(text):
            found.append((name, text.count("\n", 0, match.start()) + 1, match.group(1)))
    return found


BLOCKS = python_blocks()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, LocalServer, FakeLLM]]:
    db = tmp_path_factory.mktemp("docs") / "server.db"
    runtime = build_runtime(Settings(database_url=f"sqlite:///{db}"))
    try:
        with LocalServer(runtime) as local, FakeLLM() as llm:
            yield runtime, local, llm
    finally:
        runtime.close()


@pytest.mark.parametrize(("doc", "line", "code"), BLOCKS, ids=[f"{d}:{n}" for d, n, _ in BLOCKS])
def test_example_runs(
    doc: str,
    line: int,
    code: str,
    server: tuple[Runtime, LocalServer, FakeLLM],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    runtime, local, llm = server
    key = create_embedded_agent(runtime, f"doc-agent-{next(_agents)}", tier="custom", caps={"daily": "5"})
    for name, value in {
        "SPENDWARDEN_URL": local.url,
        "SPENDWARDEN_API_KEY": key,
        "OPENAI_BASE_URL": llm.url + "/v1",
        "OPENAI_API_KEY": "sk-docs",
        "ANTHROPIC_BASE_URL": llm.url,
        "ANTHROPIC_API_KEY": "sk-ant-docs",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    exec(compile(code, f"docs/{doc}:{line}", "exec"), namespace)
    verify = namespace.get("verify_signature")
    if callable(verify):  # integrations.md: the receiver's check against our own signer
        body = b'{"id": "dlv_1", "type": "alert.opened"}'
        header = sign("whsec-docs-0123456789", 1_763_900_000, body)
        assert verify("whsec-docs-0123456789", header, body, now=1_763_900_010)
        assert not verify("whsec-docs-0123456789", header, body + b" ", now=1_763_900_010)
        assert not verify("whsec-docs-0123456789", header, body, now=1_763_900_000 + 3600)


def test_the_guides_have_examples() -> None:
    assert {doc for doc, _line, _code in BLOCKS} >= {"sdk.md", "quickstart.md"}
