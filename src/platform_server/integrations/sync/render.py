"""Rich text from providers rendered to plain text (light Markdown): Jira's ADF and Notion's blocks.

Both renderers are total: unknown node types contribute their text children (or nothing), never an error,
because providers add node types over time and one odd node must not fail a whole sync.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Deeper nesting than any editor produces; a hostile document must not exhaust the recursion limit.
_MAX_DEPTH = 40


def adf_to_text(document: Any) -> str | None:
    """Atlassian Document Format (Jira Cloud v3 rich text) → text; a plain string is returned as it is."""
    if document is None:
        return None
    if isinstance(document, str):
        return document.strip() or None
    if not isinstance(document, Mapping):
        return None
    text = _adf_blocks(document.get("content"), 0).strip()
    return text or None


def _adf_blocks(nodes: Any, depth: int) -> str:
    if not isinstance(nodes, Sequence) or depth > _MAX_DEPTH:
        return ""
    parts = [_adf_node(node, depth) for node in nodes if isinstance(node, Mapping)]
    return "\n".join(part for part in parts if part)


def _adf_inline(nodes: Any, depth: int) -> str:
    if not isinstance(nodes, Sequence) or depth > _MAX_DEPTH:
        return ""
    return "".join(_adf_node(node, depth) for node in nodes if isinstance(node, Mapping))


def _adf_node(node: Mapping[str, Any], depth: int) -> str:
    kind = node.get("type")
    attrs: Mapping[str, Any] = node["attrs"] if isinstance(node.get("attrs"), Mapping) else {}
    content = node.get("content")
    if kind == "text":
        return str(node.get("text") or "")
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status"):
        return str(attrs.get("text") or attrs.get("shortName") or "")
    if kind in ("inlineCard", "blockCard", "embedCard"):
        return str(attrs.get("url") or "")
    if kind == "date":
        return str(attrs.get("timestamp") or "")
    if kind == "rule":
        return "---"
    if kind == "heading":
        level = attrs.get("level")
        return "#" * (max(1, min(6, level)) if isinstance(level, int) else 1) + " " + _adf_inline(content, depth + 1)
    if kind == "codeBlock":
        return "```\n" + _adf_inline(content, depth + 1) + "\n```"
    if kind == "blockquote":
        return _prefix_lines(_adf_blocks(content, depth + 1), "> ")
    if kind in ("bulletList", "orderedList"):
        items = [child for child in content or [] if isinstance(child, Mapping)]
        lines = []
        for number, item in enumerate(items, start=int(attrs.get("order") or 1)):
            marker = f"{number}. " if kind == "orderedList" else "- "
            body = _adf_blocks(item.get("content"), depth + 1)
            lines.append(marker + _indent_continuation(body, " " * len(marker)))
        return "\n".join(lines)
    if kind == "table":
        return "\n".join(_adf_table_row(row, depth + 1) for row in content or [] if isinstance(row, Mapping))
    if kind == "paragraph":
        return _adf_inline(content, depth + 1)
    if isinstance(content, Sequence):
        return _adf_blocks(content, depth + 1)
    return ""


def _adf_table_row(row: Mapping[str, Any], depth: int) -> str:
    cells = [cell for cell in row.get("content") or [] if isinstance(cell, Mapping)]
    return "| " + " | ".join(_adf_blocks(cell.get("content"), depth + 1).replace("\n", " ") for cell in cells) + " |"


def _prefix_lines(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.split("\n")) if text else ""


def _indent_continuation(text: str, indent: str) -> str:
    first, _, rest = text.partition("\n")
    return first + ("\n" + _prefix_lines(rest, indent) if rest else "")


def notion_rich_text(items: Any) -> str:
    """Notion rich text (a list of spans) → its plain text."""
    if not isinstance(items, Sequence):
        return ""
    return "".join(
        str(span.get("plain_text") or (span.get("text") or {}).get("content") or "")
        for span in items
        if isinstance(span, Mapping)
    )


def notion_blocks_to_text(blocks: Iterable[Any]) -> str | None:
    """Notion blocks (the results of GET /v1/blocks/{id}/children) → text, one line per block; a block's
    nested blocks, when read into its `children`, follow it indented by two spaces."""
    text = "\n".join(_notion_lines(blocks, 0)).strip()
    return text or None


def _notion_lines(blocks: Any, depth: int) -> list[str]:
    if not isinstance(blocks, Iterable) or depth > _MAX_DEPTH:
        return []
    lines: list[str] = []
    number = 0
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        kind = str(block.get("type") or "")
        body: Mapping[str, Any] = block[kind] if isinstance(block.get(kind), Mapping) else {}
        number = number + 1 if kind == "numbered_list_item" else 0
        line = _notion_block(kind, body, number)
        if line is not None:
            lines.append(line)
        children = _notion_lines(block.get("children"), depth + 1)
        # Children of a block that shows nothing itself (a table, columns) stay at its level.
        lines += [_prefix_lines(child, "  ") for child in children] if line is not None else children
    return lines


def _notion_block(kind: str, body: Mapping[str, Any], number: int) -> str | None:
    text = notion_rich_text(body.get("rich_text"))
    if kind == "paragraph":
        return text
    if kind.startswith("heading_") and kind[-1].isdigit():
        return "#" * int(kind[-1]) + " " + text
    if kind == "bulleted_list_item":
        return "- " + text
    if kind == "numbered_list_item":
        return f"{number}. " + text
    if kind == "to_do":
        return ("- [x] " if body.get("checked") else "- [ ] ") + text
    if kind in ("quote", "callout"):
        return _prefix_lines(text, "> ")
    if kind == "toggle":
        return text
    if kind == "code":
        return f"```{body.get('language') or ''}\n{text}\n```"
    if kind == "divider":
        return "---"
    if kind in ("child_page", "child_database"):
        return str(body.get("title") or "")
    if kind == "equation":
        return str(body.get("expression") or "")
    if kind in ("bookmark", "embed", "link_preview"):
        return str(body.get("url") or "")
    if kind == "table_row":
        return "| " + " | ".join(notion_rich_text(cell) for cell in body.get("cells") or []) + " |"
    if kind in ("image", "file", "pdf", "video", "audio"):
        return notion_rich_text(body.get("caption")) or None
    return text or None
