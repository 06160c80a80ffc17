"""BVH files read into arrays (`parse_bvh`), every size checked before anything is allocated and every number
finite; errors name the file, the line and what was expected."""

from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anr_studio.errors import AnrError, shown
from anr_studio.motion.clip import MAX_FPS, MAX_FRAMES, MIN_FPS

MAX_FILE_BYTES = 200 * 2**20
MAX_JOINTS = 1024
MAX_DEPTH = 256  # real rigs nest ~10-25 deep (fingers included)
MAX_HIERARCHY_LINES = 100_000
MAX_VALUES = 50_000_000  # frames x channels: 400 MB of float64
MAX_MAGNITUDE = 1e7  # offsets and channel values: millimetres and degrees stay far below this
CHANNEL_NAMES = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_CHANNEL_BY_KEY = {c.lower(): c for c in CHANNEL_NAMES}
_NONBLANK_LINE = re.compile(r"\S[^\n]*")


@dataclass(frozen=True)
class BvhData:
    """A parsed BVH file; joints in file (depth-first) order, so a parent precedes its children."""

    label: str
    names: tuple[str, ...]
    parents: np.ndarray  # (J,) int, -1 for the root
    offsets: np.ndarray  # (J,3) rest offsets from the parent
    end_sites: np.ndarray  # (J,3) End Site offsets, NaN rows where a joint has none
    channels: tuple[tuple[str, ...], ...]  # per joint, names from CHANNEL_NAMES
    channel_start: np.ndarray  # (J,) column of a joint's first channel in values
    frame_time: float  # seconds
    values: np.ndarray  # (F,C)

    @property
    def num_frames(self) -> int:
        return int(self.values.shape[0])


class _Lines:
    """Tokens of the non-blank lines of ``text``, read one at a time (blank lines skipped in C)."""

    def __init__(self, text: str, label: str) -> None:
        self.text, self.label = text, label
        self._matches = _NONBLANK_LINE.finditer(text)
        self._tokens: list[str] = []
        self._k = 0
        self._pos = 0
        self.line = 0  # 1-based number of the current line
        self.end = 0  # offset just past the current line

    def take(self, expected: str) -> str:
        """Returns the next token; AnrError naming ``expected`` at the end of the file."""
        while self._k >= len(self._tokens):
            match = next(self._matches, None)
            if match is None:
                where = f"after line {self.line}" if self.line else "at its start"
                raise AnrError(f"{self.label}: the file ends {where}, expected {expected}")
            self.line += self.text.count("\n", self._pos, match.start()) + (1 if self.line == 0 else 0)
            self._pos = match.start()
            self.end = match.end()
            self._tokens, self._k = match.group().split(), 0
            if self.line > MAX_HIERARCHY_LINES:
                raise AnrError(f"{self.label}: line {self.line} is still in the HIERARCHY section, expected MOTION "
                               f"within {MAX_HIERARCHY_LINES:,} lines")
        self._k += 1
        return self._tokens[self._k - 1]

    def rest_of_line(self) -> list[str]:
        """Returns (and consumes) the tokens left on the current line."""
        rest = self._tokens[self._k:]
        self._k = len(self._tokens)
        return rest

    def unread(self, tokens: list[str]) -> None:
        """Puts ``tokens`` (the tail of the current line) back to be read next."""
        self._tokens, self._k = tokens, 0


def _number(lines: _Lines, what: str) -> float:
    token = lines.take(what)
    try:
        value = float(token)
    except ValueError:
        raise AnrError(f"{lines.label}: line {lines.line} has {shown(token)!r} where {what} was expected") from None
    if not abs(value) <= MAX_MAGNITUDE:
        raise AnrError(f"{lines.label}: line {lines.line} has {shown(token)!r} in {what}, expected a finite number "
                       f"within +-{MAX_MAGNITUDE:g}")
    return value


def _offset(lines: _Lines, owner: str) -> list[float]:
    _keyword(lines, "OFFSET", f"the OFFSET of {owner}")
    return [_number(lines, f"the OFFSET of {owner}") for _ in range(3)]


def _channels(lines: _Lines, owner: str) -> tuple[str, ...]:
    _keyword(lines, "CHANNELS", f"the CHANNELS line of {owner}")
    token = lines.take(f"the channel count of {owner}")
    if not token.isdigit() or int(token) > 6:
        raise AnrError(f"{lines.label}: line {lines.line} declares {shown(token)!r} channels for {owner}, expected 0 to 6")
    out: list[str] = []
    for i in range(int(token)):
        name = lines.take(f"channel {i + 1} of {token} of {owner}")
        channel = _CHANNEL_BY_KEY.get(name.lower())
        if channel is None or channel in out:
            problem = "a repeated" if channel in out else "an unknown"
            raise AnrError(f"{lines.label}: line {lines.line} has {problem} channel {shown(name)!r} for {owner} "
                           f"(channel {i + 1} of {token}), expected one each of {', '.join(CHANNEL_NAMES)}")
        out.append(channel)
    return tuple(out)


