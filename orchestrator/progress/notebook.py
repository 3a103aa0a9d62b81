"""NotebookView: progress in a Jupyter notebook as one output that is updated in place.

A terminal redraws its live table; a notebook cannot, and printing a line per change
gives one output block per line. Instead the view shows one display
(``IPython.display.display(..., display_id=True)``) and replaces its content with
``handle.update(...)`` each time: the frontend redraws that one output, wherever it is.
Content is rendered by rich to HTML (inline styles) and to plain text for frontends and
files that show text only.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, RenderableType

#: characters per line of the rendered text (the notebook wraps HTML lines itself)
WIDTH = 110

_HTML = (
    '<pre class="orchestrator-progress" style="white-space:pre;overflow-x:auto;'
    "line-height:normal;font-family:Menlo,'DejaVu Sans Mono',consolas,'Courier New',"
    'monospace">{code}</pre>'
)


def in_notebook(console: Console) -> bool:
    """Whether ``console`` writes to a Jupyter kernel's cell outputs (IPython importable)."""
    if not console.is_jupyter:
        return False
    try:
        import IPython.display  # noqa: F401
    except ImportError:
        return False
    return True


def bundle(renderable: RenderableType, width: int = WIDTH) -> dict[str, str]:
    """``renderable`` as a display bundle: ``text/plain`` and ``text/html``."""
    console = Console(
        file=io.StringIO(),
        record=True,
        width=width,
        force_terminal=True,
        force_jupyter=False,
        color_system="truecolor",
    )
    console.print(renderable)
    text = console.export_text(clear=False)
    html = console.export_html(inline_styles=True, code_format=_HTML)
    return {"text/plain": text.rstrip("\n"), "text/html": html}


class NotebookView:
    """One notebook output showing the latest of what ``show`` was given."""

    def __init__(self) -> None:
        self._handle: Any = None

    def show(self, renderable: RenderableType) -> None:
        """Show ``renderable``: the first call adds the output, later ones replace its content."""
        data = bundle(renderable)
        if self._handle is None:
            from IPython import display as ipython_display

            display: Any = ipython_display.display  # untyped in IPython
            self._handle = display(data, raw=True, display_id=True)
        else:
            self._handle.update(data, raw=True)

    @property
    def display_id(self) -> str | None:
        """The output's display id, once shown."""
        return None if self._handle is None else str(self._handle.display_id)
