"""File loaders: each turns one file into a list of Blocks (a paragraph, list, code cell
or page of text) carrying the heading path it sits under and an anchor (lines, page or
cell) that a citation can point to.

Supported: .md/.markdown, .txt, .pdf (pypdf, page anchors), .ipynb (nbformat, cell
anchors), .html/.htm (BeautifulSoup). Everything else raises UnsupportedFile; a file
that cannot be parsed raises LoadError with the reason. The builder turns both into a
per-file warning and goes on with the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


class LoadError(Exception):
    """A file of a supported type that could not be read or parsed."""


class UnsupportedFile(LoadError):
    """A file type no loader handles."""


@dataclass
class Block:
    text: str
    headings: tuple[str, ...]
    anchor: str  # "L12-18" (lines), "p3" (pdf page), "cell 5" (notebook), "§4" (html block)
    start_line: int | None = None
    end_line: int | None = None
    page: int | None = None
    cell: int | None = None


@dataclass
class LoadedDoc:
    path: Path
    title: str
    blocks: list[Block] = field(default_factory=list)


SUFFIXES = {".md", ".markdown", ".txt", ".pdf", ".ipynb", ".html", ".htm"}

_ATX = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _clean_heading(text: str) -> str:
    return re.sub(r"[*_`]+", "", text).strip().rstrip(":").strip()


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise LoadError("looks like a binary file (NUL bytes)")
    for enc in ("utf-8-sig", "cp1251"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise LoadError("not valid UTF-8 or CP1251 text")


# --------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------


def parse_markdown(text: str, title: str, line_offset: int = 0, base: tuple[str, ...] = ()) -> list[Block]:
    """Split Markdown into paragraph blocks under their ATX/Setext heading path.
    Code fences are kept whole; lines inside them never count as headings."""
    lines = text.splitlines()
    stack: list[tuple[int, str]] = []  # (level, heading)
    blocks: list[Block] = []
    buf: list[str] = []
    buf_start = 0
    in_fence = False
    numeric_heading = False  # "# 3" followed by "**Title**": the bold line completes the heading

    def path() -> tuple[str, ...]:
        return base + tuple(h for _, h in stack)

    def flush(end: int) -> None:
        nonlocal buf
        body = "\n".join(buf).strip()
        if body:
            s, e = buf_start + 1 + line_offset, end + line_offset
            blocks.append(Block(body, path(), f"L{s}-{e}", start_line=s, end_line=e))
        buf = []

    for i, line in enumerate(lines):
        if _FENCE.match(line):
            if not buf:
                buf_start = i
            buf.append(line)
            in_fence = not in_fence
            continue
        if in_fence:
            buf.append(line)
            continue
        m = _ATX.match(line)
        setext = (
            i + 1 < len(lines)
            and re.fullmatch(r"\s*(=+|-+)\s*", lines[i + 1] or "")
            and line.strip()
            and not buf  # a paragraph's last line followed by --- is a heading only if alone
        )
        if m or setext:
            flush(i)
            level = len(m.group(1)) if m else (1 if lines[i + 1].strip().startswith("=") else 2)
            heading = _clean_heading(m.group(2) if m else line)
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            numeric_heading = bool(re.fullmatch(r"[\dIVXLC]+[.)]?", heading))
            continue
        if numeric_heading and line.strip():
            numeric_heading = False
            bold = re.fullmatch(r"\s*(\*\*|__)(.+?)(\*\*|__)\s*", line)
            if bold and not buf:
                level, num = stack[-1]
                stack[-1] = (level, f"{num.rstrip('.)')}. {_clean_heading(bold.group(2))}")
                continue
        if setext is False and re.fullmatch(r"\s*(=+|-+)\s*", line) and i > 0 and not buf:
            continue  # underline of a setext heading already consumed
        if not line.strip():
            flush(i)
            continue
        if not buf:
            buf_start = i
        buf.append(line)
    flush(len(lines))
    if not blocks and not stack:
        return []
    return blocks


def load_markdown(path: Path) -> LoadedDoc:
    text = _read_text(path)
    title = next((_clean_heading(m.group(2)) for m in map(_ATX.match, text.splitlines()) if m), path.stem)
    return LoadedDoc(path, title, parse_markdown(text, title))


# --------------------------------------------------------------------------------------
# Plain text
# --------------------------------------------------------------------------------------

# "Лекция №3.", "Занятие 5", "Lecture 2:", "Семинар 4." alone on a line
_MARKER = re.compile(
    r"^\s*(лекция|занятие|семинар|урок|тема|модуль|глава|часть|lecture|lesson|seminar|chapter|module|week|неделя)"
    r"\s*(№\s*)?\d+[.:)]?\s*$",
    re.IGNORECASE,
)
_NUMBERED_TITLE = re.compile(
    r"^\s*(лекция|занятие|семинар|урок|тема|модуль|глава|часть|lecture|lesson|seminar|chapter|module|week|неделя)"
    r"\s*(№\s*)?\d+[.:)]\s*\S.{0,120}$",
    re.IGNORECASE,
)


def _is_short_title(line: str) -> bool:
    s = line.strip()
    return 0 < len(s) <= 80 and not s.endswith((".", ",", ";")) or (0 < len(s) <= 60)


def parse_plain_text(text: str, title: str) -> list[Block]:
    """Plain text: Markdown headings if the file has them; else numbered title lines
    ("Лекция №3." + an optional short title line) start sections.

    Some syllabi put each lecture's description BEFORE its title line (the course's
    003 file). That layout is detected when the first title marker directly follows a
    long descriptive paragraph and the text before it has no other heading: then each
    description is attached to the title that FOLLOWS it."""
    lines = text.splitlines()
    if any(_ATX.match(line) for line in lines):
        return parse_markdown(text, title)

    # find markers: (line index, heading text, index of first line after the title)
    markers: list[tuple[int, str, int]] = []
    for i, line in enumerate(lines):
        if _MARKER.match(line):
            nxt = i + 1
            heading = line.strip().rstrip(".:")
            if nxt < len(lines) and _is_short_title(lines[nxt]) and not _MARKER.match(lines[nxt]):
                heading = f"{heading}. {lines[nxt].strip()}"
                nxt += 1
            markers.append((i, heading, nxt))
        elif _NUMBERED_TITLE.match(line) and len(line.strip()) <= 100:
            markers.append((i, line.strip().rstrip(".:"), i + 1))

    heading_lines = {j for m in markers for j in range(m[0], m[2])}
    paragraphs = _paragraphs(lines, heading_lines)  # (start, end_exclusive, text)
    if not markers:
        return [Block(t, (title,), f"L{s + 1}-{e}", s + 1, e) for s, e, t in paragraphs]

    first = markers[0][0]
    prev = first - 1
    while prev >= 0 and not lines[prev].strip():
        prev -= 1
    title_after = (
        prev >= 0
        and len(lines[prev].strip()) >= 80
        and all(markers[k + 1][0] - markers[k][2] <= 3 for k in range(len(markers) - 1))
    )

    blocks: list[Block] = []
    if title_after:
        # description paragraphs between the previous title and this marker belong to this marker
        prev_end = 0
        for idx, (mline, heading, after) in enumerate(markers):
            seg = [(s, e, t) for s, e, t in paragraphs if s >= prev_end and e <= mline and s not in heading_lines]
            # the text right before the first marker may start with a preamble; only
            # the paragraph touching the marker is the description
            if idx == 0 and seg:
                pre, seg = seg[:-1], seg[-1:]
                blocks += [Block(t, (title,), f"L{s + 1}-{e}", s + 1, e) for s, e, t in pre]
            # a section's citation anchor spans its description and its title line
            blocks += [Block(t, (title, heading), f"L{s + 1}-{after}", s + 1, after) for s, e, t in seg]
            prev_end = after
        tail = [(s, e, t) for s, e, t in paragraphs if s >= prev_end and s not in heading_lines]
        blocks += [Block(t, (title,), f"L{s + 1}-{e}", s + 1, e) for s, e, t in tail]
        return blocks

    bounds = [m[0] for m in markers] + [len(lines)]
    pre = [(s, e, t) for s, e, t in paragraphs if e <= bounds[0] and s not in heading_lines]
    blocks += [Block(t, (title,), f"L{s + 1}-{e}", s + 1, e) for s, e, t in pre]
    for (mline, heading, after), stop in zip(markers, bounds[1:]):
        seg = [(s, e, t) for s, e, t in paragraphs if s >= after and e <= stop and s not in heading_lines]
        blocks += [Block(t, (title, heading), f"L{s + 1}-{e}", s + 1, e) for s, e, t in seg]
    return blocks


def _paragraphs(lines: list[str], heading_lines: set[int]) -> list[tuple[int, int, str]]:
    """Blank-line separated paragraphs; heading lines (title markers and the short
    title line after them) always stand alone, even without blank lines around them."""
    out: list[tuple[int, int, str]] = []
    start = None
    for i, line in enumerate(lines + [""]):
        boundary = not line.strip() or i in heading_lines
        if boundary and start is not None:
            out.append((start, i, "\n".join(lines[start:i]).strip()))
            start = None
        if i in heading_lines:
            out.append((i, i + 1, lines[i].strip()))
        elif not boundary and start is None:
            start = i
    return out


def load_text(path: Path) -> LoadedDoc:
    text = _read_text(path)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), path.stem)
    title = first.lstrip("# ").strip() if len(first) <= 120 else path.stem
    blocks = parse_plain_text(text, title)
    # marker lines themselves carry no content: the heading path holds them
    blocks = [b for b in blocks if not (_MARKER.match(b.text) and "\n" not in b.text)]
    return LoadedDoc(path, title, blocks)


# --------------------------------------------------------------------------------------
# PDF, notebook, HTML
# --------------------------------------------------------------------------------------


def load_pdf(path: Path) -> LoadedDoc:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as e:  # pragma: no cover
        raise LoadError("pypdf is not installed") from e
    try:
        reader = PdfReader(str(path))
        meta_title = (reader.metadata.title if reader.metadata else None) or path.stem
        blocks: list[Block] = []
        for n, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").strip()
            for para in re.split(r"\n\s*\n", text):
                if para.strip():
                    blocks.append(Block(para.strip(), (str(meta_title), f"Страница {n}"), f"p{n}", page=n))
    except (PdfReadError, ValueError, KeyError, TypeError) as e:
        raise LoadError(f"corrupt PDF: {e}") from e
    except Exception as e:  # pypdf raises many ad-hoc errors on broken files
        raise LoadError(f"unreadable PDF: {type(e).__name__}: {e}") from e
    return LoadedDoc(path, str(meta_title), blocks)


def load_notebook(path: Path) -> LoadedDoc:
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as e:
        raise LoadError(f"corrupt notebook: {type(e).__name__}: {e}") from e
    title = path.stem
    blocks: list[Block] = []
    heading_path: tuple[str, ...] = ()
    for i, cell in enumerate(nb.cells):
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(src)
        if not src.strip():
            continue
        if cell.cell_type == "markdown":
            # headings inside markdown cells set the path for the cells that follow
            sub = parse_markdown(src, title, base=())
            for line in src.splitlines():
                m = _ATX.match(line)
                if m:
                    level = len(m.group(1))
                    heading_path = heading_path[: level - 1] + (_clean_heading(m.group(2)),)
                    if title == path.stem and level == 1:
                        title = _clean_heading(m.group(2))
            for b in sub:
                hp = b.headings or heading_path
                blocks.append(Block(b.text, hp, f"cell {i}", cell=i))
        elif cell.cell_type == "code":
            blocks.append(Block(f"```python\n{src.strip()}\n```", heading_path, f"cell {i}", cell=i))
    for b in blocks:
        if not b.headings:
            b.headings = (title,)
    return LoadedDoc(path, title, blocks)


def load_html(path: Path) -> LoadedDoc:
    from bs4 import BeautifulSoup

    text = _read_text(path)
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "noscript"]):
        tag.decompose()
    title = (soup.title.string.strip() if soup.title and soup.title.string else "") or path.stem
    stack: list[tuple[int, str]] = []
    blocks: list[Block] = []
    n = 0
    for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "td", "blockquote"]):
        if el.name.startswith("h") and len(el.name) == 2:
            level = int(el.name[1])
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, el.get_text(" ", strip=True)))
            continue
        if el.find_parent(["li", "blockquote"]) and el.name in ("p", "li"):
            continue  # counted with its parent
        body = el.get_text("\n" if el.name == "pre" else " ", strip=True)
        if body:
            n += 1
            anchor = f"#{el.get('id')}" if el.get("id") else f"§{n}"
            blocks.append(Block(body, tuple(h for _, h in stack) or (title,), anchor))
    return LoadedDoc(path, title, blocks)


def load_file(path: str | Path) -> LoadedDoc:
    """Load one file by its suffix; raises UnsupportedFile / LoadError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UnsupportedFile(f"unsupported file type '{suffix or path.name}'")
    try:
        if path.stat().st_size == 0:
            raise LoadError("empty file")
    except OSError as e:
        raise LoadError(f"cannot read: {e.strerror}") from e
    try:
        if suffix in (".md", ".markdown"):
            doc = load_markdown(path)
        elif suffix == ".txt":
            doc = load_text(path)
        elif suffix == ".pdf":
            doc = load_pdf(path)
        elif suffix == ".ipynb":
            doc = load_notebook(path)
        else:
            doc = load_html(path)
    except PermissionError as e:
        raise LoadError(f"permission denied: {e.filename}") from e
    except OSError as e:
        raise LoadError(f"cannot read: {e}") from e
    if not any(b.text.strip() for b in doc.blocks):
        raise LoadError("no text found")
    return doc