def _name(lines: _Lines, keyword: str) -> str:
    parts = lines.rest_of_line()
    if "{" in parts:  # "JOINT Name { OFFSET ..." on one line
        lines.unread(parts[parts.index("{"):])
        parts = parts[: parts.index("{")]
    if not parts:
        raise AnrError(f"{lines.label}: line {lines.line} has {keyword} without a name, expected {keyword} NAME")
    return " ".join(parts)


def _keyword(lines: _Lines, word: str, what: str) -> None:
    """Reads the next token; AnrError naming ``what`` unless it is ``word`` (in any case)."""
    got = lines.take(what)
    if got.upper() != word:
        raise AnrError(f"{lines.label}: line {lines.line} has {shown(got)!r} where {what} was expected")


def _hierarchy(lines: _Lines):
    """Returns names, parents, offsets, end sites and channels, read with an explicit stack."""
    label = lines.label
    first = lines.take("HIERARCHY")
    if first.upper() != "HIERARCHY":
        raise AnrError(f"{label}: line {lines.line} starts with {shown(first)!r}, expected HIERARCHY (a BVH file)")
    _keyword(lines, "ROOT", "ROOT")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    ends: dict[int, list[float]] = {}
    channels: list[tuple[str, ...]] = []
    stack: list[int] = []

    def open_joint(keyword: str) -> None:
        if len(names) >= MAX_JOINTS:
            raise AnrError(f"{label}: line {lines.line} declares joint {MAX_JOINTS + 1}, expected at most {MAX_JOINTS} joints")
        if len(stack) >= MAX_DEPTH:
            raise AnrError(f"{label}: line {lines.line} nests joints {MAX_DEPTH + 1} deep, expected at most {MAX_DEPTH} levels")
        name = _name(lines, keyword)
        _keyword(lines, "{", f"'{{' after {keyword} {shown(name)}")
        names.append(name)
        parents.append(stack[-1] if stack else -1)
        offsets.append(_offset(lines, f"joint {shown(name)}"))
        channels.append(_channels(lines, f"joint {shown(name)}"))
        stack.append(len(names) - 1)

    open_joint("ROOT")
    while stack:
        token = lines.take(f"JOINT, End Site or }} closing joint {shown(names[stack[-1]])}")
        key = token.upper()
        if key == "JOINT":
            open_joint("JOINT")
        elif key == "END":
            site = lines.take("Site after End")
            if site.upper() != "SITE":
                raise AnrError(f"{label}: line {lines.line} has End {shown(site)!r}, expected End Site")
            owner = names[stack[-1]]
            extra = lines.rest_of_line()  # some exporters name the End Site; "{" may follow on the line
            if "{" in extra:
                lines.unread(extra[extra.index("{"):])
            _keyword(lines, "{", f"'{{' after End Site of {shown(owner)}")
            end = _offset(lines, f"the End Site of {shown(owner)}")
            _keyword(lines, "}", f"'}}' closing the End Site of {shown(owner)}")
            ends.setdefault(stack[-1], end)
        elif key == "}":
            stack.pop()
        else:
            raise AnrError(f"{label}: line {lines.line} has {shown(token)!r} inside joint {shown(names[stack[-1]])}, "
                           "expected JOINT, End Site or } (does its CHANNELS count match the channel names?)")
    end_sites = np.full((len(names), 3), np.nan)
    for j, value in ends.items():
        end_sites[j] = value
    return names, parents, offsets, end_sites, channels


