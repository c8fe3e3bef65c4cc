"""File uploads for `FakeSlackApi`, the three steps of slack_sdk's `files_upload_v2`, as Slack does them.

1. `files.getUploadURLExternal(filename, length)` answers `{upload_url, file_id}`;
2. the client POSTs the bytes to `upload_url` (here `/upload/<file_id>` on the fake itself, with no
   token, like Slack's files host);
3. `files.completeUploadExternal(files=[{id, title}], channel_id, initial_comment, thread_ts)` shares
   the uploaded files; answered with `{files: [{id, title, name, …}]}`.

Errors answer as Slack does (`ok: false` with its code): `invalid_arguments` without a filename or
a length, `file_not_found` for an id never handed out, `file_upload_not_completed` (our stand-in
code) for an id whose bytes never arrived, and `invalid_channel` when the channel is empty. What was
shared is in `FakeFiles.shared` (a `FakeFile` with its bytes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

Call = dict[str, Any]


@dataclass
class FakeFile:
    """One uploaded file: what the client declared, the bytes it sent, and where it was shared."""

    id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None


class FakeFiles:
    def __init__(self) -> None:
        self._files: dict[str, FakeFile] = {}
        self.shared: list[FakeFile] = []

    def get_upload_url(self, p: Call, base: str) -> Call:
        filename, length = p.get("filename"), p.get("length")
        if not filename or length in (None, ""):
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self._files) + 1:08d}"
        self._files[file_id] = FakeFile(id=file_id, filename=str(filename), length=int(length))
        return {"ok": True, "upload_url": f"{base}upload/{file_id}", "file_id": file_id}

    def receive(self, file_id: str, data: bytes) -> bool:
        """Step 2: the bytes for a handed-out id (False for an id we never handed out)."""
        found = self._files.get(file_id)
        if found is None:
            return False
        found.data = data
        return True

    def complete(self, p: Call) -> Call:
        raw = p.get("files")
        items = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items:
            return {"ok": False, "error": "invalid_arguments"}
        channel = p.get("channel_id")
        if channel is not None and not channel:
            return {"ok": False, "error": "invalid_channel"}
        done: list[FakeFile] = []
        for item in items:
            found = self._files.get(str(item.get("id", "")))
            if found is None:
                return {"ok": False, "error": "file_not_found"}
            if found.data is None:
                return {"ok": False, "error": "file_upload_not_completed"}
            found.title = item.get("title") or found.filename
            found.channel = channel
            found.thread_ts = p.get("thread_ts")
            found.initial_comment = p.get("initial_comment")
            done.append(found)
        self.shared.extend(done)
        return {
            "ok": True,
            "files": [
                {"id": f.id, "name": f.filename, "title": f.title, "size": len(f.data or b"")} for f in done
            ],
        }
