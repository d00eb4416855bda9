"""One benchmark's results (a table, notes, targets) and the Markdown they are written as."""


class Section:
    def __init__(self, title):
        self.title = title
        self.columns = []
        self.rows = []
        self.notes = []
        self.targets = []   # (text, met: True/False/None for not measured, detail)
        self.figures = {}   # name -> number, for tests and the summary

    def table(self, columns, rows):
        self.columns = list(columns)
        self.rows = [list(r) for r in rows]

    def note(self, text):
        self.notes.append(text)

    def target(self, text, met, detail):
        self.targets.append((text, met, detail))

    def markdown(self):
        out = ["## " + self.title, ""]
        if self.rows:
            out.append("| " + " | ".join(self.columns) + " |")
            out.append("| " + " | ".join("---" for _ in self.columns) + " |")
            for r in self.rows:
                out.append("| " + " | ".join(str(c) for c in r) + " |")
            out.append("")
        for t in self.targets:
            out.append("- %s **%s**: %s" % (verdict(t[1]), t[0], t[2]))
        if self.targets:
            out.append("")
        for n in self.notes:
            out.append(n)
            out.append("")
        return "\n".join(out)


def verdict(met):
    return {True: "MET", False: "MISSED", None: "NOT MEASURED"}[met]


def mb_s(nbytes, seconds):
    return nbytes / seconds / 1e6


def fmt(x, digits=1):
    if isinstance(x, float):
        return "%.*f" % (digits, x)
    return str(x)