def _frame_header(lines: _Lines) -> tuple[int, int, float]:
    """Returns (frame count, the line declaring it, frame time)."""
    label = lines.label
    token = lines.take("MOTION")
    if token.upper() != "MOTION":
        extra = " (one skeleton per file)" if token.upper() == "ROOT" else ""
        raise AnrError(f"{label}: line {lines.line} has {shown(token)!r} after the skeleton, expected MOTION{extra}")
    token = lines.take("Frames:")
    if token.upper().startswith("FRAMES:") and len(token) > 7:  # "Frames:120"
        count = token[7:]
    else:
        count = lines.take("the frame count") if token.upper() == "FRAMES:" else None
    if count is None or not count.isdigit():
        raise AnrError(f"{label}: line {lines.line} has {shown(token + ' ' + (count or ''))!r}, expected 'Frames: N' with a whole number N")
    frames, frames_line = int(count), lines.line
    if not 1 <= frames <= MAX_FRAMES:
        raise AnrError(f"{label}: line {lines.line} declares Frames: {shown(count)}, expected 1 to {MAX_FRAMES:,} frames")
    a, b = lines.take("Frame Time:"), lines.take("Frame Time:")
    if a.upper() != "FRAME" or b.upper() != "TIME:":
        raise AnrError(f"{label}: line {lines.line} has {shown(a + ' ' + b)!r}, expected 'Frame Time: SECONDS'")
    frame_time = _number(lines, "the Frame Time")
    if frames == 1 and frame_time == 0:  # single poses often carry no frame time
        frame_time = 1 / 30
    if not 1 / MAX_FPS <= frame_time <= 1 / MIN_FPS:
        raise AnrError(f"{label}: line {lines.line} has Frame Time {frame_time:g}, expected {1 / MAX_FPS:g} to "
                       f"{1 / MIN_FPS:g} seconds per frame")
    if lines.rest_of_line():
        raise AnrError(f"{label}: line {lines.line} has more after the Frame Time, expected the frames to start on the next line")
    return frames, frames_line, frame_time


def _values_error(label: str, text: str, first_line: int, frames: int, width: int, names: list[str]) -> AnrError:
    """Returns the error for the first MOTION line whose values are not ``width`` finite numbers within
    ``MAX_MAGNITUDE``."""
    line, pos, row = first_line, 0, 0
    for match in _NONBLANK_LINE.finditer(text):
        line += text.count("\n", pos, match.start())
        pos = match.start()
        row += 1
        tokens = match.group().split()
        if row > frames:
            return AnrError(f"{label}: line {line} is frame {row}, expected the {frames} frames that 'Frames:' declares")
        if len(tokens) != width:
            return AnrError(f"{label}: line {line} (frame {row}) has {len(tokens)} values, expected {width} (one per channel)")
        for k, token in enumerate(tokens):
            try:
                value = float(token)
            except ValueError:
                return AnrError(f"{label}: line {line} (frame {row}) has {shown(token)!r} for channel {k + 1} "
                                f"({names[k]}), expected a number")
            if not abs(value) <= MAX_MAGNITUDE:
                return AnrError(f"{label}: line {line} (frame {row}) has {value:g} for {shown(names[k])}, "
                                f"expected finite numbers within +-{MAX_MAGNITUDE:g}")
    return AnrError(f"{label}: the MOTION section has {row} frames, expected {frames} as 'Frames:' declares")



def parse_bvh(path: str | os.PathLike) -> BvhData:
    """Returns the parsed BVH file at ``path``; AnrError naming the file, line and expectation otherwise."""
    path = Path(path)
    label = shown(path.name, 80)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise AnrError(f"{label}: cannot read it ({exc.strerror or exc}), expected a readable BVH file") from None
    if len(raw) > MAX_FILE_BYTES:
        raise AnrError(f"{label}: the file is larger than {MAX_FILE_BYTES // 2**20} MB, expected a BVH file at most that size")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise AnrError(f"{label}: line {line} holds bytes that are not UTF-8 text, expected a text BVH file") from None
    del raw
    lines = _Lines(text, label)
    names, parents, offsets, end_sites, channels = _hierarchy(lines)
    frames, frames_line, frame_time = _frame_header(lines)

    width = sum(len(c) for c in channels)
    if frames * max(width, 1) > MAX_VALUES:
        raise AnrError(f"{label}: {frames:,} frames of {width} channels is more than {MAX_VALUES:,} values, expected a shorter motion")
    data = text[lines.end:]
    del text
    first_line = lines.line
    if data.count("\n") < frames:
        raise AnrError(f"{label}: line {frames_line} declares {frames:,} frames but at most {data.count(chr(10))} lines follow, "
                       "expected one line per frame")
    channel_names = [f"{n}.{c}" for n, cs in zip(names, channels) for c in cs]
    if width == 0:
        raise AnrError(f"{label}: no joint has CHANNELS, expected rotation channels that carry the motion")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = np.loadtxt(io.StringIO(data), dtype=np.float64, comments=None, ndmin=2, max_rows=frames + 1)
    except ValueError:
        raise _values_error(label, data, first_line, frames, width, channel_names) from None
    if values.shape != (frames, width) or not (np.abs(values) <= MAX_MAGNITUDE).all():
        raise _values_error(label, data, first_line, frames, width, channel_names)
    starts = np.cumsum([0] + [len(c) for c in channels[:-1]]).astype(np.int64)
    return BvhData(label, tuple(names), np.asarray(parents, np.int64), np.asarray(offsets, np.float64), end_sites,
                   tuple(channels), starts, float(frame_time), values)
