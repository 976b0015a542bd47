"""Structure-aware chunking: blocks under the same heading path are packed into chunks
of bounded size; chunks never cross a section boundary, every chunk carries its heading
path, long paragraphs are split at sentence boundaries, and neighbouring chunks of one
section overlap by a tail of the previous chunk."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from itertools import groupby

from index.loaders import Block, LoadedDoc


@dataclass
class Chunk:
    id: str  # stable: hash of source + anchor + text
    text: str  # the chunk body (what a citation quotes)
    source: str  # path as stored in the manifest (relative where possible)
    title: str  # document title
    headings: list[str]  # heading path, outermost first
    anchor: str  # "L12-40" | "p3" | "cell 5" | "§4"
    start_line: int | None = None
    end_line: int | None = None
    page: int | None = None
    cell: int | None = None

    @property
    def section(self) -> str:
        return " > ".join(self.headings)

    def embed_text(self) -> str:
        """What gets embedded and BM25-indexed: the heading path gives a chunk the
        context its body may lack ("Бонусы" means nothing without "ДЗ 3")."""
        return f"{self.section}\n{self.text}" if self.headings else self.text

    def to_dict(self) -> dict:
        return asdict(self)


_SENTENCE = re.compile(r"(?<=[.!?…])\s+(?=[A-ZА-ЯЁ0-9«\"(\[-])")


def _split_long(text: str, size: int) -> list[str]:
    """Split a paragraph longer than `size` at sentence ends, then at spaces."""
    if len(text) <= size:
        return [text]
    parts, cur = [], ""
    for sent in _SENTENCE.split(text):
        while len(sent) > size:  # a single huge sentence: cut at the last space before size
            cut = sent.rfind(" ", 0, size)
            cut = cut if cut > size // 2 else size
            head, sent = sent[:cut], sent[cut:].lstrip()
            if cur:
                parts.append(cur)
                cur = ""
            parts.append(head)
        if cur and len(cur) + 1 + len(sent) > size:
            parts.append(cur)
            cur = sent
        else:
            cur = f"{cur} {sent}".strip()
    if cur:
        parts.append(cur)
    return parts


def _tail(text: str, overlap: int) -> str:
    """The last ~`overlap` characters of text, starting at a word boundary."""
    if overlap <= 0 or len(text) <= overlap:
        return text if overlap > 0 else ""
    cut = text.find(" ", len(text) - overlap)
    return text[cut + 1 :] if cut != -1 else text[-overlap:]


def _merge_anchor(blocks: list[Block]) -> tuple[str, dict]:
    first, last = blocks[0], blocks[-1]
    if first.start_line is not None and last.end_line is not None:
        return f"L{first.start_line}-{last.end_line}", {"start_line": first.start_line, "end_line": last.end_line}
    if first.page is not None:
        pages = sorted({b.page for b in blocks if b.page is not None})
        anchor = f"p{pages[0]}" if len(pages) == 1 else f"p{pages[0]}-{pages[-1]}"
        return anchor, {"page": pages[0]}
    if first.cell is not None:
        cells = sorted({b.cell for b in blocks if b.cell is not None})
        anchor = f"cell {cells[0]}" if len(cells) == 1 else f"cells {cells[0]}-{cells[-1]}"
        return anchor, {"cell": cells[0]}
    return first.anchor, {}


def chunk_document(doc: LoadedDoc, source: str, size: int = 900, overlap: int = 150, min_size: int = 120) -> list[Chunk]:
    """Pack a document's blocks into chunks (see module doc). Guarantees:
    - every chunk's text is non-empty and at most size + overlap characters;
    - all blocks of a chunk share one heading path, recorded in `headings`;
    - the concatenated chunk bodies (minus overlaps) contain every block's text."""
    if overlap >= size:
        raise ValueError("chunk overlap must be smaller than chunk size")
    chunks: list[Chunk] = []
    for headings, group in groupby(doc.blocks, key=lambda b: b.headings):
        pieces: list[Block] = []
        for b in group:
            for part in _split_long(b.text, size):
                pieces.append(Block(part, b.headings, b.anchor, b.start_line, b.end_line, b.page, b.cell))
        # greedy packing of pieces into windows of <= size characters
        windows: list[list[Block]] = []
        cur: list[Block] = []
        cur_len = 0
        for p in pieces:
            if cur and cur_len + 2 + len(p.text) > size:
                windows.append(cur)
                cur, cur_len = [], 0
            cur.append(p)
            cur_len += len(p.text) + (2 if cur_len else 0)
        if cur:
            # a too-small last window joins the previous one of the same section
            if windows and cur_len < min_size and sum(len(x.text) for x in windows[-1]) + cur_len <= size + overlap:
                windows[-1].extend(cur)
            else:
                windows.append(cur)
        prev_text = ""
        for w in windows:
            body = "\n\n".join(p.text for p in w)
            text = f"{_tail(prev_text, overlap)}\n\n{body}".strip() if prev_text and overlap else body
            if len(text) > size + overlap:  # never exceed the bound, even with overlap
                text = text[len(text) - (size + overlap) :]
                text = text[text.find(" ") + 1 :] if " " in text[:40] else text
            anchor, extra = _merge_anchor(w)
            cid = hashlib.sha1(f"{source}\x00{anchor}\x00{text}".encode()).hexdigest()[:16]
            chunks.append(Chunk(id=cid, text=text, source=source, title=doc.title, headings=list(headings), anchor=anchor, **extra))
            prev_text = body
    return chunks
