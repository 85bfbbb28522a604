"""The tables as LaTeX: booktabs ``table`` environments, every one in one ``.tex`` file for
``\\input{}`` into a paper (``\\usepackage{booktabs}``).

Every user-provided text (event names, tickers, notes) goes through :func:`tex_escape`.
:func:`write_latex` writes atomically (:func:`~eventstudy.output.files.atomic_file`) and raises a
one-line :class:`~eventstudy.errors.EventStudyError` when the folder cannot be written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from eventstudy.output.files import atomic_file
from eventstudy.output.format import MINUS
from eventstudy.output.tables import Cell, StudyTables, Table

__all__ = ["latex_document", "latex_table", "tex_escape", "write_latex"]

_TEX_CHARS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    MINUS: "$-$",
    "±": r"$\pm$",
    "²": r"$^2$",
    "·": r"$\cdot$",
    "√": r"$\surd$",
    "×": r"$\times$",
    "Σ": r"$\Sigma$",
    "Π": r"$\Pi$",
    "Δ": r"$\Delta$",
    "…": r"\dots{}",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    # Currency symbols of output/format.py (textcomp, loaded by every LaTeX since 2020).
    "€": r"\texteuro{}",
    "¥": r"\textyen{}",
    "£": r"\pounds{}",
    "₩": r"\textwon{}",
    "₹": "Rs.",
    "\n": " ",
}


def tex_escape(text: str) -> str:
    """``text`` safe in LaTeX: special characters escaped, maths symbols in math mode."""
    return "".join(_TEX_CHARS.get(c, c) for c in str(text))


def _tex_cell(cell: Cell) -> str:
    out = tex_escape(cell.text)
    if cell.stars:
        out += "$^{" + cell.stars + "}$"
    return out


def latex_table(table: Table, label_prefix: str = "tab:") -> str:
    """One booktabs ``table`` environment: caption, label (from the table's key), spanning group
    headers with ``\\cmidrule``, a rule above a total row, notes below in ``\\footnotesize``."""
    from eventstudy.study import slugify

    spec = "".join("l" if a == "n" else a for a in table.align)
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        r"\caption{" + tex_escape(table.caption) + "}",
        r"\label{" + label_prefix + slugify(table.key) + "}",
        # shrinks a table wider than the text to fit (never enlarges one): nothing is clipped
        r"\begin{adjustbox}{max width=\linewidth}",
        r"\begin{tabular}{" + spec + "}",
        r"\toprule",
    ]
    if table.groups:
        cells, rules, k = [], [], 1
        for label, span in table.groups:
            if label:
                cells.append(r"\multicolumn{" + str(span) + "}{c}{" + tex_escape(label) + "}")
                rules.append(r"\cmidrule(lr){" + f"{k}-{k + span - 1}" + "}")
            else:
                cells += [""] * span
            k += span
        lines.append(" & ".join(cells) + r" \\")
        lines.append(" ".join(rules))
    lines.append(" & ".join(tex_escape(c) for c in table.columns) + r" \\")
    lines.append(r"\midrule")
    for k, row in enumerate(table.rows):
        if table.total and k == len(table.rows) - 1 and k > 0:
            lines.append(r"\midrule")
        lines.append(" & ".join(_tex_cell(c) for c in row) + r" \\")
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}")
    lines.append(r"\end{adjustbox}")
    if table.notes:
        lines.append(r"\par\smallskip")
        lines.append(
            r"\begin{minipage}{\linewidth}\footnotesize "
            + " ".join(tex_escape(n) for n in table.notes)
            + r"\end{minipage}"
        )
    lines.append(r"\end{table}")
    return "\n".join(lines)


def latex_document(tables: Sequence[Table], title: str) -> str:
    """Every table, one after the other, for ``\\input{}`` into a paper."""
    head = [
        f"% {tex_escape(title)}: tables written by eventstudy.",
        r"% Needs \usepackage{booktabs} and \usepackage{adjustbox} in the preamble. Input with "
        r"\input{tables.tex}.",
        "",
    ]
    return "\n".join(head) + "\n\n".join(latex_table(t) for t in tables) + "\n"


def write_latex(
    tables: Sequence[Table] | StudyTables,
    path: Path | str,
    title: str = "",
    max_events: int | None = None,
) -> Path:
    """Write ``tables`` (or every table of a :class:`StudyTables`) as booktabs LaTeX."""
    if isinstance(tables, StudyTables):
        from eventstudy.output.measure_tables import every_table

        title = title or str(tables.source.title)
        tables = every_table(tables, max_events)
    path = Path(path)
    with atomic_file(path) as tmp:
        tmp.write_text(latex_document(tables, title), encoding="utf-8")
    return path
