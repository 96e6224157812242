"""A local stand-in for the OpenAI and Anthropic APIs on 127.0.0.1, for the real SDKs to talk to.

Responses and SSE streams follow the providers' wire formats, usage included (OpenAI's
``prompt_tokens_details.cached_tokens``, Anthropic's ``cache_read_input_tokens`` /
``cache_creation_input_tokens`` in ``message_start`` and the output in ``message_delta``).
The model name picks a behaviour: ``*-reject`` answers 400, ``*-overload`` 500,
``*-disconnect`` breaks the connection in the middle of a stream, ``*-nousage`` leaves
usage out. Every request body is kept in ``requests``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 80,
    "total_tokens": 1280,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
}
RESPONSES_USAGE = {
    "input_tokens": 900,
    "input_tokens_details": {"cached_tokens": 512},
    "output_tokens": 60,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 960,
}
ANTHROPIC_START_USAGE = {
    "input_tokens": 25,
    "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 2000,
    "output_tokens": 1,
    "service_tier": "standard",
}
ANTHROPIC_OUTPUT_TOKENS = 90
STREAM_WORDS = 40


def chat_completion(model: str, usage: bool) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1763900000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there.", "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": OPENAI_USAGE if usage else None,
        "system_fingerprint": "fp_test",
    }


def chat_chunks(model: str, include_usage: bool) -> Iterator[dict[str, Any]]:
    base = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1763900000, "model": model}
    for i in range(STREAM_WORDS):
        delta = {"role": "assistant", "content": f"w{i} "} if i == 0 else {"content": f"w{i} "}
        yield {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}], "usage": None}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None}
    if include_usage:
        yield {**base, "choices": [], "usage": OPENAI_USAGE}


def response_object(model: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": "resp_test",
        "object": "response",
        "created_at": 1763900000,
        "status": status,
        "model": model,
        "output": [
            {
                "type": "message",
                "id": "msg_test",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hello.", "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": RESPONSES_USAGE if status == "completed" else None,
    }


def responses_events(model: str) -> Iterator[tuple[str, dict[str, Any]]]:
    created = {**response_object(model, "in_progress"), "output": []}
    yield "response.created", {"type": "response.created", "sequence_number": 0, "response": created}
    for i in range(STREAM_WORDS):
        yield (
            "response.output_text.delta",
            {
                "type": "response.output_text.delta",
                "sequence_number": i + 1,
                "item_id": "msg_test",
                "output_index": 0,
                "content_index": 0,
                "delta": f"w{i} ",
                "logprobs": [],
            },
        )
    done = {
        "type": "response.completed",
        "sequence_number": STREAM_WORDS + 1,
        "response": response_object(model),
    }
    yield "response.completed", done


def anthropic_message(model: str, usage: bool) -> dict[str, Any]:
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "Hello there."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {**ANTHROPIC_START_USAGE, "output_tokens": ANTHROPIC_OUTPUT_TOKENS} if usage else None,
    }


def anthropic_events(model: str) -> Iterator[tuple[str, dict[str, Any]]]:
    start = {
        **anthropic_message(model, True),
        "content": [],
        "stop_reason": None,
        "usage": ANTHROPIC_START_USAGE,
    }
    yield "message_start", {"type": "message_start", "message": start}
    yield (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        },
    )
    yield "ping", {"type": "ping"}
    for i in range(STREAM_WORDS):
        delta = {"type": "text_delta", "text": f"w{i} "}
        yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": ANTHROPIC_OUTPUT_TOKENS},
        },
    )
    yield "message_stop", {"type": "message_stop"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeLLM

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        self.server.requests.append({"path": self.path, "body": body})
        model = str(body.get("model", ""))
        if model.endswith("-reject"):
            return self._json(400, {"error": {"type": "invalid_request_error", "message": "bad request"}})
        if model.endswith("-overload"):
            return self._json(500, {"error": {"type": "server_error", "message": "overloaded"}})
        usage = not model.endswith("-nousage")
        if self.path.endswith("/chat/completions"):
            if body.get("stream"):
                include = bool((body.get("stream_options") or {}).get("include_usage")) and usage
                return self._sse((None, c) for c in chat_chunks(model, include))
            return self._json(200, chat_completion(model, usage))
        if self.path.endswith("/responses"):
            if body.get("stream"):
                return self._sse(responses_events(model))
            return self._json(200, response_object(model))
        if self.path.endswith("/messages"):
            if body.get("stream"):
                return self._sse(anthropic_events(model), done=False)
            return self._json(200, anthropic_message(model, usage))
        self._json(404, {"error": {"type": "not_found", "message": self.path}})

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", "req_test")
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: Iterator[tuple[str | None, dict[str, Any]]], done: bool = True) -> None:
        model = str(self.server.requests[-1]["body"].get("model", ""))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            for n, (name, data) in enumerate(events):
                if model.endswith("-disconnect") and n == 5:
                    self.wfile.write(b'40\r\ndata: {"trunc')  # half a chunk, then the line drops
                    self.wfile.flush()
                    self.close_connection = True
                    return
                prefix = f"event: {name}\n" if name else ""
                self._chunk(f"{prefix}data: {json.dumps(data)}\n\n".encode())
            if done:
                self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


class FakeLLM(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-stream is what several tests do on purpose."""

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
