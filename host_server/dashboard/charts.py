"""The overview's charts, drawn on the server as inline SVG: no script, no font, no request of
their own. Each scales to its container's width (a viewBox and width 100%), so a phone shows
the same chart smaller; every bar has a <title>, which a browser shows on hover and a screen
reader reads."""

from markupsafe import Markup, escape

PLAYED, FAILED, BAR, GRID = "#2e7d32", "#c62828", "#1565c0", "#ddd"


def _svg(width, height, label, body, css_class):
    return Markup(f'<svg class="chart {css_class}" viewBox="0 0 {width} {height}" width="100%"'
                  f' role="img" aria-label="{escape(label)}" preserveAspectRatio="xMinYMin meet"'
                  f' xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
                  f'{"".join(body)}</svg>')


def stacked_columns(columns, label, tick_every=6):
    """Columns [(tick text, played, failed)] side by side, failed stacked on played; a tick
    under every tick_every-th column and the scale's top at the left."""
    width, height, left, bottom, top = 480, 170, 30, 20, 10
    top_value = max([p + f for _, p, f in columns] + [1])
    plot_h = height - bottom - top
    step = (width - left) / max(len(columns), 1)
    body = [f'<line x1="{left}" y1="{top}" x2="{width}" y2="{top}" stroke="{GRID}"/>',
            f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}"'
            f' stroke="#999"/>',
            f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="12">{top_value}</text>',
            f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end" font-size="12">0</text>']
    for i, (tick, played, failed) in enumerate(columns):
        x = left + i * step + step * 0.15
        w = step * 0.7
        y = height - bottom
        for value, colour, what in ((played, PLAYED, "played"), (failed, FAILED, "failed")):
            if value:
                h = plot_h * value / top_value
                y -= h
                body.append(f'<rect class="{what}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}"'
                            f' height="{h:.1f}" fill="{colour}"><title>{escape(tick)}: {value}'
                            f' {what}</title></rect>')
        if i % tick_every == 0:
            body.append(f'<text x="{x + w / 2:.1f}" y="{height - 5}" text-anchor="middle"'
                        f' font-size="12">{escape(tick)}</text>')
    return _svg(width, height, label, body, "columns")


def horizontal_bars(rows, label, colour=BAR):
    """Rows [(name, value, text)]: one bar each, its name and text above it (so that a long
    name fits a phone's width), the longest bar the largest value."""
    width, row_h, bar_h = 400, 36, 12
    top_value = max([v for _, v, _ in rows] + [1])
    body = []
    for i, (name, value, text) in enumerate(rows):
        y = i * row_h
        w = max(1.0, (width - 2) * value / top_value) if value else 0
        body.append(f'<text x="0" y="{y + 13}" font-size="12">{escape(name)}'
                    f' <tspan fill="#555">{escape(text)}</tspan></text>')
        body.append(f'<rect x="0" y="{y + 18}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                    f'<title>{escape(name)}: {escape(text)}</title></rect>')
    return _svg(width, max(len(rows), 1) * row_h, label, body, "bars")
